"""Small torch helpers shared by models: head pruning and attention masks."""

from __future__ import annotations

import torch
from torch import nn

from ...core import weights


def find_pruneable_heads_and_indices(
    heads: list[int], n_heads: int, head_size: int, already_pruned_heads: set[int]
) -> tuple[set[int], torch.LongTensor]:
    """Heads still to prune and the indices of the rows to keep (`rosetta.core.weights`, as a torch tensor)."""
    heads, index = weights.find_pruneable_heads_and_indices(heads, n_heads, head_size, already_pruned_heads)
    return heads, torch.from_numpy(index).long()


def prune_linear_layer(layer: nn.Linear, index: torch.LongTensor, dim: int = 0) -> nn.Linear:
    """A new Linear keeping only `index` along `dim` of its weight (out=0, in=1)."""
    index = index.to(layer.weight.device)
    weight = layer.weight.index_select(dim, index).detach().clone()
    bias = None
    if layer.bias is not None:
        bias = layer.bias.detach().clone() if dim == 1 else layer.bias[index].detach().clone()
    new_size = list(layer.weight.size())
    new_size[dim] = len(index)
    new_layer = nn.Linear(new_size[1], new_size[0], bias=bias is not None, device=layer.weight.device, dtype=layer.weight.dtype)
    new_layer.weight = nn.Parameter(weight, requires_grad=layer.weight.requires_grad)
    if bias is not None:
        new_layer.bias = nn.Parameter(bias, requires_grad=layer.bias.requires_grad)
    return new_layer


def extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, seq] 1/0 mask -> additive [batch, 1, 1, seq] mask: 0 where attended, dtype-min where not."""
    mask = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - mask) * torch.finfo(dtype).min


def head_mask_per_layer(head_mask: torch.Tensor | None, num_layers: int, dtype: torch.dtype) -> list[torch.Tensor | None]:
    """Head mask of shape [heads] or [layers, heads] -> one [1, heads, 1, 1] mask per layer."""
    if head_mask is None:
        return [None] * num_layers
    if head_mask.dim() == 1:
        head_mask = head_mask.unsqueeze(0).expand(num_layers, -1)
    return [m[None, :, None, None].to(dtype) for m in head_mask]


def sdpa_attention_mask(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """The cheapest mask `scaled_dot_product_attention` can take for a [batch, seq] 1/0 mask.

    None when every position is attended (SDPA then picks its fastest kernel), a boolean
    [batch, 1, 1, seq] mask otherwise; the additive mask only when a whole row is masked,
    where a boolean mask would give NaN and the additive one the uniform distribution eager gives.
    """
    if attention_mask is None or bool(attention_mask.all()):
        return None
    if not bool(attention_mask.any(dim=-1).all()):
        return extended_attention_mask(attention_mask, dtype)
    return attention_mask[:, None, None, :].bool()
