"""A GGUF file's header read in one pass: its metadata as Python values and each tensor's bytes, memory-mapped.

Why not `gguf.GGUFReader`: it builds a numpy view for every part of every metadata field, and a tokenizer's
arrays hold ~150,000 parts, so opening SmolLM2-135M took 3.6-6 s, each time a model, a tokenizer or an Auto
class opened the file. This reads the same header with a cursor over one memory map (well under a second).
The `gguf` package still dequantises the tensors (`gguf.quants`), and names the quantisation types.

Layout (ggml's docs/gguf.md; little-endian, versions 2 and 3): magic "GGUF", version u32, tensor count u64,
metadata count u64; each metadata entry a string key, a u32 value type and the value (arrays: item type u32,
count u64, items); each tensor a string name, n_dims u32, dims u64 (fastest-varying first), ggml type u32 and
an offset u64 into the data section, which starts at the next multiple of `general.alignment` (default 32).
Strings are a u64 length and UTF-8 bytes. Every count and offset is checked against the file before use.
"""

from __future__ import annotations

import codecs
import os
import struct
from typing import Any, NamedTuple

import numpy as np

from .errors import CheckpointError, MissingFrameworkError

GGUF_EXTRA = "gguf"
GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 8
# GGUF metadata value types -> numpy dtypes (8 = string and 9 = array are read apart)
_SCALAR_DTYPES = {
    0: np.dtype("<u1"),
    1: np.dtype("<i1"),
    2: np.dtype("<u2"),
    3: np.dtype("<i2"),
    4: np.dtype("<u4"),
    5: np.dtype("<i4"),
    6: np.dtype("<f4"),
    7: np.dtype("?"),
    10: np.dtype("<u8"),
    11: np.dtype("<i8"),
    12: np.dtype("<f8"),
}
_STRING, _ARRAY = 8, 9
_LENGTH = struct.Struct("<Q")


def gguf_module() -> Any:
    """The `gguf` package, or a MissingFrameworkError that says how to install it."""
    try:
        import gguf
    except ImportError as err:
        raise MissingFrameworkError(
            f"Reading a GGUF file needs the gguf package: pip install 'rosetta-models[{GGUF_EXTRA}]' "
            "(or pip install 'gguf>=0.10')."
        ) from err
    return gguf


class GGUFTensor(NamedTuple):
    name: str
    tensor_type: int  # the ggml type id (gguf.GGMLQuantizationType)
    shape: tuple[int, ...]  # GGUF order: the fastest-varying dimension first
    data: (
        np.ndarray
    )  # the tensor's bytes (uint8) [rows, bytes per row], memory-mapped: what gguf.quants reads


class _Cursor:
    """Reads little-endian values from a uint8 memory map, refusing any read past its end."""

    def __init__(self, buffer: np.ndarray, path: str):
        self.buffer, self.path, self.position = buffer, path, 0

    def take(self, size: int, what: str) -> np.ndarray:
        end = self.position + size
        if size < 0 or end > self.buffer.size:
            self.refuse_past_end(end, what)
        chunk = self.buffer[self.position : end]
        self.position = end
        return chunk

    def refuse_past_end(self, end: int, what: str) -> None:
        raise CheckpointError(
            f"{self.path}: {what} runs past the end of the file (byte {end} of {self.buffer.size}); "
            "the file is truncated or not GGUF. Download it again."
        )

    def scalar(self, dtype: np.dtype, what: str) -> Any:
        return self.take(dtype.itemsize, what).view(dtype)[0].item()

    def string(self, what: str) -> str:
        length = self.scalar(_SCALAR_DTYPES[10], what)
        return self.take(length, what).tobytes().decode("utf-8", errors="replace")

    def value(self, value_type: int, what: str) -> Any:
        if value_type in _SCALAR_DTYPES:
            return self.scalar(_SCALAR_DTYPES[value_type], what)
        if value_type == _STRING:
            return self.string(what)
        if value_type != _ARRAY:
            raise CheckpointError(f"{self.path}: {what} has unknown GGUF value type {value_type}.")
        item_type = self.scalar(_SCALAR_DTYPES[4], what)
        count = self.scalar(_SCALAR_DTYPES[10], what)
        if item_type in _SCALAR_DTYPES:
            dtype = _SCALAR_DTYPES[item_type]
            return self.take(count * dtype.itemsize, what).view(dtype).tolist()
        if count * 8 > self.buffer.size - self.position:  # every item takes 8 bytes at least: check first
            raise CheckpointError(f"{self.path}: {what} claims {count} items, more than the file holds.")
        if item_type == _STRING:
            return self.strings(count, what)
        return [self.value(item_type, what) for _ in range(count)]

    def strings(self, count: int, what: str) -> list[str]:
        """`count` strings in a row (a vocabulary: ~50,000), read with struct over the map, no numpy per item."""
        view, position, size, values = memoryview(self.buffer), self.position, self.buffer.size, []
        for _ in range(count):
            if position + 8 > size:
                self.refuse_past_end(position + 8, what)
            (length,) = _LENGTH.unpack_from(view, position)
            start, position = position + 8, position + 8 + length
            if position > size:
                self.refuse_past_end(position, what)
            values.append(codecs.decode(view[start:position], "utf-8", "replace"))
        self.position = position
        return values


class GGUFHeader:
    """The metadata (`metadata`: key -> str, int, float, bool or a list of them) and the tensors (`tensors`,
    in file order) of a GGUF file; the tensors' bytes stay in the memory map until read."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise CheckpointError(
                f"{self.path} does not exist or is not a file; pass the path of a .gguf file."
            )
        buffer = (
            np.memmap(self.path, dtype=np.uint8, mode="r")
            if os.path.getsize(self.path)
            else np.zeros(0, np.uint8)
        )
        cursor = _Cursor(buffer, self.path)
        if cursor.take(4, "the magic number").tobytes() != GGUF_MAGIC:
            raise CheckpointError(f"{self.path} is not a GGUF file (it does not start with b'GGUF').")
        version = cursor.scalar(_SCALAR_DTYPES[4], "the version")
        if version not in SUPPORTED_VERSIONS:
            raise CheckpointError(
                f"{self.path}: GGUF version {version} is not supported (only {SUPPORTED_VERSIONS}, little-endian)."
            )
        tensor_count = cursor.scalar(_SCALAR_DTYPES[10], "the tensor count")
        metadata_count = cursor.scalar(_SCALAR_DTYPES[10], "the metadata count")
        if (tensor_count + metadata_count) * 8 > buffer.size:
            raise CheckpointError(
                f"{self.path}: the header claims {tensor_count} tensors and {metadata_count} metadata entries, "
                "more than the file can hold; the file is corrupt."
            )
        self.metadata: dict[str, Any] = {}
        for index in range(metadata_count):
            key = cursor.string(f"metadata entry {index}")
            value_type = cursor.scalar(_SCALAR_DTYPES[4], f"metadata {key!r}")
            self.metadata[key] = cursor.value(value_type, f"metadata {key!r}")
        infos = [self._tensor_info(cursor, index) for index in range(tensor_count)]
        alignment = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0:
            raise CheckpointError(
                f"{self.path}: general.alignment is {alignment!r}; it must be a positive integer."
            )
        data_start = -(-cursor.position // alignment) * alignment
        self.tensors = [self._tensor(buffer, data_start, *info) for info in infos]

    def _tensor_info(self, cursor: _Cursor, index: int) -> tuple[str, tuple[int, ...], int, int]:
        name = cursor.string(f"tensor {index}'s name")
        n_dims = cursor.scalar(_SCALAR_DTYPES[4], f"tensor {name!r}")
        if n_dims > MAX_DIMS:
            raise CheckpointError(
                f"{self.path}: tensor {name!r} claims {n_dims} dimensions (at most {MAX_DIMS})."
            )
        shape = tuple(cursor.take(8 * n_dims, f"tensor {name!r}").view(_SCALAR_DTYPES[10]).tolist())
        tensor_type = cursor.scalar(_SCALAR_DTYPES[4], f"tensor {name!r}")
        offset = cursor.scalar(_SCALAR_DTYPES[10], f"tensor {name!r}")
        return name, shape, tensor_type, offset

    def _tensor(
        self,
        buffer: np.ndarray,
        data_start: int,
        name: str,
        shape: tuple[int, ...],
        tensor_type: int,
        offset: int,
    ) -> GGUFTensor:
        gguf = gguf_module()
        try:
            block_size, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(tensor_type)]
        except (ValueError, KeyError) as err:
            raise CheckpointError(
                f"{self.path}: tensor {name!r} has ggml type {tensor_type}, which the installed gguf package does "
                "not know; upgrade it: pip install -U gguf."
            ) from err
        elements = int(np.prod(shape, dtype=np.uint64)) if shape else 1
        if shape and shape[0] % block_size:
            raise CheckpointError(
                f"{self.path}: tensor {name!r} of shape {shape} does not split into blocks of {block_size}."
            )
        start, size = data_start + offset, elements // block_size * type_size
        if start + size > buffer.size:
            raise CheckpointError(
                f"{self.path}: tensor {name!r} lies at bytes {start}..{start + size}, past the end of the file "
                f"({buffer.size} bytes); the file is truncated or corrupt."
            )
        data = buffer[start : start + size]
        row_bytes = shape[0] // block_size * type_size if shape else size
        return GGUFTensor(name, tensor_type, shape, data.reshape(-1, row_bytes) if row_bytes else data)


__all__ = ["GGUF_EXTRA", "GGUFHeader", "GGUFTensor", "gguf_module"]
