"""Shard indexes (`*.index.json`), read safely: a weight_map names files inside the model folder only."""

from __future__ import annotations

import json
import os
import posixpath
from typing import Any

from ...core.errors import CheckpointError


def read_index(path: str) -> dict[str, Any]:
    """A shard index, checked: a `weight_map` object of tensor name -> shard file name."""
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not a valid checkpoint index: not JSON ({err}).") from err
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise CheckpointError(
            f"{path} is not a valid checkpoint index (needs a 'weight_map' object of strings)."
        )
    for tensor, shard in weight_map.items():
        check_shard_name(path, tensor, shard)
    return index


def check_shard_name(index_path: str, tensor: str, shard: str) -> None:
    """Refuse a shard name that could lead outside the folder: absolute, '..', backslashes, drive letters."""
    parts = shard.split("/")
    if (
        not shard
        or posixpath.isabs(shard)
        or "\\" in shard
        or ":" in shard
        or "\x00" in shard
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise CheckpointError(
            f"{index_path}: tensor {tensor!r} is mapped to the shard {shard!r}, which is not a file name inside "
            "the model folder. Refusing to open it; the index is corrupt or malicious."
        )


def index_shards(path: str) -> list[str]:
    """The distinct shard file names an index lists, in order."""
    return sorted(set(read_index(path)["weight_map"].values()))


def containment_root(folder: str) -> str:
    """The folder that a checkpoint's files must resolve into: the folder itself, or for a Hugging Face
    cache snapshot (`.../snapshots/<revision>`), the repo's cache folder (its files link into `blobs/`)."""
    real = os.path.realpath(folder)
    parent = os.path.dirname(real)
    if os.path.basename(parent) == "snapshots" and os.path.isdir(
        os.path.join(os.path.dirname(parent), "blobs")
    ):
        return os.path.dirname(parent)
    return real


def check_inside(folder: str, index_path: str, files: list[str]) -> None:
    """Refuse shard files that are links out of the model folder."""
    root = containment_root(folder)
    for path in files:
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root:
            raise CheckpointError(
                f"{index_path}: the shard {os.path.basename(path)!r} is a link to {real}, outside the model folder "
                f"{root}. Refusing to open it; copy the file into the folder if it is meant to be there."
            )
