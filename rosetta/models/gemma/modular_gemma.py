"""Gemma, written as what differs from Llama; `rosetta modular` generates the model files from it.

The differences: the embeddings scaled by sqrt(hidden_size) (the factor rounded to the embeddings'
dtype, as transformers does), RMSNorm scaling by (1 + weight) with the weight initialised to zeros,
a GELU-tanh MLP (`hidden_act`, or the older `hidden_activation`), a head_dim of its own (256 in the
released models) and the LM head tied to the embeddings. Everything else is Llama's, renamed.
"""

from __future__ import annotations

from typing import Any

import flax.linen as fnn
import jax
import jax.numpy as jnp
import tensorflow as tf
import torch
from torch import nn

from ...backends.torch.modeling_utils import PreTrainedModel
from ..llama.configuration_llama import LlamaConfig
from ..llama.modeling_flax_llama import (
    FlaxLlamaForCausalLM,
    FlaxLlamaForSequenceClassification,
    FlaxLlamaModel,
    FlaxLlamaModule,
    FlaxLlamaPreTrainedModel,
)
from ..llama.modeling_llama import (
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    LlamaModel,
    LlamaPreTrainedModel,
    LlamaRMSNorm,
)
from ..llama.modeling_tf_llama import (
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
    TFLlamaRMSNorm,
)

# Spelled out here: renaming Llama's tuple would turn the rope type "llama3" into "gemma3".
ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


class GemmaConfig(LlamaConfig):
    """Configuration of a Gemma model; the defaults give Gemma-7B's shape.

    Args:
        hidden_act: Activation of the gate projection ("gelu_pytorch_tanh"; the legacy "gelu" means it too).
        rope_scaling: None, or {"rope_type": "linear" | "dynamic" | "llama3", "factor": ..., ...}.
        hidden_activation: The older checkpoints' name for the activation; when set it wins over hidden_act.
    """

    model_type = "gemma"

    def __init__(
        self,
        vocab_size: int = 256000,
        hidden_size: int = 3072,
        intermediate_size: int = 24576,
        num_hidden_layers: int = 28,
        num_attention_heads: int = 16,
        num_key_value_heads: int | None = 16,
        head_dim: int | None = 256,
        hidden_act: str = "gelu_pytorch_tanh",
        max_position_embeddings: int = 8192,
        tie_word_embeddings: bool = True,
        pad_token_id: int | None = 0,
        bos_token_id: int | None = 2,
        eos_token_id: int | list[int] | None = 1,
        hidden_activation: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=num_attention_heads,
            num_key_value_heads=num_key_value_heads,
            head_dim=head_dim,
            hidden_act=hidden_act,
            max_position_embeddings=max_position_embeddings,
            tie_word_embeddings=tie_word_embeddings,
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            **kwargs,
        )
        self.hidden_activation = hidden_activation
        if hidden_activation is not None:
            self.hidden_act = hidden_activation
        if self.hidden_act == "gelu":  # the released configs' legacy value: it means the tanh approximation
            self.hidden_act = "gelu_pytorch_tanh"


class GemmaRMSNorm(LlamaRMSNorm):
    """x / sqrt(mean(x^2) + eps) * (1 + weight), computed in float32; the weight starts at zeros."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__(hidden_size, eps)
        self.weight = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return (hidden_states * (1.0 + self.weight.float())).to(dtype)


class GemmaPreTrainedModel(LlamaPreTrainedModel):
    def _init_weights(self, module: nn.Module) -> None:
        PreTrainedModel._init_weights(self, module)  # Llama's would set the norms to ones
        if isinstance(module, GemmaRMSNorm):
            module.weight.data.zero_()  # (1 + weight): zeros are the identity


class GemmaModel(LlamaModel):
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        cache_position=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        if inputs_embeds is None and input_ids is not None:
            inputs_embeds, input_ids = self.embed_tokens(input_ids), None
        if inputs_embeds is not None:  # sqrt(hidden_size), rounded to the embeddings' dtype first
            inputs_embeds = inputs_embeds * torch.tensor(
                self.config.hidden_size**0.5, dtype=inputs_embeds.dtype
            )
        return super().forward(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict,
        )


class GemmaForCausalLM(LlamaForCausalLM):
    pass


class GemmaForSequenceClassification(LlamaForSequenceClassification):
    pass


class TFGemmaRMSNorm(TFLlamaRMSNorm):
    """x / sqrt(mean(x^2) + eps) * (1 + weight), computed in float32; the weight starts at zeros."""

    def __init__(self, hidden_size: int, eps: float = 1e-6, **kwargs):
        super().__init__(hidden_size, eps, **kwargs)
        self.weight = self.add_weight(name="weight", shape=(hidden_size,), initializer="zeros")

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        dtype = hidden_states.dtype
        hidden_states = tf.cast(hidden_states, tf.float32)
        variance = tf.reduce_mean(tf.square(hidden_states), axis=-1, keepdims=True)
        hidden_states = hidden_states * tf.math.rsqrt(variance + self.variance_epsilon)
        return tf.cast(hidden_states * (1.0 + tf.cast(self.weight, tf.float32)), dtype)


class TFGemmaPreTrainedModel(TFLlamaPreTrainedModel):
    pass


class TFGemmaModel(TFLlamaModel):
    def call(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        cache_position=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        training=False,
    ):
        if inputs_embeds is None and input_ids is not None:
            inputs_embeds, input_ids = self.embed_tokens(input_ids), None
        if inputs_embeds is not None:  # sqrt(hidden_size), rounded to the embeddings' dtype first
            inputs_embeds = tf.convert_to_tensor(inputs_embeds)
            inputs_embeds = inputs_embeds * tf.constant(self.config.hidden_size**0.5, inputs_embeds.dtype)
        return super().call(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict,
            training=training,
        )


class TFGemmaForCausalLM(TFLlamaForCausalLM):
    pass


class TFGemmaForSequenceClassification(TFLlamaForSequenceClassification):
    pass


class FlaxGemmaRMSNorm(fnn.Module):
    """x / sqrt(mean(x^2) + eps) * (1 + scale) (torch's `weight`), computed in float32; scale starts at zeros."""

    hidden_size: int
    epsilon: float = 1e-6
    dtype: Any = jnp.float32

    @fnn.compact
    def __call__(self, hidden_states: jax.Array) -> jax.Array:
        scale = self.param("scale", fnn.initializers.zeros, (self.hidden_size,), self.dtype)
        x = hidden_states.astype(jnp.float32)
        x = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + self.epsilon)
        return (x * (1.0 + scale.astype(jnp.float32))).astype(self.dtype)


def _rms_norm(config: GemmaConfig, dtype: Any) -> FlaxGemmaRMSNorm:
    """Gemma's (1 + scale) RMSNorm."""
    return FlaxGemmaRMSNorm(config.hidden_size, epsilon=config.rms_norm_eps, dtype=dtype)


class FlaxGemmaModule(FlaxLlamaModule):
    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        cache_position=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ):
        if inputs_embeds is None and input_ids is not None:
            inputs_embeds, input_ids = self.embed_tokens(input_ids), None
        if inputs_embeds is not None:  # sqrt(hidden_size), rounded to the embeddings' dtype first
            inputs_embeds = jnp.asarray(inputs_embeds)
            inputs_embeds = inputs_embeds * jnp.asarray(self.config.hidden_size**0.5, inputs_embeds.dtype)
        return super().__call__(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict,
            deterministic=deterministic,
        )


class FlaxGemmaPreTrainedModel(FlaxLlamaPreTrainedModel):
    pass


class FlaxGemmaModel(FlaxLlamaModel):
    pass


class FlaxGemmaForCausalLM(FlaxLlamaForCausalLM):
    pass


class FlaxGemmaForSequenceClassification(FlaxLlamaForSequenceClassification):
    pass
