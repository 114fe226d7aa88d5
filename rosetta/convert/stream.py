"""Streaming checkpoint conversion: any supported checkpoint in, any format out, one tensor at a time.

    plan     open every input file for its names, shapes and dtypes only; map them to canonical
             names; check every shape against the architecture of config.json (its model class's
             `canonical_layouts`, in whichever framework is installed: nothing is allocated);
             name each tensor in the target format
    write    per output file: header (or pickle, or h5 groups, or msgpack maps) from the plan,
             then each tensor read, converted (transpose, dtype) and written, then dropped

Input files are memory-mapped and opened one at a time: a file is closed (unmapped) before
the next one is opened, so what is resident is at most one input file plus the one tensor
being converted. Output goes to a new folder beside OUT, swapped with it at the end in one
atomic exchange; an existing OUT is replaced only when `rosetta convert` wrote it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import registry
from ..core.errors import CheckpointError, ConversionError, InputError, MissingFileError
from ..core.hub import HubOptions, resolve_file
from .formats import FORMATS, canonical, find_checkpoint, format_of_file, open_checkpoint
from .formats.base import CheckpointReader, TensorSpec, bfloat16_dtype, contiguous, numpy_dtype
from .formats.ct2 import CT2File, find_ct2
from .formats.gguf import GGUFFile, find_gguf, gguf_tokenizer_files
from .formats.journal import fsync_path
from .formats.naming import LegacyNaming, keras_scope, kind_of, legacy_naming, native_name
from .loading import check_config_fits
from .mapping import from_canonical, from_canonical_axes
from .sharding import TensorStream, parse_size, weights_pattern, write_checkpoint

TARGETS: dict[str, tuple[str, str]] = {name: (f.weights_name, f.index_name) for name, f in FORMATS.items()}
DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
FLOAT_CODES = ("F64", "F32", "F16", "BF16")

# Files of a model folder that travel with its weights.
COMPANION_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "preprocessor_config.json",
    "processor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
    "chat_template.json",
    "chat_template.jinja",
)


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One input file and the format it is read in."""

    fmt: str
    path: str

    def open(self) -> CheckpointReader:
        if self.fmt == "gguf":
            return GGUFFile(self.path)  # canonical names already
        if self.fmt == "ct2":
            return CT2File(self.path)  # canonical names already
        return canonical(open_checkpoint(self.fmt, [self.path]), self.fmt)


@dataclass(frozen=True)
class SourceTensor:
    source: int  # index into the sources
    name: str  # canonical name in that source's canonical view
    shape: tuple[int, ...]
    dtype: str


class SourcePool:
    """Opens input files on demand and keeps at most one open, so at most one is ever mapped."""

    def __init__(self, sources: Sequence[Source]):
        self.sources = sources
        self._index: int | None = None
        self._reader: CheckpointReader | None = None

    def get(self, index: int) -> CheckpointReader:
        if index != self._index:
            self.close()
            self._reader, self._index = self.sources[index].open(), index
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._index = None, None


def resolve_sources(src: str, options: HubOptions, gguf_file: str | None = None) -> list[Source]:
    """The input files of a folder, Hub repo or single weights file, with their format.

    A .gguf file, `gguf_file` in a folder, or a folder's only .gguf when it holds no other weights, is a GGUF source.
    """
    gguf_path = find_gguf(src, gguf_file) if gguf_file is not None or os.path.isfile(src) else None
    if gguf_path is not None:
        return [Source("gguf", gguf_path)]
    ct2_path = find_ct2(src)
    if ct2_path is not None:
        return [Source("ct2", ct2_path)]
    if os.path.isfile(src):
        return [Source(format_of_file(src), src)]
    try:
        fmt, files = find_checkpoint(src, options)
    except MissingFileError:
        gguf_path = find_gguf(src) if os.path.isdir(src) else None
        if gguf_path is None:
            raise
        return [Source("gguf", gguf_path)]
    return [Source(fmt, path) for path in files]


def scan_sources(sources: Sequence[Source]) -> list[SourceTensor]:
    """Every tensor of every input file (names, shapes, dtypes only), each file closed after."""
    tensors: list[SourceTensor] = []
    for index, source in enumerate(sources):
        reader = source.open()
        try:
            tensors.extend(
                SourceTensor(index, name, tuple(reader.shape(name)), reader.dtype(name)) for name in reader
            )
        finally:
            reader.close()
    if not tensors:
        raise CheckpointError(f"{sources[0].path if sources else 'the checkpoint'} holds no tensors.")
    return tensors


# --------------------------------------------------------------------------------------
# The architecture, from config.json
# --------------------------------------------------------------------------------------
@dataclass
class Architecture:
    """What the model class of config.json expects, from its `canonical_layouts` (nothing is allocated)."""

    class_name: str
    config_path: str
    model_type: str
    shapes: dict[str, tuple[int, ...]]
    kinds: dict[str, str]
    base_model_prefix: str
    ignore_unexpected: list[str]
    tie_word_embeddings: bool = True


def load_config(src: str, options: HubOptions) -> tuple[dict[str, Any] | None, str | None]:
    folder = src if not os.path.isfile(src) else os.path.dirname(os.path.abspath(src))
    path = resolve_file(folder, "config.json", options, required=False)
    if path is None:
        return None, None
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}).") from err
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} must hold a JSON object.")
    return config, path


def check_config(config: dict[str, Any] | None, path: str | None) -> Any:
    """The config object of a config.json, refused as its architecture's config class refuses it (sizes,
    head counts), naming the field; None for no config or a model_type rosetta has no config class for."""
    if config is None or config.get("model_type") not in registry.available_model_types():
        return None
    return registry.config_class_for(config["model_type"], source=path).from_dict(config, source=path)


def architecture_class(config: Any, framework: str = "torch") -> type:
    """The rosetta class of config.architectures[0] in a framework (the base model when none is named)."""
    from ..core import registry

    return registry.architecture_class(config, framework)


def build_architecture(config_dict: dict[str, Any], config_path: str) -> Architecture | None:
    """The architecture of the config in the first installed framework; None when none or the model type is missing."""
    from ..core import registry
    from ..core.frameworks import available_frameworks

    installed = available_frameworks()
    frameworks = [f for f in ("torch", "flax", "tf") if f in installed]
    if not frameworks or config_dict.get("model_type") not in registry.available_model_types():
        return None
    config_class = registry.config_class_for(config_dict["model_type"], source=config_path)
    if not config_path.endswith(
        ".json"
    ):  # the config comes from a GGUF or CTranslate2 file, not a config.json
        config = config_class.from_dict(config_dict, source=config_path)
    else:
        config = config_class.from_json_file(config_path)
    cls = registry.architecture_class(config, frameworks[0])
    layouts = cls.canonical_layouts(config)
    return Architecture(
        class_name=cls.__name__,
        config_path=config_path,
        model_type=config.model_type,
        shapes={name: tuple(shape) for name, (shape, _) in layouts.items()},
        kinds={name: kind_of(name, len(shape), layout) for name, (shape, layout) in layouts.items()},
        base_model_prefix=getattr(cls, "base_model_prefix", ""),
        ignore_unexpected=list(
            getattr(cls, "_keys_to_ignore_on_load_unexpected", None) or [r"position_ids$"]
        ),
        tie_word_embeddings=bool(getattr(config, "tie_word_embeddings", True)),
    )


_LEGACY_SUFFIXES = ((".gamma", ".weight"), (".beta", ".bias"))


def _modern_name(key: str) -> str:
    """Old LayerNorm names ('LayerNorm.gamma') under today's ('LayerNorm.weight')."""
    if "LayerNorm" in key or "layer_norm" in key:
        for old, new in _LEGACY_SUFFIXES:
            if key.endswith(old):
                return key[: -len(old)] + new
    return key


def align_to_architecture(
    tensors: list[SourceTensor], arch: Architecture, sources: Sequence[Source]
) -> dict[str, str]:
    """Checkpoint name -> the architecture's name for it; raises on the first shape that does not fit."""
    from .loading import plan_loading

    plan = plan_loading(
        arch.shapes,
        {t.name: t.shape for t in tensors},
        base_model_prefix=arch.base_model_prefix,
        ignore_unexpected=arch.ignore_unexpected,
        ignore_mismatched_sizes=True,
    )
    if plan.info.mismatched_keys:
        key, ckpt_shape, model_shape = plan.info.mismatched_keys[0]
        by_name = {t.name: t for t in tensors}
        ckpt_key = _checkpoint_key(key, by_name, arch.base_model_prefix)
        path = sources[by_name[ckpt_key].source].path if ckpt_key in by_name else sources[0].path
        more = len(plan.info.mismatched_keys) - 1
        raise ConversionError(
            f"{path}: {ckpt_key!r} has shape {tuple(ckpt_shape)} but {arch.class_name} of {arch.config_path} "
            f"expects {tuple(model_shape)}" + (f" (and {more} more tensors do not fit)." if more else ".")
        )
    renames = {ckpt: model for model, ckpt in plan.sources.items()}
    return {t.name: renames.get(t.name, _modern_name(t.name)) for t in tensors}


def _checkpoint_key(model_key: str, names: Mapping[str, Any], prefix: str) -> str:
    """The checkpoint's name for a model key: with or without the base prefix, legacy gamma/beta or not."""
    for candidate in (model_key, f"{prefix}.{model_key}", model_key.removeprefix(prefix + ".")):
        for variant in (
            candidate,
            re.sub(r"\.weight$", ".gamma", candidate),
            re.sub(r"\.bias$", ".beta", candidate),
        ):
            if variant in names:
                return variant
    return model_key


# --------------------------------------------------------------------------------------
# The plan: one entry per output tensor
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    spec: TensorSpec  # name, shape and dtype in the output file
    source: SourceTensor
    layout: str  # canonical -> output layout

    def load(self, pool: SourcePool) -> np.ndarray:
        array = from_canonical(pool.get(self.source.source)[self.source.name], self.layout)
        return materialise(array, numpy_dtype(self.spec.dtype))

    def release(self, pool: SourcePool) -> None:
        """Let the input's pages of this tensor go once it is written (they stay in the file)."""
        release = getattr(pool.get(self.source.source), "release", None)
        if release is not None:
            release(self.source.name)


def materialise(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous array of `dtype`: the input itself when it already is one, else one copy."""
    if array.dtype == dtype:
        return contiguous(array)
    out = np.empty(array.shape, dtype=dtype)
    np.copyto(out, array, casting="unsafe")
    return out


@dataclass
class Plan:
    target: str
    entries: list[Entry]
    top_scope: str = ""
    tf_shared: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def output_dtype(st_dtype: str, dtype: str | None) -> str:
    if dtype is None or st_dtype not in FLOAT_CODES:
        return st_dtype
    return DTYPES[dtype]


def plan_conversion(
    tensors: list[SourceTensor],
    target: str,
    dtype: str | None,
    arch: Architecture | None,
    renames: dict[str, str],
    config: dict[str, Any] | None,
) -> Plan:
    """Name, lay out and type every output tensor of `target`."""
    plan = Plan(target, [])
    model_type = (config or {}).get("model_type", "")
    declared = legacy_naming(model_type)
    naming = declared or LegacyNaming()
    names = {t.name: renames.get(t.name, t.name) for t in tensors}
    if target in ("tf", "flax"):
        if declared is None:
            plan.notes.append(
                f"no transformers {target} naming table for model_type {model_type!r}: generic rules used"
            )
        tensors = _legacy_subset(tensors, names, arch, naming)
        main_layer = naming.main_layer or (arch.base_model_prefix if arch else "")
        if target == "tf" and main_layer and not any(n.startswith(main_layer + ".") for n in names.values()):
            names = {k: f"{main_layer}.{v}" for k, v in names.items()}  # TF always nests the main layer
        plan.top_scope = keras_scope("TF" + _architecture_name(config, arch))
        plan.tf_shared = dict(naming.tf_shared)
    seen: dict[str, str] = {}
    for tensor in tensors:
        canonical = names[tensor.name]
        out_name, layout = canonical, "identity"
        if target in ("tf", "flax"):
            kind = _kind(canonical, len(tensor.shape), arch, naming)
            out_name, layout = native_name(canonical, kind, target, naming)
        if out_name in seen:
            raise ConversionError(
                f"{tensor.name!r} and {seen[out_name]!r} would both be written as {out_name!r}."
            )
        seen[out_name] = tensor.name
        out_dtype = output_dtype(tensor.dtype, dtype)
        if out_dtype != tensor.dtype and "BF16" in (out_dtype, tensor.dtype) and bfloat16_dtype() is None:
            raise ConversionError(
                "Casting to or from bfloat16 needs the ml_dtypes package: `pip install ml_dtypes`."
            )
        if target == "tf" and out_dtype == "BF16":
            raise ConversionError(
                f"{tensor.name!r} is bfloat16, which tf_model.h5 cannot hold; pass --dtype float32 or float16."
            )
        shape = tuple(tensor.shape[i] for i in _axes(layout, len(tensor.shape)))
        plan.entries.append(Entry(TensorSpec(out_name, shape, out_dtype), tensor, layout))
    return plan


def _legacy_subset(
    tensors: list[SourceTensor], names: dict[str, str], arch: Architecture | None, naming: LegacyNaming
) -> list[SourceTensor]:
    """TF and Flax models hold no buffers (position_ids), no tied copies and no aliases."""
    present = set(names.values())
    ignore = arch.ignore_unexpected if arch else [r"position_ids$"]
    tied = set(naming.tied) if (arch is None or arch.tie_word_embeddings) else set()
    kept = []
    for tensor in tensors:
        name = names[tensor.name]
        if name in tied or any(re.search(p, name) for p in ignore):
            continue
        alias = naming.aliases.get(name)
        if alias is not None:
            if alias in present:
                continue
            names[tensor.name] = alias
        kept.append(tensor)
    return kept


def _kind(canonical: str, ndim: int, arch: Architecture | None, naming: LegacyNaming) -> str:
    if arch is not None:
        for candidate in (
            canonical,
            canonical.removeprefix(arch.base_model_prefix + "."),
            f"{arch.base_model_prefix}.{canonical}",
        ):
            if candidate in arch.kinds:
                return arch.kinds[candidate]
    return kind_of(canonical, ndim, None)


def _axes(layout: str, ndim: int) -> tuple[int, ...]:
    return from_canonical_axes(layout) or tuple(range(ndim))


def _architecture_name(config: dict[str, Any] | None, arch: Architecture | None) -> str:
    names = (config or {}).get("architectures") or []
    if names:
        return names[0].removeprefix("TF").removeprefix("Flax")
    return arch.class_name if arch else "Model"


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def write_weights(
    plan: Plan, pool: SourcePool, folder: str, max_shard_size: int, progress: Callable[[int], Any]
) -> list[str]:
    """Write every shard of the plan (and the index when there are several); return the file names."""
    by_name = {e.spec.name: e for e in plan.entries}
    stream = TensorStream(
        [e.spec for e in plan.entries],
        fetch=lambda spec: by_name[spec.name].load(pool),
        release=lambda spec: by_name[spec.name].release(pool),
        progress=progress,
    )
    options = {"top_scope": plan.top_scope, "shared": plan.tf_shared}
    paths = write_checkpoint(
        folder, stream, fmt=plan.target, max_shard_size=max_shard_size, writer_options=options
    )
    return [os.path.basename(p) for p in paths]


def copy_companions(src: str, folder: str, options: HubOptions, dtype: str | None) -> list[str]:
    """Copy config, generation config, tokenizer and preprocessor files; record a new dtype in config.json."""
    base = os.path.dirname(os.path.abspath(src)) if os.path.isfile(src) else src
    copied = []
    for name in COMPANION_FILES:
        path = resolve_file(base, name, options, required=False)
        if path is None:
            continue
        shutil.copyfile(path, os.path.join(folder, name))
        copied.append(name)
    if dtype and "config.json" in copied:
        _set_config_dtype(os.path.join(folder, "config.json"), dtype)
    return copied


def gguf_config(path: str) -> tuple[dict[str, Any], str]:
    """The config a GGUF's metadata describes, and the file as where it came from."""
    reader = GGUFFile(path)
    try:
        return dict(reader.config), path
    finally:
        reader.close()


def write_gguf_companions(path: str, config: dict[str, Any], folder: str, dtype: str | None) -> list[str]:
    """config.json and the tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json) of a GGUF."""
    texts = {
        "config.json": json.dumps({**config, "torch_dtype": dtype or config.get("torch_dtype")}, indent=2)
    }
    try:
        files = gguf_tokenizer_files(path)
    except InputError:  # a tokenizer type rosetta cannot rebuild: the weights and config still convert
        files = {}
    for name, content in files.items():
        texts[name] = (
            content if isinstance(content, str) else json.dumps(content, indent=2, ensure_ascii=False)
        )
    for name, text in texts.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return list(texts)


def ct2_config(path: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(config, generation config) a CTranslate2 model.bin and its folder's files describe, and the file."""
    reader = CT2File(path)
    try:
        config = reader.config(os.path.dirname(path))
        return config, reader.generation_config(config, os.path.dirname(path)), path
    finally:
        reader.close()


def write_ct2_companions(
    path: str, config: dict[str, Any], generation: dict[str, Any], folder: str, dtype: str | None
) -> list[str]:
    """config.json and generation_config.json built from a CTranslate2 folder, and its tokenizer.json copied."""
    texts = {
        "config.json": {**config, "torch_dtype": dtype or config.get("torch_dtype")},
        "generation_config.json": generation,
    }
    for name, content in texts.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(json.dumps(content, indent=2) + "\n")
    written = list(texts)
    tokenizer = os.path.join(os.path.dirname(path), "tokenizer.json")
    if os.path.isfile(tokenizer):
        shutil.copyfile(tokenizer, os.path.join(folder, "tokenizer.json"))
        written.append("tokenizer.json")
    return written


def _set_config_dtype(path: str, dtype: str) -> None:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    for key in [k for k in ("torch_dtype", "dtype") if k in config] or ["torch_dtype"]:
        config[key] = dtype
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(config, indent=2) + "\n")


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def check_destination(src: str, out: str, force: bool) -> None:
    """Refuse an OUT that would destroy the input or a user's files, whatever --force says."""
    real_out = os.path.realpath(out)
    if os.path.exists(src):
        real_src = os.path.realpath(src)
        if _inside(real_src, real_out):
            what = "is" if real_src == real_out else "contains"
            raise InputError(f"OUT {out} {what} SRC {src}; write the conversion to another folder.")
    if not os.path.lexists(out):
        return
    if not force:
        raise InputError(f"{out} already exists; pass --force to replace it.")
    if os.path.islink(out) or not os.path.isdir(out):
        raise InputError(
            f"{out} exists and is not a folder rosetta convert wrote; refusing to replace it, even with --force."
        )
    foreign = sorted(e for e in os.listdir(out) if not _written_by_convert(e))
    if foreign:
        raise InputError(
            f"{out} holds files rosetta convert does not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); refusing to replace it, even with --force, so that no file "
            "of yours is deleted. Choose a new OUT or remove those files first."
        )


def _written_by_convert(name: str) -> bool:
    """Whether `name` is a file `rosetta convert` writes: weights of any format, an index, a companion."""
    return name in COMPANION_FILES or any(
        weights_pattern(f.weights_name).match(name) for f in FORMATS.values()
    )


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), b)


@contextlib.contextmanager
def atomic_folder(out: str) -> Iterator[str]:
    """A new folder beside `out`, put in its place when the block succeeds (and removed if not).

    An existing `out` is swapped with the new folder in one atomic exchange, then removed, so a crash
    leaves the old OUT or the new one.
    """
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out)}.{uuid.uuid4().hex[:12]}.rosetta-tmp")
    os.mkdir(tmp, 0o777)  # the user's umask applies
    try:
        yield tmp
        _put_in_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _put_in_place(tmp: str, out: str) -> None:
    if not os.path.lexists(out):
        os.rename(tmp, out)
    elif _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old OUT
        return
    else:  # no atomic exchange here: a crash between the two renames leaves OUT's old copy beside it
        old = f"{tmp}.old"
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
        return
    fsync_path(os.path.dirname(out))


# --------------------------------------------------------------------------------------
# The whole conversion
# --------------------------------------------------------------------------------------
@dataclass
class ConversionResult:
    out: str
    target: str
    files: list[str]
    companions: list[str]
    tensors: int
    bytes: int
    notes: list[str]


def convert(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    to: str = "safetensors",
    dtype: str | None = None,
    max_shard_size: int | str = "5GB",
    force: bool = False,
    progress: bool = True,
    options: HubOptions | None = None,
    gguf_file: str | None = None,
) -> ConversionResult:
    """Convert the checkpoint of a folder or Hub repo to `to` in folder `out`, streaming.

    A GGUF source (a .gguf file, or a folder holding one; `gguf_file` picks one of several) is dequantised
    to float32; its config and tokenizer files are written from its metadata.
    """
    src, out, options = os.fspath(src), os.path.abspath(os.fspath(out)), options or HubOptions()
    if to not in TARGETS:
        raise InputError(f"Unknown target format {to!r}; use one of {', '.join(TARGETS)}.")
    if dtype is not None and dtype not in DTYPES:
        raise InputError(f"Unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}.")
    shard_size = parse_size(max_shard_size)
    check_destination(src, out, force)
    ct2_path = find_ct2(src) if gguf_file is None else None
    if ct2_path is None:  # a CTranslate2 folder's config.json is CTranslate2's own, not a model config
        checked = check_config(
            *load_config(src, options)
        )  # a bad config is named before any weight is looked for
    else:
        checked = None
    sources = resolve_sources(src, options, gguf_file)
    tensors = scan_sources(sources)
    if checked is not None:
        check_config_fits(checked, {t.name: t.shape for t in tensors}, src)
    gguf_path = sources[0].path if sources[0].fmt == "gguf" else None
    if ct2_path is not None:
        config, generation, config_path = ct2_config(ct2_path)
    else:
        config, config_path = gguf_config(gguf_path) if gguf_path else load_config(src, options)
    notes: list[str] = []
    arch = build_architecture(config, config_path) if config is not None else None
    if arch is None:
        notes.append(
            "shapes not checked: "
            + ("no config.json" if config is None else "no torch model for this config")
        )
    renames = align_to_architecture(tensors, arch, sources) if arch is not None else {}
    plan = plan_conversion(tensors, to, dtype, arch, renames, config)
    total = sum(e.spec.nbytes for e in plan.entries)
    pool = SourcePool(sources)
    with atomic_folder(out) as folder, _progress_bar(total, progress) as bar:
        try:
            files = write_weights(plan, pool, folder, shard_size, bar.update)
        finally:
            pool.close()
        if gguf_path is not None:
            companions = write_gguf_companions(gguf_path, config, folder, dtype)
        elif ct2_path is not None:
            companions = write_ct2_companions(ct2_path, config, generation, folder, dtype)
        else:
            companions = copy_companions(src, folder, options, dtype)
    return ConversionResult(out, to, files, companions, len(plan.entries), total, notes + plan.notes)


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="converting",
        disable=None if enabled else True,
        leave=False,
    )
    try:
        yield bar
    finally:
        bar.close()


__all__ = ["ConversionResult", "TARGETS", "architecture_class", "convert"]
