"""`model.safetensors`: a validating memory-mapped reader and a streaming writer.

The reader checks the whole header before it maps anything, and refuses (with a
`CheckpointError` naming the file and the tensor) everything the `safetensors` library refuses:
a header that is not a JSON object or runs past the file, unknown dtypes, offsets that are not
a pair of non-negative integers, ranges that overlap, leave gaps, do not match the shape, or
do not cover the data exactly. Tensors come out as copy-on-write views of the mapping, so a
backend can take them without a copy and a later in-place update never touches the file.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ...core.errors import CheckpointError, ConversionError
from .base import (
    ITEMSIZES,
    CheckpointReader,
    TensorSpec,
    contiguous,
    mapped_view,
    numel,
    numpy_dtype,
    release_pages,
)

WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
METADATA_KEY = "__metadata__"


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(path: str, name: str, entry: Any) -> tuple[int, int]:
    """(start, end) of one tensor's header entry, after checking its dtype, shape and offsets agree."""
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: the header entry of tensor {name!r} is not an object.")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in ITEMSIZES:
        raise CheckpointError(f"{path}: tensor {name!r} has an unknown dtype {dtype!r}.")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise CheckpointError(
            f"{path}: tensor {name!r} has an invalid shape {shape!r} (a list of sizes >= 0)."
        )
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        raise CheckpointError(
            f"{path}: tensor {name!r} has invalid data_offsets {offsets!r} (a [start, end] pair of integers >= 0)."
        )
    start, end = offsets
    if end - start != numel(tuple(shape)) * ITEMSIZES[dtype]:
        raise CheckpointError(
            f"{path}: tensor {name!r} has data_offsets {offsets} ({end - start} bytes) but its shape {shape} "
            f"of {dtype} needs {numel(tuple(shape)) * ITEMSIZES[dtype]} bytes."
        )
    return start, end


def check_header(path: str, header: Any, data_len: int) -> dict[str, dict[str, Any]]:
    """The tensor entries of a parsed header, once every rule of the format holds."""
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the safetensors header is not a JSON object.")
    metadata = header.get(METADATA_KEY)
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        raise CheckpointError(f"{path}: the header's {METADATA_KEY!r} is not a map of strings.")
    entries = {k: v for k, v in header.items() if k != METADATA_KEY}
    ranges = sorted((_check_entry(path, name, entry), name) for name, entry in entries.items())
    position, previous = 0, None
    for (start, end), name in ranges:
        if start != position:
            what = f"overlaps {previous!r}" if start < position else "leaves a gap before it"
            raise CheckpointError(
                f"{path}: tensor {name!r} starts at byte {start}, which {what} (expected {position})."
            )
        position, previous = end, name
    if position > data_len:
        raise CheckpointError(
            f"{path} is truncated: its header describes {position} bytes of tensor data (tensor {previous!r} ends "
            f"there), the file holds {data_len}."
        )
    if position < data_len:
        raise CheckpointError(
            f"{path}: its header describes {position} bytes of tensor data, the file holds {data_len}."
        )
    return entries


def read_header(path: str) -> tuple[dict[str, str], dict[str, dict[str, Any]], int]:
    """(metadata, tensor entries, data start) of a safetensors file, validated."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise CheckpointError(
                f"{path} is not a safetensors file: {size} bytes, shorter than its 8-byte header size."
            )
        header_len = int.from_bytes(prefix, "little")
        if header_len > min(size - 8, MAX_HEADER_BYTES):
            raise CheckpointError(
                f"{path} is not a valid safetensors file: its header claims {header_len} bytes, "
                f"the file has {size - 8} after the size field."
            )
        raw = f.read(header_len)
    if not raw.startswith(b"{"):
        raise CheckpointError(f"{path}: the safetensors header does not start with a JSON object.")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{path}: the safetensors header is not valid JSON ({err}).") from err
    entries = check_header(path, header, size - 8 - header_len)
    return dict(header.get(METADATA_KEY) or {}), entries, 8 + header_len


class SafetensorsFile(CheckpointReader):
    """One safetensors file, memory-mapped; each tensor a view into the mapping."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.metadata, self._entries, self._data_start = read_header(self.path)
        size = os.path.getsize(self.path)
        self._map = np.memmap(self.path, dtype=np.uint8, mode="c") if size > self._data_start else None

    def __getitem__(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        start, end = entry["data_offsets"]
        dtype = numpy_dtype(entry["dtype"])
        return mapped_view(self._map, self._data_start + start, end - start, dtype, tuple(entry["shape"]))

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


# --------------------------------------------------------------------------------------
# Reading a mapped tensor into the one buffer a backend keeps
# --------------------------------------------------------------------------------------
BUFFER_ALIGNMENT = 64  # what TensorFlow (Eigen) and XLA need to adopt a host buffer without a copy
CHUNK_BYTES = 8 << 20  # mapped bytes copied (and then dropped) at a time when the layout is the same
TRANSPOSE_BYTES = 256 << 10  # ... when it is transposed: numpy transposes fastest in cache-sized blocks


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype, *, zeroed: bool = False) -> np.ndarray:
    """A C-contiguous array whose data starts on a `BUFFER_ALIGNMENT` boundary: uninitialised, or
    `zeroed` (by calloc: a large one takes no resident memory until written)."""
    dtype = np.dtype(dtype)
    nbytes = numel(tuple(shape)) * dtype.itemsize
    raw = (np.zeros if zeroed else np.empty)(nbytes + BUFFER_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % BUFFER_ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def _mapping_root(array: np.ndarray) -> np.memmap | None:
    """The memmap that owns a whole file mapping under `array` (its `base` is the mmap), or None."""
    node: Any = array
    while isinstance(node, np.ndarray):
        if isinstance(node, np.memmap) and isinstance(node.base, mmap.mmap):
            return node
        node = node.base
    return None


def _release_upto(root: np.memmap | None, source: np.ndarray, done: int, end: int) -> int:
    """Drop the mapped pages of `source`'s bytes [done, end) (offsets from its start); return where
    the next call starts: the page boundary up to which pages are now dropped."""
    if root is None:
        return done
    base = source.ctypes.data - root.ctypes.data
    if base < 0 or base + end > root.nbytes:
        return done
    last = (base + end) // mmap.PAGESIZE * mmap.PAGESIZE
    release_pages(root, base + done, last)
    return max(done, last - base)


def read_native(source: np.ndarray, axes: tuple[int, ...] | None, dtype: np.dtype) -> np.ndarray:
    """`source` (a tensor of a checkpoint, often a view of a mapped file) as a fresh aligned array in
    `np.transpose(source, axes)` order and `dtype`: the one copy it gets.

    The copy goes in chunks of whole slices along the source's first axis (about `CHUNK_BYTES`
    each), transposed and cast on the way, and the mapped pages of each chunk are dropped once it
    is copied, so a load never holds a tensor twice: only its destination and one chunk of the file.
    Only for callers that keep no view of `source` (its pages are re-read from the file if touched).
    """
    shape = source.shape if axes is None else tuple(source.shape[a] for a in axes)
    out = aligned_empty(shape, dtype)
    if source.ndim == 0:
        out[()] = source
        return out
    root = _mapping_root(source) if source.flags.c_contiguous else None
    lead = 0 if axes is None else axes.index(0)  # where the source's first axis lands in `out`
    row_bytes = max(1, source[:1].nbytes)
    step = max(1, (CHUNK_BYTES if axes is None else TRANSPOSE_BYTES) // row_bytes)
    done = 0
    for first in range(0, source.shape[0], step):
        chunk = source[first : first + step]
        where = [slice(None)] * out.ndim
        where[lead] = slice(first, first + step)
        out[tuple(where)] = chunk if axes is None else chunk.transpose(axes)
        done = _release_upto(root, source, done, (first + len(chunk)) * row_bytes)
    return out


def encode_header(specs: Sequence[TensorSpec], metadata: dict[str, str] | None) -> bytes:
    """The size field and JSON header of a file holding `specs` in order, padded to 8 bytes."""
    header: dict[str, Any] = {METADATA_KEY: metadata} if metadata else {}
    offset = 0
    for spec in specs:
        header[spec.name] = {
            "dtype": spec.dtype,
            "shape": list(spec.shape),
            "data_offsets": [offset, offset + spec.nbytes],
        }
        offset += spec.nbytes
    data = json.dumps(header, separators=(",", ":")).encode("utf-8")
    data += b" " * (-len(data) % 8)
    return len(data).to_bytes(8, "little") + data


class SafetensorsWriter:
    """One safetensors file, header first from the specs, then each tensor as it comes."""

    ordered = staticmethod(lambda specs: list(specs))

    def __init__(
        self, path: str, specs: Sequence[TensorSpec], *, metadata: dict[str, str] | None = None, **_: Any
    ):
        self._f = open(path, "xb")  # noqa: SIM115 - closed in close(); created with the user's umask
        self._f.write(encode_header(specs, metadata if metadata is not None else {"format": "pt"}))

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        if array.nbytes != spec.nbytes:
            raise ConversionError(
                f"{spec.name}: {array.nbytes} bytes where the header promised {spec.nbytes}."
            )
        self._f.write(memoryview(contiguous(array).reshape(-1).view(np.uint8)))

    def close(self) -> None:
        self._f.close()
