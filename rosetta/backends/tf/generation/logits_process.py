"""Logits processors in TensorFlow: the names of `processor_plan`, transformers' arithmetic, fixed shapes.

Same signature as the torch and JAX ones: `(tokens, cur_len, scores, ctx, **params)` over the
[rows, max_length] token buffer, `cur_len` a tensor, so the loop compiles once under XLA.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

NEG_INF = float("-inf")


def _mark(ids: tf.Tensor, width: int) -> tf.Tensor:
    """[rows, width] booleans, True at every (row, ids[row, j])."""
    return tf.reduce_any(tf.one_hot(ids, width, on_value=True, off_value=False, dtype=tf.bool), axis=1)


def repetition_penalty(tokens, cur_len, scores, ctx, penalty: float):
    vocab = scores.shape[-1]
    positions = tf.range(tf.shape(tokens)[1])[None, :]
    ignored = (positions < ctx["pad_lengths"][:, None]) | (positions >= cur_len)
    seen = _mark(tf.minimum(tf.where(ignored, vocab, tokens), vocab), vocab + 1)
    penalised = tf.where(scores < 0, scores * penalty, scores / penalty)
    return tf.where(seen[:, :vocab], penalised, scores)


def no_repeat_ngram(tokens, cur_len, scores, ctx, size: int):
    vocab, total = scores.shape[-1], tokens.shape[1]
    count = total - size + 1
    windows = tf.stack([tokens[:, i : i + count] for i in range(size)], axis=-1)
    start = tf.maximum(cur_len + 1 - size, 0)
    prefix = tf.slice(tokens, [0, start], [-1, size - 1])
    valid = (tf.range(count) + size <= cur_len)[None, :]
    matches = tf.reduce_all(windows[..., :-1] == prefix[:, None, :], axis=-1) & valid & (cur_len >= size)
    banned = _mark(tf.where(matches, tf.minimum(windows[..., -1], vocab), vocab), vocab + 1)
    return tf.where(banned[:, :vocab], NEG_INF, scores)


def _ban_eos(scores, eos, condition):
    is_eos = tf.reduce_any(tf.range(scores.shape[-1])[:, None] == tf.constant(eos)[None, :], axis=-1)
    return tf.where(condition & is_eos[None, :], NEG_INF, scores)


def min_length(tokens, cur_len, scores, ctx, min_length: int, eos: list[int]):
    return _ban_eos(scores, eos, cur_len < min_length)


def min_new_tokens(tokens, cur_len, scores, ctx, min_new_tokens: int, eos: list[int]):
    return _ban_eos(scores, eos, cur_len - ctx["prompt_length"] < min_new_tokens)


def temperature(tokens, cur_len, scores, ctx, temperature: float):
    return scores / temperature


def top_k(tokens, cur_len, scores, ctx, top_k: int):
    k = min(top_k, scores.shape[-1])
    return tf.where(scores < tf.math.top_k(scores, k).values[..., -1:], NEG_INF, scores)


def top_p(tokens, cur_len, scores, ctx, top_p: float, min_tokens_to_keep: int):
    order = tf.argsort(scores, axis=-1, stable=True)
    sorted_logits = tf.gather(scores, order, batch_dims=1)
    cumulative = tf.cumsum(tf.nn.softmax(sorted_logits, axis=-1), axis=-1)
    vocab = scores.shape[-1]
    keep_tail = tf.range(vocab)[None, :] >= vocab - min_tokens_to_keep
    remove_sorted = (cumulative <= (1 - top_p)) & ~keep_tail
    inverse = tf.argsort(order, axis=-1, stable=True)
    return tf.where(tf.gather(remove_sorted, inverse, batch_dims=1), NEG_INF, scores)


def min_p(tokens, cur_len, scores, ctx, min_p: float, min_tokens_to_keep: int):
    probs = tf.nn.softmax(scores, axis=-1)
    remove = probs < min_p * tf.reduce_max(probs, axis=-1, keepdims=True)
    keep = tf.math.top_k(probs, min(min_tokens_to_keep, probs.shape[-1])).indices
    remove = remove & ~_mark(keep, scores.shape[-1])
    return tf.where(remove, NEG_INF, scores)


PROCESSORS: dict[str, Callable[..., tf.Tensor]] = {
    "repetition_penalty": repetition_penalty,
    "no_repeat_ngram": no_repeat_ngram,
    "min_length": min_length,
    "min_new_tokens": min_new_tokens,
    "temperature": temperature,
    "top_k": top_k,
    "top_p": top_p,
    "min_p": min_p,
}


def build_processor(plan: list[tuple[str, dict[str, Any]]], ctx: dict[str, Any]) -> Callable:
    """One function `(tokens, cur_len, scores) -> scores` applying `plan` in order (XLA-compilable)."""
    steps = [(PROCESSORS[name], params) for name, params in plan]

    def process(tokens, cur_len, scores):
        for fn, params in steps:
            scores = fn(tokens, cur_len, scores, ctx, **params)
        return scores

    return process
