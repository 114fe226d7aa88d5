"""The key/value caches of torch causal LMs (the shared KV-cache contract).

`StaticCache`: per layer a key and a value tensor of shape [batch, num_key_value_heads, max_length,
head_dim], zeros at first, written IN PLACE at `cache_position` (`index_copy_`), so the tensors keep
their addresses across decode steps and `torch.compile` / CUDA graphs can capture the step.

`DynamicCache`: the same layout, but each layer's tensors hold only the positions written so far and
grow by concatenation (`torch.cat` along the position axis), as transformers' `DynamicCache` does; a
model call sees keys of length (positions written + new tokens), not `max_length`.

A model reads both through `update(layer_idx, key, value, cache_position)` (returns the keys and
values attention reads), `key_length(new_tokens)` (how many key positions that call attends over,
what its mask spans) and `check_fits(cache_position, new_tokens)`.
"""

from __future__ import annotations

import torch

from ...core.errors import InputError
from ...core.generation_utils import check_cache_fits
from .pytorch_utils import is_compiling


class StaticCache:
    """Keys and values of every layer, preallocated to `max_length` positions.

    Args:
        num_layers: Number of decoder layers (one key and one value tensor each).
        batch_size: Rows of the batch.
        num_key_value_heads: Key/value heads per layer.
        max_length: Positions the cache holds (prompt + new tokens).
        head_dim: Width of one head.
        dtype: The model's dtype.
        device: Where the tensors live.
    """

    def __init__(
        self,
        num_layers: int,
        batch_size: int,
        num_key_value_heads: int,
        max_length: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ):
        shape = (batch_size, num_key_value_heads, max_length, head_dim)
        self.key_cache = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(num_layers)]
        self.value_cache = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(num_layers)]

    @property
    def max_length(self) -> int:
        return self.key_cache[0].shape[2]

    @property
    def batch_size(self) -> int:
        return self.key_cache[0].shape[0]

    def __len__(self) -> int:
        return len(self.key_cache)

    def key_length(self, new_tokens: int) -> int:
        """Key positions a call writing `new_tokens` attends over: every slot of the cache."""
        return self.max_length

    def update(
        self, layer_idx: int, key: torch.Tensor, value: torch.Tensor, cache_position: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write `key`/`value` [batch, kv_heads, seq, head_dim] at slots cache_position.. and return the
        whole cache of that layer (all `max_length` slots)."""
        positions = cache_position.reshape(-1)[:1].to(torch.long) + torch.arange(
            key.shape[2], device=key.device
        )
        keys, values = self.key_cache[layer_idx], self.value_cache[layer_idx]
        keys.index_copy_(2, positions, key.to(keys.dtype))
        values.index_copy_(2, positions, value.to(values.dtype))
        return keys, values

    def reset(self) -> None:
        """Zero every slot (the tensors keep their addresses)."""
        for tensor in (*self.key_cache, *self.value_cache):
            tensor.zero_()

    def check_fits(self, cache_position: int, length: int) -> None:
        check_cache_fits(cache_position, length, self.max_length)


class DynamicCache:
    """Keys and values of every layer, grown by concatenation: [batch, kv_heads, positions so far, head_dim].

    Layers are created by their first `update`; every write must append at the end
    (`cache_position` == the positions already held), as a decode loop does.
    """

    def __init__(self) -> None:
        self.key_cache: list[torch.Tensor] = []
        self.value_cache: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.key_cache)

    @property
    def seen_tokens(self) -> int:
        """Positions held (those of layer 0; every layer holds the same after a full model call)."""
        return self.key_cache[0].shape[2] if self.key_cache else 0

    @property
    def batch_size(self) -> int | None:
        return self.key_cache[0].shape[0] if self.key_cache else None

    def key_length(self, new_tokens: int) -> int:
        """Key positions a call writing `new_tokens` attends over: those held plus the new ones."""
        return self.seen_tokens + new_tokens

    def update(
        self,
        layer_idx: int,
        key: torch.Tensor,
        value: torch.Tensor,
        cache_position: torch.Tensor | int | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append `key`/`value` [batch, kv_heads, seq, head_dim] to layer `layer_idx`; return all its positions."""
        if layer_idx == len(self.key_cache):
            self.key_cache.append(key)
            self.value_cache.append(value)
        elif layer_idx < len(self.key_cache):
            self.key_cache[layer_idx] = torch.cat(
                [self.key_cache[layer_idx], key.to(self.key_cache[layer_idx].dtype)], 2
            )
            self.value_cache[layer_idx] = torch.cat(
                [self.value_cache[layer_idx], value.to(self.value_cache[layer_idx].dtype)], 2
            )
        else:
            raise InputError(
                f"DynamicCache: layer {layer_idx} written before layer {len(self.key_cache)}; layers fill in order."
            )
        return self.key_cache[layer_idx], self.value_cache[layer_idx]

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i becomes row rows[i] (beam search)."""
        self.key_cache = [t.index_select(0, rows) for t in self.key_cache]
        self.value_cache = [t.index_select(0, rows) for t in self.value_cache]

    def reset(self) -> None:
        """Drop every position."""
        self.key_cache, self.value_cache = [], []

    def check_fits(self, cache_position: int, length: int) -> None:
        if cache_position != self.seen_tokens:
            raise InputError(
                f"A DynamicCache appends: it holds {self.seen_tokens} positions, so the next write goes at "
                f"cache_position {self.seen_tokens}, not {cache_position}. Use a StaticCache "
                "(model.init_cache) to write at arbitrary slots."
            )


def check_fits_on_host(
    cache: StaticCache | DynamicCache, cache_position: torch.Tensor | int | None, length: int
) -> None:
    """`cache.check_fits` wherever reading `cache_position` costs no device sync: an int, None (slot 0)
    or a CPU tensor. A slot held on an accelerator stays there unchecked, as under torch.compile: a
    sync at every decoding step would stall the device's queue."""
    if is_compiling():
        return
    if isinstance(cache_position, torch.Tensor):
        if cache_position.device.type != "cpu":
            return
        cache_position = int(cache_position.reshape(-1)[0])
    cache.check_fits(0 if cache_position is None else int(cache_position), length)
