"""transformers 4.x TF and Flax names <-> canonical names and layouts, both ways.

Reading: `to_canonical_reader` shows a TF h5, a Flax msgpack (or safetensors written from TF or
Flax) under canonical names, each tensor in canonical layout, with transformers' own rules.
Writing: `native_name` names a canonical weight as transformers' TF or Flax classes do, from its
module kind and what an architecture declares differently (`LegacyNaming`, read through
`legacy_naming(model_type)` from the architecture's own package).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.errors import CheckpointError, ConversionError
from ..mapping import canonical_name, canonical_shape, to_canonical
from .base import CheckpointReader

# Module kinds: how a canonical weight is named and laid out natively.
LINEAR, EMBEDDING, LAYERNORM, OTHER = "linear", "embedding", "layernorm", "other"
CONV_LAYOUTS = ("conv1d", "conv2d", "conv3d")
_LAYOUT_NDIM = {"linear": 2, "conv1d": 3, "conv2d": 4, "conv3d": 5}
_NORM_NAME = re.compile(r"(^|_)(layer_?norm|ln(_\w+)?|norm\d*)$", re.IGNORECASE)


# --------------------------------------------------------------------------------------
# Native names -> canonical
# --------------------------------------------------------------------------------------
def tf_canonical_name(tf_name: str, ndim: int) -> tuple[str, str]:
    """transformers' `convert_tf_weight_name_to_pt_weight_name` for a name without the model scope.

    'mlm___cls/predictions/bias:0' -> ('cls.predictions.bias', 'identity');
    'my_model/encoder/layer_._0/output/dense/kernel:0' -> ('my_model.encoder.layer.0.output.dense.weight', 'linear').
    """
    name = "scope/" + tf_name.replace(":0", "")  # the level zero transformers drops
    name = re.sub(r"/[^/]*___([^/]*)/", r"/\1/", name)  # 'mlm___cls' -> 'cls'
    name = name.replace("_._", "/")  # 'layer_._0' -> 'layer/0'
    parts = re.sub(r"//+", "/", name).split("/")[1:]
    leaf = parts[-1]
    if leaf == "kernel":
        layout = {4: "conv2d", 3: "conv1d"}.get(ndim, "linear")
    elif leaf in ("pointwise_kernel", "depthwise_kernel"):
        layout = "linear"
    else:
        layout = "identity"
    parts[-1] = {"kernel": "weight", "embeddings": "weight", "gamma": "weight", "beta": "bias"}.get(
        leaf, leaf
    )
    parts[-1] = parts[-1].replace("_kernel", ".weight")
    return ".".join(parts), layout


def flax_canonical_name(path: Sequence[str], ndim: int) -> tuple[str, str]:
    """transformers' Flax -> PyTorch rule: `kernel` transposed to `weight`, `scale`/`embedding` -> `weight`."""
    return canonical_name(list(path), ndim)


class CanonicalView(CheckpointReader):
    """Another reader seen under canonical names, each tensor in canonical layout (a view)."""

    def __init__(self, reader: CheckpointReader, names: Mapping[str, tuple[str, str]]):
        self.reader = reader
        self.path = reader.path
        self._names = dict(names)  # canonical -> (native name, layout)
        self.metadata = {
            **reader.metadata,
            "format": "pt",
            "source_format": reader.metadata.get("format", ""),
        }

    def native(self, name: str) -> tuple[str, str]:
        return self._names[name]

    def __getitem__(self, name: str) -> np.ndarray:
        native, layout = self._names[name]
        return to_canonical(self.reader[native], layout)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def dtype(self, name: str) -> str:
        return self.reader.dtype(self._names[name][0])

    def shape(self, name: str) -> tuple[int, ...]:
        native, layout = self._names[name]
        return canonical_shape(self.reader.shape(native), layout)

    def release(self, name: str) -> None:
        self.reader.release(self._names[name][0])

    def close(self) -> None:
        self.reader.close()


def native_format(reader: CheckpointReader, fmt: str) -> str:
    """'tf', 'flax' or 'pt': the naming a reader's tensors are in."""
    if fmt in ("tf", "flax"):
        return fmt
    declared = (reader.metadata or {}).get("format") or "pt"
    return "pt" if declared == "mlx" else declared


def to_canonical_reader(reader: CheckpointReader, fmt: str) -> CheckpointReader:
    """`reader` (TF h5, Flax msgpack, or safetensors written from TF or Flax) under canonical names."""
    naming = native_format(reader, fmt)
    if naming == "pt":
        return reader
    if naming not in ("tf", "flax"):
        raise CheckpointError(
            f"{reader.path}: unknown checkpoint format {naming!r} in its metadata; expected pt, tf or flax."
        )
    sep = "." if fmt == "safetensors" else "/"
    names: dict[str, tuple[str, str]] = {}
    for native in reader:
        ndim = len(reader.shape(native))
        if naming == "tf":
            canonical, layout = tf_canonical_name(native, ndim)
        else:
            canonical, layout = flax_canonical_name(native.split(sep), ndim)
        if layout in _LAYOUT_NDIM and ndim != _LAYOUT_NDIM[layout]:
            raise CheckpointError(
                f"{reader.path}: tensor {native!r} is a {layout} kernel of shape {reader.shape(native)}, "
                f"which needs {_LAYOUT_NDIM[layout]} dimensions. The file does not fit its own format."
            )
        if canonical in names:
            raise ConversionError(
                f"{native!r} and {names[canonical][0]!r} both map to the canonical name {canonical!r}."
            )
        names[canonical] = (native, layout)
    return CanonicalView(reader, names)


# --------------------------------------------------------------------------------------
# Canonical names -> transformers 4.x TF / Flax names and layouts
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LegacyNaming:
    """What transformers' TF/Flax classes of one architecture name differently from the generic rules."""

    main_layer: str = ""  # TF always wraps the base model in a layer of this name
    tf_scopes: dict[str, str] = field(default_factory=dict)  # canonical module prefix -> TF scope
    tf_leaves: dict[str, str] = field(default_factory=dict)  # canonical module -> TF leaf of its weight
    aliases: dict[str, str] = field(default_factory=dict)  # canonical name -> the name it duplicates
    tied: tuple[str, ...] = ()  # absent in TF/Flax when tie_word_embeddings
    tf_shared: dict[str, str] = field(default_factory=dict)  # Keras layer -> TF name prefix it also lists

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LegacyNaming:
        """From the plain data an architecture declares (`LEGACY_NAMING` in models/<arch>/__init__.py)."""
        return cls(
            main_layer=data.get("main_layer", ""),
            tf_scopes=dict(data.get("tf_scopes", {})),
            tf_leaves=dict(data.get("tf_leaves", {})),
            aliases=dict(data.get("aliases", {})),
            tied=tuple(data.get("tied", ())),
            tf_shared=dict(data.get("tf_shared", {})),
        )


def legacy_naming(model_type: str) -> LegacyNaming | None:
    """The TF/Flax naming an architecture declares, or None when it declares none."""
    from ...core import registry

    data = registry.legacy_naming(model_type) if model_type else None
    return LegacyNaming.from_dict(data) if data is not None else None


def guess_kind(canonical: str, ndim: int) -> str:
    """A module kind from the name alone, for weights the architecture does not declare."""
    *modules, leaf = canonical.split(".")
    module = modules[-1] if modules else ""
    if leaf not in ("weight", "bias"):
        return OTHER
    if _NORM_NAME.search(module) and ndim == 1:
        return LAYERNORM
    if leaf == "bias":
        return OTHER
    if ndim == 2 and ("embed" in module or module in ("wte", "wpe", "shared")):
        return EMBEDDING
    return {2: LINEAR, 3: "conv1d", 4: "conv2d", 5: "conv3d"}.get(ndim, OTHER)


def kind_of(canonical: str, ndim: int, layout: str | None) -> str:
    """The module kind of a weight whose canonical layout is known (None: guess from its name alone)."""
    if layout in _LAYOUT_NDIM:
        return layout
    kind = guess_kind(canonical, ndim)
    return kind if layout is None or kind in (EMBEDDING, LAYERNORM) else OTHER


def _module_path(modules: list[str], numbered: str) -> list[str]:
    """TF names a list's items 'layer_._0'; Flax keeps '0' as a level of its own."""
    out: list[str] = []
    for part in modules:
        if part.isdigit() and out and numbered == "tf":
            out[-1] = f"{out[-1]}_._{part}"
        else:
            out.append(part)
    return out


def native_name(canonical: str, kind: str, fmt: str, naming: LegacyNaming | None = None) -> tuple[str, str]:
    """(transformers 4.x TF or Flax name, layout) of a canonical weight.

    TF names come without the model scope, as `H5File` lists them ('my_model/pooler/dense/kernel:0');
    Flax names are the params paths joined with '/' ('my_model/pooler/dense/kernel').
    """
    naming = naming or LegacyNaming()
    *modules, leaf = canonical.split(".")
    module = ".".join(modules)
    layout = "identity"
    if kind in (LINEAR, *CONV_LAYOUTS) and leaf == "weight":
        leaf, layout = "kernel", kind
    elif kind == EMBEDDING and leaf == "weight":
        leaf = (
            "embedding" if fmt == "flax" else naming.tf_leaves.get(_unprefixed(module, naming), "embeddings")
        )
    elif kind == LAYERNORM:
        flax = fmt == "flax"
        leaf = {"weight": "scale" if flax else "gamma", "bias": "bias" if flax else "beta"}.get(leaf, leaf)
    if fmt == "flax":
        return "/".join([*_module_path(modules, "flax"), leaf]), layout
    for prefix, scope in naming.tf_scopes.items():
        if module == prefix or module.startswith(prefix + "."):
            modules = [scope, *module[len(prefix) + 1 :].split(".")] if module != prefix else [scope]
            break
    return "/".join([*(m for m in _module_path(modules, "tf") if m), leaf]) + ":0", layout


def _unprefixed(module: str, naming: LegacyNaming) -> str:
    prefix = naming.main_layer + "."
    return module[len(prefix) :] if naming.main_layer and module.startswith(prefix) else module


def keras_scope(class_name: str) -> str:
    """Keras' default layer name for a class: 'TFMyModelForMaskedLM' -> 'tf_my_model_for_masked_lm'."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
