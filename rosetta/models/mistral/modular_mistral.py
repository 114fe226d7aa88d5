"""Mistral, written as what differs from Llama; `rosetta modular` generates the model files from it.

The one difference: sliding-window attention. A query at absolute slot p sees the keys in
(p - sliding_window, p], in the full forward and in the cached call alike (the window is applied
to the additive mask each attention layer receives, so every generate loop gets it for free).
Everything else is Llama's, renamed.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import tensorflow as tf
import torch

from ..llama.configuration_llama import LlamaConfig
from ..llama.modeling_flax_llama import (
    FlaxLlamaAttention,
    FlaxLlamaForCausalLM,
    FlaxLlamaForSequenceClassification,
    FlaxLlamaModel,
    FlaxLlamaPreTrainedModel,
)
from ..llama.modeling_llama import (
    LlamaAttention,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    LlamaModel,
    LlamaPreTrainedModel,
)
from ..llama.modeling_tf_llama import (
    TFLlamaAttention,
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
)

# Spelled out here: renaming Llama's tuple would turn the rope type "llama3" into "mistral3".
ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


class MistralConfig(LlamaConfig):
    """Configuration of a Mistral model; the defaults give Mistral-7B's shape.

    Args:
        rope_scaling: None, or {"rope_type": "linear" | "dynamic" | "llama3", "factor": ..., ...}.
        sliding_window: How many keys (the query's own included) each query attends to; None: all before it.
    """

    model_type = "mistral"

    def __init__(
        self,
        intermediate_size: int = 14336,
        num_key_value_heads: int | None = 8,
        max_position_embeddings: int = 4096 * 32,
        sliding_window: int | None = 4096,
        **kwargs: Any,
    ):
        super().__init__(
            intermediate_size=intermediate_size,
            num_key_value_heads=num_key_value_heads,
            max_position_embeddings=max_position_embeddings,
            **kwargs,
        )
        self.sliding_window = sliding_window


class MistralAttention(LlamaAttention):
    """Grouped-query attention with rotary positions over a sliding window of keys."""

    def __init__(self, config: MistralConfig, layer_idx: int):
        super().__init__(config, layer_idx)
        self.sliding_window = config.sliding_window

    def window_mask(self, attention_mask: torch.Tensor, query_positions: torch.Tensor) -> torch.Tensor:
        """The additive mask with the keys at or before p - sliding_window hidden from the query at slot p."""
        key_positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
        outside = key_positions[None, :] <= query_positions[:, None] - self.sliding_window
        return attention_mask.masked_fill(outside[None, None], torch.finfo(attention_mask.dtype).min)

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos_sin: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor,
        past_key_values=None,
        cache_position: torch.Tensor | None = None,
        output_attentions: bool = False,
    ):
        if self.sliding_window is not None:
            if cache_position is None:
                cache_position = torch.arange(hidden_states.shape[1], device=hidden_states.device)
            attention_mask = self.window_mask(attention_mask, cache_position)
        return super().forward(
            hidden_states, cos_sin, attention_mask, past_key_values, cache_position, output_attentions
        )


class MistralPreTrainedModel(LlamaPreTrainedModel):
    pass


class MistralModel(LlamaModel):
    pass


class MistralForCausalLM(LlamaForCausalLM):
    pass


class MistralForSequenceClassification(LlamaForSequenceClassification):
    pass


class TFMistralAttention(TFLlamaAttention):
    """Grouped-query attention with rotary positions over a sliding window of keys."""

    def __init__(self, config: MistralConfig, layer_idx: int, **kwargs):
        super().__init__(config, layer_idx, **kwargs)
        self.sliding_window = config.sliding_window

    def window_mask(self, attention_mask: tf.Tensor, query_positions: tf.Tensor) -> tf.Tensor:
        """The additive mask with the keys at or before p - sliding_window hidden from the query at slot p."""
        key_positions = tf.range(tf.shape(attention_mask)[-1], dtype=query_positions.dtype)
        outside = key_positions[None, :] <= query_positions[:, None] - self.sliding_window
        hidden = tf.constant(attention_mask.dtype.min, attention_mask.dtype)
        return tf.where(outside[None, None], hidden, attention_mask)

    def call(
        self,
        hidden_states: tf.Tensor,
        cos_sin: tuple[tf.Tensor, tf.Tensor],
        attention_mask: tf.Tensor,
        layer_cache=None,
        query_positions: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ):
        if self.sliding_window is not None:
            if query_positions is None:
                query_positions = tf.range(tf.shape(hidden_states)[1], dtype=tf.int32)
            attention_mask = self.window_mask(attention_mask, query_positions)
        return super().call(
            hidden_states,
            cos_sin,
            attention_mask,
            layer_cache,
            query_positions,
            output_attentions=output_attentions,
            training=training,
        )


class TFMistralPreTrainedModel(TFLlamaPreTrainedModel):
    pass


class TFMistralModel(TFLlamaModel):
    pass


class TFMistralForCausalLM(TFLlamaForCausalLM):
    pass


class TFMistralForSequenceClassification(TFLlamaForSequenceClassification):
    pass


class FlaxMistralAttention(FlaxLlamaAttention):
    """Grouped-query attention with rotary positions over a sliding window of keys."""

    def window_mask(self, attention_mask: jnp.ndarray, query_positions: jnp.ndarray) -> jnp.ndarray:
        """The additive mask with the keys at or before p - sliding_window hidden from the query at slot p."""
        key_positions = jnp.arange(attention_mask.shape[-1], dtype=query_positions.dtype)
        outside = key_positions[None, :] <= query_positions[:, None] - self.config.sliding_window
        return jnp.where(outside[None, None], jnp.finfo(attention_mask.dtype).min, attention_mask)

    def __call__(
        self,
        hidden_states: jnp.ndarray,
        cos_sin: tuple[jnp.ndarray, jnp.ndarray],
        attention_mask: jnp.ndarray,
        layer_cache=None,
        start: jnp.ndarray | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ):
        if self.config.sliding_window is not None:
            first = jnp.zeros((), jnp.int32) if start is None else jnp.asarray(start, jnp.int32)
            query_positions = first + jnp.arange(hidden_states.shape[1], dtype=jnp.int32)
            attention_mask = self.window_mask(attention_mask, query_positions)
        return super().__call__(
            hidden_states,
            cos_sin,
            attention_mask,
            layer_cache,
            start,
            output_attentions,
            deterministic=deterministic,
        )


class FlaxMistralPreTrainedModel(FlaxLlamaPreTrainedModel):
    pass


class FlaxMistralModel(FlaxLlamaModel):
    pass


class FlaxMistralForCausalLM(FlaxLlamaForCausalLM):
    pass


class FlaxMistralForSequenceClassification(FlaxLlamaForSequenceClassification):
    pass
