"""CTranslate2 checkpoints (`model.bin`): read-only, under canonical names, with the config they imply.

The file (binary version >= 4): u32 version, a name string (u16 length, bytes, NUL), u32 revision, u32 variable
count; per variable a name, u8 rank, u32 dims, u8 dtype, u32 byte count and the data; then u32 alias count and
(alias, target) name pairs. What an architecture's variables are called is declared, as data, by its model folder
(`CT2` in rosetta/models/<arch>/__init__.py, found through the registry by the file's spec name): regex rules
from variable names to canonical names, with fused projections split evenly along the rows, and how the
config's sizes follow from shapes. The file is memory-mapped; a tensor is read (and split) when asked for.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...core import registry
from ...core.errors import CheckpointError, ConversionError
from .base import CheckpointReader, mapped_view

WEIGHTS_NAME = "model.bin"
# CTranslate2's DataType enum -> (numpy dtype, safetensors code)
_DTYPES: dict[int, tuple[np.dtype, str]] = {
    0: (np.dtype(np.float32), "F32"),
    1: (np.dtype(np.int8), "I8"),
    2: (np.dtype(np.int16), "I16"),
    3: (np.dtype(np.int32), "I32"),
    4: (np.dtype(np.float16), "F16"),
}


class _Cursor:
    """Reads the little-endian header fields of a memory-mapped file, naming the file when it is cut short."""

    def __init__(self, data: np.memmap, path: str):
        self.data, self.path, self.offset = data, path, 0

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise CheckpointError(
                f"{self.path}: the CTranslate2 file ends early (at byte {self.offset}); re-export it."
            )
        raw = self.data[self.offset : self.offset + size].tobytes()
        self.offset += size
        return raw

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        (length,) = struct.unpack("<H", self.take(2))
        return self.take(length).rstrip(b"\0").decode("utf-8")


def is_ct2_file(path: str | os.PathLike) -> bool:
    """Whether a file starts like a CTranslate2 model.bin (a small version, then a spec name string)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    if len(head) < 8:
        return False
    version, length = struct.unpack("<I", head[:4])[0], struct.unpack("<H", head[4:6])[0]
    return 4 <= version <= 16 and 0 < length < 256


def find_ct2(src: str | os.PathLike) -> str | None:
    """The model.bin of a CTranslate2 folder (or the file itself); None when `src` is not one."""
    src = os.fspath(src)
    path = os.path.join(src, WEIGHTS_NAME) if os.path.isdir(src) else src
    if os.path.basename(path) != WEIGHTS_NAME or not os.path.isfile(path):
        return None
    return path if is_ct2_file(path) else None


def _naming(spec: str, path: str) -> dict[str, Any]:
    for package in registry.packages().values():
        declared = getattr(package, "CT2", None)
        if declared and declared["spec"] == spec:
            return declared
    known = sorted(p.CT2["spec"] for p in registry.packages().values() if getattr(p, "CT2", None))
    raise ConversionError(
        f"{path}: CTranslate2 spec {spec!r} is not supported; rosetta reads {', '.join(known)}."
    )


class CT2File(CheckpointReader):
    """A CTranslate2 model.bin as a canonical-name -> numpy mapping (fused projections split)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        cursor = _Cursor(self._data, self.path)
        self.version = cursor.u32()
        if self.version < 4:
            raise CheckpointError(
                f"{self.path}: CTranslate2 binary version {self.version} is too old (need >= 4)."
            )
        self.spec, self.revision = cursor.string(), cursor.u32()
        self.variables = self._read_variables(cursor)
        self.aliases = {cursor.string(): cursor.string() for _ in range(cursor.u32())}
        self.naming = _naming(self.spec, self.path)
        self._tensors = self._canonical_names()
        self.metadata = {"format": "pt", "source_format": "ct2"}

    def _read_variables(self, cursor: _Cursor) -> dict[str, tuple[tuple[int, ...], int, int, int]]:
        variables = {}
        for _ in range(cursor.u32()):
            name = cursor.string()
            shape = tuple(cursor.u32() for _ in range(cursor.u8()))
            code, nbytes = cursor.u8(), cursor.u32()
            if code not in _DTYPES:
                raise CheckpointError(
                    f"{self.path}: variable {name!r} has CTranslate2 dtype {code}, not supported."
                )
            variables[name] = (shape, code, cursor.offset, nbytes)
            cursor.take(nbytes)
        return variables

    def raw(self, name: str) -> np.ndarray:
        """A variable as stored in the file (a view of the mapping)."""
        shape, code, offset, nbytes = self.variables[name]
        return mapped_view(self._data, offset, nbytes, _DTYPES[code][0], shape)

    def _canonical_names(self) -> dict[str, tuple[str, int, int]]:
        """canonical name -> (variable, block index, block count)."""
        rules = [(re.compile(pattern), targets) for pattern, targets in self.naming["rules"]]
        leaf_names, dropped = self.naming["leaf_names"], tuple(self.naming["biases_without_parameter"])
        tensors = {}
        for name, (shape, _, _, _) in self.variables.items():
            if not shape:  # scalars: settings, read by config()
                continue
            for pattern, targets in rules:
                match = pattern.fullmatch(name)
                if match:
                    groups = match.groupdict()
                    leaf = leaf_names[groups.pop("leaf")]
                    for index, target in enumerate(targets):
                        canonical = f"{target.format(**groups)}.{leaf}"
                        if canonical.endswith(dropped):
                            self._check_zero(name, index, len(targets))
                        else:
                            tensors[canonical] = (name, index, len(targets))
                    break
            else:
                raise ConversionError(
                    f"{self.path}: the CTranslate2 variable {name!r} has no {self.naming['model_type']} counterpart "
                    "rosetta knows; the file may come from a newer converter."
                )
        return tensors

    def _check_zero(self, name: str, index: int, count: int) -> None:
        block = np.split(self.raw(name), count, axis=0)[index]
        if np.any(block != 0):
            raise ConversionError(
                f"{self.path}: {name!r} block {index} is not all zeros, but the model has no parameter for it."
            )

    def __getitem__(self, name: str) -> np.ndarray:
        variable, index, count = self._tensors[name]
        array = self.raw(variable)
        return array if count == 1 else np.ascontiguousarray(np.split(array, count, axis=0)[index])

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def dtype(self, name: str) -> str:
        return _DTYPES[self.variables[self._tensors[name][0]][1]][1]

    def shape(self, name: str) -> tuple[int, ...]:
        variable, _, count = self._tensors[name]
        shape = self.variables[variable][0]
        return (shape[0] // count, *shape[1:])

    def scalar(self, name: str) -> int:
        return int(self.raw(name).reshape(()))

    def close(self) -> None:
        self._data = None

    def config(self, folder: str) -> dict[str, Any]:
        """The canonical config.json: sizes from shapes and scalars, fields from the folder's CTranslate2
        config.json, and token ids from its tokenizer.json."""
        naming = self.naming
        config: dict[str, Any] = {
            "model_type": naming["model_type"],
            "architectures": list(naming["architectures"]),
        }
        for field, (variable, axis) in naming["config_shapes"].items():
            config[field] = self.variables[variable][0][axis]
        for field, variable in naming["config_scalars"].items():
            config[field] = self.scalar(variable)
        for field, prefix in naming["config_layers"].items():
            found = {m.group(1) for n in self.variables if (m := re.match(re.escape(prefix) + r"(\d+)/", n))}
            config[field] = len(found)
        ct2_config = _read_json(os.path.join(folder, "config.json"))
        config.update(
            {field: ct2_config[key] for key, field in naming["config_file"].items() if key in ct2_config}
        )
        tokens = added_tokens(folder)
        config.update(
            {field: tokens[text] for field, text in naming["special_tokens"].items() if text in tokens}
        )
        config["torch_dtype"] = {"F16": "float16", "F32": "float32"}.get(
            self.dtype(next(iter(self))), "float32"
        )
        return config

    def generation_config(self, config: dict[str, Any], folder: str) -> dict[str, Any]:
        out = {}
        for entry in self.naming["generation_fields"]:
            field, _, target = entry.partition(":")
            if field in config:
                out[target or field] = config[field]
        tokens = added_tokens(folder)
        out.update(
            {
                field: tokens[text]
                for field, text in self.naming["generation_tokens"].items()
                if text in tokens
            }
        )
        return out


def _read_json(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}).") from err


def added_tokens(folder: str) -> dict[str, int]:
    """Text -> id of the added (special) tokens of the folder's tokenizer.json ({} without one)."""
    tokenizer = _read_json(os.path.join(folder, "tokenizer.json"))
    return {t["content"]: int(t["id"]) for t in tokenizer.get("added_tokens", [])}


def open_ct2(path: str | os.PathLike) -> tuple[dict[str, Any], CheckpointReader]:
    """(config dict, reader under canonical names) of a CTranslate2 folder or its model.bin."""
    found = find_ct2(path)
    if found is None:
        raise CheckpointError(f"{os.fspath(path)} is no CTranslate2 model (no model.bin in its format).")
    reader = CT2File(found)
    return reader.config(os.path.dirname(found)), reader


__all__ = ["CT2File", "added_tokens", "find_ct2", "is_ct2_file", "open_ct2"]
