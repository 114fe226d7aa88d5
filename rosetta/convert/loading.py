"""What to load where: one plan for every backend, with every problem of a load reported at once.

Given the canonical names and shapes a model expects and those a checkpoint holds, the plan
says which checkpoint tensor fills which model weight, handling `base_model_prefix` both ways
(a base checkpoint into a head model, a head checkpoint into a base model), legacy names,
tied weights and the patterns a model declares as ignorable. Missing, unexpected and
mismatched keys come out exactly as torch reports them, for all three backends.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..core.configuration import PretrainedConfig
from ..core.errors import ConfigError, InputError, WeightsMismatchError
from ..core.hub import HubOptions
from .formats import open_canonical_checkpoint
from .formats.base import DTYPE_NAMES, CheckpointReader
from .sharding import write_checkpoint

logger = logging.getLogger("rosetta")

_LEGACY_SUFFIXES = ((".gamma", ".weight"), (".beta", ".bias"))


def open_canonical(pretrained_model_name_or_path, options: HubOptions) -> CheckpointReader:
    """Open a folder's or repo's weights, whatever their format, under canonical names and layouts."""
    return open_canonical_checkpoint(pretrained_model_name_or_path, options)


_LAYER_INDEX = re.compile(r"^(.*?)\.(\d+)\.")


# Config sizes that are the length of some weight's dimension in any checkpoint of the architecture.
_SIZE_FIELDS = ("vocab_size", "hidden_size", "intermediate_size")


def check_config_fits(config: PretrainedConfig, shapes: Mapping[str, Sequence[int]], source: str) -> None:
    """Refuse a config whose sizes the checkpoint cannot hold, before anything is built or allocated:
    more layers than it has (100,000 layers would be built for minutes), or a size larger than every
    dimension of every tensor in it (a 50M vocabulary over a tiny checkpoint would be allocated first)."""
    largest = max((max(shape, default=0) for shape in shapes.values()), default=0)
    for field_name in _SIZE_FIELDS:
        wanted = getattr(config, field_name, None)
        if isinstance(wanted, int) and largest and wanted > largest:
            raise ConfigError(
                f"The config asks for {field_name}={wanted}, larger than every dimension of every tensor in the "
                f"checkpoint at {source} (the largest is {largest}). Fix {field_name}, or pass "
                "ignore_mismatched_sizes=True to initialise what does not fit."
            )
    wanted = getattr(config, "num_hidden_layers", None)
    if not isinstance(wanted, int):
        return
    held: dict[str, int] = {}
    for name in shapes:
        if match := _LAYER_INDEX.match(name):
            held[match.group(1)] = max(held.get(match.group(1), 0), int(match.group(2)) + 1)
    if held and wanted > max(held.values()):
        raise ConfigError(
            f"The config asks for num_hidden_layers={wanted}, but the checkpoint at {source} holds "
            f"{max(held.values())} layers. Fix num_hidden_layers, or pass ignore_mismatched_sizes=True "
            "to initialise the extra layers."
        )


@dataclass
class LoadingInfo:
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    error_msgs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return {
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "mismatched_keys": self.mismatched_keys,
            "error_msgs": self.error_msgs,
        }


@dataclass
class LoadPlan:
    sources: dict[str, str]  # model key -> checkpoint key
    info: LoadingInfo


def _normalise_legacy(key: str) -> str:
    if "LayerNorm" in key or "layer_norm" in key:
        for old, new in _LEGACY_SUFFIXES:
            if key.endswith(old):
                return key[: -len(old)] + new
    return key


def _matches(key: str, patterns: Sequence[str]) -> bool:
    return any(re.search(p, key) for p in patterns)


def plan_loading(
    expected: Mapping[str, tuple[int, ...]],
    checkpoint: Mapping[str, tuple[int, ...]],
    *,
    base_model_prefix: str,
    tied_keys: Sequence[str] = (),
    ignore_unexpected: Sequence[str] = (),
    ignore_missing: Sequence[str] = (),
    ignore_mismatched_sizes: bool = False,
    model_name: str = "the model",
    source: str = "the checkpoint",
) -> LoadPlan:
    """Match checkpoint keys to model keys; raise once with every mismatched shape."""
    renamed = {_normalise_legacy(k): k for k in checkpoint}
    prefix = base_model_prefix + "." if base_model_prefix else ""
    model_has_prefix = bool(prefix) and any(k.startswith(prefix) for k in expected)
    ckpt_has_prefix = bool(prefix) and any(k.startswith(prefix) for k in renamed)

    candidates: dict[str, str] = {}  # the model's naming -> checkpoint key
    for key, original in renamed.items():
        if model_has_prefix and not ckpt_has_prefix:
            candidates[prefix + key] = original
        elif ckpt_has_prefix and not model_has_prefix:
            candidates[key[len(prefix) :] if key.startswith(prefix) else f"<head>.{key}"] = original
        else:
            candidates[key] = original

    info = LoadingInfo()
    sources: dict[str, str] = {}
    for key, shape in expected.items():
        original = candidates.get(key)
        if original is None:
            if key not in tied_keys and not _matches(key, ignore_missing):
                info.missing_keys.append(key)
            continue
        ckpt_shape = tuple(checkpoint[original])
        if ckpt_shape != tuple(shape):
            info.mismatched_keys.append((key, ckpt_shape, tuple(shape)))
            continue
        sources[key] = original
    used = set(sources.values()) | {candidates[k] for k, _, _ in info.mismatched_keys}
    info.unexpected_keys = [
        k
        for k in checkpoint
        if k not in used and not _matches(k, ignore_unexpected) and _normalise_legacy(k) not in tied_keys
    ]
    if info.mismatched_keys and not ignore_mismatched_sizes:
        raise WeightsMismatchError(info.mismatched_keys, where=source)
    if info.mismatched_keys:
        info.missing_keys.extend(k for k, _, _ in info.mismatched_keys)
    return LoadPlan(sources, info)


def report(info: LoadingInfo, model_name: str, source: str) -> None:
    """Log what a load left out or could not place, as users of the field expect to read it."""
    if info.unexpected_keys:
        logger.warning(
            "Some weights of the checkpoint at %s were not used when initializing %s: %s\n"
            "- This is expected when the checkpoint was trained for another task or architecture.",
            source,
            model_name,
            info.unexpected_keys,
        )
    newly = [k for k in info.missing_keys if k not in {m for m, _, _ in info.mismatched_keys}]
    if newly:
        logger.warning(
            "Some weights of %s were not initialized from the checkpoint at %s and are newly initialized: %s\n"
            "You should probably TRAIN this model on a down-stream task to use it for predictions and inference.",
            model_name,
            source,
            newly,
        )
    if info.mismatched_keys:
        lines = "\n".join(f"- {k}: checkpoint {c} vs model {m}" for k, c, m in info.mismatched_keys)
        logger.warning(
            "Some weights of %s were not initialized from the checkpoint at %s because their shapes did not match "
            "and are newly initialized:\n%s",
            model_name,
            source,
            lines,
        )


def write_pretrained(
    save_directory,
    config: PretrainedConfig,
    architecture: str,
    dtype_name: str,
    tensors,
    *,
    max_shard_size: int | str = "5GB",
    is_main_process: bool = True,
    safe_serialization: bool = True,
    extra_files: dict[str, str] | None = None,
) -> None:
    """The one save path of every backend: config.json (naming the torch class) and canonical safetensors,
    committed together (a crash leaves the old checkpoint or the new one, never a mix).

    `architectures` names the PyTorch class, so every backend and Hugging Face transformers load
    the folder as their own; `tensors` are canonical names -> numpy arrays in PyTorch layouts.
    """
    if not safe_serialization:
        raise InputError(
            "rosetta writes safetensors only (safe_serialization=True); pickled checkpoints are never written."
        )
    if os.path.isfile(save_directory):
        raise InputError(f"save_pretrained expects a folder, but {save_directory} is a file.")
    if not is_main_process:
        return
    config.architectures = [architecture]
    config.torch_dtype = dtype_name
    write_checkpoint(
        save_directory,
        tensors,
        max_shard_size=max_shard_size,
        extra_files={"config.json": config.to_json_string(), **(extra_files or {})},
    )


def requested_dtype_name(requested, config: PretrainedConfig, reader: CheckpointReader) -> str | None:
    """The dtype name a `from_pretrained(dtype=...)` means: "auto" reads config.torch_dtype, else the
    checkpoint's first floating tensor; any other value passes through (None: the backend's default)."""
    if not (isinstance(requested, str) and requested == "auto"):
        return requested
    if config.torch_dtype:
        return config.torch_dtype
    return next((DTYPE_NAMES[reader.dtype(n)] for n in reader if reader.dtype(n) in DTYPE_NAMES), "float32")
