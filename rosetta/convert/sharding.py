"""The one checkpoint writer: shard planning, shard names, the index, and the crash-safe commit.

`write_checkpoint` is used by `save_pretrained` (every backend) and by `rosetta convert`. It takes
either a mapping of name -> numpy array or a `TensorStream` (specs first, each tensor fetched when
its turn comes, so at most one is held), writes every file into a private staging folder and
commits them all at once (see `formats.journal`): a crash, a full disk or a concurrent save leaves
the folder holding the old checkpoint or the new one, never a mix. Weight files of the same format
left by an earlier save (other shard counts, a stale index) are removed in the same commit.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import ConversionError, InputError
from .formats import SAVE_ID_KEY, Format, get_format
from .formats.base import TensorSpec
from .formats.index import read_index
from .formats.journal import Staging, fsync_path

_SIZE_UNITS = {
    "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
    "TIB": 2**40,
}  # fmt: skip


def parse_size(size: int | str) -> int:
    """'5GB' -> 5_000_000_000, '200MiB' -> 209_715_200; ints pass through."""
    if isinstance(size, int) and not isinstance(size, bool):
        if size <= 0:
            raise InputError(f"max_shard_size must be positive, got {size}.")
        return size
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]I?B|B)\s*", str(size).upper())
    if not match or float(match.group(1)) <= 0:
        raise InputError(f"Cannot read {size!r} as a size; write it like '5GB', '500MB' or '2GiB'.")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def plan_shards(specs: Sequence[TensorSpec], max_shard_size: int) -> list[list[TensorSpec]]:
    """Consecutive groups under max_shard_size bytes (a larger tensor gets a file of its own)."""
    groups: list[list[TensorSpec]] = [[]]
    size = 0
    for spec in specs:
        if groups[-1] and size + spec.nbytes > max_shard_size:
            groups.append([])
            size = 0
        groups[-1].append(spec)
        size += spec.nbytes
    return groups


def shard_names(weights_name: str, count: int) -> list[str]:
    """'model.safetensors', 3 -> model-00001-of-00003.safetensors, ...; one shard keeps the plain name."""
    if count == 1:
        return [weights_name]
    stem, ext = os.path.splitext(weights_name)
    return [f"{stem}-{i + 1:05d}-of-{count:05d}{ext}" for i in range(count)]


def weights_pattern(weights_name: str) -> re.Pattern:
    """The names of every file of a format's checkpoint: single, shards, index."""
    stem, ext = os.path.splitext(weights_name)
    return re.compile(rf"^{re.escape(stem)}(-\d{{5}}-of-\d{{5}})?{re.escape(ext)}(\.index\.json)?$")


def index_text(weight_map: Mapping[str, str], total_size: int) -> str:
    """A shard index exactly as transformers writes it."""
    index = {"metadata": {"total_size": int(total_size)}, "weight_map": dict(weight_map)}
    return json.dumps(index, indent=2, sort_keys=True) + "\n"


@dataclass
class TensorStream:
    """Tensors told by their specs first and fetched one at a time (streamed writing)."""

    specs: Sequence[TensorSpec]
    fetch: Callable[[TensorSpec], np.ndarray]
    release: Callable[[TensorSpec], None] = lambda spec: None
    progress: Callable[[int], Any] = lambda nbytes: None

    @classmethod
    def of(cls, tensors: Mapping[str, np.ndarray]) -> TensorStream:
        specs = [TensorSpec.of(name, np.asarray(array)) for name, array in tensors.items()]
        return cls(specs, lambda spec: np.asarray(tensors[spec.name]))


def _write_file(fmt: Format, path: str, group: list[TensorSpec], stream: TensorStream, options: dict) -> None:
    writer = fmt.writer(path, group, **options)
    try:
        for spec in fmt.writer.ordered(group):
            writer.write(spec, stream.fetch(spec))  # the fetched array is dropped right after
            stream.release(spec)
            stream.progress(spec.nbytes)
    finally:
        writer.close()
    fsync_path(path)


def write_checkpoint(
    folder: str | os.PathLike,
    tensors: Mapping[str, np.ndarray] | TensorStream,
    *,
    fmt: str = "safetensors",
    max_shard_size: int | str = "5GB",
    metadata: Mapping[str, str] | None = None,
    extra_files: Mapping[str, str] | None = None,
    writer_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write a checkpoint (sharded past max_shard_size) plus `extra_files` (name -> text) into `folder`,
    all committed at once; return the paths of the weight files written."""
    folder = os.path.abspath(os.fspath(folder))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"Cannot save a checkpoint into {folder}: it is a file, not a folder.")
    os.makedirs(folder, exist_ok=True)
    stream = tensors if isinstance(tensors, TensorStream) else TensorStream.of(tensors)
    form = get_format(fmt)
    _check_names(stream.specs, extra_files or {}, form)
    groups = plan_shards(form.writer.ordered(stream.specs), parse_size(max_shard_size))
    names = shard_names(form.weights_name, len(groups))
    save_id = uuid.uuid4().hex
    options = {**(writer_options or {}), "sharded": len(groups) > 1}
    if fmt == "safetensors":
        options["metadata"] = {"format": "pt", **(metadata or {}), SAVE_ID_KEY: save_id}
    pattern = weights_pattern(form.weights_name)
    with Staging(folder) as staging:
        for name, group in zip(names, groups):
            _write_file(form, staging.file(name), group, stream, options)
        staged = list(names)
        if len(groups) > 1:
            weight_map = {form.index_key(s.name, options): n for n, g in zip(names, groups) for s in g}
            total = sum(s.nbytes for s in stream.specs)
            staging.write_text(form.index_name, index_text(weight_map, total))
            staged.append(form.index_name)
        for name, text in (extra_files or {}).items():
            staging.write_text(name, text)
            staged.append(name)
        staging.commit(staged, is_stale=lambda entry: bool(pattern.match(entry)))
    return [os.path.join(folder, n) for n in names]


def _check_names(specs: Sequence[TensorSpec], extra_files: Mapping[str, str], form: Format) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConversionError(
                f"The tensor name {spec.name!r} appears twice; a checkpoint holds each name once."
            )
        seen.add(spec.name)
    pattern = weights_pattern(form.weights_name)
    for name in extra_files:
        if os.path.basename(name) != name or name.startswith(".") or pattern.match(name):
            raise InputError(f"extra_files: {name!r} is not a plain file name beside the weights.")


__all__ = [
    "TensorStream", "index_text", "parse_size", "plan_shards", "read_index", "shard_names", "weights_pattern",
    "write_checkpoint",
]  # fmt: skip
