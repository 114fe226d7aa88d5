"""Placing a Flax model's parameters on a `jax.sharding.Mesh` by partition rules.

rosetta runs no distributed runtime of its own: a mesh, `NamedSharding`s and `jax.jit` do the work.
This module only decides each parameter's `PartitionSpec` and builds each sharded parameter from
the memory-mapped checkpoint, one device slice at a time (`jax.make_array_from_callback`).

Rules, first match wins:
1. `partition_rules=[(regex, PartitionSpec), ...]` given to `from_pretrained` (matched with
   `re.search` against the params path joined by "/", e.g. `bert/encoder/layer/0/output/dense/kernel`);
2. the model class's `_partition_rules`, the same form;
3. the default: a 2-D (or larger) `kernel` sharded over "model" on its output (last) axis, an
   `embedding` over "model" on its larger axis, and with `fsdp=True` over "data" on the other axis;
   everything else (norms, biases, scalars) replicated. A mesh axis that does not divide the
   dimension it would split is left out of the default spec (that dimension stays replicated).

`generate` on a model placed on a mesh keeps its KV cache sharded by heads over "model"
(`constrain_kv_cache`, applied in the compiled decode loop at every step).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ...convert.mapping import from_canonical_axes
from ...core.errors import InputError

DATA_AXIS = "data"
MODEL_AXIS = "model"
Rules = Sequence[tuple[str, PartitionSpec]]
Path = tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """Where a model's parameters go: the mesh, the rules tried before the default, and FSDP."""

    mesh: Mesh
    rules: tuple[tuple[str, PartitionSpec], ...] = field(default_factory=tuple)
    fsdp: bool = False

    def sharding(self, path: Path, shape: tuple[int, ...]) -> NamedSharding:
        return NamedSharding(self.mesh, partition_spec(path, shape, self.mesh, self.rules, self.fsdp))


def make_placement(mesh: Any, partition_rules: Rules | None, fsdp: bool, model_rules: Rules) -> Placement:
    """Check `from_pretrained`'s `mesh=`, `partition_rules=` and `fsdp=` and bundle them."""
    if not isinstance(mesh, Mesh):
        raise InputError(
            f"mesh= must be a jax.sharding.Mesh, got {type(mesh).__name__}. Build one with "
            "jax.sharding.Mesh(mesh_utils.create_device_mesh((data, model)), ('data', 'model'))."
        )
    rules = tuple(partition_rules or ()) + tuple(model_rules or ())
    for rule in rules:
        if not (isinstance(rule, tuple) and len(rule) == 2 and isinstance(rule[1], PartitionSpec)):
            raise InputError(
                f"Each partition rule must be (regex, jax.sharding.PartitionSpec); got {rule!r}."
            )
        unknown = [a for a in _spec_axes(rule[1]) if a not in mesh.axis_names]
        if unknown:
            raise InputError(
                f"Partition rule {rule[0]!r} names mesh axes {unknown} the mesh lacks; "
                f"its axes are {list(mesh.axis_names)}."
            )
    return Placement(mesh, rules, bool(fsdp))


def partition_spec(
    path: Path, shape: tuple[int, ...], mesh: Mesh, rules: Rules = (), fsdp: bool = False
) -> PartitionSpec:
    """The `PartitionSpec` of the parameter at `path` (see the module's docstring for the rules)."""
    name = "/".join(path)
    for pattern, spec in rules:
        if re.search(pattern, name):
            _check_divides(name, shape, spec, mesh)
            return spec
    return _default_spec(path[-1], shape, mesh, fsdp)


def _default_spec(leaf_name: str, shape: tuple[int, ...], mesh: Mesh, fsdp: bool) -> PartitionSpec:
    if len(shape) < 2 or leaf_name not in ("kernel", "embedding"):
        return PartitionSpec()
    if leaf_name == "kernel":
        model_dim = len(shape) - 1  # the output features
    else:
        model_dim = int(np.argmax(shape))  # vocab (or positions) x hidden: the larger
    spec: list[str | None] = [None] * len(shape)
    if _divides(mesh, MODEL_AXIS, shape[model_dim]):
        spec[model_dim] = MODEL_AXIS
    if fsdp:
        data_dim = next(d for d in range(len(shape)) if d != model_dim)
        if _divides(mesh, DATA_AXIS, shape[data_dim]):
            spec[data_dim] = DATA_AXIS
    return PartitionSpec(*spec)


def _divides(mesh: Mesh, axis: str, size: int) -> bool:
    return axis in mesh.shape and mesh.shape[axis] > 1 and size % mesh.shape[axis] == 0


def _spec_axes(spec: PartitionSpec) -> list[str]:
    axes: list[str] = []
    for entry in spec:
        if entry is not None:
            axes.extend(entry if isinstance(entry, tuple) else (entry,))
    return axes


def _check_divides(name: str, shape: tuple[int, ...], spec: PartitionSpec, mesh: Mesh) -> None:
    if len(spec) > len(shape):
        raise InputError(f"Partition spec {spec} has more entries than {name} has axes (shape {shape}).")
    for dim, entry in enumerate(spec):
        if entry is None:
            continue
        size = int(np.prod([mesh.shape[a] for a in (entry if isinstance(entry, tuple) else (entry,))]))
        if shape[dim] % size:
            raise InputError(
                f"Partition spec {spec} splits axis {dim} of {name} (shape {shape}) {size} ways, which "
                "does not divide it. Change the rule or the mesh."
            )


def sharded_param(array: np.ndarray, layout: str, dtype: np.dtype, sharding: NamedSharding) -> jax.Array:
    """A checkpoint tensor (canonical layout, a memory-mapped view) as a parameter placed by `sharding`.

    Each device's slice is cut from the transposed *view* of `array` and copied alone (and cast),
    so the host never holds the whole tensor, only one device's part at a time."""
    axes = from_canonical_axes(layout)
    native = array if axes is None else np.transpose(array, axes)  # a view: nothing copied
    return jax.make_array_from_callback(native.shape, sharding, _slice_reader(native, dtype))


def _slice_reader(native: np.ndarray, dtype: np.dtype) -> Callable[[Any], np.ndarray]:
    def read(index: Any) -> np.ndarray:
        return np.ascontiguousarray(native[index], dtype=dtype)

    return read


def place_params(params: Any, placement: Placement) -> Any:
    """`params` (a nested dict of arrays) with every leaf moved to its sharding (a no-op where it is there)."""

    def place(path: Any, leaf: Any) -> Any:
        keys = tuple(str(getattr(k, "key", k)) for k in path)
        sharding = placement.sharding(keys, tuple(leaf.shape))
        if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
            return leaf
        return jax.device_put(leaf, sharding)

    return jax.tree_util.tree_map_with_path(place, params)


def kv_cache_spec(shape: tuple[int, ...], mesh: Mesh) -> PartitionSpec:
    """A KV-cache leaf's spec: k or v [batch, kv_heads, max_len, head_dim] split by heads over "model"
    where that axis divides the heads (else replicated, as a parameter would be); anything else replicated."""
    if len(shape) != 4 or not _divides(mesh, MODEL_AXIS, shape[1]):
        return PartitionSpec()
    return PartitionSpec(None, MODEL_AXIS, None, None)


def constrain_kv_cache(cache: Any, mesh: Mesh) -> Any:
    """`cache` with every leaf constrained to `kv_cache_spec` on `mesh` (inside `jax.jit`: a sharding
    constraint XLA keeps through the decode loop; outside: the arrays placed so)."""
    return jax.tree_util.tree_map(
        lambda leaf: jax.lax.with_sharding_constraint(
            leaf, NamedSharding(mesh, kv_cache_spec(tuple(leaf.shape), mesh))
        ),
        cache,
    )


def param_shardings(params: Any) -> dict[str, Any]:
    """Params path ("a/b/kernel") -> the leaf's sharding spec, for inspection and tests."""
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return {
        "/".join(str(getattr(k, "key", k)) for k in path): getattr(leaf.sharding, "spec", None)
        for path, leaf in flat
    }
