# This file was generated from rosetta/models/qwen2/modular_qwen2.py by `python -m rosetta modular`.
# Do not edit it: edit the modular source and run that command again.
"""Qwen2 in JAX/Flax: config -> RMSNorm -> rotary embedding -> attention -> MLP -> layer -> model -> heads.

Class for class and attribute for attribute the torch file (`modeling_qwen2.py`), as linen modules:
the params tree reads `model/layers/0/self_attn/q_proj/kernel` where torch's state dict reads
`model.layers.0.self_attn.q_proj.weight` (RMSNorm's `scale` is torch's `weight`), so the one canonical
checkpoint loads here. The KV cache is functional: a tuple of (key, value) arrays
[batch, kv_heads, max_length, head_dim] written with `lax.dynamic_update_slice` and returned updated.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ...backends.flax.activations import get_activation
from ...backends.flax.flax_utils import FlaxModuleList
from ...backends.flax.generation import GenerationMixin
from ...backends.flax.losses import cross_entropy, sequence_classification_loss
from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel
from ...core.errors import InputError
from ...core.generation_utils import positions_for_logits
from ...core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    finish_output,
)
from ..llama.rope_llama import dynamic_scaling, exponents, inverse_frequencies
from .configuration_qwen2 import Qwen2Config

Array = jax.Array

KVCache = tuple[tuple[Array, Array], ...]


def _dense(features: int, dtype: Any, use_bias: bool) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=dtype)


def _rms_norm(config: Qwen2Config, dtype: Any) -> nn.RMSNorm:
    """x / sqrt(mean(x^2) + eps) * scale (torch's `weight`), statistics in float32."""
    return nn.RMSNorm(epsilon=config.rms_norm_eps, dtype=dtype, param_dtype=dtype)


class FlaxQwen2RotaryEmbedding(nn.Module):
    """cos and sin of position * frequency, the frequencies from `rope_qwen2` (dynamic NTK in-graph)."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    def frequencies(self, position_ids: Array) -> Array:
        dynamic = dynamic_scaling(self.config)
        if dynamic is None:
            return jnp.asarray(inverse_frequencies(self.config))
        factor, power, max_positions = dynamic
        length = jnp.maximum(jnp.max(position_ids) + 1, max_positions).astype(jnp.float32)
        base = self.config.rope_theta * (factor * length / max_positions - (factor - 1)) ** power
        return 1.0 / base ** jnp.asarray(exponents(self.config))

    def __call__(self, position_ids: Array) -> tuple[Array, Array]:
        freqs = position_ids[..., None].astype(jnp.float32) * self.frequencies(position_ids)
        emb = jnp.concatenate((freqs, freqs), axis=-1)
        return jnp.cos(emb).astype(self.dtype), jnp.sin(emb).astype(self.dtype)


def rotate_half(x: Array) -> Array:
    half = x.shape[-1] // 2
    return jnp.concatenate((-x[..., half:], x[..., :half]), axis=-1)


def apply_rotary_pos_emb(q: Array, k: Array, cos: Array, sin: Array) -> tuple[Array, Array]:
    cos, sin = cos[:, None], sin[:, None]  # [batch, 1, seq, head_dim]: the same for every head
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(hidden_states: Array, n_rep: int) -> Array:
    """[batch, kv_heads, seq, dim] -> [batch, kv_heads * n_rep, seq, dim]: query head h reads kv head h // n_rep."""
    return hidden_states if n_rep == 1 else jnp.repeat(hidden_states, n_rep, axis=1)


def attention_bias(
    attention_mask: Array | None, query_positions: Array, key_length: int, dtype: Any
) -> Array:
    """[batch or 1, 1, seq, key_length] additive mask: query at absolute slot p sees slot j iff j <= p and
    attention_mask[b, j] == 1 (causal + padding, for the full forward and the cached call alike)."""
    key_positions = jnp.arange(key_length, dtype=query_positions.dtype)
    allowed = (key_positions[None, :] <= query_positions[:, None])[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask.astype(bool)[:, None, None, :]
    return jnp.where(allowed, jnp.zeros((), dtype), jnp.finfo(dtype).min)


class FlaxQwen2Attention(nn.Module):
    """Grouped-query attention with rotary positions, q/k/v biases, and a sliding window where configured."""

    config: Qwen2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    @staticmethod
    def layer_variant(config: Qwen2Config, layer_idx: int) -> Hashable:
        """Whether layer `layer_idx` attends through the sliding window."""
        return config.layer_types[layer_idx]

    def setup(self) -> None:
        config = self.config
        self.head_dim = config.head_dim
        self.num_heads = config.num_attention_heads
        self.num_key_value_groups = self.num_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        bias = config.attention_bias
        self.q_proj = _dense(self.num_heads * self.head_dim, self.dtype, bias)
        self.k_proj = _dense(config.num_key_value_heads * self.head_dim, self.dtype, bias)
        self.v_proj = _dense(config.num_key_value_heads * self.head_dim, self.dtype, bias)
        self.o_proj = _dense(self.config.hidden_size, self.dtype, False)
        self.dropout = nn.Dropout(config.attention_dropout)
        windowed = self.config.layer_types[self.layer_idx] == "sliding_attention"
        self.sliding_window = self.config.sliding_window if windowed else None

    def split_heads(self, x: Array) -> Array:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, -1, self.head_dim).transpose(0, 2, 1, 3)

    def __call__(
        self,
        hidden_states: jnp.ndarray,
        cos_sin: tuple[jnp.ndarray, jnp.ndarray],
        attention_mask: jnp.ndarray,
        layer_cache: tuple[Array, Array] | None = None,
        start: jnp.ndarray | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None, tuple[Array, Array] | None]:
        if self.sliding_window is not None:
            first = jnp.zeros((), jnp.int32) if start is None else jnp.asarray(start, jnp.int32)
            query_positions = first + jnp.arange(hidden_states.shape[1], dtype=jnp.int32)
            attention_mask = self.window_mask(attention_mask, query_positions)
        batch, seq, _ = hidden_states.shape
        query = self.split_heads(self.q_proj(hidden_states))
        key = self.split_heads(self.k_proj(hidden_states))
        value = self.split_heads(self.v_proj(hidden_states))
        query, key = apply_rotary_pos_emb(query, key, *cos_sin)
        if layer_cache is not None:
            index = (0, 0, start, 0)
            key = jax.lax.dynamic_update_slice(layer_cache[0], key.astype(layer_cache[0].dtype), index)
            value = jax.lax.dynamic_update_slice(layer_cache[1], value.astype(layer_cache[1].dtype), index)
            layer_cache = (key, value)
        key = repeat_kv(key, self.num_key_value_groups)
        value = repeat_kv(value, self.num_key_value_groups)
        scores = jnp.matmul(query, key.swapaxes(-1, -2)) * self.scaling + attention_mask
        probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(query.dtype)
        context = jnp.matmul(self.dropout(probs, deterministic=deterministic), value)
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, self.num_heads * self.head_dim)
        return self.o_proj(context), probs if output_attentions else None, layer_cache

    def window_mask(self, attention_mask: jnp.ndarray, query_positions: jnp.ndarray) -> jnp.ndarray:
        """The additive mask with the keys at or before p - sliding_window hidden from the query at slot p."""
        key_positions = jnp.arange(attention_mask.shape[-1], dtype=query_positions.dtype)
        outside = key_positions[None, :] <= query_positions[:, None] - self.sliding_window
        return jnp.where(outside[None, None], jnp.finfo(attention_mask.dtype).min, attention_mask)


class FlaxQwen2MLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.gate_proj = _dense(config.intermediate_size, self.dtype, config.mlp_bias)
        self.up_proj = _dense(config.intermediate_size, self.dtype, config.mlp_bias)
        self.down_proj = _dense(config.hidden_size, self.dtype, config.mlp_bias)
        self.act_fn = get_activation(config.hidden_act)

    def __call__(self, x: Array) -> Array:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class FlaxQwen2DecoderLayer(nn.Module):
    """Pre-norm attention and MLP, each with a residual connection."""

    config: Qwen2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.self_attn = FlaxQwen2Attention(self.config, self.layer_idx, dtype=self.dtype)
        self.mlp = FlaxQwen2MLP(self.config, dtype=self.dtype)
        self.input_layernorm = _rms_norm(self.config, self.dtype)
        self.post_attention_layernorm = _rms_norm(self.config, self.dtype)

    @staticmethod
    def layer_variant(config: Qwen2Config, layer_idx: int) -> Hashable:
        return FlaxQwen2Attention.layer_variant(config, layer_idx)

    def __call__(
        self,
        hidden_states: Array,
        cos_sin: tuple[Array, Array],
        attention_mask: Array,
        layer_cache: tuple[Array, Array] | None = None,
        start: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None, tuple[Array, Array] | None]:
        attended, probs, layer_cache = self.self_attn(
            self.input_layernorm(hidden_states),
            cos_sin,
            attention_mask,
            layer_cache,
            start,
            output_attentions,
            deterministic=deterministic,
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, probs, layer_cache


def _as_layer_pairs(past_key_values: Any) -> KVCache | None:
    """The cache as per-layer (key, value) pairs; a stacked [layers, 2, ...] array is split."""
    if past_key_values is None or isinstance(past_key_values, (tuple, list)):
        return past_key_values
    return tuple((past_key_values[i, 0], past_key_values[i, 1]) for i in range(past_key_values.shape[0]))


class FlaxQwen2Module(nn.Module):
    """The bare decoder: embeddings, layers, final RMSNorm."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.embed_tokens = nn.Embed(
            config.vocab_size, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )
        # (output_attentions, deterministic) are Python values: static under gradient checkpointing
        self.layers = FlaxModuleList(
            FlaxQwen2DecoderLayer,
            config,
            config.num_hidden_layers,
            dtype=self.dtype,
            remat_static_argnums=(6, 7),
        )
        self.norm = _rms_norm(config, self.dtype)
        self.rotary_emb = FlaxQwen2RotaryEmbedding(config, dtype=self.dtype)

    def __call__(
        self,
        input_ids: Array | None = None,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        past_key_values: KVCache | None = None,
        inputs_embeds: Array | None = None,
        cache_position: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPast | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("Pass exactly one of input_ids or inputs_embeds.")
        past_key_values = _as_layer_pairs(past_key_values)
        hidden_states = (
            self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds.astype(self.dtype)
        )
        seq = hidden_states.shape[1]
        start = jnp.zeros((), jnp.int32) if cache_position is None else jnp.reshape(cache_position, (-1,))[0]
        start = start.astype(jnp.int32)
        query_positions = start + jnp.arange(seq, dtype=jnp.int32)
        if position_ids is None:
            position_ids = query_positions[None]
        key_length = past_key_values[0][0].shape[2] if past_key_values is not None else seq
        mask = attention_bias(attention_mask, query_positions, key_length, hidden_states.dtype)
        cos_sin = self.rotary_emb(position_ids)

        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        new_cache = () if past_key_values is not None else None
        if self.layers.scans and past_key_values is None:  # gradient checkpointing: see FlaxModuleList.scan
            hidden_states, all_hidden_states, (all_attentions, _) = self.layers.scan(
                hidden_states, cos_sin, mask, None, start, output_attentions, deterministic,
                collect_inputs=output_hidden_states,
            )  # fmt: skip
        else:
            for i, layer in enumerate(self.layers):
                if output_hidden_states:
                    all_hidden_states += (hidden_states,)
                layer_cache = past_key_values[i] if past_key_values is not None else None
                hidden_states, probs, layer_cache = layer(
                    hidden_states, cos_sin, mask, layer_cache, start, output_attentions, deterministic
                )
                if new_cache is not None:
                    new_cache += (layer_cache,)
                if output_attentions:
                    all_attentions += (probs,)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=new_cache,
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )
        return finish_output(outputs, return_dict)


class FlaxQwen2PreTrainedModel(FlaxPreTrainedModel):
    config_class = Qwen2Config
    supports_gradient_checkpointing = True
    base_model_prefix = "model"
    _keys_to_ignore_on_load_unexpected = [r"rotary_emb\.inv_freq$"]
    _input_embeddings_path = ("embed_tokens", "embedding")


class FlaxQwen2Model(FlaxQwen2PreTrainedModel):
    module_class = FlaxQwen2Module


class FlaxQwen2ForCausalLMModule(nn.Module):
    """The decoder and a vocabulary projection: tied, the embedding matrix itself (`Embed.attend`)."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.model = FlaxQwen2Module(self.config, dtype=self.dtype)
        if not self.config.tie_word_embeddings:
            self.lm_head = _dense(self.config.vocab_size, self.dtype, use_bias=False)

    def __call__(
        self,
        input_ids: Array | None = None,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        past_key_values: KVCache | None = None,
        inputs_embeds: Array | None = None,
        cache_position: Array | None = None,
        labels: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        deterministic: bool = True,
    ) -> CausalLMOutputWithPast | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        hidden_states = positions_for_logits(outputs.last_hidden_state, logits_to_keep, labels)
        if self.config.tie_word_embeddings:
            logits = self.model.embed_tokens.attend(hidden_states)
        else:
            logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:  # token t predicts token t + 1
            loss = cross_entropy(logits[:, :-1].astype(jnp.float32), labels[:, 1:])
        return finish_output(
            CausalLMOutputWithPast(
                loss=loss,
                logits=logits,
                past_key_values=outputs.past_key_values,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class FlaxQwen2ForCausalLM(FlaxQwen2PreTrainedModel, GenerationMixin):
    module_class = FlaxQwen2ForCausalLMModule
    _tied_weights_keys = ["lm_head.weight"]
    _output_embeddings_path = ("lm_head", "kernel")

    def init_cache(self, batch_size: int, max_length: int) -> KVCache:
        """Zeros: per layer (key, value) [batch_size, kv_heads, max_length, head_dim] in the model's dtype."""
        config = self.config
        shape = (batch_size, config.num_key_value_heads, max_length, config.head_dim)
        return tuple(
            (jnp.zeros(shape, self.dtype), jnp.zeros(shape, self.dtype))
            for _ in range(config.num_hidden_layers)
        )


def last_token_indices(input_ids: Array | None, pad_token_id: int | None, batch: int) -> Array | None:
    """Per row, the index of the last token that is not padding (transformers' rule); the last without ids."""
    if pad_token_id is None and batch != 1:
        raise InputError(
            "Sequence classification of a batch needs config.pad_token_id to find each row's last token; "
            "set it (e.g. to the tokenizer's pad or eos id)."
        )
    if pad_token_id is None or input_ids is None:
        return None
    non_pad = (input_ids != pad_token_id).astype(jnp.int32)
    return jnp.argmax(jnp.arange(input_ids.shape[-1]) * non_pad, axis=-1)


class FlaxQwen2ForSequenceClassificationModule(nn.Module):
    """The decoder and a `score` projection of the last non-padding token."""

    config: Qwen2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.model = FlaxQwen2Module(self.config, dtype=self.dtype)
        self.score = _dense(self.config.num_labels, self.dtype, use_bias=False)

    def __call__(
        self,
        input_ids: Array | None = None,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        inputs_embeds: Array | None = None,
        labels: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            None,
            inputs_embeds,
            None,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.score(outputs.last_hidden_state)
        batch = logits.shape[0]
        last = last_token_indices(input_ids, self.config.pad_token_id, batch)
        pooled = logits[:, -1] if last is None else logits[jnp.arange(batch), last]
        loss = sequence_classification_loss(self.config, pooled, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=pooled, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxQwen2ForSequenceClassification(FlaxQwen2PreTrainedModel):
    module_class = FlaxQwen2ForSequenceClassificationModule
