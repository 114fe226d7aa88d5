"""Small torch helpers shared by models: the decoders' Linear, head pruning, attention masks, device placement."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import nn

from ...core import weights
from ...core.errors import InputError

FEW_ROWS = 8  # rows up to which a decoding step's linears take oneDNN's kernel (batch 8 of one new token)


@functools.cache
def onednn_linear() -> Callable | None:
    """oneDNN's fp32 linear on a plain (unpacked) weight, where this torch has it and it agrees with F.linear.

    It is the kernel torch.compile's CPU backend calls. On a few rows it streams the weight at close to memory
    bandwidth, where F.linear's MKL path reaches half that: on this machine, a SmolLM2 decoding step's
    linears at 1 row 47 -> 33 ms, its LM head 11.7 -> 5.5 ms (benchmarks/bench_generate.py)."""
    op = (
        getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
    )
    if op is None:
        return None
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (torch.randn(*shape, generator=generator) for shape in ((3, 16), (5, 16), (5,)))
    try:
        agrees = torch.allclose(
            op(x, weight, bias, "none", [], ""), nn.functional.linear(x, weight, bias), atol=1e-5
        )
    except RuntimeError:
        return None
    return op if agrees else None


def is_compiling() -> bool:
    """Whether torch.compile is tracing this call (`torch.compiler.is_compiling` exists from torch 2.3)."""
    check = getattr(torch.compiler, "is_compiling", None)
    return bool(check and check())


class Linear(nn.Linear):
    """`nn.Linear` (the same parameters, init and state dict) that runs inference on a few rows of fp32 CPU
    input, a decoding step, through oneDNN's linear (`onednn_linear`); everything else is `F.linear`.

    Only a decoding step: oneDNN is faster at every size measured here (1.02-2x from 16 to 6304 rows), but it
    accumulates in another order, and over SmolLM2's 30 layers a prompt's logits moved up to 1.2e-4 from
    transformers'. On a step's few rows it pays most (1.4-3.7x), and the benchmarks' greedy tokens stayed
    transformers'."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if (
            input.numel() <= FEW_ROWS * self.in_features
            and input.dtype == torch.float32
            and input.device.type == "cpu"
            and self.weight.dtype == torch.float32
            and not torch.is_grad_enabled()
            and not is_compiling()  # torch.compile picks its own kernels
            and self.weight.is_contiguous()
            and type(input) is torch.Tensor  # not a DTensor or another subclass: those dispatch F.linear
            and type(self.weight) in (nn.Parameter, torch.Tensor)
        ):
            op = onednn_linear()
            if op is not None:
                return op(input, self.weight, self.bias, "none", [], "")
        return nn.functional.linear(input, self.weight, self.bias)


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
    new_layer = nn.Linear(
        new_size[1], new_size[0], bias=bias is not None, device=layer.weight.device, dtype=layer.weight.dtype
    )
    new_layer.weight = nn.Parameter(weight, requires_grad=layer.weight.requires_grad)
    if bias is not None:
        new_layer.bias = nn.Parameter(bias, requires_grad=layer.bias.requires_grad)
    return new_layer


def extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, seq] 1/0 mask -> additive [batch, 1, 1, seq] mask: 0 where attended, dtype-min where not."""
    mask = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - mask) * torch.finfo(dtype).min


def head_mask_per_layer(
    head_mask: torch.Tensor | None, num_layers: int, dtype: torch.dtype
) -> list[torch.Tensor | None]:
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


def _device(value: object, what: str) -> torch.device:
    try:
        device = torch.device(value) if not isinstance(value, int) else torch.device("cuda", value)
    except (RuntimeError, TypeError) as err:
        raise InputError(
            f"{what}: {value!r} is not a torch device (use 'cpu', 'cuda:0', an int or 'auto')."
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"{what}: {value!r} asks for CUDA, which is not available here. Use 'cpu' or 'auto'."
        )
    if device.type not in ("cpu", "cuda", "mps", "xpu"):
        raise InputError(f"{what}: rosetta places weights on cpu or an accelerator, not on {device.type!r}.")
    return device


def auto_device() -> torch.device:
    """'auto': the first accelerator if there is one, else the CPU (the whole model on one device)."""
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    return torch.device("cpu")


def place_on_devices(model: nn.Module, device_map: object) -> None:
    """Honour `device_map` as the field writes it: a device ('cpu', 'cuda:1', 0, torch.device), 'auto',
    or a dict module name -> device ('' for the whole model). With several devices, each placed module
    moves its inputs to its own device (a forward pre-hook), so the forward runs across them."""
    if isinstance(device_map, str) and device_map == "auto":
        model.to(auto_device())
        return
    if not isinstance(device_map, dict):
        model.to(_device(device_map, "device_map"))
        return
    modules = dict(model.named_modules())
    unknown = [name for name in device_map if name not in modules]
    if unknown:
        raise InputError(f"device_map names modules {type(model).__name__} does not have: {unknown}.")
    uncovered = [
        name
        for name, _ in model.named_parameters()
        if not any(key == "" or name == key or name.startswith(key + ".") for key in device_map)
    ]
    if uncovered:
        raise InputError(
            f"device_map leaves these weights without a device: {uncovered[:5]}{' ...' if len(uncovered) > 5 else ''}."
        )
    for name in sorted(device_map, key=len):  # outer modules first, inner ones override
        device = (
            auto_device()
            if device_map[name] == "auto"
            else _device(device_map[name], f"device_map[{name!r}]")
        )
        modules[name].to(device)
        if len({str(v) for v in device_map.values()}) > 1:
            modules[name].register_forward_pre_hook(_inputs_to(device), with_kwargs=True)


def _inputs_to(device: torch.device):
    def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        move = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
        return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}

    return hook


def resize_patch_position_embeddings(
    position_embeddings: torch.Tensor, rows: int, columns: int
) -> torch.Tensor:
    """[1, 1 + side * side, dim] position embeddings (a class position, then a square grid of patch positions)
    with the grid resized to rows x columns, bicubic as transformers' `interpolate_pos_encoding` does."""
    class_position, patch_positions = position_embeddings[:, :1], position_embeddings[:, 1:]
    dim = position_embeddings.shape[-1]
    side = math.isqrt(patch_positions.shape[1])
    grid = patch_positions.reshape(1, side, side, dim).permute(0, 3, 1, 2)
    grid = nn.functional.interpolate(grid, size=(rows, columns), mode="bicubic", align_corners=False)
    return torch.cat((class_position, grid.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)
