"""Streaming checkpoint conversion: any supported checkpoint in, any format out, one tensor at a time.

    plan     open every input file for its names, shapes and dtypes only; map them to canonical
             names; check every shape against the architecture of config.json (a torch model
             built on the meta device); name each tensor in the target format
    write    per output file: header (or pickle, or h5 groups, or msgpack maps) from the plan,
             then each tensor read, converted (transpose, dtype) and written, then dropped

Input files are memory-mapped and opened one at a time: a file is closed (unmapped) before
the next one is opened, so what is resident is at most one input file plus the one tensor
being converted. Output goes to a temporary folder beside OUT, renamed over it at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import CheckpointError, ConversionError, InputError
from ..core.hub import HubOptions, resolve_file
from .checkpoint import (
    BFLOAT16,
    FLAX_WEIGHTS_INDEX_NAME,
    FLAX_WEIGHTS_NAME,
    FORMATS,
    SAFE_WEIGHTS_INDEX_NAME,
    SAFE_WEIGHTS_NAME,
    TF_WEIGHTS_INDEX_NAME,
    TF_WEIGHTS_NAME,
    TORCH_WEIGHTS_INDEX_NAME,
    TORCH_WEIGHTS_NAME,
    CheckpointReader,
    find_checkpoint,
    numpy_dtype,
    open_checkpoint,
    parse_size,
)
from .legacy import (
    EMBEDDING,
    LAYERNORM,
    LEGACY_NAMING,
    LINEAR,
    OTHER,
    H5Writer,
    LegacyNaming,
    MsgpackWriter,
    TensorSpec,
    TorchBinWriter,
    contiguous,
    guess_kind,
    keras_scope,
    native_name,
    to_canonical_reader,
)
from .mapping import from_canonical

TARGETS: dict[str, tuple[str, str]] = {
    "safetensors": (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME),
    "pt": (TORCH_WEIGHTS_NAME, TORCH_WEIGHTS_INDEX_NAME),
    "tf": (TF_WEIGHTS_NAME, TF_WEIGHTS_INDEX_NAME),
    "flax": (FLAX_WEIGHTS_NAME, FLAX_WEIGHTS_INDEX_NAME),
}
DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
FLOAT_CODES = ("F64", "F32", "F16", "BF16")

# Files of a model folder that travel with its weights.
COMPANION_FILES = (
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
    "tokenizer.model", "preprocessor_config.json", "processor_config.json", "feature_extractor_config.json",
    "image_processor_config.json", "video_preprocessor_config.json", "chat_template.json", "chat_template.jinja",
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
        return to_canonical_reader(open_checkpoint(self.fmt, [self.path]), self.fmt)


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


def resolve_sources(src: str, options: HubOptions) -> list[Source]:
    """The input files of a folder, Hub repo or single weights file, with their format."""
    if os.path.isfile(src):
        return [Source(_format_of_file(src), src)]
    fmt, files = find_checkpoint(src, options)
    return [Source(fmt, path) for path in files]


def _format_of_file(path: str) -> str:
    name = os.path.basename(path)
    for fmt, (single, _) in FORMATS.items():
        stem, ext = os.path.splitext(single)
        if name == single or re.fullmatch(rf"{re.escape(stem)}-\d{{5}}-of-\d{{5}}{re.escape(ext)}", name):
            return fmt
    known = ", ".join(single for single, _ in FORMATS.values())
    raise CheckpointError(f"{path}: unknown checkpoint format (expected a file named like {known}).")


def scan_sources(sources: Sequence[Source]) -> list[SourceTensor]:
    """Every tensor of every input file (names, shapes, dtypes only), each file closed after."""
    tensors: list[SourceTensor] = []
    for index, source in enumerate(sources):
        reader = source.open()
        try:
            tensors.extend(SourceTensor(index, name, tuple(reader.shape(name)), reader.dtype(name)) for name in reader)
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
    """What the torch model of config.json expects, built on the meta device (no memory)."""

    class_name: str
    config_path: str
    model_type: str
    shapes: dict[str, tuple[int, ...]]
    kinds: dict[str, str]
    base_model_prefix: str
    tied: list[str]
    ignore_unexpected: list[str]
    tie_word_embeddings: bool = True


def load_config(src: str, options: HubOptions) -> tuple[dict[str, Any] | None, str | None]:
    path = resolve_file(src if not os.path.isfile(src) else os.path.dirname(os.path.abspath(src)), "config.json", options, required=False)
    if path is None:
        return None, None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f), path
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}).") from err


def architecture_class(config: Any, framework: str = "torch") -> type:
    """The rosetta class of config.architectures[0] in a framework (the base model when none is named)."""
    from ..core import registry

    model_type = config.model_type
    package = registry._package(model_type)
    table = package.MODELS.get(framework, {})
    prefix = registry.FRAMEWORK_PREFIX[framework]
    for name in getattr(config, "architectures", None) or []:
        bare = name.removeprefix("TF").removeprefix("Flax")
        if prefix + bare in table.values():
            return registry.import_class(model_type, prefix + bare)
    if "base" not in table:
        raise ConversionError(f"rosetta has no {framework} model for {model_type!r}.")
    return registry.import_class(model_type, table["base"])


def build_architecture(config_dict: dict[str, Any], config_path: str) -> Architecture | None:
    """The meta-device torch model of the config, or None when torch or the model type is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    from ..backends.torch.modeling_utils import init_empty_weights
    from ..core import registry

    if config_dict.get("model_type") not in registry.available_model_types():
        return None
    config = registry.config_class_for(config_dict["model_type"], source=config_path).from_json_file(config_path)
    cls = architecture_class(config)
    with init_empty_weights(), _skip_torch_init():
        model = cls(config)
    state = model.state_dict(keep_vars=True)
    return Architecture(
        class_name=cls.__name__,
        config_path=config_path,
        model_type=config.model_type,
        shapes={k: tuple(v.shape) for k, v in state.items()},
        kinds=module_kinds(model),
        base_model_prefix=cls.base_model_prefix,
        tied=model._tied_keys_in_use(),
        ignore_unexpected=list(cls._keys_to_ignore_on_load_unexpected),
        tie_word_embeddings=bool(getattr(config, "tie_word_embeddings", True)),
    )


@contextlib.contextmanager
def _skip_torch_init() -> Iterator[None]:
    """No-op torch.nn.init while modules are built: shapes are all we need (and initialising meta
    tensors pulls in torch._dynamo, seconds of import)."""
    from torch.nn import init

    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))]
    saved = {name: getattr(init, name) for name in names}
    for name in names:
        setattr(init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)


def module_kinds(model: Any) -> dict[str, str]:
    """Canonical parameter name -> the kind of module that holds it (linear, embedding, ...)."""
    from torch import nn

    kinds = {nn.Linear: LINEAR, nn.Embedding: EMBEDDING, nn.LayerNorm: LAYERNORM, nn.Conv1d: "conv1d",
             nn.Conv2d: "conv2d", nn.Conv3d: "conv3d"}
    out: dict[str, str] = {}
    for module_name, module in model.named_modules():
        kind = next((k for cls, k in kinds.items() if isinstance(module, cls)), OTHER)
        for param_name, _ in module.named_parameters(recurse=False):
            out[f"{module_name}.{param_name}" if module_name else param_name] = kind
    return out


def align_to_architecture(tensors: list[SourceTensor], arch: Architecture, sources: Sequence[Source]) -> dict[str, str]:
    """Checkpoint name -> the architecture's name for it; raises on the first shape that does not fit."""
    from .loading import _normalise_legacy, plan_loading

    plan = plan_loading(
        arch.shapes, {t.name: t.shape for t in tensors}, base_model_prefix=arch.base_model_prefix,
        tied_keys=arch.tied, ignore_unexpected=arch.ignore_unexpected, ignore_mismatched_sizes=True,
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
    return {t.name: renames.get(t.name, _normalise_legacy(t.name)) for t in tensors}


def _checkpoint_key(model_key: str, names: Mapping[str, Any], prefix: str) -> str:
    """The checkpoint's name for a model key: with or without the base prefix, legacy gamma/beta or not."""
    for candidate in (model_key, f"{prefix}.{model_key}", model_key.removeprefix(prefix + ".")):
        for variant in (candidate, re.sub(r"\.weight$", ".gamma", candidate), re.sub(r"\.bias$", ".beta", candidate)):
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
    tensors: list[SourceTensor], target: str, dtype: str | None, arch: Architecture | None, renames: dict[str, str],
    config: dict[str, Any] | None,
) -> Plan:
    """Name, lay out and type every output tensor of `target`."""
    plan = Plan(target, [])
    model_type = (config or {}).get("model_type", "")
    naming = LEGACY_NAMING.get(model_type, LegacyNaming())
    names = {t.name: renames.get(t.name, t.name) for t in tensors}
    if target in ("tf", "flax"):
        if model_type not in LEGACY_NAMING:
            plan.notes.append(f"no transformers {target} naming table for model_type {model_type!r}: generic rules used")
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
            raise ConversionError(f"{tensor.name!r} and {seen[out_name]!r} would both be written as {out_name!r}.")
        seen[out_name] = tensor.name
        out_dtype = output_dtype(tensor.dtype, dtype)
        if out_dtype != tensor.dtype and "BF16" in (out_dtype, tensor.dtype) and BFLOAT16 is None:
            raise ConversionError("Casting to or from bfloat16 needs the ml_dtypes package: `pip install ml_dtypes`.")
        if target == "tf" and out_dtype == "BF16":
            raise ConversionError(f"{tensor.name!r} is bfloat16, which tf_model.h5 cannot hold; pass --dtype float32 or float16.")
        shape = tuple(tensor.shape[i] for i in _axes(layout, len(tensor.shape)))
        plan.entries.append(Entry(TensorSpec(out_name, shape, out_dtype), tensor, layout))
    return plan


def _legacy_subset(tensors: list[SourceTensor], names: dict[str, str], arch: Architecture | None, naming: LegacyNaming) -> list[SourceTensor]:
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
        for candidate in (canonical, canonical.removeprefix(arch.base_model_prefix + "."), f"{arch.base_model_prefix}.{canonical}"):
            if candidate in arch.kinds:
                return arch.kinds[candidate]
    return guess_kind(canonical, ndim)


def _axes(layout: str, ndim: int) -> tuple[int, ...]:
    from .mapping import _FROM_CANONICAL_AXES

    return _FROM_CANONICAL_AXES.get(layout, tuple(range(ndim)))


def _architecture_name(config: dict[str, Any] | None, arch: Architecture | None) -> str:
    names = (config or {}).get("architectures") or []
    if names:
        return names[0].removeprefix("TF").removeprefix("Flax")
    return arch.class_name if arch else "Model"


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
class SafetensorsWriter:
    """One safetensors file, header first from the specs, then each tensor as it comes."""

    ordered = staticmethod(lambda specs: list(specs))

    def __init__(self, path: str, specs: Sequence[TensorSpec], top_scope: str = "", metadata: dict[str, str] | None = None):
        header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
        offset = 0
        for spec in specs:
            header[spec.name] = {"dtype": spec.dtype, "shape": list(spec.shape), "data_offsets": [offset, offset + spec.nbytes]}
            offset += spec.nbytes
        data = json.dumps(header, separators=(",", ":")).encode("utf-8")
        data += b" " * (-len(data) % 8)
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._f.write(len(data).to_bytes(8, "little") + data)

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        if array.nbytes != spec.nbytes:
            raise ConversionError(f"{spec.name}: {array.nbytes} bytes where the header promised {spec.nbytes}.")
        self._f.write(memoryview(contiguous(array).reshape(-1).view(np.uint8)))

    def close(self) -> None:
        self._f.close()


WRITERS: dict[str, type] = {"safetensors": SafetensorsWriter, "pt": TorchBinWriter, "tf": H5Writer, "flax": MsgpackWriter}


def shard_groups(entries: Sequence[Entry], max_shard_size: int) -> list[list[Entry]]:
    """Consecutive groups under max_shard_size bytes (a larger tensor gets a file of its own)."""
    groups: list[list[Entry]] = [[]]
    size = 0
    for entry in entries:
        if groups[-1] and size + entry.spec.nbytes > max_shard_size:
            groups.append([])
            size = 0
        groups[-1].append(entry)
        size += entry.spec.nbytes
    return groups


def shard_names(target: str, count: int) -> list[str]:
    single = TARGETS[target][0]
    if count == 1:
        return [single]
    stem, ext = os.path.splitext(single)
    return [f"{stem}-{i + 1:05d}-of-{count:05d}{ext}" for i in range(count)]


def write_weights(plan: Plan, pool: SourcePool, folder: str, max_shard_size: int, progress: Callable[[int], Any]) -> list[str]:
    """Write every shard of the plan (and the index when there are several); return the file names."""
    writer_cls = WRITERS[plan.target]
    by_name = {e.spec.name: e for e in plan.entries}
    ordered = [by_name[s.name] for s in writer_cls.ordered([e.spec for e in plan.entries])]
    groups = shard_groups(ordered, max_shard_size)
    files = shard_names(plan.target, len(groups))
    for filename, group in zip(files, groups):
        _write_shard(writer_cls, os.path.join(folder, filename), group, plan, pool, progress, sharded=len(groups) > 1)
    if len(groups) > 1:
        _write_index(plan, folder, files, groups)
    return files


def _write_shard(writer_cls: type, path: str, group: list[Entry], plan: Plan, pool: SourcePool,
                 progress: Callable[[int], Any], sharded: bool) -> None:
    specs = [e.spec for e in group]
    kwargs = {"sharded": sharded, "shared": plan.tf_shared} if writer_cls is H5Writer else {}
    writer = writer_cls(path, specs, top_scope=plan.top_scope, **kwargs)
    by_name = {e.spec.name: e for e in group}
    try:
        for spec in writer_cls.ordered(specs):
            entry = by_name[spec.name]
            writer.write(spec, entry.load(pool))  # the loaded array is dropped right after
            entry.release(pool)
            progress(spec.nbytes)
    finally:
        writer.close()


def _write_index(plan: Plan, folder: str, files: list[str], groups: list[list[Entry]]) -> None:
    def key(entry: Entry) -> str:  # TF indexes carry the full Keras weight name
        return f"{plan.top_scope}/{entry.spec.name}" if plan.target == "tf" else entry.spec.name

    index = {
        "metadata": {"total_size": int(sum(e.spec.nbytes for g in groups for e in g))},
        "weight_map": {key(e): filename for filename, group in zip(files, groups) for e in group},
    }
    with open(os.path.join(folder, TARGETS[plan.target][1]), "w", encoding="utf-8") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


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


def _set_config_dtype(path: str, dtype: str) -> None:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    for key in [k for k in ("torch_dtype", "dtype") if k in config] or ["torch_dtype"]:
        config[key] = dtype
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(config, indent=2) + "\n")


@contextlib.contextmanager
def atomic_folder(out: str, force: bool) -> Iterator[str]:
    """A temporary folder beside `out`, renamed to `out` when the block succeeds (and removed if not)."""
    out = os.path.abspath(out)
    if os.path.lexists(out) and not force:
        raise InputError(f"{out} already exists; pass --force to replace it.")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace(tmp: str, out: str) -> None:
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", suffix=".old", dir=os.path.dirname(out))
    os.rmdir(old)
    os.rename(out, old)
    os.rename(tmp, out)
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.unlink(old)


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
) -> ConversionResult:
    """Convert the checkpoint of a folder or Hub repo to `to` in folder `out`, streaming."""
    src, out, options = os.fspath(src), os.path.abspath(os.fspath(out)), options or HubOptions()
    if to not in TARGETS:
        raise InputError(f"Unknown target format {to!r}; use one of {', '.join(TARGETS)}.")
    if dtype is not None and dtype not in DTYPES:
        raise InputError(f"Unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}.")
    shard_size = parse_size(max_shard_size)
    if os.path.lexists(out) and not force:
        raise InputError(f"{out} already exists; pass --force to replace it.")
    sources = resolve_sources(src, options)
    tensors = scan_sources(sources)
    config, config_path = load_config(src, options)
    notes: list[str] = []
    arch = build_architecture(config, config_path) if config is not None else None
    if arch is None:
        notes.append("shapes not checked: " + ("no config.json" if config is None else "no torch model for this config"))
    renames = align_to_architecture(tensors, arch, sources) if arch is not None else {}
    plan = plan_conversion(tensors, to, dtype, arch, renames, config)
    total = sum(e.spec.nbytes for e in plan.entries)
    pool = SourcePool(sources)
    with atomic_folder(out, force) as folder, _progress_bar(total, progress) as bar:
        try:
            files = write_weights(plan, pool, folder, shard_size, bar.update)
        finally:
            pool.close()
        companions = copy_companions(src, folder, options, dtype)
    return ConversionResult(out, to, files, companions, len(plan.entries), total, notes + plan.notes)


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="converting",
               disable=None if enabled else True, leave=False)
    try:
        yield bar
    finally:
        bar.close()


__all__ = ["ConversionResult", "TARGETS", "architecture_class", "convert"]
