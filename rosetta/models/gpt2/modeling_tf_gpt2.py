"""GPT-2 in TensorFlow/Keras: config -> attention -> MLP -> block -> stack -> pretrained base -> heads.

The torch file, layer for layer: attributes carry the torch module names, so every weight's path
maps to Hugging Face's parameter name. torch's `Conv1D` is a Dense layer here: its [in, out] kernel
is the canonical [in, out] array as it is (`_layout_overrides`), not a transpose. Dropout is active
only in calls with `training=True`.

With `past_key_values` (a tuple of (k, v) pairs from `init_cache`) the call follows rosetta's
KV-cache contract and returns the updated tuple; every shape stays static, so a cached step
compiles once under `tf.function(jit_compile=True)`.
"""

from __future__ import annotations

from typing import ClassVar

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
from .configuration_gpt2 import CONV1D_LAYOUTS, IGNORED_BUFFERS, GPT2Config

Cache = tuple[tuple[tf.Tensor, tf.Tensor], ...]


def _conv1d(features: int, config: GPT2Config) -> keras.layers.Dense:
    """torch's Conv1D: a Dense layer, whose kernel is [in, out] as Conv1D's weight is."""
    return keras.layers.Dense(features, kernel_initializer=get_initializer(config.initializer_range))


def causal_mask(
    attention_mask: tf.Tensor | None, query_length: int, key_length: int, offset: tf.Tensor, dtype: tf.DType
) -> tf.Tensor:
    """Additive [batch|1, 1, query, key] mask: 0 where query i (absolute slot offset + i) may attend key j
    (j <= offset + i and attention_mask[b, j] == 1), the dtype's minimum elsewhere."""
    query_positions = tf.range(query_length) + offset
    allowed = tf.range(key_length)[None, :] <= query_positions[:, None]
    allowed = allowed[None, None]
    if attention_mask is not None:
        allowed = allowed & tf.cast(attention_mask[:, None, None, :key_length], tf.bool)
    return tf.where(allowed, tf.zeros((), dtype), tf.constant(dtype.min, dtype))


class TFGPT2Attention(TFLayer):
    def __init__(self, config: GPT2Config, layer_idx: int = 0, **kwargs):
        super().__init__(**kwargs)
        if config.n_embd % config.n_head != 0:
            raise InputError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head}).")
        self.layer_idx = layer_idx
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.scaling = config.layer_scaling(layer_idx)
        self.upcast = config.reorder_and_upcast_attn
        self.c_attn = _conv1d(3 * self.embed_dim, config)
        self.c_proj = _conv1d(self.embed_dim, config)
        self.attn_dropout = keras.layers.Dropout(config.attn_pdrop)
        self.resid_dropout = keras.layers.Dropout(config.resid_pdrop)

    def split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq, _ = shape_list(x)
        return tf.transpose(tf.reshape(x, (batch, seq, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        cache: tuple[tf.Tensor, tf.Tensor] | None = None,
        cache_position: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None, tuple[tf.Tensor, tf.Tensor] | None]:
        query, key, value = tf.split(self.c_attn(hidden_states), 3, axis=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        if cache is not None:
            key = update_cache(cache[0], key, cache_position)
            value = update_cache(cache[1], value, cache_position)
            cache = (key, value)

        if self.upcast:
            query, key = tf.cast(query, tf.float32), tf.cast(key, tf.float32)
        scores = tf.matmul(query, key, transpose_b=True) * self.scaling + tf.cast(attention_mask, query.dtype)
        probs = self.attn_dropout(tf.cast(tf.nn.softmax(scores, axis=-1), value.dtype), training=training)
        context = tf.matmul(probs, value)
        batch, _, seq, _ = shape_list(context)
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.embed_dim))
        output = self.resid_dropout(self.c_proj(context), training=training)
        return output, probs if output_attentions else None, cache


class TFGPT2MLP(TFLayer):
    def __init__(self, config: GPT2Config, **kwargs):
        super().__init__(**kwargs)
        self.c_fc = _conv1d(config.inner_size, config)
        self.c_proj = _conv1d(config.n_embd, config)
        self.act = get_tf_activation(config.activation_function)
        self.dropout = keras.layers.Dropout(config.resid_pdrop)

    def call(self, hidden_states: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))), training=training)


class TFGPT2Block(TFLayer):
    """Pre-LayerNorm block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPT2Config, layer_idx: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.ln_1 = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon)
        self.attn = TFGPT2Attention(config, layer_idx)
        self.ln_2 = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon)
        self.mlp = TFGPT2MLP(config)

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        cache: tuple[tf.Tensor, tf.Tensor] | None = None,
        cache_position: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None, tuple[tf.Tensor, tf.Tensor] | None]:
        attn_output, probs, cache = self.attn(
            self.ln_1(hidden_states),
            attention_mask,
            cache,
            cache_position,
            output_attentions=output_attentions,
            training=training,
        )
        hidden_states = hidden_states + attn_output
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states), training=training)
        return hidden_states, probs, cache


class TFGPT2PreTrainedModel(TFPreTrainedModel):
    config_class = GPT2Config
    supports_gradient_checkpointing = True
    base_model_prefix = "transformer"
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = IGNORED_BUFFERS
    _layout_overrides: ClassVar[dict[str, str]] = CONV1D_LAYOUTS

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """One row: a batch of several needs a pad_token_id in the sequence-classification head."""
        return {"input_ids": tf.constant([[0, 1, 2]], dtype=tf.int32) % self.config.vocab_size}

    def init_cache(self, batch_size: int, max_length: int) -> Cache:
        """Zeroed (k, v) pairs of [batch, n_head, max_length, head_dim] for every block, in the model's dtype."""
        config = self.config
        shape = (batch_size, config.n_head, max_length, config.n_embd // config.n_head)
        dtype = self.weights_dtype_name
        return tuple((tf.zeros(shape, dtype), tf.zeros(shape, dtype)) for _ in range(config.n_layer))


class TFGPT2Model(TFGPT2PreTrainedModel):
    """The bare GPT-2 decoder: token + learned position embeddings, blocks, final LayerNorm."""

    def __init__(self, config: GPT2Config, **kwargs):
        super().__init__(config, **kwargs)
        initializer = get_initializer(config.initializer_range)
        self.wte = keras.layers.Embedding(
            config.vocab_size, config.n_embd, embeddings_initializer=initializer
        )
        self.wpe = keras.layers.Embedding(
            config.n_positions, config.n_embd, embeddings_initializer=initializer
        )
        self.drop = keras.layers.Dropout(config.embd_pdrop)
        self.h = [TFGPT2Block(config, layer_idx=i) for i in range(config.n_layer)]
        self.ln_f = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.wte

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.wte = value

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        past_key_values: Cache | None = None,
        attention_mask: tf.Tensor | None = None,
        token_type_ids: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
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
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        seq = shape_list(inputs_embeds)[1]
        offset = _cache_offset(past_key_values, cache_position)
        if position_ids is None:
            position_ids = (tf.range(seq) + offset)[None, :]
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states, training=training)

        key_length = shape_list(past_key_values[0][0])[2] if past_key_values is not None else seq
        mask = causal_mask(attention_mask, seq, key_length, offset, hidden_states.dtype)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        new_cache = () if past_key_values is not None else None
        for i, block in enumerate(self.h):
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            layer_cache = past_key_values[i] if past_key_values is not None else None
            hidden_states, probs, layer_cache = checkpointed_call(
                self,
                block,
                hidden_states,
                mask,
                layer_cache,
                offset,
                output_attentions=output_attentions,
                training=training,
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


def _cache_offset(cache: Cache | None, cache_position: tf.Tensor | int | None) -> tf.Tensor:
    """Where the first new token sits: `cache_position` with a cache, 0 without one."""
    if cache is None:
        return tf.zeros((), tf.int32)
    if cache_position is None:
        raise InputError(
            "A call with past_key_values needs cache_position: the slot input_ids[:, 0] is written to."
        )
    return tf.reshape(tf.cast(cache_position, tf.int32), ())


def causal_lm_loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Next-token cross entropy: position i predicts labels[i + 1]; -100 labels count for nothing."""
    return cross_entropy(tf.cast(logits[:, :-1], tf.float32), labels[:, 1:])


class TFGPT2LMHeadModel(TFGPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with a language modelling head: the token embedding layer itself when tied (`lm_head.weight`)."""

    _tied_weights_keys: ClassVar[list[str]] = ["lm_head.weight"]

    def __init__(self, config: GPT2Config, **kwargs):
        super().__init__(config, **kwargs)
        self.transformer = TFGPT2Model(config)
        if config.tie_word_embeddings:
            self.lm_head = self.transformer.get_input_embeddings()
        else:
            self.lm_head = keras.layers.Embedding(
                config.vocab_size,
                config.n_embd,
                embeddings_initializer=get_initializer(config.initializer_range),
            )
            self.lm_head.build()
        self.post_init()

    def get_output_embeddings(self) -> keras.layers.Embedding:
        return self.lm_head

    def set_output_embeddings(self, value: keras.layers.Embedding) -> None:
        self.lm_head = value

    def call(
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
        training: bool = False,
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
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        hidden_states = positions_for_logits(outputs.last_hidden_state, logits_to_keep, labels)
        logits = tf.matmul(hidden_states, self.lm_head.embeddings, transpose_b=True)
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


def last_non_pad_index(config: GPT2Config, input_ids: tf.Tensor | None, batch: int, seq: int) -> tf.Tensor:
    """Per row, the rightmost token that is not padding (left or right padding); the last token
    without a pad_token_id or with inputs_embeds."""
    if config.pad_token_id is None and not (isinstance(batch, int) and batch == 1):
        raise InputError(
            "TFGPT2ForSequenceClassification needs config.pad_token_id to find the last token of each row of a "
            "batch; set it (e.g. to the tokenizer's pad or eos id) or pass one row at a time."
        )
    if config.pad_token_id is None or input_ids is None:
        return tf.fill((batch,), seq - 1)
    non_pad = tf.cast(tf.not_equal(input_ids, tf.cast(config.pad_token_id, input_ids.dtype)), tf.int32)
    return tf.argmax(tf.range(seq) * non_pad, axis=-1, output_type=tf.int32)


class TFGPT2ForSequenceClassification(TFGPT2PreTrainedModel):
    """A linear score on the hidden state of each row's last non-padding token."""

    def __init__(self, config: GPT2Config, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.transformer = TFGPT2Model(config)
        self.score = keras.layers.Dense(
            config.num_labels, use_bias=False, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.post_init()

    def call(
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
        training: bool = False,
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
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        logits = self.score(outputs.last_hidden_state)
        batch, seq = shape_list(logits)[:2]
        last = last_non_pad_index(self.config, input_ids, batch, seq)
        pooled_logits = tf.gather(logits, last, axis=1, batch_dims=1)
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
