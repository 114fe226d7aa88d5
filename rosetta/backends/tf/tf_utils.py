"""Small TensorFlow helpers shared by models: initialisers, shapes, head pruning, attention masks and blocked
attention.

The counterpart of `rosetta.backends.torch.pytorch_utils`, with the same names and the same
conventions (a pruned `dim` counts as in torch: 0 is the output features, 1 the inputs).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from ...core.generation_utils import check_cache_fits
from ...core.interpolation import bicubic_matrix, grid_side
from ...core.weights import find_pruneable_heads_and_indices  # noqa: F401  (re-exported for model files)


def get_initializer(initializer_range: float = 0.02) -> keras.initializers.Initializer:
    """The initialiser of Dense and Embedding weights: a truncated normal with stddev initializer_range."""
    return keras.initializers.TruncatedNormal(stddev=initializer_range)


def shape_list(tensor: tf.Tensor) -> list[int | tf.Tensor]:
    """The shape of `tensor`: Python ints where they are known statically, scalar tensors elsewhere."""
    dynamic = tf.shape(tensor)
    static = tensor.shape.as_list()
    return [dynamic[i] if dim is None else dim for i, dim in enumerate(static)]


def prune_dense_layer(layer: keras.layers.Dense, index: np.ndarray, dim: int = 0) -> keras.layers.Dense:
    """A new Dense keeping only `index` of its output features (dim=0) or its input features (dim=1)."""
    kernel = layer.kernel.numpy()  # [in, out]: torch's dim 0 is the kernel's axis 1
    kernel = np.take(kernel, index, axis=1 if dim == 0 else 0)
    new_layer = keras.layers.Dense(
        kernel.shape[1],
        use_bias=layer.use_bias,
        kernel_initializer=layer.kernel_initializer,
        bias_initializer=layer.bias_initializer,
        dtype=layer.dtype_policy,
        name=layer.name,
    )
    new_layer.build((None, kernel.shape[0]))
    new_layer.kernel.assign(kernel)
    if layer.use_bias:
        bias = layer.bias.numpy()
        new_layer.bias.assign(bias if dim == 1 else bias[index])
    new_layer.trainable = layer.trainable
    return new_layer


QUERY_BLOCK = 256


def query_blocked_attention(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor) -> tf.Tensor:
    """softmax(query @ key^T) @ value, [batch, heads, queries, head_dim], `QUERY_BLOCK` query rows at a time.

    Without a mask the rows are independent, so this is the plain attention, value for value. Why blocks: the
    scores [batch, heads, queries, keys] are materialised and passed over several times; for Whisper's 1500
    encoder positions that is 54 MB a layer, out of cache. One block's scores stay in cache: under XLA the
    encoder's attention runs about 2x faster on CPU. Needs the query length statically (else: unblocked).
    """
    length = query.shape[2]

    def attend(rows: tf.Tensor) -> tf.Tensor:
        return tf.matmul(tf.nn.softmax(tf.matmul(rows, key, transpose_b=True), axis=-1), value)

    if length is None or length <= QUERY_BLOCK:
        return attend(query)
    batch, heads, head_dim = tf.shape(query)[0], tf.shape(query)[1], tf.shape(query)[3]
    padded = tf.pad(query, [[0, 0], [0, 0], [0, -length % QUERY_BLOCK], [0, 0]])
    blocks = tf.transpose(tf.reshape(padded, (batch, heads, -1, QUERY_BLOCK, head_dim)), (2, 0, 1, 3, 4))
    context = tf.transpose(tf.map_fn(attend, blocks), (1, 2, 0, 3, 4))
    return tf.reshape(context, (batch, heads, -1, head_dim))[:, :, :length]


def update_cache(cache: tf.Tensor, new: tf.Tensor, offset: tf.Tensor | int) -> tf.Tensor:
    """`cache` [batch, heads, max_length, head_dim] with `new` [batch, heads, seq, head_dim] written at
    slots offset..offset+seq: the KV-cache write of every TF decoder, XLA's DynamicUpdateSlice as Flax's
    `lax.dynamic_update_slice` writes it. XLA updates it in place inside the generate loop; outside XLA,
    TensorFlow compiles the one op on demand.

    A scatter over meshgrid indices wrote the same values, but XLA compiled each of them into its own
    kernel: SmolLM2's generate (30 layers) kept about 40 MB more compiled state, and its b1 decode ran
    about 15% slower (a one-hot blend, before that, rewrote the whole cache at every step)."""
    known = not isinstance(offset, tf.Tensor) or tf.executing_eagerly()  # compiled loops pick slots that fit
    if known and None not in (new.shape[2], cache.shape[2]):
        check_cache_fits(int(np.reshape(offset, -1)[0]), new.shape[2], cache.shape[2])
    zero = tf.zeros((), tf.int32)
    start = tf.stack([zero, zero, tf.cast(offset, tf.int32), zero])
    return dynamic_update_slice(cache, tf.cast(new, cache.dtype), start)


def extended_attention_mask(attention_mask: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """[batch, seq] 1/0 mask -> additive [batch, 1, 1, seq] mask: 0 where attended, dtype-min where not."""
    mask = tf.cast(attention_mask[:, None, None, :], dtype)
    return (1.0 - mask) * dtype.min


def head_mask_per_layer(
    head_mask: tf.Tensor | None, num_layers: int, dtype: tf.DType
) -> list[tf.Tensor | None]:
    """Head mask of shape [heads] or [layers, heads] -> one [1, heads, 1, 1] mask per layer."""
    if head_mask is None:
        return [None] * num_layers
    head_mask = tf.cast(head_mask, dtype)
    if head_mask.shape.rank == 1:
        head_mask = tf.broadcast_to(head_mask[None, :], (num_layers, shape_list(head_mask)[0]))
    return [head_mask[i][None, :, None, None] for i in range(num_layers)]


def resize_patch_position_embeddings(positions: tf.Tensor, rows: int, columns: int) -> tf.Tensor:
    """[1, 1 + side * side, dim] position embeddings (a class position, then a square grid of patch positions)
    with the grid resized to rows x columns as torch's bicubic (`core.interpolation`)."""
    side, dim = grid_side(positions.shape[1] - 1), positions.shape[-1]
    grid = tf.reshape(positions[:, 1:], (side, side, dim))
    row_weights = tf.constant(bicubic_matrix(side, rows), dtype=positions.dtype)
    column_weights = tf.constant(bicubic_matrix(side, columns), dtype=positions.dtype)
    resized = tf.einsum("ai,bj,ijd->abd", row_weights, column_weights, grid)
    return tf.concat([positions[:, :1], tf.reshape(resized, (1, -1, dim))], axis=1)
