"""The losses of the task heads, with torch's semantics (`torch.nn.CrossEntropyLoss` and friends).

`sequence_classification_loss` picks its loss by the one neutral rule in `rosetta.core.problem_type`.
Every loss is a mean over the examples (or tokens) that count; labels equal to `ignore_index`
(-100 by default, as in torch) count for nothing. Nothing here changes shape with the data,
so the losses compile under XLA (`jit_compile=True`).
"""

from __future__ import annotations

import tensorflow as tf

from ...core.configuration import PretrainedConfig
from ...core.problem_type import REGRESSION, SINGLE_LABEL_CLASSIFICATION, problem_type

IGNORE_INDEX = -100


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor, ignore_index: int = IGNORE_INDEX) -> tf.Tensor:
    """Mean softmax cross entropy over the labels that are not `ignore_index` (NaN if all are, as torch)."""
    num_classes = logits.shape[-1]
    logits = tf.reshape(logits, (-1, num_classes))
    labels = tf.reshape(tf.cast(labels, tf.int32), (-1,))
    keep = tf.not_equal(labels, ignore_index)
    safe_labels = tf.where(keep, labels, tf.zeros_like(labels))
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=safe_labels, logits=tf.cast(logits, tf.float32)
    )
    weights = tf.cast(keep, tf.float32)
    return tf.cast(tf.reduce_sum(losses * weights) / tf.reduce_sum(weights), logits.dtype)


def mean_squared_error(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.square(predictions - tf.cast(targets, predictions.dtype)))


def binary_cross_entropy_with_logits(logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(targets, logits.dtype), logits=logits)
    )


def labels_are_integers(labels: tf.Tensor) -> bool:
    return labels.dtype.is_integer


def sequence_classification_loss(config: PretrainedConfig, logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Regression, single- or multi-label loss, chosen by `config.problem_type` (inferred once if unset)."""
    num_labels = config.num_labels
    kind = problem_type(config, num_labels, labels_are_integers(labels))
    if kind == REGRESSION:
        if num_labels == 1:
            return mean_squared_error(tf.squeeze(logits), tf.squeeze(labels))
        return mean_squared_error(logits, labels)
    if kind == SINGLE_LABEL_CLASSIFICATION:
        return cross_entropy(tf.reshape(logits, (-1, num_labels)), labels)
    return binary_cross_entropy_with_logits(logits, labels)


def question_answering_loss(
    start_logits: tf.Tensor, end_logits: tf.Tensor, start_positions: tf.Tensor, end_positions: tf.Tensor
) -> tf.Tensor:
    """Mean of the start and end cross entropies; positions outside the sequence are ignored."""
    ignored_index = tf.shape(start_logits)[1]
    start_positions = tf.clip_by_value(tf.cast(start_positions, tf.int32), 0, ignored_index)
    end_positions = tf.clip_by_value(tf.cast(end_positions, tf.int32), 0, ignored_index)
    start_loss = cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2
