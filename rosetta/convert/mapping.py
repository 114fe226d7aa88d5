"""The generic rules between a framework's native parameter paths and canonical names.

TF and Flax modules mirror the torch module tree attribute for attribute, so a native path
differs from its canonical name only in the leaf and the layout:

    Dense `kernel` [in, out]          <-> Linear `weight` [out, in]     (transposed)
    Conv `kernel` HWIO / WIO          <-> `weight` OIHW / OIW
    LayerNorm `scale` / `gamma`       <-> `weight`;   `beta` <-> `bias`
    Embed `embedding` / `embeddings`  <-> `weight`

What a model does differently it declares next to its own code, as a dict of canonical
name renames (`_canonical_renames`) applied after these rules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Layouts: how a native array is permuted into the canonical (PyTorch) layout.
_TO_CANONICAL_AXES = {
    "linear": (1, 0),
    "conv1d": (2, 1, 0),  # WIO -> OIW
    "conv2d": (3, 2, 0, 1),  # HWIO -> OIHW
    "conv3d": (4, 3, 0, 1, 2),  # DHWIO -> OIDHW
}
_FROM_CANONICAL_AXES = {
    name: tuple(int(i) for i in np.argsort(axes)) for name, axes in _TO_CANONICAL_AXES.items()
}
_KERNEL_LAYOUT_BY_NDIM = {2: "linear", 3: "conv1d", 4: "conv2d", 5: "conv3d"}
_LEAF_RENAMES = {
    "scale": "weight",
    "gamma": "weight",
    "beta": "bias",
    "embedding": "weight",
    "embeddings": "weight",
}


def canonical_name(native_path: Sequence[str], ndim: int) -> tuple[str, str]:
    """(canonical name, layout) of a native parameter path such as ("encoder", "layer", "0", "dense", "kernel")."""
    *modules, leaf = native_path
    if leaf == "kernel":
        return ".".join([*modules, "weight"]), _KERNEL_LAYOUT_BY_NDIM.get(ndim, "identity")
    return ".".join([*modules, _LEAF_RENAMES.get(leaf, leaf)]), "identity"


def to_canonical(array: np.ndarray, layout: str) -> np.ndarray:
    """A native array in canonical layout (a view: the copy happens where it is materialised)."""
    axes = _TO_CANONICAL_AXES.get(layout)
    return array if axes is None else np.transpose(array, axes)


def from_canonical_axes(layout: str) -> tuple[int, ...] | None:
    """The permutation from the canonical layout to the native one (None: the same layout)."""
    return _FROM_CANONICAL_AXES.get(layout)


def from_canonical(array: np.ndarray, layout: str) -> np.ndarray:
    axes = from_canonical_axes(layout)
    return array if axes is None else np.transpose(array, axes)


def canonical_shape(native_shape: Sequence[int], layout: str) -> tuple[int, ...]:
    axes = _TO_CANONICAL_AXES.get(layout)
    return tuple(native_shape) if axes is None else tuple(native_shape[i] for i in axes)
