"""The checkpoint formats rosetta reads and writes, one module each, and how a folder's weights are found.

    safetensors   model.safetensors (canonical; what rosetta writes)
    pt            pytorch_model.bin (read with torch.load(weights_only=True) only)
    tf            tf_model.h5 (transformers 4.x TF)
    flax          flax_model.msgpack (transformers 4.x Flax)
    gguf          a llama.cpp .gguf file: read only, dequantised, canonical names (`open_gguf`, `find_gguf`)
    ct2           a CTranslate2 model.bin: read only, canonical names, fused projections split (`open_ct2`)

each single or sharded (`<stem>-00001-of-0000N<ext>` plus `<name>.index.json`). `find_checkpoint`
looks for them in this order; `open_checkpoint` opens the files; `open_canonical_checkpoint` does
both under the folder's read lock and shows the tensors under canonical names and layouts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.errors import CheckpointError, MissingFileError
from ...core.hub import HubOptions, is_offline_mode, resolve_file
from . import h5, journal, msgpack, safetensors, torch_bin
from .base import CheckpointReader, ShardedReader
from .ct2 import find_ct2, open_ct2
from .gguf import find_gguf, open_gguf
from .index import check_inside, index_shards
from .naming import to_canonical_reader

SAVE_ID_KEY = "rosetta_save_id"  # safetensors metadata: which save wrote a shard


@dataclass(frozen=True)
class Format:
    name: str
    weights_name: str
    index_name: str
    reader: Callable[[str], CheckpointReader]
    writer: type
    index_key: Callable[[str, Mapping[str, Any]], str] = lambda name, options: name


FORMATS: dict[str, Format] = {
    "safetensors": Format(
        "safetensors", safetensors.WEIGHTS_NAME, safetensors.INDEX_NAME, safetensors.SafetensorsFile,
        safetensors.SafetensorsWriter,
    ),
    "pt": Format("pt", torch_bin.WEIGHTS_NAME, torch_bin.INDEX_NAME, torch_bin.TorchFile, torch_bin.TorchBinWriter),
    "tf": Format(
        "tf", h5.WEIGHTS_NAME, h5.INDEX_NAME, h5.H5File, h5.H5Writer,
        index_key=lambda name, options: f"{options['top_scope']}/{name}" if options.get("top_scope") else name,
    ),
    "flax": Format("flax", msgpack.WEIGHTS_NAME, msgpack.INDEX_NAME, msgpack.MsgpackFile, msgpack.MsgpackWriter),
}  # fmt: skip


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise CheckpointError(
            f"Unknown checkpoint format {name!r}; use one of {', '.join(FORMATS)}."
        ) from None


def _where(path_or_repo_id: str) -> str:
    if os.path.isdir(path_or_repo_id):
        return f"the local folder {os.path.abspath(path_or_repo_id)}"
    return f"the Hub repository {path_or_repo_id!r}"


def find_checkpoint(
    path_or_repo_id: str | os.PathLike, options: HubOptions | None = None
) -> tuple[str, list[str]]:
    """Locate the weights of a folder or Hub repo: (format, local file paths), downloading shards.

    A local folder's interrupted save is finished first; shard names from an index are checked to
    stay inside the folder.
    """
    options = options or HubOptions()
    path = os.fspath(path_or_repo_id)
    if os.path.isdir(path) and journal.needs_recovery(path):
        journal.recover(path)
    for fmt in FORMATS.values():
        found = resolve_file(path, fmt.weights_name, options, required=False)
        if found is not None:
            return fmt.name, [found]
        index_path = resolve_file(path, fmt.index_name, options, required=False)
        if index_path is not None:
            files = [resolve_file(path, shard, options) for shard in index_shards(index_path)]
            if os.path.isdir(path):
                check_inside(path, index_path, files)
            return fmt.name, files
    names = ", ".join(f"{f.weights_name} (or {f.index_name})" for f in FORMATS.values())
    hint = f"Looked for: {names}."
    if not os.path.isdir(path) and (options.local_files_only or is_offline_mode()):
        hint += " Offline mode (local_files_only or HF_HUB_OFFLINE) only serves files already downloaded."
    raise MissingFileError("model weights", _where(path), options.revision, hint=hint)


def format_of_file(path: str) -> str:
    """The format of one weights file, from its name (single or shard)."""
    name = os.path.basename(path)
    for fmt in FORMATS.values():
        stem, ext = os.path.splitext(fmt.weights_name)
        if name == fmt.weights_name or re.fullmatch(
            rf"{re.escape(stem)}-\d{{5}}-of-\d{{5}}{re.escape(ext)}", name
        ):
            return fmt.name
    known = ", ".join(f.weights_name for f in FORMATS.values())
    raise CheckpointError(f"{path}: unknown checkpoint format (expected a file named like {known}).")


def _check_one_save(readers: list[CheckpointReader]) -> None:
    """Shards that name the save that wrote them must all name the same one."""
    ids = {r.metadata.get(SAVE_ID_KEY) for r in readers}
    if len(ids) > 1 and ids != {None}:
        paths = ", ".join(os.path.basename(r.path) for r in readers)
        raise CheckpointError(
            f"The shards {paths} come from different saves (a mix of two checkpoints); "
            "save the model again into an empty folder."
        )


def open_checkpoint(fmt: str, files: list[str]) -> CheckpointReader:
    """Open the files `find_checkpoint` found (several: one mapping over all of them)."""
    reader_cls = get_format(fmt).reader
    readers: list[CheckpointReader] = []
    try:
        for path in files:
            readers.append(reader_cls(path))
        if len(readers) > 1:
            _check_one_save(readers)
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    return readers[0] if len(readers) == 1 else ShardedReader(readers)


def canonical(reader: CheckpointReader, fmt: str) -> CheckpointReader:
    """A reader under canonical names and layouts, whatever naming its file uses (an unknown one is refused)."""
    return to_canonical_reader(reader, fmt)


def load_checkpoint(
    path_or_repo_id: str | os.PathLike, options: HubOptions | None = None
) -> CheckpointReader:
    """Open the weights of a folder or Hub repo, whatever their format, under their own names."""
    with journal.reading(path_or_repo_id):
        fmt, files = find_checkpoint(path_or_repo_id, options)
        return open_checkpoint(fmt, files)


def open_canonical_checkpoint(
    path_or_repo_id: str | os.PathLike, options: HubOptions | None = None
) -> CheckpointReader:
    """Open a folder's or repo's weights, whatever their format, under canonical names and layouts."""
    with journal.reading(path_or_repo_id):
        fmt, files = find_checkpoint(path_or_repo_id, options)
        return canonical(open_checkpoint(fmt, files), fmt)


__all__ = [
    "FORMATS", "Format", "SAVE_ID_KEY", "canonical", "find_checkpoint", "find_ct2", "find_gguf", "format_of_file", "get_format",
    "load_checkpoint", "open_ct2", "open_gguf", "open_canonical_checkpoint", "open_checkpoint",
]  # fmt: skip
