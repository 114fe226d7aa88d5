"""How the torch loops call the model: over the static KV cache (preallocated, written in place) or the
dynamic one (grown by concatenation); both follow the shared KV-cache contract."""

from __future__ import annotations

from typing import Any

import torch

from ....core.generation_utils import last_logits_kwargs
from ..cache import DynamicCache


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows: cumsum(mask) - 1, clipped at 0."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


IDLE_CACHE = "_idle_generation_cache"


def take_cache(model: Any, rows: int, max_length: int) -> Any:
    """The model's idle static cache, zeroed, when it has this shape, dtype and device; else a new one.

    A cache freed at the end of one `generate` is rarely given back to the OS (the allocator keeps
    blocks that size for reuse), so allocating a fresh one per call held two caches' worth of memory
    from the second call on. Reusing the last one keeps a steady decode at weights + one cache. The
    idle cache is taken off the model while a call runs, so two concurrent calls never share one.
    """
    cache = model.__dict__.pop(IDLE_CACHE, None)
    if cache is not None:
        first, weight = cache.key_cache[0], next(model.parameters(), None)
        fits = (
            cache.batch_size == rows
            and cache.max_length == max_length
            and weight is not None
            and (first.dtype, first.device) == (weight.dtype, weight.device)
        )
        if fits:
            cache.reset()
            return cache
        del cache, first  # free it before allocating its successor
    return model.init_cache(rows, max_length)


class CachedDecoder:
    """Prefill then one token per step over a static cache of `max_length` slots; shapes never change.

    With `compile=True` the one-token step goes through `torch.compile` (static shapes: the input is
    [rows, 1], the mask [rows, max_length], the cache written in place), so it is compiled once.
    """

    def __init__(self, model: Any, prompt_mask: torch.Tensor, max_length: int, compile: bool = False):
        rows, prompt_length = prompt_mask.shape
        self.model = model
        self.cache = take_cache(model, rows, max_length)
        self.mask = torch.zeros((rows, max_length), dtype=torch.long, device=prompt_mask.device)
        self.mask[:, :prompt_length] = prompt_mask
        self.extra = last_logits_kwargs(model.forward)
        self.step_fn = torch.compile(self._call, dynamic=False) if compile else self._call

    def _call(self, input_ids, mask, position_ids, cache_position):
        out = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position_ids,
            past_key_values=self.cache,
            cache_position=cache_position,
            return_dict=True,
            **self.extra,
        )
        return out.logits[:, -1, :]

    def prefill(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = positions_from_mask(self.mask[:, : input_ids.shape[1]])
        zero = torch.zeros((), dtype=torch.int32, device=input_ids.device)
        return self._call(input_ids, self.mask, positions, zero)

    def step(self, next_tokens: torch.Tensor, slot: int) -> torch.Tensor:
        """Logits after writing `next_tokens` [rows] at cache slot `slot`."""
        self.mask[:, slot] = 1
        positions = self.mask[:, : slot + 1].sum(-1, keepdim=True) - 1
        where = torch.tensor(slot, dtype=torch.int32, device=next_tokens.device)
        return self.step_fn(next_tokens[:, None], self.mask, positions, where)

    def reorder(self, rows: torch.Tensor) -> None:
        """Beam search: row i of the cache becomes row rows[i] (in place, addresses kept)."""
        for tensor in (*self.cache.key_cache, *self.cache.value_cache):
            tensor.copy_(tensor.index_select(0, rows))
        self.mask.copy_(self.mask.index_select(0, rows))

    def release(self) -> None:
        """Hand the cache back to the model for the next call (see `take_cache`)."""
        self.model.__dict__[IDLE_CACHE] = self.cache


class DynamicDecoder:
    """Prefill then one token per step over a `DynamicCache` that grows by concatenation (transformers'
    default cache): the mask and the keys span only the positions written so far."""

    def __init__(self, model: Any, prompt_mask: torch.Tensor, max_length: int, compile: bool = False):
        self.model = model
        self.cache = DynamicCache()
        self.mask = prompt_mask.long()
        self.extra = last_logits_kwargs(model.forward)

    def _call(self, input_ids: torch.Tensor, position_ids: torch.Tensor, slot: int) -> torch.Tensor:
        out = self.model(
            input_ids=input_ids,
            attention_mask=self.mask,
            position_ids=position_ids,
            past_key_values=self.cache,
            cache_position=torch.tensor(slot, dtype=torch.int32, device=input_ids.device),
            return_dict=True,
            **self.extra,
        )
        return out.logits[:, -1, :]

    def prefill(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self._call(input_ids, positions_from_mask(self.mask), 0)

    def step(self, next_tokens: torch.Tensor, slot: int) -> torch.Tensor:
        """Logits after appending `next_tokens` [rows] (the cache holds `slot` positions)."""
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        positions = self.mask.sum(-1, keepdim=True) - 1
        return self._call(next_tokens[:, None], positions, slot)

    def reorder(self, rows: torch.Tensor) -> None:
        """Beam search: row i of the cache becomes row rows[i]."""
        self.cache.reorder(rows)
        self.mask = self.mask.index_select(0, rows)

    def release(self) -> None:
        """Nothing is kept: a dynamic cache is sized by the call."""
