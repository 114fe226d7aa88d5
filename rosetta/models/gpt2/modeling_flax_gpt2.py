"""GPT-2 in JAX/Flax: config -> attention -> MLP -> block -> stack -> pretrained base -> heads.

Class for class and attribute for attribute the torch file (`modeling_gpt2.py`), as linen modules:
the params tree reads `transformer/h/0/attn/c_attn/kernel` where torch's state dict reads
`transformer.h.0.attn.c_attn.weight`. torch's `Conv1D` is a Dense layer here: its [in, out] kernel
is the canonical [in, out] array as it is (`_layout_overrides`), not a transpose.

With `past_key_values` (a tuple of (k, v) pairs from `init_cache`) the call follows rosetta's
KV-cache contract: the cache is written with `lax.dynamic_update_slice` at `cache_position` (a traced
scalar), every shape stays static, and the updated tuple is returned (functional, a pytree).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

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
from .configuration_gpt2 import CONV1D_LAYOUTS, IGNORED_BUFFERS, GPT2Config

Array = jax.Array
Cache = tuple[tuple[Array, Array], ...]


def _conv1d(features: int, dtype: Any) -> nn.Dense:
    """torch's Conv1D: a Dense layer, whose kernel is [in, out] as Conv1D's weight is."""
    return nn.Dense(features, dtype=dtype, param_dtype=dtype)


def _layer_norm(config: GPT2Config, dtype: Any) -> nn.LayerNorm:
    # Two-pass variance, as torch computes it.
    return nn.LayerNorm(
        epsilon=config.layer_norm_epsilon, dtype=dtype, param_dtype=dtype, use_fast_variance=False
    )


def causal_mask(
    attention_mask: Array | None, query_length: int, key_length: int, offset: Array, dtype: Any
) -> Array:
    """Additive [batch|1, 1, query, key] mask: 0 where query i (absolute slot offset + i) may attend key j
    (j <= offset + i and attention_mask[b, j] == 1), the dtype's minimum elsewhere."""
    query_positions = jnp.arange(query_length) + offset
    allowed = jnp.arange(key_length)[None, :] <= query_positions[:, None]
    allowed = allowed[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :key_length].astype(bool)
    return jnp.where(allowed, jnp.zeros((), dtype), jnp.finfo(dtype).min)


def update_cache(cache: Array, new: Array, offset: Array) -> Array:
    """`cache` [batch, heads, max_length, head_dim] with `new` written at slots offset..offset+seq."""
    zero = jnp.zeros((), jnp.int32)
    return jax.lax.dynamic_update_slice(cache, new.astype(cache.dtype), (zero, zero, offset, zero))


class FlaxGPT2Attention(nn.Module):
    config: GPT2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        if config.n_embd % config.n_head != 0:
            raise InputError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head}).")
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.scaling = config.layer_scaling(self.layer_idx)
        self.upcast = config.reorder_and_upcast_attn
        self.c_attn = _conv1d(3 * self.embed_dim, self.dtype)
        self.c_proj = _conv1d(self.embed_dim, self.dtype)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def split_heads(self, x: Array) -> Array:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array,
        cache: tuple[Array, Array] | None = None,
        cache_position: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None, tuple[Array, Array] | None]:
        query, key, value = jnp.split(self.c_attn(hidden_states), 3, axis=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        if cache is not None:
            key = update_cache(cache[0], key, cache_position)
            value = update_cache(cache[1], value, cache_position)
            cache = (key, value)

        if self.upcast:
            query, key = query.astype(jnp.float32), key.astype(jnp.float32)
        scores = (query @ key.swapaxes(-1, -2)) * self.scaling + attention_mask.astype(query.dtype)
        probs = self.attn_dropout(
            jax.nn.softmax(scores, axis=-1).astype(value.dtype), deterministic=deterministic
        )
        context = probs @ value
        batch, _, seq, _ = context.shape
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, self.embed_dim)
        output = self.resid_dropout(self.c_proj(context), deterministic=deterministic)
        return output, probs if output_attentions else None, cache


class FlaxGPT2MLP(nn.Module):
    config: GPT2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.c_fc = _conv1d(self.config.inner_size, self.dtype)
        self.c_proj = _conv1d(self.config.n_embd, self.dtype)
        self.act = get_activation(self.config.activation_function)
        self.dropout = nn.Dropout(self.config.resid_pdrop)

    def __call__(self, hidden_states: Array, deterministic: bool = True) -> Array:
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))), deterministic=deterministic)


class FlaxGPT2Block(nn.Module):
    """Pre-LayerNorm block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    config: GPT2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.ln_1 = _layer_norm(self.config, self.dtype)
        self.attn = FlaxGPT2Attention(self.config, self.layer_idx, dtype=self.dtype)
        self.ln_2 = _layer_norm(self.config, self.dtype)
        self.mlp = FlaxGPT2MLP(self.config, dtype=self.dtype)

    @staticmethod
    def layer_variant(config: GPT2Config, layer_idx: int) -> Hashable:
        """What sets block `layer_idx` apart from the others: its attention scale."""
        return config.layer_scaling(layer_idx)

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array,
        cache: tuple[Array, Array] | None = None,
        cache_position: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None, tuple[Array, Array] | None]:
        attn_output, probs, cache = self.attn(
            self.ln_1(hidden_states), attention_mask, cache, cache_position, output_attentions, deterministic
        )
        hidden_states = hidden_states + attn_output
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states), deterministic=deterministic)
        return hidden_states, probs, cache


class FlaxGPT2PreTrainedModel(FlaxPreTrainedModel):
    config_class = GPT2Config
    supports_gradient_checkpointing = True
    base_model_prefix = "transformer"
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = IGNORED_BUFFERS
    _layout_overrides: ClassVar[dict[str, str]] = CONV1D_LAYOUTS
    _input_embeddings_path = ("wte", "embedding")

    def init_cache(self, batch_size: int, max_length: int) -> Cache:
        """Zeroed (k, v) pairs of [batch, n_head, max_length, head_dim] for every block, in the model's dtype."""
        config = self.config
        shape = (batch_size, config.n_head, max_length, config.n_embd // config.n_head)
        return tuple(
            (jnp.zeros(shape, self.dtype), jnp.zeros(shape, self.dtype)) for _ in range(config.n_layer)
        )


class FlaxGPT2Module(nn.Module):
    """The bare GPT-2 decoder: token + learned position embeddings, blocks, final LayerNorm."""

    config: GPT2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.wte = nn.Embed(config.vocab_size, config.n_embd, dtype=self.dtype, param_dtype=self.dtype)
        self.wpe = nn.Embed(config.n_positions, config.n_embd, dtype=self.dtype, param_dtype=self.dtype)
        self.drop = nn.Dropout(config.embd_pdrop)
        # (output_attentions, deterministic) are Python values: static under gradient checkpointing
        self.h = FlaxModuleList(
            FlaxGPT2Block, config, config.n_layer, dtype=self.dtype, remat_static_argnums=(5, 6)
        )
        self.ln_f = _layer_norm(config, self.dtype)

    def __call__(
        self,
        input_ids: Array | None = None,
        past_key_values: Cache | None = None,
        attention_mask: Array | None = None,
        token_type_ids: Array | None = None,
        position_ids: Array | None = None,
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
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        seq = inputs_embeds.shape[1]
        offset = _cache_offset(past_key_values, cache_position)
        if position_ids is None:
            position_ids = (jnp.arange(seq) + offset)[None, :]
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states, deterministic=deterministic)

        key_length = past_key_values[0][0].shape[2] if past_key_values is not None else seq
        mask = causal_mask(attention_mask, seq, key_length, offset, hidden_states.dtype)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        new_cache = () if past_key_values is not None else None
        if self.h.scans and past_key_values is None:  # gradient checkpointing: see FlaxModuleList.scan
            hidden_states, all_hidden_states, (all_attentions, _) = self.h.scan(
                hidden_states, mask, None, offset, output_attentions, deterministic,
                collect_inputs=output_hidden_states,
            )  # fmt: skip
        else:
            for i, block in enumerate(self.h):
                if output_hidden_states:
                    all_hidden_states += (hidden_states,)
                # a tuple of (k, v) pairs, or the same stacked [layers, 2, ...]: indexed alike
                layer_cache = (
                    (past_key_values[i][0], past_key_values[i][1]) if past_key_values is not None else None
                )
                hidden_states, probs, layer_cache = block(
                    hidden_states, mask, layer_cache, offset, output_attentions, deterministic
                )
                if new_cache is not None:
                    new_cache += (layer_cache,)
                if output_attentions:
                    all_attentions += (probs,)
        hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        outputs = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=new_cache,
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )
        return finish_output(outputs, return_dict)


def _cache_offset(cache: Cache | None, cache_position: Array | int | None) -> Array:
    """Where the first new token sits: `cache_position` with a cache, 0 without one."""
    if cache is None:
        return jnp.zeros((), jnp.int32)
    if cache_position is None:
        raise InputError(
            "A call with past_key_values needs cache_position: the slot input_ids[:, 0] is written to."
        )
    return jnp.asarray(cache_position, jnp.int32).reshape(())


class FlaxGPT2Model(FlaxGPT2PreTrainedModel):
    module_class = FlaxGPT2Module


def causal_lm_loss(logits: Array, labels: Array) -> Array:
    """Next-token cross entropy: position i predicts labels[i + 1]; -100 labels count for nothing."""
    return cross_entropy(logits[:, :-1].astype(jnp.float32), labels[:, 1:])


class FlaxGPT2LMHeadModule(nn.Module):
    """GPT-2 with a language modelling head: the token embeddings (`Embed.attend`) when tied."""

    config: GPT2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.transformer = FlaxGPT2Module(self.config, dtype=self.dtype)
        if not self.config.tie_word_embeddings:
            self.lm_head = nn.Dense(
                self.config.vocab_size, use_bias=False, dtype=self.dtype, param_dtype=self.dtype
            )

    def __call__(
        self,
        input_ids=None,
        past_key_values=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        cache_position=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        logits_to_keep=0,
        deterministic: bool = True,
    ) -> CausalLMOutputWithPast | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        hidden_states = positions_for_logits(outputs.last_hidden_state, logits_to_keep, labels)
        if self.config.tie_word_embeddings:
            logits = self.transformer.wte.attend(hidden_states)
        else:
            logits = self.lm_head(hidden_states)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
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


class FlaxGPT2LMHeadModel(FlaxGPT2PreTrainedModel, GenerationMixin):
    module_class = FlaxGPT2LMHeadModule
    _tied_weights_keys: ClassVar[list[str]] = ["lm_head.weight"]
    _output_embeddings_path = ("lm_head", "kernel")


def last_non_pad_index(config: GPT2Config, input_ids: Array | None, batch: int, seq: int) -> Array:
    """Per row, the rightmost token that is not padding (left or right padding); the last token
    without a pad_token_id or with inputs_embeds."""
    if config.pad_token_id is None and batch != 1:
        raise InputError(
            "FlaxGPT2ForSequenceClassification needs config.pad_token_id to find the last token of each row of "
            "a batch; set it (e.g. to the tokenizer's pad or eos id) or pass one row at a time."
        )
    if config.pad_token_id is None or input_ids is None:
        return jnp.full((batch,), seq - 1, jnp.int32)
    non_pad = (input_ids != config.pad_token_id).astype(jnp.int32)
    return jnp.argmax(jnp.arange(seq) * non_pad, axis=-1)


class FlaxGPT2ForSequenceClassificationModule(nn.Module):
    """A linear score on the hidden state of each row's last non-padding token."""

    config: GPT2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.transformer = FlaxGPT2Module(self.config, dtype=self.dtype)
        self.score = nn.Dense(
            self.config.num_labels, use_bias=False, dtype=self.dtype, param_dtype=self.dtype
        )

    def __call__(
        self,
        input_ids=None,
        past_key_values=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        cache_position=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.transformer(
            input_ids,
            past_key_values,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            cache_position,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.score(outputs.last_hidden_state)
        batch, seq = logits.shape[:2]
        last = last_non_pad_index(self.config, input_ids, batch, seq)
        pooled_logits = logits[jnp.arange(batch), last]
        loss = (
            sequence_classification_loss(self.config, pooled_logits, labels) if labels is not None else None
        )
        return finish_output(
            SequenceClassifierOutput(
                loss=loss,
                logits=pooled_logits,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class FlaxGPT2ForSequenceClassification(FlaxGPT2PreTrainedModel):
    module_class = FlaxGPT2ForSequenceClassificationModule
