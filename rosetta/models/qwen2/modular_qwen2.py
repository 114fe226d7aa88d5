"""Qwen2, written as what differs from Llama; `rosetta modular` generates the model files from it.

The differences: q/k/v projections with biases and an o_proj without one, and transformers'
optional sliding window (`use_sliding_window`, `sliding_window`, `max_window_layers`,
`layer_types`): a layer named "sliding_attention" lets the query at absolute slot p see the keys in
(p - sliding_window, p], in the full forward and the cached call alike. Everything else is Llama's.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import jax.numpy as jnp
import keras
import tensorflow as tf
import torch

from ...backends.tf.tf_utils import get_initializer
from ...backends.torch.pytorch_utils import Linear
from ..llama.configuration_llama import LlamaConfig
from ..llama.modeling_flax_llama import (
    FlaxLlamaAttention,
    FlaxLlamaForCausalLM,
    FlaxLlamaForSequenceClassification,
    FlaxLlamaModel,
    FlaxLlamaPreTrainedModel,
    _dense,
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

# Spelled out here: renaming Llama's tuple would turn the rope type "llama3" into "qwen23".
ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


class Qwen2Config(LlamaConfig):
    """Configuration of a Qwen2 model (Hugging Face's Qwen2Config fields and defaults).

    Args:
        rope_scaling: None, or {"rope_type": "linear" | "dynamic" | "llama3", "factor": ..., ...}.
        attention_bias: Whether q/k/v have biases (True in every Qwen2; o_proj never has one).
        use_sliding_window: Whether the layers from `max_window_layers` on use a sliding window.
        sliding_window: Keys (the query's own included) a windowed layer attends to; None when
            use_sliding_window is False, as transformers stores it.
        max_window_layers: Index of the first layer with a sliding window (when layer_types is not given).
        layer_types: Per layer "full_attention" or "sliding_attention"; None: derived from the fields above.
    """

    model_type = "qwen2"

    def __init__(
        self,
        vocab_size: int = 151936,
        intermediate_size: int = 22016,
        num_key_value_heads: int | None = 32,
        max_position_embeddings: int = 32768,
        attention_bias: bool = True,
        bos_token_id: int | None = None,
        eos_token_id: int | list[int] | None = None,
        use_sliding_window: bool = False,
        sliding_window: int | None = 4096,
        max_window_layers: int = 28,
        layer_types: list[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            vocab_size=vocab_size,
            intermediate_size=intermediate_size,
            num_key_value_heads=num_key_value_heads,
            max_position_embeddings=max_position_embeddings,
            attention_bias=attention_bias,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            **kwargs,
        )
        self.use_sliding_window = use_sliding_window
        self.sliding_window = sliding_window if use_sliding_window else None
        self.max_window_layers = max_window_layers
        if layer_types is None:
            layer_types = [
                "sliding_attention"
                if self.sliding_window is not None and i >= max_window_layers
                else "full_attention"
                for i in range(self.num_hidden_layers)
            ]
        self.layer_types = list(layer_types)


class Qwen2Attention(LlamaAttention):
    """Grouped-query attention with rotary positions, q/k/v biases, and a sliding window where configured."""

    def __init__(self, config: Qwen2Config, layer_idx: int):
        super().__init__(config, layer_idx)
        self.o_proj = Linear(self.num_heads * self.head_dim, config.hidden_size, bias=False)
        windowed = config.layer_types[layer_idx] == "sliding_attention"
        self.sliding_window = config.sliding_window if windowed else None

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


class Qwen2PreTrainedModel(LlamaPreTrainedModel):
    pass


class Qwen2Model(LlamaModel):
    pass


class Qwen2ForCausalLM(LlamaForCausalLM):
    pass


class Qwen2ForSequenceClassification(LlamaForSequenceClassification):
    pass


class TFQwen2Attention(TFLlamaAttention):
    """Grouped-query attention with rotary positions, q/k/v biases, and a sliding window where configured."""

    def __init__(self, config: Qwen2Config, layer_idx: int, **kwargs):
        super().__init__(config, layer_idx, **kwargs)
        self.o_proj = keras.layers.Dense(
            config.hidden_size, use_bias=False, kernel_initializer=get_initializer(config.initializer_range)
        )
        windowed = config.layer_types[layer_idx] == "sliding_attention"
        self.sliding_window = config.sliding_window if windowed else None

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


class TFQwen2PreTrainedModel(TFLlamaPreTrainedModel):
    pass


class TFQwen2Model(TFLlamaModel):
    pass


class TFQwen2ForCausalLM(TFLlamaForCausalLM):
    pass


class TFQwen2ForSequenceClassification(TFLlamaForSequenceClassification):
    pass


class FlaxQwen2Attention(FlaxLlamaAttention):
    """Grouped-query attention with rotary positions, q/k/v biases, and a sliding window where configured."""

    @staticmethod
    def layer_variant(config: Qwen2Config, layer_idx: int) -> Hashable:
        """Whether layer `layer_idx` attends through the sliding window."""
        return config.layer_types[layer_idx]

    def setup(self) -> None:
        super().setup()
        self.o_proj = _dense(self.config.hidden_size, self.dtype, False)
        windowed = self.config.layer_types[self.layer_idx] == "sliding_attention"
        self.sliding_window = self.config.sliding_window if windowed else None

    def window_mask(self, attention_mask: jnp.ndarray, query_positions: jnp.ndarray) -> jnp.ndarray:
        """The additive mask with the keys at or before p - sliding_window hidden from the query at slot p."""
        key_positions = jnp.arange(attention_mask.shape[-1], dtype=query_positions.dtype)
        outside = key_positions[None, :] <= query_positions[:, None] - self.sliding_window
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
        if self.sliding_window is not None:
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


class FlaxQwen2PreTrainedModel(FlaxLlamaPreTrainedModel):
    pass


class FlaxQwen2Model(FlaxLlamaModel):
    pass


class FlaxQwen2ForCausalLM(FlaxLlamaForCausalLM):
    pass


class FlaxQwen2ForSequenceClassification(FlaxLlamaForSequenceClassification):
    pass
