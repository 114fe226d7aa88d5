"""`StaticCache`: the preallocated key/value cache of every torch causal LM (the shared KV-cache contract).

Per layer a key and a value tensor of shape [batch, num_key_value_heads, max_length, head_dim],
zeros at first, written IN PLACE at `cache_position` (`index_copy_`), so the tensors keep their
addresses across decode steps and `torch.compile` / CUDA graphs can capture the step.
"""

from __future__ import annotations

import torch

from ...core.errors import InputError


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
        if cache_position + length > self.max_length:
            raise InputError(
                f"Writing {length} positions at cache_position {cache_position} overruns the cache of "
                f"{self.max_length} slots; build it with init_cache(batch_size, max_length) large enough."
            )
