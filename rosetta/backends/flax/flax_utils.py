"""Small Flax helpers shared by models: layer lists, head pruning, attention masks and blocked attention.

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

# Set on the module's own copy of the config when the model recomputes its layers (never saved: private).
REMAT_FLAG = "_gradient_checkpointing"


class FlaxModuleList(nn.Module):
    """torch's `nn.ModuleList` for linen: entries named "0", "1", ..., so parameter paths read `layer/0/...`.

    Entry `i` is `module_class(config, layer_idx=i, dtype=dtype)`. Iterate over it, index it or
    take its `len()` as over a ModuleList.

    Under gradient checkpointing (the config's `REMAT_FLAG`), the entries recompute their activations
    in the backward pass. A loop over them then needs `remat_static_argnums`: the positions of their
    Python-valued call arguments (`output_attentions`, `deterministic`), `self` being 0 (flax's rule).
    Entries that compute alike (`scans`) run instead as one `scan` (see there).
    """

    module_class: type[nn.Module]
    config: PretrainedConfig
    length: int
    dtype: Any = jnp.float32
    remat_static_argnums: tuple[int, ...] = ()

    def setup(self) -> None:
        module_class = self.module_class
        if getattr(self.config, REMAT_FLAG, False) and not self.scans:
            module_class = nn.remat(module_class, static_argnums=self.remat_static_argnums)
        self.entries = [
            module_class(self.config, layer_idx=i, dtype=self.dtype, name=str(i)) for i in range(self.length)
        ]

    def __getitem__(self, index: int) -> nn.Module:
        return self.entries[index]

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return self.length

    @property
    def scans(self) -> bool:
        """Whether the entries run as one rematerialised `scan`: under gradient checkpointing, when the entry
        class declares `layer_variant(config, layer_idx)` (what sets one layer's computation apart) and every
        layer's variant is the same."""
        variant = getattr(self.module_class, "layer_variant", None)
        if not getattr(self.config, REMAT_FLAG, False) or variant is None:
            return False
        return len({variant(self.config, i) for i in range(self.length)}) == 1

    def scan(
        self, hidden_states: jax.Array, *args: Any, collect_inputs: bool = False
    ) -> tuple[jax.Array, tuple[jax.Array, ...] | None, tuple[tuple[jax.Array, ...] | None, ...]]:
        """Every entry in turn on `hidden_states` (each called as `entry(hidden_states, *args)`, returning
        `(hidden_states, *extras)`), as one `lax.scan` over their stacked parameters with a `jax.checkpoint`ed
        step.

        Why a scan: XLA:CPU schedules the recomputations of an unrolled loop of checkpointed layers early,
        so every layer's activations are live at once again and checkpointing saves next to nothing; a
        scan's backward recomputes one step at a time. The stacked parameters are one copy of the layers'
        weights, made inside the compiled step. Dropout draws one key per layer from the "dropout" stream:
        the masks are the same in the forward and the recomputation, not the unrolled model's masks.

        Returns (the last hidden states, each entry's input hidden states when `collect_inputs`, and per
        extra output its per-entry values, or None where the entries return None).
        """
        if self.is_initializing():  # the parameters are being created: by the entries themselves
            outputs = []
            for entry in self.entries:
                inputs = hidden_states
                hidden_states, *extras = entry(hidden_states, *args)
                outputs.append((inputs, tuple(extras)))
            layer_inputs, extras = zip(*outputs)
            return hidden_states, layer_inputs if collect_inputs else None, _per_output(extras)
        layer = self.module_class(self.config, layer_idx=0, dtype=self.dtype, parent=None)
        params = self.variables["params"]
        stacked_params = jax.tree.map(
            lambda *leaves: jnp.stack(leaves), *(params[str(i)] for i in range(self.length))
        )
        keys = jax.random.split(self.make_rng("dropout"), self.length) if self.has_rng("dropout") else None

        def step(hidden_states: jax.Array, layer_slice: tuple) -> tuple[jax.Array, tuple]:
            layer_params, key = layer_slice
            rngs = None if key is None else {"dropout": key}
            new_hidden_states, *extras = layer.apply(
                {"params": layer_params}, hidden_states, *args, rngs=rngs
            )
            return new_hidden_states, (hidden_states if collect_inputs else None, tuple(extras))

        hidden_states, (layer_inputs, extras) = jax.lax.scan(
            jax.checkpoint(step, prevent_cse=False), hidden_states, (stacked_params, keys)
        )
        return hidden_states, _per_entry(layer_inputs), tuple(_per_entry(extra) for extra in extras)


def _per_entry(stacked: jax.Array | None) -> tuple[jax.Array, ...] | None:
    """A scan's stacked [entries, ...] output as one array per entry; None stays None."""
    return None if stacked is None else tuple(stacked[i] for i in range(stacked.shape[0]))


def _per_output(extras_per_entry: tuple[tuple, ...]) -> tuple[tuple | None, ...]:
    """Per-entry tuples of extra outputs -> per extra output, its values over the entries (None if all None)."""
    return tuple(
        None if all(v is None for v in values) else tuple(values) for values in zip(*extras_per_entry)
    )


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


QUERY_BLOCK = 256


def query_blocked_attention(query: jax.Array, key: jax.Array, value: jax.Array) -> jax.Array:
    """softmax(query @ key^T) @ value, [batch, heads, queries, head_dim], `QUERY_BLOCK` query rows at a time.

    Without a mask the rows are independent, so this is the plain attention, value for value. Why blocks: XLA
    materialises the scores [batch, heads, queries, keys] and passes over them several times (max, exp, sum,
    divide, the value product); for Whisper's 1500 encoder positions that is 54 MB a layer, out of cache.
    One block's scores stay in cache: the encoder's attention runs about 1.6x faster on XLA:CPU.
    """
    batch, heads, length, head_dim = query.shape

    def attend(rows: jax.Array) -> jax.Array:
        return jax.nn.softmax(rows @ key.swapaxes(-1, -2), axis=-1) @ value

    if length <= QUERY_BLOCK:
        return attend(query)
    padded = jnp.pad(query, ((0, 0), (0, 0), (0, -length % QUERY_BLOCK), (0, 0)))
    blocks = jnp.moveaxis(padded.reshape(batch, heads, -1, QUERY_BLOCK, head_dim), 2, 0)
    context = jnp.moveaxis(jax.lax.map(attend, blocks), 0, 2)
    return context.reshape(batch, heads, -1, head_dim)[:, :, :length]


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
