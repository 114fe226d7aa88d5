"""Small torch helpers shared by models: the decoders' Linear, head pruning, attention masks, device placement."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ...core import weights
from ...core.errors import InputError

FEW_ROWS = 8  # rows up to which a decoding step's linears may take oneDNN's kernel (batch 8 of one new token)
PROBE_MIN_BYTES = 1 << 20  # smaller weights stay on F.linear: oneDNN's ~15 us a call cannot pay off on them
PROBE_WORKING_SET = 64 << 20  # bytes a timed pass streams: more than a core's caches, as a decoding step
ONEDNN_MARGIN = 0.9  # oneDNN is taken where it needs at most this share of F.linear's time


@functools.cache
def onednn_linear() -> Callable | None:
    """oneDNN's fp32 linear on a plain (unpacked) weight, where this torch has it and it agrees with F.linear.

    It is the kernel torch.compile's CPU backend calls."""
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


_ONEDNN_IS_FASTER: dict[tuple[int, int, int, int, bool], bool] = {}


def onednn_is_faster(weight: torch.Tensor, rows: int, in_out: bool = False) -> bool:
    """Whether oneDNN's linear runs `rows` rows through this fp32 CPU `weight` in at most `ONEDNN_MARGIN` of
    the time of its layout's own kernel (F.linear for a weight stored [out, in]; addmm for one stored
    [in, out], `in_out`, as GPT-2's Conv1D) on this machine, timed once per shape, layout, row count and
    thread count in a process.

    Which kernel wins depends on the CPU, so it is measured rather than assumed. On one machine here F.linear's
    MKL path streamed SmolLM2's decoding weights at 11 GB/s and oneDNN at 16 GB/s; on another, MKL streams them
    at 24 GB/s, oneDNN's fixed ~15 us a call loses on every matrix of a layer, and only the LM head (113 MB)
    runs faster through oneDNN (2.3 vs 3.0 ms); on an AMD EPYC, MKL's addmm streams GPT-2's [in, out] weights
    at 8 GB/s for 8 rows, oneDNN at 14-19. Within the margin transformers' kernel is kept."""
    if weight.numel() * weight.element_size() < PROBE_MIN_BYTES:
        return False
    key = (*weight.shape, rows, torch.get_num_threads(), in_out)
    if key not in _ONEDNN_IS_FASTER:
        own_seconds, onednn_seconds = probe_seconds(weight, rows, in_out)
        _ONEDNN_IS_FASTER[key] = onednn_seconds <= ONEDNN_MARGIN * own_seconds
    return _ONEDNN_IS_FASTER[key]


def probe_seconds(
    weight: torch.Tensor, rows: int, in_out: bool = False, rounds: int = 3
) -> tuple[float, float]:
    """The best of `rounds` alternating timings of the layout's own kernel and of oneDNN's linear over copies
    of `weight` that add up to `PROBE_WORKING_SET`, so that the weights stream from memory as a decoding
    step's do."""
    copies = max(1, math.ceil(PROBE_WORKING_SET / (weight.numel() * weight.element_size())))
    # One block for the copies: malloc maps an allocation this large on its own and unmaps it when freed,
    # where many weight-sized ones would stay in its heap (SmolLM2's steady peak RSS went 1.09x -> 1.18x).
    block = torch.empty((copies - 1, *weight.shape), dtype=weight.dtype)
    block.copy_(weight)
    weights = [weight, *block.unbind(0)]
    x = torch.randn(rows, weight.shape[0 if in_out else 1], dtype=weight.dtype)
    op = onednn_linear()
    own = torch.mm if in_out else nn.functional.linear
    kernels = (own, lambda x, w: op(x, w.t() if in_out else w, None, "none", [], ""))
    best = [math.inf, math.inf]
    with torch.no_grad():
        for _ in range(rounds):
            for index, kernel in enumerate(kernels):
                start = time.perf_counter()
                for w in weights:
                    kernel(x, w)
                best[index] = min(best[index], time.perf_counter() - start)
    return best[0], best[1]


def float32_power(base: float, exponents: np.ndarray) -> np.ndarray:
    """base ** exponents with torch's float32 pow, the one transformers' torch models use (for RoPE)."""
    return (base ** torch.from_numpy(exponents)).numpy()


def is_compiling() -> bool:
    """Whether torch.compile is tracing this call (`torch.compiler.is_compiling` exists from torch 2.3)."""
    check = getattr(torch.compiler, "is_compiling", None)
    return bool(check and check())


def decoding_linear(
    input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, in_out: bool = False
) -> torch.Tensor:
    """input @ W.T + b for a weight stored [out, in] (nn.Linear), input @ W + b for one stored [in, out]
    (`in_out`, GPT-2's Conv1D). A decoding step's few rows of fp32 CPU input go through oneDNN's linear
    (`onednn_linear`) where that is the faster kernel for this weight on this machine (`onednn_is_faster`);
    everything else through the layout's own kernel, F.linear or addmm, as transformers computes it.

    Only a decoding step: oneDNN accumulates in another order, and over SmolLM2's 30 layers a prompt's logits
    moved up to 1.2e-4 from transformers'. On a step's few rows it can pay most, and the benchmarks' greedy
    tokens stayed transformers'."""
    in_features = weight.shape[0 if in_out else 1]
    if (
        not torch.is_grad_enabled()
        and input.numel() <= FEW_ROWS * in_features
        and input.dtype == torch.float32 == weight.dtype
        and input.is_cpu
        and type(input) is torch.Tensor  # not a DTensor or another subclass: those dispatch F.linear
        and type(weight) in (nn.Parameter, torch.Tensor)
        and weight.is_contiguous()
        and not is_compiling()  # torch.compile picks its own kernels
    ):
        op = onednn_linear()
        if op is not None and onednn_is_faster(weight, input.numel() // in_features, in_out):
            return op(input, weight.t() if in_out else weight, bias, "none", [], "")
    if not in_out:
        return nn.functional.linear(input, weight, bias)
    rows = input.reshape(-1, in_features)
    out = rows @ weight if bias is None else torch.addmm(bias, rows, weight)
    return out.view(*input.shape[:-1], weight.shape[1])


class Linear(nn.Linear):
    """`nn.Linear` (the same parameters, init and state dict) whose inference on a decoding step's few rows
    takes the faster kernel on this machine (`decoding_linear`)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return decoding_linear(input, self.weight, self.bias)


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
