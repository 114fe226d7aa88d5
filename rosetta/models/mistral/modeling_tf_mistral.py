# This file was generated from rosetta/models/mistral/modular_mistral.py by `python -m rosetta modular`.
# Do not edit it: edit the modular source and run that command again.
"""Mistral in TensorFlow/Keras: config -> RMSNorm -> rotary embedding -> attention -> MLP -> layer -> model -> heads.

The torch file, layer for layer: attributes carry the torch module names, so every weight's path
maps to Hugging Face's parameter name by the generic rules. The KV cache is functional: a tuple of
(key, value) tensors [batch, kv_heads, max_length, head_dim] that the cached call returns updated,
written with one-hot updates (static shapes), so a decode step compiles once under
`tf.function(jit_compile=True)`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ...backends.tf.activations import get_tf_activation
from ...backends.tf.generation import GenerationMixin
from ...backends.tf.losses import cross_entropy, sequence_classification_loss
from ...backends.tf.modeling_tf_utils import TFLayer, TFPreTrainedModel, checkpointed_call
from ...backends.tf.tf_utils import get_initializer, shape_list, update_cache
from ...core.errors import InputError
from ...core.generation_utils import positions_for_logits
from ...core.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    finish_output,
)
from ..llama.rope_llama import dynamic_scaling, exponents, inverse_frequencies
from .configuration_mistral import MistralConfig

KVCache = tuple[tuple[tf.Tensor, tf.Tensor], ...]


class TFMistralRMSNorm(TFLayer):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.weight = self.add_weight(name="weight", shape=(hidden_size,), initializer="ones")
        self.variance_epsilon = eps

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        dtype = hidden_states.dtype
        hidden_states = tf.cast(hidden_states, tf.float32)
        variance = tf.reduce_mean(tf.square(hidden_states), axis=-1, keepdims=True)
        hidden_states = hidden_states * tf.math.rsqrt(variance + self.variance_epsilon)
        return tf.cast(self.weight, dtype) * tf.cast(hidden_states, dtype)


class TFMistralRotaryEmbedding(TFLayer):
    """cos and sin of position * frequency, the frequencies from `rope_mistral` (dynamic NTK in-graph)."""

    def __init__(self, config: MistralConfig, **kwargs):
        super().__init__(**kwargs)
        self._inv_freq = inverse_frequencies(config)
        self._exponents = exponents(config)
        self.rope_theta = config.rope_theta
        self.dynamic = dynamic_scaling(config)

    def frequencies(self, position_ids: tf.Tensor) -> tf.Tensor:
        if self.dynamic is None:
            return tf.constant(self._inv_freq)
        factor, power, max_positions = self.dynamic
        length = tf.cast(tf.maximum(tf.reduce_max(position_ids) + 1, max_positions), tf.float32)
        base = self.rope_theta * (factor * length / max_positions - (factor - 1)) ** power
        return 1.0 / base ** tf.constant(self._exponents)

    def call(self, x: tf.Tensor, position_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        freqs = tf.cast(position_ids, tf.float32)[..., None] * self.frequencies(position_ids)
        emb = tf.concat((freqs, freqs), axis=-1)
        return tf.cast(tf.cos(emb), x.dtype), tf.cast(tf.sin(emb), x.dtype)


def rotate_half(x: tf.Tensor) -> tf.Tensor:
    half = x.shape[-1] // 2
    return tf.concat((-x[..., half:], x[..., :half]), axis=-1)


def apply_rotary_pos_emb(
    q: tf.Tensor, k: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    cos, sin = cos[:, None], sin[:, None]  # [batch, 1, seq, head_dim]: the same for every head
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(hidden_states: tf.Tensor, n_rep: int) -> tf.Tensor:
    """[batch, kv_heads, seq, dim] -> [batch, kv_heads * n_rep, seq, dim]: query head h reads kv head h // n_rep."""
    return hidden_states if n_rep == 1 else tf.repeat(hidden_states, n_rep, axis=1)


def attention_bias(
    attention_mask: tf.Tensor | None, query_positions: tf.Tensor, key_length: int, dtype: tf.DType
) -> tf.Tensor:
    """[batch or 1, 1, seq, key_length] additive mask: query at absolute slot p sees slot j iff j <= p and
    attention_mask[b, j] == 1 (causal + padding, for the full forward and the cached call alike)."""
    key_positions = tf.range(key_length, dtype=query_positions.dtype)
    allowed = (key_positions[None, :] <= query_positions[:, None])[None, None]
    if attention_mask is not None:
        allowed = tf.logical_and(allowed, tf.cast(attention_mask, tf.bool)[:, None, None, :])
    return tf.where(allowed, tf.zeros((), dtype), tf.constant(dtype.min, dtype))


class TFMistralAttention(TFLayer):
    """Grouped-query attention with rotary positions over a sliding window of keys."""

    def __init__(self, config: MistralConfig, layer_idx: int, **kwargs):
        super().__init__(**kwargs)
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_heads = config.num_attention_heads
        self.num_key_value_heads = config.num_key_value_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        bias = config.attention_bias
        initializer = get_initializer(config.initializer_range)
        self.q_proj = keras.layers.Dense(
            self.num_heads * self.head_dim, use_bias=bias, kernel_initializer=initializer
        )
        self.k_proj = keras.layers.Dense(
            self.num_key_value_heads * self.head_dim, use_bias=bias, kernel_initializer=initializer
        )
        self.v_proj = keras.layers.Dense(
            self.num_key_value_heads * self.head_dim, use_bias=bias, kernel_initializer=initializer
        )
        self.o_proj = keras.layers.Dense(config.hidden_size, use_bias=bias, kernel_initializer=initializer)
        self.dropout = keras.layers.Dropout(config.attention_dropout)
        self.sliding_window = config.sliding_window

    def split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq, _ = shape_list(x)
        return tf.transpose(tf.reshape(x, (batch, seq, -1, self.head_dim)), (0, 2, 1, 3))

    def call(
        self,
        hidden_states: tf.Tensor,
        cos_sin: tuple[tf.Tensor, tf.Tensor],
        attention_mask: tf.Tensor,
        layer_cache: tuple[tf.Tensor, tf.Tensor] | None = None,
        query_positions: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None, tuple[tf.Tensor, tf.Tensor] | None]:
        if self.sliding_window is not None:
            if query_positions is None:
                query_positions = tf.range(tf.shape(hidden_states)[1], dtype=tf.int32)
            attention_mask = self.window_mask(attention_mask, query_positions)
        batch, seq, _ = shape_list(hidden_states)
        query = self.split_heads(self.q_proj(hidden_states))
        key = self.split_heads(self.k_proj(hidden_states))
        value = self.split_heads(self.v_proj(hidden_states))
        query, key = apply_rotary_pos_emb(query, key, *cos_sin)
        if layer_cache is not None:
            key = update_cache(layer_cache[0], key, query_positions[0])
            value = update_cache(layer_cache[1], value, query_positions[0])
            layer_cache = (key, value)
        scores = tf.matmul(query, repeat_kv(key, self.num_key_value_groups), transpose_b=True) * self.scaling
        probs = tf.cast(tf.nn.softmax(tf.cast(scores + attention_mask, tf.float32), axis=-1), query.dtype)
        context = tf.matmul(
            self.dropout(probs, training=training), repeat_kv(value, self.num_key_value_groups)
        )
        context = tf.reshape(
            tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.num_heads * self.head_dim)
        )
        return self.o_proj(context), probs if output_attentions else None, layer_cache

    def window_mask(self, attention_mask: tf.Tensor, query_positions: tf.Tensor) -> tf.Tensor:
        """The additive mask with the keys at or before p - sliding_window hidden from the query at slot p."""
        key_positions = tf.range(tf.shape(attention_mask)[-1], dtype=query_positions.dtype)
        outside = key_positions[None, :] <= query_positions[:, None] - self.sliding_window
        hidden = tf.constant(attention_mask.dtype.min, attention_mask.dtype)
        return tf.where(outside[None, None], hidden, attention_mask)


class TFMistralMLP(TFLayer):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    def __init__(self, config: MistralConfig, **kwargs):
        super().__init__(**kwargs)
        bias = config.mlp_bias
        initializer = get_initializer(config.initializer_range)
        self.gate_proj = keras.layers.Dense(
            config.intermediate_size, use_bias=bias, kernel_initializer=initializer
        )
        self.up_proj = keras.layers.Dense(
            config.intermediate_size, use_bias=bias, kernel_initializer=initializer
        )
        self.down_proj = keras.layers.Dense(config.hidden_size, use_bias=bias, kernel_initializer=initializer)
        self.act_fn = get_tf_activation(config.hidden_act)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class TFMistralDecoderLayer(TFLayer):
    """Pre-norm attention and MLP, each with a residual connection."""

    def __init__(self, config: MistralConfig, layer_idx: int, **kwargs):
        super().__init__(**kwargs)
        self.self_attn = TFMistralAttention(config, layer_idx)
        self.mlp = TFMistralMLP(config)
        self.input_layernorm = TFMistralRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = TFMistralRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def call(
        self,
        hidden_states: tf.Tensor,
        cos_sin: tuple[tf.Tensor, tf.Tensor],
        attention_mask: tf.Tensor,
        layer_cache: tuple[tf.Tensor, tf.Tensor] | None = None,
        query_positions: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None, tuple[tf.Tensor, tf.Tensor] | None]:
        attended, probs, layer_cache = self.self_attn(
            self.input_layernorm(hidden_states),
            cos_sin,
            attention_mask,
            layer_cache,
            query_positions,
            output_attentions=output_attentions,
            training=training,
        )
        hidden_states = hidden_states + attended
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, probs, layer_cache


class TFMistralPreTrainedModel(TFPreTrainedModel):
    config_class = MistralConfig
    supports_gradient_checkpointing = True
    base_model_prefix = "model"
    _keys_to_ignore_on_load_unexpected = [r"rotary_emb\.inv_freq$"]


def _query_positions(cache_position: tf.Tensor | int | None, seq: int | tf.Tensor) -> tf.Tensor:
    """Absolute slots of the queries: cache_position + range(seq) (from 0 without a cache)."""
    start = (
        tf.zeros((), tf.int32)
        if cache_position is None
        else tf.reshape(tf.cast(cache_position, tf.int32), (-1,))[0]
    )
    return start + tf.range(seq, dtype=tf.int32)


class TFMistralModel(TFMistralPreTrainedModel):
    """The bare decoder: embeddings, layers, final RMSNorm."""

    layers = None  # torch's attribute name for the decoder layers (Keras' own `layers` property is unused)

    def __init__(self, config: MistralConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.embed_tokens = keras.layers.Embedding(
            config.vocab_size,
            config.hidden_size,
            embeddings_initializer=get_initializer(config.initializer_range),
        )
        self.layers = [TFMistralDecoderLayer(config, i) for i in range(config.num_hidden_layers)]
        self.norm = TFMistralRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = TFMistralRotaryEmbedding(config)
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.embed_tokens = value

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        past_key_values: KVCache | None = None,
        inputs_embeds: tf.Tensor | None = None,
        cache_position: tf.Tensor | int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPast | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("Pass exactly one of input_ids or inputs_embeds.")
        hidden_states = (
            self.embed_tokens(input_ids) if inputs_embeds is None else tf.convert_to_tensor(inputs_embeds)
        )
        seq = shape_list(hidden_states)[1]
        query_positions = _query_positions(cache_position, seq)
        if position_ids is None:
            position_ids = query_positions[None]
        key_length = shape_list(past_key_values[0][0])[2] if past_key_values is not None else seq
        mask = attention_bias(attention_mask, query_positions, key_length, hidden_states.dtype)
        cos_sin = self.rotary_emb(hidden_states, position_ids)

        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        new_cache = () if past_key_values is not None else None
        for i, layer in enumerate(self.layers):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            layer_cache = past_key_values[i] if past_key_values is not None else None
            hidden_states, probs, layer_cache = checkpointed_call(
                self,
                layer,
                hidden_states,
                cos_sin,
                mask,
                layer_cache,
                query_positions,
                output_attentions=output_attentions,
                training=training,
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


class TFMistralForCausalLM(TFMistralPreTrainedModel, GenerationMixin):
    """The decoder and a vocabulary projection: `lm_head` is the embedding layer itself when tied, else
    a layer of its own whose [vocab, hidden] weight is torch's `lm_head.weight`."""

    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config: MistralConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.model = TFMistralModel(config)
        if config.tie_word_embeddings:
            self.lm_head = self.model.get_input_embeddings()
        else:
            self.lm_head = keras.layers.Embedding(
                config.vocab_size,
                config.hidden_size,
                embeddings_initializer=get_initializer(config.initializer_range),
            )
            self.lm_head.build()
        self.post_init()

    def get_output_embeddings(self) -> keras.layers.Embedding:
        return self.lm_head

    def set_output_embeddings(self, value: keras.layers.Embedding) -> None:
        self.lm_head = value

    def init_cache(self, batch_size: int, max_length: int) -> KVCache:
        """Zeros: per layer (key, value) [batch_size, kv_heads, max_length, head_dim] in the model's dtype."""
        config = self.config
        shape = (batch_size, config.num_key_value_heads, max_length, config.head_dim)
        dtype = self.model.embed_tokens.compute_dtype
        return tuple(
            (tf.zeros(shape, dtype), tf.zeros(shape, dtype)) for _ in range(config.num_hidden_layers)
        )

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        past_key_values: KVCache | None = None,
        inputs_embeds: tf.Tensor | None = None,
        cache_position: tf.Tensor | int | None = None,
        labels: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        training: bool = False,
    ) -> CausalLMOutputWithPast | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            past_key_values,
            inputs_embeds,
            cache_position,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        hidden_states = positions_for_logits(outputs.last_hidden_state, logits_to_keep, labels)
        logits = tf.matmul(
            hidden_states, tf.cast(self.lm_head.embeddings, hidden_states.dtype), transpose_b=True
        )
        loss = None
        if labels is not None:  # token t predicts token t + 1
            loss = cross_entropy(tf.cast(logits[:, :-1], tf.float32), labels[:, 1:])
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


def last_token_indices(input_ids: tf.Tensor | None, pad_token_id: int | None, batch: int) -> tf.Tensor:
    """Per row, the index of the last token that is not padding (transformers' rule); the last without ids."""
    if pad_token_id is None and batch != 1:
        raise InputError(
            "Sequence classification of a batch needs config.pad_token_id to find each row's last token; "
            "set it (e.g. to the tokenizer's pad or eos id)."
        )
    if pad_token_id is None or input_ids is None:
        return None
    non_pad = tf.cast(tf.not_equal(input_ids, pad_token_id), tf.int32)
    return tf.argmax(tf.range(shape_list(input_ids)[-1]) * non_pad, axis=-1, output_type=tf.int32)


class TFMistralForSequenceClassification(TFMistralPreTrainedModel):
    """The decoder and a `score` projection of the last non-padding token."""

    def __init__(self, config: MistralConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.model = TFMistralModel(config)
        self.score = keras.layers.Dense(
            config.num_labels, use_bias=False, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.post_init()

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        inputs_embeds: tf.Tensor | None = None,
        labels: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            None,
            inputs_embeds,
            None,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        logits = self.score(outputs.last_hidden_state)
        batch = shape_list(logits)[0]
        last = last_token_indices(input_ids, self.config.pad_token_id, batch)
        pooled = logits[:, -1] if last is None else tf.gather(logits, last, batch_dims=1)
        loss = sequence_classification_loss(self.config, pooled, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=pooled, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )
