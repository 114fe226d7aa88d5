"""Activation functions by the names configs use, computed as the torch backend computes them."""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

from ...core.errors import ConfigError


def gelu(x: tf.Tensor) -> tf.Tensor:
    """Exact GELU, x * Phi(x), with the error function (torch's nn.GELU())."""
    return 0.5 * x * (1.0 + tf.math.erf(x / tf.cast(math.sqrt(2.0), x.dtype)))


def gelu_new(x: tf.Tensor) -> tf.Tensor:
    """GELU with the tanh approximation (`gelu_new` in GPT-2 and friends)."""
    coeff = tf.cast(math.sqrt(2.0 / math.pi), x.dtype)
    return 0.5 * x * (1.0 + tf.tanh(coeff * (x + tf.cast(0.044715, x.dtype) * tf.pow(x, 3))))


def quick_gelu(x: tf.Tensor) -> tf.Tensor:
    return x * tf.sigmoid(tf.cast(1.702, x.dtype) * x)


ACT2FN: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "gelu": gelu,
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "quick_gelu": quick_gelu,
    "relu": tf.nn.relu,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
}


def get_tf_activation(name: str) -> Callable[[tf.Tensor], tf.Tensor]:
    if name not in ACT2FN:
        raise ConfigError(f"Unknown activation {name!r}; supported: {', '.join(ACT2FN)}.")
    return ACT2FN[name]
