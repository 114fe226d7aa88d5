"""PyTorch's bicubic resize (align_corners=False, A = -0.75) as two numpy matrices, for TF and Flax.

Vision models resize their grid of patch position embeddings (`interpolate_pos_encoding`) the way
`torch.nn.functional.interpolate(..., mode="bicubic")` does; TensorFlow's and JAX's own cubic resizes use
another kernel (A = -0.5), so they would not give the torch numbers. The resize is separable:
out = Wh @ grid @ Ww.T, per channel.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

_A = -0.75  # torch's cubic convolution coefficient


def _cubic_weights(t: float) -> tuple[float, float, float, float]:
    """Weights of the taps at floor(x) - 1 .. floor(x) + 2 for a source position x = floor(x) + t."""

    def near(x: float) -> float:  # |x| <= 1
        return ((_A + 2) * x - (_A + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A

    return far(t + 1), near(t), near(1 - t), far(2 - t)


@cache
def bicubic_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out_size, in_size] float32: row i holds the weights of the input samples output i reads."""
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    scale = in_size / out_size
    for i in range(out_size):
        source = (i + 0.5) * scale - 0.5
        start = math.floor(source)
        for offset, weight in enumerate(_cubic_weights(source - start)):
            matrix[i, min(max(start - 1 + offset, 0), in_size - 1)] += weight
    matrix.setflags(write=False)
    return matrix.astype(np.float32)


def grid_side(num_positions: int) -> int:
    """The side of the square grid of `num_positions` patch positions."""
    return math.isqrt(num_positions)
