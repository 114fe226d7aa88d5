"""Weight arithmetic every backend shares, in numpy: head pruning indices, new embedding rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError


def find_pruneable_heads_and_indices(
    heads: list[int], n_heads: int, head_size: int, already_pruned_heads: set[int]
) -> tuple[set[int], np.ndarray]:
    """Heads still to prune (in original numbering) and the indices of the projection features to keep."""
    mask = np.ones((n_heads, head_size), dtype=bool)
    heads = set(heads) - already_pruned_heads
    for head in heads:
        head = head - sum(1 if h < head else 0 for h in already_pruned_heads)
        mask[head] = False
    return heads, np.flatnonzero(mask.reshape(-1))


def new_embedding_rows(
    weight: np.ndarray, count: int, mean_resizing: bool, initializer_range: float, rng: np.random.Generator
) -> np.ndarray:
    """Rows for `count` new tokens, in float64.

    With `mean_resizing`, drawn from N(mean, 1e-5 * covariance) of the old rows, so new tokens
    start where the model's existing vocabulary lives (the mean itself where the covariance is
    degenerate, as in tiny vocabularies); otherwise from N(0, initializer_range).
    """
    old = np.asarray(weight, dtype=np.float64)
    if not mean_resizing:
        return rng.standard_normal((count, old.shape[1])) * initializer_range
    mean = old.mean(axis=0)
    centered = old - mean
    covariance = centered.T @ centered / old.shape[0]
    try:
        lower = np.linalg.cholesky(1e-5 * covariance)
    except np.linalg.LinAlgError:
        return np.broadcast_to(mean, (count, old.shape[1])).copy()
    return mean + rng.standard_normal((count, old.shape[1])) @ lower.T


def resized_vocab_size(
    current: int, new_num_tokens: int | None, pad_to_multiple_of: int | None
) -> int | None:
    """The vocabulary size `resize_token_embeddings(new_num_tokens, pad_to_multiple_of)` asks for
    (None: nothing asked, keep the embeddings as they are)."""
    if new_num_tokens is None and pad_to_multiple_of is None:
        return None
    size = current if new_num_tokens is None else new_num_tokens
    if pad_to_multiple_of is not None:
        size = math.ceil(size / pad_to_multiple_of) * pad_to_multiple_of
    if size < 1:
        raise InputError(f"new_num_tokens must be positive, got {size}.")
    return size


def record_pruned_heads(config: Any, heads_to_prune: dict[int, list[int]]) -> None:
    """Add `heads_to_prune` to `config.pruned_heads` (a layer's heads in original numbering, sorted)."""
    for layer, heads in heads_to_prune.items():
        config.pruned_heads[int(layer)] = sorted(set(config.pruned_heads.get(int(layer), [])) | set(heads))
