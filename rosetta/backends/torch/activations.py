"""Activation functions by the names configs use."""

from __future__ import annotations

import math

import torch
from torch import nn


class GELUTanh(nn.Module):
    """GELU with the tanh approximation (`gelu_new` in GPT-2 and friends)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


ACT2CLS = {
    "gelu": nn.GELU,
    "gelu_new": GELUTanh,
    "gelu_pytorch_tanh": GELUTanh,
    "quick_gelu": QuickGELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def get_activation(name: str) -> nn.Module:
    from ...core.errors import ConfigError

    if name not in ACT2CLS:
        raise ConfigError(f"Unknown activation {name!r}; supported: {', '.join(ACT2CLS)}.")
    return ACT2CLS[name]()
