"""`flax_model.msgpack`: `flax.serialization.to_bytes` of the nested params dict, read and written.

    {"my_model": {"encoder": {"layer": {"0": {...}}}}}, leaves `kernel`, `scale`, `embedding`,
    `bias`; arrays as msgpack extension 1 (shape, dtype name, raw bytes); arrays past 1 GiB as
    {"__msgpack_chunked_array__": True, "shape": {...}, "chunks": {...}}.

The reader parses the subset flax writes, keeping only each array's offset, and memory-maps the
file; names are the params paths joined with "/". Every length is checked against what is left
of the file before it is read, and nesting is bounded, so a malformed or hostile file is a
`CheckpointError`, never a large allocation or a RecursionError. The writer reproduces
`to_bytes` byte for byte, one tensor at a time.
"""

from __future__ import annotations

import io
import os
import struct
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.errors import CheckpointError, ConversionError
from .base import (
    CheckpointReader,
    TensorSpec,
    contiguous,
    mapped_view,
    numel,
    numpy_dtype,
    release_pages,
    st_dtype_of,
)

WEIGHTS_NAME = "flax_model.msgpack"
INDEX_NAME = "flax_model.msgpack.index.json"
MAX_DEPTH = 64  # params trees are a dozen levels deep
_EXT_NDARRAY, _EXT_COMPLEX, _EXT_NPSCALAR = 1, 2, 3
_CHUNKED = "__msgpack_chunked_array__"


@dataclass
class _ArrayRef:
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # of the raw bytes in the file
    nbytes: int


@dataclass
class _ChunkedRef:
    shape: tuple[int, ...]
    chunks: list[_ArrayRef] = field(default_factory=list)

    @property
    def dtype(self) -> np.dtype:
        return self.chunks[0].dtype


_SIMPLE = {0xC0: None, 0xC2: False, 0xC3: True}
_SIZED = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I", 0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}
_NUMBERS = {
    0xCA: ">f", 0xCB: ">d", 0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i",
    0xD3: ">q",
}  # fmt: skip


class _MsgpackParser:
    """Walks a msgpack stream, skipping array payloads (only their offsets are kept)."""

    def __init__(self, f: io.BufferedReader, size: int):
        self.f = f
        self.size = size
        self.depth = 0

    def take(self, n: int) -> bytes:
        if n > self.size - self.f.tell():  # checked before reading: no allocation from a hostile length
            raise ValueError(f"a length of {n} bytes runs past the end of the file")
        return self.f.read(n)

    def unpack(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def value(self) -> Any:
        b = self.take(1)[0]
        if b <= 0x7F or b >= 0xE0:
            return b if b <= 0x7F else b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return self.array(b & 0x0F)
        if 0xA0 <= b <= 0xBF:
            return self.take(b & 0x1F).decode("utf8")
        return self._typed(b)

    def _typed(self, b: int) -> Any:
        if b in _SIMPLE:
            return _SIMPLE[b]
        if b in _SIZED:
            data = self.take(self.unpack(_SIZED[b]))
            return data if b <= 0xC6 else data.decode("utf8")
        if b in _NUMBERS:
            return self.unpack(_NUMBERS[b])
        if b in (0xDC, 0xDD):
            return self.array(self.unpack(">H" if b == 0xDC else ">I"))
        if b in (0xDE, 0xDF):
            return self.map(self.unpack(">H" if b == 0xDE else ">I"))
        if 0xD4 <= b <= 0xD8:
            return self.ext(1 << (b - 0xD4))
        if b in (0xC7, 0xC8, 0xC9):
            return self.ext(self.unpack({0xC7: ">B", 0xC8: ">H", 0xC9: ">I"}[b]))
        raise ValueError(f"unsupported msgpack type byte 0x{b:02x}")

    def _enter(self, n: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"containers nested deeper than {MAX_DEPTH} levels")
        if n > self.size - self.f.tell():  # every element takes at least one byte
            raise ValueError(f"a container of {n} elements runs past the end of the file")

    def array(self, n: int) -> list:
        self._enter(n)
        out = [self.value() for _ in range(n)]
        self.depth -= 1
        return out

    def map(self, n: int) -> dict:
        self._enter(n)
        out = {}
        for _ in range(n):
            key = self.value()
            if not isinstance(key, (str, bytes, int)):
                raise ValueError(f"a map key of type {type(key).__name__}")
            out[key.decode("utf8") if isinstance(key, bytes) else str(key)] = self.value()
        self.depth -= 1
        return out

    def ext(self, length: int) -> Any:
        code = self.unpack(">b")
        start = self.f.tell()
        if start + length > self.size:
            raise ValueError(f"an extension of {length} bytes runs past the end of the file")
        if code in (_EXT_NDARRAY, _EXT_NPSCALAR):
            ref = self.ndarray(start + length)
        elif code == _EXT_COMPLEX:
            ref = None
        else:
            raise ValueError(f"unknown msgpack extension type {code}")
        self.f.seek(start + length)
        return ref

    def ndarray(self, end: int) -> _ArrayRef:
        if self.take(1)[0] != 0x93:
            raise ValueError("an array extension that is not (shape, dtype, bytes)")
        shape = self.value()
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ValueError(f"an array shape {shape!r} that is not a list of sizes")
        name = self.value()
        dtype = _dtype_from_name(name.decode() if isinstance(name, bytes) else name)
        b = self.take(1)[0]
        if b not in (0xC4, 0xC5, 0xC6):
            raise ValueError("array data that is not a byte string")
        nbytes = self.unpack({0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[b])
        offset = self.f.tell()
        if offset + nbytes > min(end, self.size) or nbytes != numel(tuple(shape)) * dtype.itemsize:
            raise ValueError(
                f"array data of {nbytes} bytes at offset {offset} does not fit the file or its shape {shape}"
            )
        return _ArrayRef(tuple(shape), dtype, offset, nbytes)


def _dtype_from_name(name: Any) -> np.dtype:
    if name == "bfloat16":
        return numpy_dtype("BF16")
    try:
        dtype = np.dtype(name)
        st_dtype_of(dtype)
    except (TypeError, CheckpointError):
        raise ValueError(f"an array of unsupported dtype {name!r}") from None
    return dtype


def _chunked(path: tuple[str, ...], value: dict) -> _ChunkedRef:
    chunks, shape = value.get("chunks"), value.get("shape")
    if not isinstance(chunks, dict) or not isinstance(shape, dict):
        raise ValueError(f"chunked array {'/'.join(path)!r} lacks its 'shape' or 'chunks' map")
    dims = tuple(int(shape[str(i)]) for i in range(len(shape)))
    refs = [chunks[str(i)] for i in range(len(chunks))]
    if not refs or not all(isinstance(r, _ArrayRef) for r in refs) or len({r.dtype for r in refs}) != 1:
        raise ValueError(f"chunked array {'/'.join(path)!r} has chunks that are not arrays of one dtype")
    if sum(r.nbytes for r in refs) != numel(dims) * refs[0].dtype.itemsize:
        raise ValueError(f"chunked array {'/'.join(path)!r}: its chunks do not add up to its shape {dims}")
    return _ChunkedRef(dims, refs)


def _flatten_refs(tree: dict, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, _ArrayRef | _ChunkedRef]]:
    for key, value in tree.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value.get(_CHUNKED):
            yield "/".join(path), _chunked(path, value)
        elif isinstance(value, dict):
            yield from _flatten_refs(value, path)
        elif isinstance(value, _ArrayRef):
            yield "/".join(path), value


class MsgpackFile(CheckpointReader):
    """A transformers Flax `flax_model.msgpack` (or shard), memory-mapped; names are '/'-joined paths."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        size = os.path.getsize(self.path)
        try:
            with open(self.path, "rb") as f:
                tree = _MsgpackParser(f, size).value()
            if not isinstance(tree, dict):
                raise ValueError("the top level is not a map of parameters")
            self._refs = dict(_flatten_refs(tree))
        except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError, struct.error) as err:
            raise CheckpointError(f"{self.path} is not a valid Flax msgpack checkpoint ({err}).") from err
        self._map = np.memmap(self.path, dtype=np.uint8, mode="c") if size else None
        self.metadata = {"format": "flax"}

    def _view(self, ref: _ArrayRef) -> np.ndarray:
        return mapped_view(self._map, ref.offset, ref.nbytes, ref.dtype, ref.shape)

    def __getitem__(self, name: str) -> np.ndarray:
        ref = self._refs[name]
        if isinstance(ref, _ChunkedRef):
            return np.concatenate([self._view(c).reshape(-1) for c in ref.chunks]).reshape(ref.shape)
        return self._view(ref)

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def dtype(self, name: str) -> str:
        return st_dtype_of(self._refs[name].dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._refs[name].shape)

    def release(self, name: str) -> None:
        """Drop the mapped pages of a tensor already consumed (see SafetensorsFile.release)."""
        ref = self._refs[name]
        for chunk in ref.chunks if isinstance(ref, _ChunkedRef) else [ref]:
            if self._map is not None:
                release_pages(self._map, chunk.offset, chunk.offset + chunk.nbytes)

    def close(self) -> None:
        self._map = None


class MsgpackWriter:
    """`flax_model.msgpack` byte for byte as `flax.serialization.to_bytes(params)` writes it."""

    MAX_CHUNK_SIZE = 2**30  # flax splits larger arrays into chunks

    def __init__(self, path: str, specs: Sequence[TensorSpec], **_: Any):
        self._f = open(path, "xb")  # noqa: SIM115 - closed in close(); created with the user's umask
        self._tree = _tree(self.ordered(specs))
        self._pending = deque(self._events(self._tree))
        self._advance()

    @staticmethod
    def ordered(specs: Sequence[TensorSpec]) -> list[TensorSpec]:
        """The specs in the order the nested params dict lists them (its tree order)."""
        by_name = {s.name: s for s in specs}
        return [by_name[name] for name in _leaves(_tree(specs))]

    def _events(self, tree: dict) -> Iterator[bytes | TensorSpec]:
        yield _mp_map(len(tree))
        for key, value in tree.items():
            yield _mp_str(key)
            if isinstance(value, dict):
                yield from self._events(value)
            else:
                yield value

    def _advance(self) -> None:
        """Write every header byte up to the next tensor."""
        while self._pending and isinstance(self._pending[0], bytes):
            self._f.write(self._pending.popleft())

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        expected = self._pending.popleft()
        if expected.name != spec.name:
            raise ConversionError(
                f"msgpack tensors out of order: got {spec.name!r}, expected {expected.name!r}."
            )
        array = contiguous(array)
        if array.nbytes > self.MAX_CHUNK_SIZE:
            self._write_chunked(array)
        else:
            self._write_array(array)
        self._advance()

    def _write_array(self, array: np.ndarray) -> None:
        self._f.write(_mp_ndarray_header(array.shape, array.dtype, array.nbytes))
        self._f.write(memoryview(array.reshape(-1).view(np.uint8)))

    def _write_chunked(self, array: np.ndarray) -> None:
        size = max(1, int(self.MAX_CHUNK_SIZE / array.dtype.itemsize))
        flat = array.reshape(-1)
        chunks = [flat[i : i + size] for i in range(0, flat.size, size)]
        self._f.write(_mp_map(3) + _mp_str(_CHUNKED) + b"\xc3" + _mp_str("shape") + _mp_map(len(array.shape)))
        for i, dim in enumerate(array.shape):
            self._f.write(_mp_str(str(i)) + _mp_uint(dim))
        self._f.write(_mp_str("chunks") + _mp_map(len(chunks)))
        for i, chunk in enumerate(chunks):
            self._f.write(_mp_str(str(i)))
            self._write_array(chunk)

    def close(self) -> None:
        self._f.close()


def _tree(specs: Sequence[TensorSpec]) -> dict:
    """The nested params dict of '/'-joined names, keys sorted at every level as JAX pytrees keep them."""
    tree: dict = {}
    for spec in specs:
        *path, leaf = spec.name.split("/")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConversionError(f"{spec.name!r} nests under another tensor's name.")
        if leaf in node:
            raise ConversionError(f"{spec.name!r} is both a tensor and a group of tensors.")
        node[leaf] = spec
    return _sort_tree(tree)


def _sort_tree(tree: dict) -> dict:
    return {
        key: _sort_tree(value) if isinstance(value, dict) else value for key, value in sorted(tree.items())
    }


def _leaves(tree: dict) -> Iterator[str]:
    for value in tree.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value.name


def _mp_sized(n: int, small: int | None, codes: tuple[int, int, int], fix_limit: int) -> bytes:
    if small is not None and n < fix_limit:
        return bytes([small | n])
    for code, fmt, limit in zip(codes, (">B", ">H", ">I"), (2**8, 2**16, 2**32)):
        if code and n < limit:
            return bytes([code]) + struct.pack(fmt, n)
    raise ConversionError(f"msgpack cannot encode a length of {n}.")


def _mp_map(n: int) -> bytes:
    return _mp_sized(n, 0x80, (0, 0xDE, 0xDF), 16)


def _mp_array(n: int) -> bytes:
    return _mp_sized(n, 0x90, (0, 0xDC, 0xDD), 16)


def _mp_str(text: str) -> bytes:
    data = text.encode("utf8")
    return _mp_sized(len(data), 0xA0, (0xD9, 0xDA, 0xDB), 32) + data


def _mp_bin_header(n: int) -> bytes:
    return _mp_sized(n, None, (0xC4, 0xC5, 0xC6), 0)


def _mp_uint(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    for code, fmt, limit in ((0xCC, ">B", 2**8), (0xCD, ">H", 2**16), (0xCE, ">I", 2**32)):
        if n < limit:
            return bytes([code]) + struct.pack(fmt, n)
    return b"\xcf" + struct.pack(">Q", n)


def _mp_ndarray_header(shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> bytes:
    """Everything of flax's ndarray extension before the raw bytes: ext header, (shape, dtype, bin header)."""
    inner = _mp_array(3) + _mp_array(len(shape)) + b"".join(_mp_uint(d) for d in shape)
    inner += _mp_str(dtype.name) + _mp_bin_header(nbytes)
    length = len(inner) + nbytes
    fixext = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    head = bytes([fixext[length]]) if length in fixext else _mp_sized(length, None, (0xC7, 0xC8, 0xC9), 0)
    return head + struct.pack(">b", _EXT_NDARRAY) + inner
