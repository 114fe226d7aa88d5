"""`pytorch_model.bin`: read only through `torch.load(weights_only=True)`, written without pickling objects.

The reader accepts both the zip format and the old (pre-1.6) one, as long as torch's restricted
unpickler accepts it, and refuses anything that is not a dict of tensors. The writer produces
exactly what `torch.save(state_dict)` writes, one storage at a time: the pickle (data.pkl) is
written first from the shapes alone, then each tensor's bytes to its own record.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ...core.errors import CheckpointError, ConversionError
from .base import CheckpointReader, TensorSpec, bfloat16_dtype, contiguous, first_line, numel, st_dtype_of

WEIGHTS_NAME = "pytorch_model.bin"
INDEX_NAME = "pytorch_model.bin.index.json"


def _load(path: str) -> Any:
    import torch

    try:
        # the zip format can be memory-mapped; the pre-zip one cannot (torch refuses mmap for it)
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
        raise CheckpointError(
            f"{path} could not be read as a safe torch checkpoint ({type(err).__name__}: {first_line(err)}). "
            "rosetta only loads tensors (weights_only=True), never arbitrary pickled objects."
        ) from err


class TorchFile(CheckpointReader):
    """A legacy `pytorch_model.bin`, read with `torch.load(weights_only=True)` only."""

    def __init__(self, path: str | os.PathLike):
        import torch

        self.path = os.fspath(path)
        state = _load(self.path)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise CheckpointError(
                f"{self.path} holds a {type(state).__name__}, not a dict of tensors (a state_dict); "
                "save the model's state_dict(), or use save_pretrained."
            )
        bad = next((k for k in state if not isinstance(k, str)), None)
        if bad is not None:
            raise CheckpointError(f"{self.path}: the key {bad!r} is not a tensor name (a string).")
        self._tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        self.metadata = {"format": "pt"}

    def __getitem__(self, name: str) -> np.ndarray:
        import torch

        tensor = self._tensors[name].contiguous()
        if tensor.dtype == torch.bfloat16:
            raw = tensor.view(torch.int16).numpy().view(np.uint16)
            return raw.view(bfloat16_dtype()) if bfloat16_dtype() is not None else raw
        try:
            return tensor.numpy()
        except TypeError as err:
            raise CheckpointError(
                f"{self.path}: tensor {name!r} has dtype {tensor.dtype}, which rosetta cannot read."
            ) from err

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def dtype(self, name: str) -> str:
        import torch

        if self._tensors[name].dtype == torch.bfloat16:
            return "BF16"
        return st_dtype_of(self[name])

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._tensors[name].shape)


class TorchBinWriter:
    """`pytorch_model.bin` exactly as `torch.save(state_dict)` writes it, one storage at a time.

    It loads with `weights_only=True`.
    """

    ordered = staticmethod(lambda specs: list(specs))

    def __init__(self, path: str, specs: Sequence[TensorSpec], **_: Any):
        import torch

        with open(path, "xb"):  # created with the user's umask; torch's writer reopens it
            pass
        self._writer_ctx = torch.serialization._open_zipfile_writer(path)
        self._zip = self._writer_ctx.__enter__()
        self._keys = {spec.name: str(i) for i, spec in enumerate(specs)}
        data = _torch_pickle(specs, self._keys)
        self._zip.write_record("data.pkl", data, len(data))
        self._zip.write_record(".format_version", "1", 1)
        alignment = str(torch.serialization._get_storage_alignment())
        self._zip.write_record(".storage_alignment", alignment, len(alignment))
        self._zip.write_record("byteorder", "little", len("little"))

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        import torch

        raw = torch.from_numpy(contiguous(array).reshape(-1).view(np.uint8))  # shares the memory
        self._zip.write_record(f"data/{self._keys[spec.name]}", raw.untyped_storage(), raw.numel())

    def close(self) -> None:
        self._writer_ctx.__exit__(None, None, None)


_TORCH_STORAGE = {
    "F32": "FloatStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage", "F64": "DoubleStorage",
    "I64": "LongStorage", "I32": "IntStorage", "I16": "ShortStorage", "I8": "CharStorage",
    "U8": "ByteStorage", "BOOL": "BoolStorage",
}  # fmt: skip


class _StorageRef:
    def __init__(self, key: str, storage_type: type, count: int):
        self.key, self.storage_type, self.numel = key, storage_type, count


class _TensorRef:
    def __init__(self, storage: _StorageRef, shape: tuple[int, ...]):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        import torch

        strides = tuple(numel(self.shape[i + 1 :]) for i in range(len(self.shape)))
        return torch._utils._rebuild_tensor_v2, (self.storage, 0, self.shape, strides, False, OrderedDict())


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRef):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def _torch_pickle(specs: Sequence[TensorSpec], keys: Mapping[str, str]) -> bytes:
    import torch

    state = {}
    for spec in specs:
        if spec.dtype not in _TORCH_STORAGE:
            raise ConversionError(f"{spec.name}: dtype {spec.dtype} cannot be stored in pytorch_model.bin.")
        storage = _StorageRef(keys[spec.name], getattr(torch, _TORCH_STORAGE[spec.dtype]), numel(spec.shape))
        state[spec.name] = _TensorRef(storage, tuple(spec.shape))
    buffer = io.BytesIO()
    _TorchPickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()
