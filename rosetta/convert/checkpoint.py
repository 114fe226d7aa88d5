"""Reading and writing canonical checkpoints: safetensors (sharded or not), legacy torch files.

Tensors come out as numpy arrays: memory-mapped views for safetensors (copy-on-write, so a
backend can take them without a copy and a later in-place update never touches the file),
and in the layout and dtype stored in the file. bfloat16 has no numpy dtype of its own; it
comes out as `ml_dtypes.bfloat16` where that package is installed (it is with JAX and
TensorFlow) and as raw `uint16` otherwise, with `reader.dtype(name) == "BF16"` either way.
"""

from __future__ import annotations

import json
import os
import re
import struct
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..core.errors import CheckpointError, MissingFileError
from ..core.hub import HubOptions, resolve_file
from ..core.io import atomic_open, atomic_write_text

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
TORCH_WEIGHTS_NAME = "pytorch_model.bin"
TORCH_WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
TF_WEIGHTS_NAME = "tf_model.h5"
TF_WEIGHTS_INDEX_NAME = "tf_model.h5.index.json"
FLAX_WEIGHTS_NAME = "flax_model.msgpack"
FLAX_WEIGHTS_INDEX_NAME = "flax_model.msgpack.index.json"

try:  # ships with JAX and TensorFlow
    import ml_dtypes

    BFLOAT16: Any = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - torch-only installs
    BFLOAT16 = None

_ST_TO_NUMPY: dict[str, Any] = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16,
    "U32": np.uint32, "U64": np.uint64,
}
_NUMPY_TO_ST = {np.dtype(v): k for k, v in _ST_TO_NUMPY.items()}
if BFLOAT16 is not None:
    _NUMPY_TO_ST[BFLOAT16] = "BF16"

DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def numpy_dtype(st_dtype: str) -> np.dtype:
    if st_dtype == "BF16":
        return BFLOAT16 if BFLOAT16 is not None else np.dtype(np.uint16)
    try:
        return np.dtype(_ST_TO_NUMPY[st_dtype])
    except KeyError:
        raise CheckpointError(f"Unsupported safetensors dtype {st_dtype!r}.") from None


def st_dtype_of(array: np.ndarray) -> str:
    try:
        return _NUMPY_TO_ST[array.dtype]
    except KeyError:
        raise CheckpointError(f"Cannot store numpy dtype {array.dtype} in safetensors.") from None


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------
class CheckpointReader(Mapping):
    """A read-only name -> numpy array mapping over one checkpoint (possibly many files)."""

    metadata: dict[str, str]

    @abstractmethod
    def dtype(self, name: str) -> str:
        """The tensor's safetensors dtype name: F32, F16, BF16, I64, ..."""

    @abstractmethod
    def shape(self, name: str) -> tuple[int, ...]:
        """The tensor's shape, read without loading it."""

    def release(self, name: str) -> None:
        """Let go of the memory behind a tensor the caller has copied (a no-op where nothing is mapped)."""

    def close(self) -> None:
        pass

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SafetensorsFile(CheckpointReader):
    """One safetensors file, memory-mapped; each tensor a view into the mapping."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        size = os.path.getsize(self.path)
        try:
            with open(self.path, "rb") as f:
                (header_len,) = struct.unpack("<Q", f.read(8))
                if header_len > size - 8 or header_len > 100_000_000:
                    raise ValueError("header length points past the end of the file")
                header = json.loads(f.read(header_len))
        except (struct.error, ValueError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{self.path} is not a valid safetensors file ({err}).") from err
        self.metadata = header.pop("__metadata__", None) or {}
        self._entries: dict[str, dict[str, Any]] = header
        self._data_start = 8 + header_len
        end = max((e["data_offsets"][1] for e in header.values()), default=0)
        if self._data_start + end > size:
            raise CheckpointError(
                f"{self.path} is truncated: its header describes {self._data_start + end} bytes, the file has {size}."
            )
        self._map = np.memmap(self.path, dtype=np.uint8, mode="c") if size > 0 and header else None

    def __getitem__(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        start, end = entry["data_offsets"]
        dtype = numpy_dtype(entry["dtype"])
        shape = tuple(entry["shape"])
        if end == start:
            return np.zeros(shape, dtype=dtype)
        raw = self._map[self._data_start + start : self._data_start + end]
        if (self._data_start + start) % dtype.alignment:
            raw = raw.copy()  # unaligned in the file: the one copy this tensor gets
        return raw.view(dtype).reshape(shape)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def dtype(self, name: str) -> str:
        return self._entries[name]["dtype"]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._entries[name]["shape"])

    def release(self, name: str) -> None:
        """Drop the memory-mapped pages of a tensor already consumed (streaming conversion).

        Only for callers that hold no view of it any more: the pages are re-read from the file
        if touched again, so a change made through a view would be lost.
        """
        if self._map is not None:
            start, end = self._entries[name]["data_offsets"]
            release_pages(self._map, self._data_start + start, self._data_start + end)

    def close(self) -> None:
        self._map = None


def release_pages(array: np.memmap, start: int, end: int) -> None:
    """madvise(DONTNEED) the whole pages of [start, end) of a memory-mapped file, where supported."""
    import mmap

    raw = getattr(array, "_mmap", None)
    if raw is None or not hasattr(raw, "madvise"):
        return
    page = mmap.PAGESIZE
    first, last = -(-start // page) * page, end // page * page
    if last > first:
        raw.madvise(mmap.MADV_DONTNEED, first, last - first)


class TorchFile(CheckpointReader):
    """A legacy `pytorch_model.bin`, read with `torch.load(weights_only=True)` only."""

    def __init__(self, path: str | os.PathLike):
        import torch

        self.path = os.fspath(path)
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
            raise CheckpointError(
                f"{self.path} could not be read as a safe torch checkpoint ({type(err).__name__}: {err}). "
                "rosetta only loads tensors (weights_only=True), never arbitrary pickled objects."
            ) from err
        if "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        self._tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        self.metadata = {"format": "pt"}

    def __getitem__(self, name: str) -> np.ndarray:
        import torch

        tensor = self._tensors[name].contiguous()
        if tensor.dtype == torch.bfloat16:
            raw = tensor.view(torch.int16).numpy().view(np.uint16)
            return raw.view(BFLOAT16) if BFLOAT16 is not None else raw
        return tensor.numpy()

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


class ShardedReader(CheckpointReader):
    """Several files behind one mapping, as listed by an index's weight_map."""

    def __init__(self, readers: list[CheckpointReader]):
        self._readers = readers
        self._where: dict[str, CheckpointReader] = {}
        for reader in readers:
            for name in reader:
                self._where[name] = reader
        self.metadata = dict(readers[0].metadata) if readers else {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._where[name][name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def dtype(self, name: str) -> str:
        return self._where[name].dtype(name)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._where[name].shape(name)

    def release(self, name: str) -> None:
        self._where[name].release(name)

    def close(self) -> None:
        for reader in self._readers:
            reader.close()


# Format name -> (single file, index file, reader class path). Legacy TF and Flax readers
# register themselves here (rosetta.convert.legacy).
FORMATS: dict[str, tuple[str, str]] = {
    "safetensors": (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME),
    "pt": (TORCH_WEIGHTS_NAME, TORCH_WEIGHTS_INDEX_NAME),
    "tf": (TF_WEIGHTS_NAME, TF_WEIGHTS_INDEX_NAME),
    "flax": (FLAX_WEIGHTS_NAME, FLAX_WEIGHTS_INDEX_NAME),
}


def _reader_for(fmt: str, path: str) -> CheckpointReader:
    if fmt == "safetensors":
        return SafetensorsFile(path)
    if fmt == "pt":
        return TorchFile(path)
    from . import legacy  # TF .h5 and Flax .msgpack

    return legacy.open_legacy(fmt, path)


def find_checkpoint(path_or_repo_id: str | os.PathLike, options: HubOptions | None = None) -> tuple[str, list[str]]:
    """Locate the weights of a folder or Hub repo: (format, local file paths), downloading shards."""
    options = options or HubOptions()
    for fmt, (single, index) in FORMATS.items():
        found = resolve_file(path_or_repo_id, single, options, required=False)
        if found is not None:
            return fmt, [found]
        index_path = resolve_file(path_or_repo_id, index, options, required=False)
        if index_path is not None:
            shards = sorted(set(read_index(index_path)["weight_map"].values()))
            return fmt, [resolve_file(path_or_repo_id, shard, options) for shard in shards]
    names = ", ".join(f"{single} (or {index})" for single, index in FORMATS.values())
    where = (
        f"the local folder {os.path.abspath(os.fspath(path_or_repo_id))}"
        if os.path.isdir(os.fspath(path_or_repo_id))
        else f"the Hub repository {os.fspath(path_or_repo_id)!r}"
    )
    raise MissingFileError("model weights", where, options.revision, hint=f"Looked for: {names}.")


def open_checkpoint(fmt: str, files: list[str]) -> CheckpointReader:
    readers = [_reader_for(fmt, f) for f in files]
    return readers[0] if len(readers) == 1 else ShardedReader(readers)


def load_checkpoint(path_or_repo_id: str | os.PathLike, options: HubOptions | None = None) -> CheckpointReader:
    """Open the weights of a folder or Hub repo, whatever their format."""
    fmt, files = find_checkpoint(path_or_repo_id, options)
    return open_checkpoint(fmt, files)


def read_index(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        index["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path} is not a valid checkpoint index (needs a 'weight_map' object).") from err
    return index


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
_SIZE_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(size: int | str) -> int:
    """'5GB' -> 5_000_000_000, '200MiB' -> 209_715_200; ints pass through."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]I?B)\s*", size.upper())
    if not match:
        raise ValueError(f"Cannot read {size!r} as a size; write it like '5GB', '500MB' or '2GiB'.")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def plan_shards(tensors: Mapping[str, np.ndarray], max_shard_size: int) -> list[list[str]]:
    """Split names into consecutive groups whose byte size stays under max_shard_size."""
    shards: list[list[str]] = [[]]
    current = 0
    for name, array in tensors.items():
        size = array.nbytes
        if shards[-1] and current + size > max_shard_size:
            shards.append([])
            current = 0
        shards[-1].append(name)
        current += size
    return shards


def _write_safetensors(path: str, tensors: Mapping[str, np.ndarray], names: list[str], metadata: dict[str, str]) -> None:
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name in names:
        array = tensors[name]
        header[name] = {"dtype": st_dtype_of(array), "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with atomic_open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).reshape(-1).view(np.uint8).data)


def save_safetensors(
    tensors: Mapping[str, np.ndarray],
    save_directory: str | os.PathLike,
    *,
    max_shard_size: int | str = "5GB",
    metadata: dict[str, str] | None = None,
    weights_name: str = SAFE_WEIGHTS_NAME,
) -> list[str]:
    """Write a canonical checkpoint (sharded past max_shard_size); return the files written.

    Every file is written under a temporary name and renamed; the index comes last, so a
    crash leaves either the old checkpoint or a complete new one. Stale shards of an earlier
    save in the same folder are removed afterwards.
    """
    save_directory = os.fspath(save_directory)
    os.makedirs(save_directory, exist_ok=True)
    metadata = {"format": "pt", **(metadata or {})}
    groups = plan_shards(tensors, parse_size(max_shard_size))
    stem, ext = os.path.splitext(weights_name)
    index_path = os.path.join(save_directory, weights_name + ".index.json")
    if len(groups) == 1:
        names = [weights_name]
    else:
        names = [f"{stem}-{i + 1:05d}-of-{len(groups):05d}{ext}" for i in range(len(groups))]
    for filename, group in zip(names, groups):
        _write_safetensors(os.path.join(save_directory, filename), tensors, group, metadata)
    if len(groups) > 1:
        index = {
            "metadata": {"total_size": int(sum(a.nbytes for a in tensors.values()))},
            "weight_map": {name: filename for filename, group in zip(names, groups) for name in group},
        }
        atomic_write_text(index_path, json.dumps(index, indent=2, sort_keys=True) + "\n")
    _remove_stale(save_directory, weights_name, keep=set(names) | ({os.path.basename(index_path)} if len(groups) > 1 else set()))
    return [os.path.join(save_directory, n) for n in names]


def _remove_stale(folder: str, weights_name: str, keep: set[str]) -> None:
    stem, ext = os.path.splitext(weights_name)
    pattern = re.compile(rf"^{re.escape(stem)}(-\d{{5}}-of-\d{{5}})?{re.escape(ext)}(\.index\.json)?$")
    for entry in os.listdir(folder):
        if pattern.match(entry) and entry not in keep:
            os.unlink(os.path.join(folder, entry))


def iter_tensors(reader: CheckpointReader, names: Iterable[str] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    for name in names if names is not None else reader:
        yield name, reader[name]
