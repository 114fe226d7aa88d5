"""Losses with torch's semantics, so a Flax model gives the loss its torch twin gives.

`cross_entropy` is `torch.nn.CrossEntropyLoss()` (mean over targets, `ignore_index` left out
of both sum and count, NaN when every target is ignored), `mse` is `MSELoss()`,
`binary_cross_entropy_with_logits` is `BCEWithLogitsLoss()`; `sequence_classification_loss` picks
among them by the one neutral rule in `rosetta.core.problem_type`. Losses are computed in at least
float32 and returned in the logits' dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...core.configuration import PretrainedConfig
from ...core.problem_type import REGRESSION, SINGLE_LABEL_CLASSIFICATION, problem_type

IGNORE_INDEX = -100


def _upcast(x: jax.Array) -> jax.Array:
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def cross_entropy(logits: jax.Array, labels: jax.Array, ignore_index: int = IGNORE_INDEX) -> jax.Array:
    """Mean negative log-likelihood of `labels` [...] under `logits` [..., C], skipping `ignore_index`."""
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    log_probs = jax.nn.log_softmax(_upcast(logits), axis=-1)
    valid = labels != ignore_index
    safe_labels = jnp.where(valid, labels, 0).astype(jnp.int32)
    nll = -jnp.take_along_axis(log_probs, safe_labels[..., None], axis=-1)[..., 0]
    loss = jnp.sum(jnp.where(valid, nll, 0.0)) / jnp.sum(valid)
    return loss.astype(logits.dtype)


def mse(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.mean((_upcast(predictions) - _upcast(targets)) ** 2).astype(predictions.dtype)


def binary_cross_entropy_with_logits(logits: jax.Array, targets: jax.Array) -> jax.Array:
    x, y = _upcast(logits), _upcast(targets)
    loss = jnp.maximum(x, 0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x)))
    return jnp.mean(loss).astype(logits.dtype)


def labels_are_integers(labels: jax.Array) -> bool:
    return bool(jnp.issubdtype(labels.dtype, jnp.integer))


def sequence_classification_loss(config: PretrainedConfig, logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Regression, single- or multi-label loss, chosen by `config.problem_type` (inferred once if unset)."""
    num_labels = config.num_labels
    kind = problem_type(config, num_labels, labels_are_integers(labels))
    if kind == REGRESSION:
        if num_labels == 1:
            return mse(logits.squeeze(), labels.squeeze().astype(logits.dtype))
        return mse(logits, labels)
    if kind == SINGLE_LABEL_CLASSIFICATION:
        return cross_entropy(logits.reshape(-1, num_labels), labels)
    return binary_cross_entropy_with_logits(logits, labels.astype(logits.dtype))


def question_answering_loss(
    start_logits: jax.Array, end_logits: jax.Array, start_positions: jax.Array, end_positions: jax.Array
) -> jax.Array:
    """Mean of the start and end cross entropies; positions outside the sequence are clamped and ignored."""
    ignored_index = start_logits.shape[1]
    start_positions = jnp.clip(start_positions, 0, ignored_index)
    end_positions = jnp.clip(end_positions, 0, ignored_index)
    start_loss = cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2
