"""Small Flax helpers shared by models: layer lists, head pruning and attention masks.

The counterpart of the torch backend's `pytorch_utils.py`, function for function.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ...core.configuration import PretrainedConfig
from ...core.interpolation import bicubic_matrix, grid_side
from ...core.weights import find_pruneable_heads_and_indices  # noqa: F401  (re-exported for model files)


class FlaxModuleList(nn.Module):
    """torch's `nn.ModuleList` for linen: entries named "0", "1", ..., so parameter paths read `layer/0/...`.

    Entry `i` is `module_class(config, layer_idx=i, dtype=dtype)`. Iterate over it, index it or
    take its `len()` as over a ModuleList.
    """

    module_class: type[nn.Module]
    config: PretrainedConfig
    length: int
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.entries = [
            self.module_class(self.config, layer_idx=i, dtype=self.dtype, name=str(i))
            for i in range(self.length)
        ]

    def __getitem__(self, index: int) -> nn.Module:
        return self.entries[index]

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return self.length


def prune_dense_params(params: dict[str, jax.Array], index: np.ndarray, dim: int = 0) -> dict[str, jax.Array]:
    """A Dense layer's params keeping only `index` along torch's `dim` (0 = outputs, 1 = inputs).

    The kernel is `[in, out]`, so torch's output dim is the kernel's last axis; the bias follows
    the outputs and is kept whole when the inputs are pruned.
    """
    pruned = dict(params)
    pruned["kernel"] = jnp.take(params["kernel"], index, axis=1 - dim)
    if "bias" in params and dim == 0:
        pruned["bias"] = jnp.take(params["bias"], index, axis=0)
    return pruned


def extended_attention_mask(attention_mask: jax.Array, dtype: Any) -> jax.Array:
    """[batch, seq] 1/0 mask -> additive [batch, 1, 1, seq] mask: 0 where attended, dtype-min where not."""
    mask = attention_mask[:, None, None, :].astype(dtype)
    return (1.0 - mask) * jnp.finfo(dtype).min


def head_mask_per_layer(head_mask: jax.Array | None, num_layers: int, dtype: Any) -> list[jax.Array | None]:
    """Head mask of shape [heads] or [layers, heads] -> one [1, heads, 1, 1] mask per layer."""
    if head_mask is None:
        return [None] * num_layers
    if head_mask.ndim == 1:
        head_mask = jnp.broadcast_to(head_mask[None, :], (num_layers, head_mask.shape[0]))
    return [head_mask[i][None, :, None, None].astype(dtype) for i in range(num_layers)]


def resize_patch_position_embeddings(positions: jax.Array, rows: int, columns: int) -> jax.Array:
    """[1, 1 + side * side, dim] position embeddings (a class position, then a square grid of patch positions)
    with the grid resized to rows x columns as torch's bicubic (`core.interpolation`)."""
    side, dim = grid_side(positions.shape[1] - 1), positions.shape[-1]
    grid = positions[0, 1:].reshape(side, side, dim)
    row_weights = jnp.asarray(bicubic_matrix(side, rows), dtype=positions.dtype)
    column_weights = jnp.asarray(bicubic_matrix(side, columns), dtype=positions.dtype)
    resized = jnp.einsum(
        "ai,bj,ijd->abd", row_weights, column_weights, grid, precision=jax.lax.Precision.HIGHEST
    )
    return jnp.concatenate([positions[:, :1], resized.reshape(1, -1, dim)], axis=1)
