"""What every checkpoint format shares: the dtype tables, the reader interface, tensor specs.

Tensors come out of a reader as numpy arrays in the layout and dtype stored in the file.
bfloat16 has no numpy dtype of its own; it comes out as `ml_dtypes.bfloat16` where that
package is installed (it is with JAX and TensorFlow) and as raw `uint16` otherwise, with
`reader.dtype(name) == "BF16"` either way.
"""

from __future__ import annotations

import functools
import importlib.util
import mmap
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...core.errors import CheckpointError

# ml_dtypes (it ships with JAX and TensorFlow) gives bfloat16 and float8 numpy dtypes. Its import takes about
# a second, so it happens on first use (`bfloat16_dtype()`, a BF16/F8 tensor), not when a CLI command starts.
_HAS_ML_DTYPES = importlib.util.find_spec("ml_dtypes") is not None

# safetensors dtype code -> numpy dtype (BF16 and the F8 codes apart: see numpy_dtype).
ST_TO_NUMPY: dict[str, np.dtype] = {
    code: np.dtype(t)
    for code, t in {
        "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
        "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16,
        "U32": np.uint32, "U64": np.uint64,
    }.items()
}  # fmt: skip
NUMPY_TO_ST: dict[np.dtype, str] = {v: k for k, v in ST_TO_NUMPY.items()}
_FLOAT8_CODES = ("F8_E4M3", "F8_E5M2") if _HAS_ML_DTYPES else ()
ITEMSIZES: dict[str, int] = {
    **{code: dt.itemsize for code, dt in ST_TO_NUMPY.items()},
    "BF16": 2,
    **dict.fromkeys(_FLOAT8_CODES, 1),
}


@functools.cache
def _ml_dtypes_table() -> dict[str, np.dtype]:
    """safetensors code -> ml_dtypes' numpy dtype, for BF16 and the F8 codes; empty without ml_dtypes."""
    if not _HAS_ML_DTYPES:
        return {}
    import ml_dtypes

    return {
        "BF16": np.dtype(ml_dtypes.bfloat16),
        "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
        "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    }


@functools.cache
def _ml_dtypes_codes() -> dict[np.dtype, str]:
    return {dtype: code for code, dtype in _ml_dtypes_table().items()}


def bfloat16_dtype() -> np.dtype | None:
    """numpy's bfloat16 (ml_dtypes'), or None where ml_dtypes is not installed (torch-only installs)."""
    return _ml_dtypes_table().get("BF16")


# The floating dtypes a model's weights come in: safetensors code -> the name configs use.
DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}
DTYPE_CODES = {name: code for code, name in DTYPE_NAMES.items()}


def numpy_dtype(st_dtype: str) -> np.dtype:
    """The numpy dtype of a safetensors dtype code ('F32' -> float32)."""
    if st_dtype == "BF16":
        return bfloat16_dtype() or np.dtype(np.uint16)
    try:
        return ST_TO_NUMPY[st_dtype] if st_dtype not in _FLOAT8_CODES else _ml_dtypes_table()[st_dtype]
    except (KeyError, TypeError):
        raise CheckpointError(
            f"Unsupported safetensors dtype {st_dtype!r}; rosetta reads {', '.join(sorted(ITEMSIZES))}."
        ) from None


def st_dtype_of(array: np.ndarray | np.dtype) -> str:
    """The safetensors dtype code of an array (or dtype)."""
    dtype = array if isinstance(array, np.dtype) else array.dtype
    try:
        return NUMPY_TO_ST[dtype]
    except KeyError:
        pass
    try:
        return _ml_dtypes_codes()[dtype]
    except KeyError:
        raise CheckpointError(f"Cannot store numpy dtype {dtype} in a checkpoint.") from None


def numel(shape: tuple[int, ...]) -> int:
    """The element count of a shape, in Python ints (no overflow)."""
    count = 1
    for dim in shape:
        count *= int(dim)
    return count


@dataclass(frozen=True)
class TensorSpec:
    """A tensor known by its name, shape and dtype before its data: what streaming writers are told first."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # safetensors dtype code: F32, F16, BF16, I64, ...

    @property
    def nbytes(self) -> int:
        return numel(self.shape) * numpy_dtype(self.dtype).itemsize

    @classmethod
    def of(cls, name: str, array: np.ndarray) -> TensorSpec:
        return cls(name, tuple(array.shape), st_dtype_of(array))


class CheckpointReader(Mapping):
    """A read-only name -> numpy array mapping over one checkpoint (possibly many files)."""

    metadata: dict[str, str]
    path: str = "the checkpoint"

    @abstractmethod
    def dtype(self, name: str) -> str:
        """The tensor's safetensors dtype name: F32, F16, BF16, I64, ..."""

    @abstractmethod
    def shape(self, name: str) -> tuple[int, ...]:
        """The tensor's shape, read without loading it."""

    def release(self, name: str) -> None:
        """Let go of the memory behind a tensor the caller has copied (a no-op where nothing is mapped)."""

    def close(self) -> None:
        """Unmap and close the files behind the reader."""

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ShardedReader(CheckpointReader):
    """Several files behind one mapping, as listed by an index's weight_map."""

    def __init__(self, readers: list[CheckpointReader]):
        self._readers = readers
        self._where: dict[str, CheckpointReader] = {}
        for reader in readers:
            for name in reader:
                if name in self._where:
                    raise CheckpointError(
                        f"{reader.path}: tensor {name!r} is also in {self._where[name].path}; "
                        "a shard set holds each tensor once. Re-save the checkpoint."
                    )
                self._where[name] = reader
        self.metadata = dict(readers[0].metadata) if readers else {}
        self.path = readers[0].path if readers else "the checkpoint"

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


def release_pages(array: np.memmap, start: int, end: int) -> None:
    """madvise(DONTNEED) the whole pages of [start, end) of a memory-mapped file, where supported."""
    raw = getattr(array, "_mmap", None)
    if raw is None or not hasattr(raw, "madvise"):
        return
    page = mmap.PAGESIZE
    first, last = -(-start // page) * page, end // page * page
    if last > first:
        raw.madvise(mmap.MADV_DONTNEED, first, last - first)


def mapped_view(
    mapping: np.memmap | None, offset: int, nbytes: int, dtype: np.dtype, shape: tuple
) -> np.ndarray:
    """The array at [offset, offset + nbytes) of a mapped file: a view, or one copy when unaligned."""
    if nbytes == 0 or mapping is None:
        return np.zeros(shape, dtype=dtype)
    raw = mapping[offset : offset + nbytes]
    if offset % dtype.alignment:
        raw = raw.copy()  # unaligned in the file: the one copy this tensor gets
    return raw.view(dtype).reshape(shape)


def contiguous(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array (copied only when needed); 0-d arrays stay 0-d."""
    return array if array.flags.c_contiguous else np.ascontiguousarray(array).reshape(array.shape)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
