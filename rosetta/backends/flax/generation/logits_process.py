"""Logits processors in JAX: the names of `processor_plan`, transformers' arithmetic, fixed shapes.

Each function takes `(tokens, cur_len, scores, ctx, **params)`: `tokens` is the [rows, max_length]
buffer whose first `cur_len` (a traced scalar) columns are written; nothing depends on `cur_len`
through Python control flow, so the whole decode compiles once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

NEG_INF = -jnp.inf


def _mark(rows: int, width: int, ids: jnp.ndarray) -> jnp.ndarray:
    """[rows, width] booleans, True at every (row, ids[row, j])."""
    return jnp.zeros((rows, width), bool).at[jnp.arange(rows)[:, None], ids].set(True)


def repetition_penalty(tokens, cur_len, scores, ctx, penalty: float):
    vocab = scores.shape[-1]
    positions = jnp.arange(tokens.shape[1])[None, :]
    ignored = (positions < ctx["pad_lengths"][:, None]) | (positions >= cur_len)
    seen = _mark(scores.shape[0], vocab + 1, jnp.minimum(jnp.where(ignored, vocab, tokens), vocab))
    penalised = jnp.where(scores < 0, scores * penalty, scores / penalty)
    return jnp.where(seen[:, :vocab], penalised, scores)


def no_repeat_ngram(tokens, cur_len, scores, ctx, size: int):
    vocab, total = scores.shape[-1], tokens.shape[1]
    count = total - size + 1
    windows = jnp.stack([tokens[:, i : i + count] for i in range(size)], axis=-1)  # [rows, count, size]
    start = jnp.maximum(cur_len + 1 - size, 0)
    prefix = jax.lax.dynamic_slice_in_dim(tokens, start, size - 1, axis=1)
    valid = (jnp.arange(count) + size <= cur_len)[None, :]
    matches = jnp.all(windows[..., :-1] == prefix[:, None, :], axis=-1) & valid & (cur_len >= size)
    banned = _mark(
        scores.shape[0], vocab + 1, jnp.where(matches, jnp.minimum(windows[..., -1], vocab), vocab)
    )
    return jnp.where(banned[:, :vocab], NEG_INF, scores)


def _ban_eos(scores, eos, condition):
    is_eos = jnp.isin(jnp.arange(scores.shape[-1]), jnp.asarray(eos))
    return jnp.where(condition & is_eos[None, :], NEG_INF, scores)


def min_length(tokens, cur_len, scores, ctx, min_length: int, eos: list[int]):
    return _ban_eos(scores, eos, cur_len < min_length)


def min_new_tokens(tokens, cur_len, scores, ctx, min_new_tokens: int, eos: list[int]):
    return _ban_eos(scores, eos, cur_len - ctx["prompt_length"] < min_new_tokens)


def temperature(tokens, cur_len, scores, ctx, temperature: float):
    return scores / temperature


def top_k(tokens, cur_len, scores, ctx, top_k: int):
    k = min(top_k, scores.shape[-1])
    return jnp.where(scores < jax.lax.top_k(scores, k)[0][..., -1:], NEG_INF, scores)


def top_p(tokens, cur_len, scores, ctx, top_p: float, min_tokens_to_keep: int):
    order = jnp.argsort(scores, axis=-1)
    sorted_logits = jnp.take_along_axis(scores, order, axis=-1)
    cumulative = jnp.cumsum(jax.nn.softmax(sorted_logits, axis=-1), axis=-1)
    remove_sorted = cumulative <= (1 - top_p)
    remove_sorted = remove_sorted.at[..., -min_tokens_to_keep:].set(False)
    rows = jnp.arange(scores.shape[0])[:, None]
    remove = jnp.zeros_like(remove_sorted).at[rows, order].set(remove_sorted)
    return jnp.where(remove, NEG_INF, scores)


def min_p(tokens, cur_len, scores, ctx, min_p: float, min_tokens_to_keep: int):
    probs = jax.nn.softmax(scores, axis=-1)
    remove = probs < min_p * probs.max(axis=-1, keepdims=True)
    keep = jax.lax.top_k(probs, min(min_tokens_to_keep, probs.shape[-1]))[1]
    remove = remove & ~_mark(scores.shape[0], scores.shape[-1], keep)
    return jnp.where(remove, NEG_INF, scores)


PROCESSORS: dict[str, Callable[..., jnp.ndarray]] = {
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
    """One function `(tokens, cur_len, scores) -> scores` applying `plan` in order (traceable)."""
    steps = [(PROCESSORS[name], params) for name, params in plan]

    def process(tokens, cur_len, scores):
        for fn, params in steps:
            scores = fn(tokens, cur_len, scores, ctx, **params)
        return scores

    return process
