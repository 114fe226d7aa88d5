"""Llama's rotary frequencies, framework-free (numpy): computed once, used by the torch, TF and Flax files.

`inverse_frequencies` gives the per-pair frequencies for rope_scaling `default`, `linear` and
`llama3` (and `dynamic` at its original length). `dynamic` NTK scaling grows the base with the
sequence length at call time; `dynamic_base_exponent` gives the constants each framework's
in-graph formula needs: base' = base * (factor * L / max_pos - (factor - 1)) ** (dim / (dim - 2)),
with L = max(max(position_ids) + 1, max_pos), so at or below max_pos it is the plain base.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def rope_type(config: Any) -> str:
    scaling = getattr(config, "rope_scaling", None) or {}
    return scaling.get("rope_type", "default")


def exponents(config: Any) -> np.ndarray:
    """arange(0, dim, 2) / dim in float32, dim = head_dim (the exponent of the base for each pair)."""
    dim = config.head_dim
    return (np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / np.float32(dim)).astype(np.float32)


def inverse_frequencies(
    config: Any, power: Callable[[float, np.ndarray], np.ndarray] | None = None
) -> np.ndarray:
    """[head_dim // 2] float32: 1 / rope_theta ** (2i / dim), scaled as rope_scaling says.

    `power(base, exponents)` is base ** exponents in float32, numpy's unless given. The torch models pass
    torch's, as transformers' torch models compute it: float32 pow is not correctly rounded, numpy's (SVML's on
    AVX-512 CPUs) and torch's differ by an ulp in a few entries, and over SmolLM2's 30 layers that moved its
    logits 1.2e-4 from transformers'; with torch's they are bit-equal."""
    base = float(config.rope_theta)
    powers = np.float32(base) ** exponents(config) if power is None else power(base, exponents(config))
    inv_freq = (1.0 / powers).astype(np.float32)
    kind = rope_type(config)
    if kind == "linear":
        return (inv_freq / np.float32(config.rope_scaling["factor"])).astype(np.float32)
    if kind == "llama3":
        return _llama3(inv_freq, config.rope_scaling)
    return inv_freq


def _llama3(inv_freq: np.ndarray, scaling: dict[str, Any]) -> np.ndarray:
    factor = scaling["factor"]
    low_freq_factor = scaling["low_freq_factor"]
    high_freq_factor = scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = (2 * math.pi / inv_freq).astype(np.float32)
    scaled = np.where(wavelen > low_freq_wavelen, inv_freq / np.float32(factor), inv_freq).astype(np.float32)
    smooth = ((old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)).astype(
        np.float32
    )
    smoothed = ((1 - smooth) * scaled / np.float32(factor) + smooth * scaled).astype(np.float32)
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return np.where(medium, smoothed, scaled).astype(np.float32)


def dynamic_scaling(config: Any) -> tuple[float, float, int] | None:
    """(factor, dim / (dim - 2), max_position_embeddings) for `dynamic` rope_scaling, else None."""
    if rope_type(config) != "dynamic":
        return None
    dim = config.head_dim
    return float(config.rope_scaling["factor"]), dim / (dim - 2), int(config.max_position_embeddings)
