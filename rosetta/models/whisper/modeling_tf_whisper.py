"""Whisper in TensorFlow/Keras: conv front end -> attention -> encoder/decoder layers -> stacks -> heads.

The torch file, layer for layer: attributes carry the torch module names, so every weight's path maps to Hugging
Face's parameter name by the generic rules (the convolutions' WIO kernels to OIW), and `proj_out` is the decoder's
token-embedding layer itself, as tied in torch. `input_features` are [batch, mel bins, frames] as in torch; the
convolutions run channels-last. Dropout is active only in calls with `training=True`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ...backends.tf.activations import get_tf_activation
from ...backends.tf.losses import cross_entropy
from ...backends.tf.modeling_tf_utils import TFLayer, TFPreTrainedModel
from ...backends.tf.tf_utils import get_initializer, query_blocked_attention, update_cache
from ...core.errors import InputError
from ...core.outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput, finish_output
from .configuration_whisper import WhisperConfig
from .generation_whisper import Ops, WhisperPlan, process_scores, transcribe, whisper_plan


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's encoder positions [length, channels] (float32), as torch's `sinusoids`."""
    increment = np.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = np.exp(-increment * np.arange(channels // 2, dtype=np.float32)).astype(np.float32)
    scaled = np.arange(length, dtype=np.float32)[:, None] * inv_timescales[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1).astype(np.float32)


def shift_tokens_right(input_ids: tf.Tensor, pad_token_id: int, decoder_start_token_id: int) -> tf.Tensor:
    input_ids = tf.cast(input_ids, tf.int32)
    start = tf.fill((tf.shape(input_ids)[0], 1), decoder_start_token_id)
    shifted = tf.concat([start, input_ids[:, :-1]], axis=1)
    return tf.where(shifted == -100, pad_token_id, shifted)


def _dense(config: WhisperConfig, units: int, use_bias: bool = True) -> keras.layers.Dense:
    return keras.layers.Dense(units, use_bias=use_bias, kernel_initializer=get_initializer(config.init_std))


def _layer_norm() -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=1e-5)


class TFWhisperAttention(TFLayer):
    def __init__(self, config: WhisperConfig, num_heads: int, is_cross: bool = False, **kwargs):
        super().__init__(**kwargs)
        embed_dim = config.d_model
        if embed_dim % num_heads != 0:
            raise InputError(
                f"d_model ({embed_dim}) must be a multiple of the attention heads ({num_heads})."
            )
        self.num_heads, self.head_dim, self.is_cross = num_heads, embed_dim // num_heads, is_cross
        self.k_proj = _dense(config, embed_dim, use_bias=False)
        self.v_proj = _dense(config, embed_dim)
        self.q_proj = _dense(config, embed_dim)
        self.out_proj = _dense(config, embed_dim)
        self.dropout = keras.layers.Dropout(config.attention_dropout)

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        return tf.transpose(tf.reshape(x, (batch, seq, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def _merge_heads(self, context: tf.Tensor) -> tf.Tensor:
        batch, seq = tf.shape(context)[0], tf.shape(context)[2]
        return tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.num_heads * self.head_dim))

    def key_values(self, source: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Keys and values [batch, heads, length, head_dim] of `source` (the cross-attention cache entries)."""
        return self._heads(self.k_proj(source)), self._heads(self.v_proj(source))

    def call(
        self,
        hidden_states,
        key_value_states=None,
        attention_mask=None,
        training: bool = False,
        layer_cache: tuple[tf.Tensor, tf.Tensor] | None = None,
        query_positions: tf.Tensor | None = None,
        output_attentions: bool = True,
    ):
        """`layer_cache`: cross-attention, the precomputed (key, value); self-attention, the contract's
        (key, value) [batch, heads, max_length, head_dim], written at `query_positions` and returned."""
        query = self._heads(self.q_proj(hidden_states) * self.head_dim**-0.5)
        if not (
            output_attentions or self.is_cross or layer_cache is not None or attention_mask is not None
        ) and (
            not training or self.dropout.rate == 0
        ):  # the encoder: its probabilities unused, its 1500 queries attended a block at a time
            context = query_blocked_attention(query, *self.key_values(hidden_states))
            return self.out_proj(self._merge_heads(context)), None
        if self.is_cross and layer_cache is not None:
            key, value = layer_cache
        else:
            key, value = self.key_values(key_value_states if self.is_cross else hidden_states)
        if not self.is_cross and layer_cache is not None:
            key = update_cache(layer_cache[0], key, query_positions[0])
            value = update_cache(layer_cache[1], value, query_positions[0])
            layer_cache = (key, value)
        scores = tf.matmul(query, key, transpose_b=True)
        if attention_mask is not None:
            scores = tf.where(attention_mask, scores, scores.dtype.min)
        probs = tf.nn.softmax(scores, axis=-1)
        context = self._merge_heads(tf.matmul(self.dropout(probs, training=training), value))
        if layer_cache is not None and not self.is_cross:
            return self.out_proj(context), probs, layer_cache
        return self.out_proj(context), probs


class TFWhisperEncoderLayer(TFLayer):
    def __init__(self, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        self.self_attn = TFWhisperAttention(config, config.encoder_attention_heads)
        self.self_attn_layer_norm = _layer_norm()
        self.activation_fn = get_tf_activation(config.activation_function)
        self.fc1 = _dense(config, config.encoder_ffn_dim)
        self.fc2 = _dense(config, config.d_model)
        self.final_layer_norm = _layer_norm()
        self.dropout = keras.layers.Dropout(config.dropout)
        self.activation_dropout = keras.layers.Dropout(config.activation_dropout)

    def call(self, hidden_states, training: bool = False, output_attentions: bool = True):
        attn, probs = self.self_attn(
            self.self_attn_layer_norm(hidden_states), training=training, output_attentions=output_attentions
        )
        hidden_states = hidden_states + self.dropout(attn, training=training)
        ffn = self.activation_fn(self.fc1(self.final_layer_norm(hidden_states)))
        ffn = self.fc2(self.activation_dropout(ffn, training=training))
        return hidden_states + self.dropout(ffn, training=training), probs


class TFWhisperDecoderLayer(TFLayer):
    def __init__(self, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        heads = config.decoder_attention_heads
        self.self_attn = TFWhisperAttention(config, heads)
        self.self_attn_layer_norm = _layer_norm()
        self.encoder_attn = TFWhisperAttention(config, heads, is_cross=True)
        self.encoder_attn_layer_norm = _layer_norm()
        self.activation_fn = get_tf_activation(config.activation_function)
        self.fc1 = _dense(config, config.decoder_ffn_dim)
        self.fc2 = _dense(config, config.d_model)
        self.final_layer_norm = _layer_norm()
        self.dropout = keras.layers.Dropout(config.dropout)
        self.activation_dropout = keras.layers.Dropout(config.activation_dropout)

    def call(
        self,
        hidden_states,
        causal_mask,
        encoder_hidden_states,
        training: bool = False,
        layer_cache=None,
        query_positions=None,
    ):
        """`layer_cache`: (self (key, value), cross (key, value)); returned with the self entry updated."""
        normed = self.self_attn_layer_norm(hidden_states)
        if layer_cache is None:
            attn, self_probs = self.self_attn(normed, attention_mask=causal_mask, training=training)
            cross_cache = None
        else:
            attn, self_probs, self_cache = self.self_attn(
                normed,
                attention_mask=causal_mask,
                training=training,
                layer_cache=layer_cache[0],
                query_positions=query_positions,
            )
            cross_cache = layer_cache[1]
            layer_cache = (self_cache, cross_cache)
        hidden_states = hidden_states + self.dropout(attn, training=training)
        attn, cross_probs = self.encoder_attn(
            self.encoder_attn_layer_norm(hidden_states),
            key_value_states=encoder_hidden_states,
            training=training,
            layer_cache=cross_cache,
        )
        hidden_states = hidden_states + self.dropout(attn, training=training)
        ffn = self.activation_fn(self.fc1(self.final_layer_norm(hidden_states)))
        ffn = self.fc2(self.activation_dropout(ffn, training=training))
        out = (hidden_states + self.dropout(ffn, training=training), self_probs, cross_probs)
        return out if layer_cache is None else (*out, layer_cache)


class TFWhisperEncoder(TFLayer):
    def __init__(self, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        init = get_initializer(config.init_std)
        self.conv1 = keras.layers.Conv1D(config.d_model, 3, padding="valid", kernel_initializer=init)
        self.conv2 = keras.layers.Conv1D(
            config.d_model, 3, strides=2, padding="valid", kernel_initializer=init
        )
        self.embed_positions = keras.layers.Embedding(
            config.max_source_positions,
            config.d_model,
            embeddings_initializer=keras.initializers.Constant(
                sinusoids(config.max_source_positions, config.d_model)
            ),
        )
        self.layers = [TFWhisperEncoderLayer(config) for _ in range(config.encoder_layers)]
        self.layer_norm = _layer_norm()
        self.dropout = keras.layers.Dropout(config.dropout)

    def call(self, input_features, output_attentions=False, output_hidden_states=False, training=False):
        config = self.config
        expected = (config.num_mel_bins, 2 * config.max_source_positions)
        if (
            input_features is None
            or input_features.shape.rank != 3
            or tuple(input_features.shape[1:]) != expected
        ):
            shape = None if input_features is None else tuple(input_features.shape)
            raise InputError(
                f"Whisper needs input_features [batch, {expected[0]}, {expected[1]}] (num_mel_bins, "
                f"2 * max_source_positions), got {shape}. Pass WhisperFeatureExtractor's output (padded to 30 s)."
            )
        pad = [[0, 0], [1, 1], [0, 0]]
        features = tf.transpose(tf.cast(input_features, self.compute_dtype), (0, 2, 1))
        hidden = tf.nn.gelu(self.conv1(tf.pad(features, pad)), approximate=False)
        hidden = tf.nn.gelu(self.conv2(tf.pad(hidden, pad)), approximate=False)
        positions = self.embed_positions(tf.range(config.max_source_positions))
        hidden = self.dropout(hidden + positions, training=training)
        states, attentions = (), ()
        for layer in self.layers:
            states += (hidden,)
            hidden, probs = layer(hidden, training=training, output_attentions=output_attentions)
            attentions += (probs,)
        hidden = self.layer_norm(hidden)
        return BaseModelOutput(
            last_hidden_state=hidden,
            hidden_states=states + (hidden,) if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
        )


class TFWhisperDecoder(TFLayer):
    def __init__(self, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        init = get_initializer(config.init_std)
        self.embed_tokens = keras.layers.Embedding(
            config.vocab_size, config.d_model, embeddings_initializer=init
        )
        self.embed_positions = keras.layers.Embedding(
            config.max_target_positions, config.d_model, embeddings_initializer=init
        )
        self.layers = [TFWhisperDecoderLayer(config) for _ in range(config.decoder_layers)]
        self.layer_norm = _layer_norm()
        self.dropout = keras.layers.Dropout(config.dropout)

    def call(
        self,
        input_ids,
        encoder_hidden_states,
        attention_mask=None,
        position_ids=None,
        output_attentions=False,
        output_hidden_states=False,
        training=False,
        past_key_values=None,
        cache_position=None,
    ):
        """`past_key_values`: per layer (self (key, value) [batch, heads, max_length, head_dim], cross (key, value)),
        the self entries written at `cache_position` and returned under "past_key_values"."""
        seq = input_ids.shape[1]
        if seq > self.config.max_target_positions:
            raise InputError(
                f"decoder_input_ids reach position {seq}, beyond max_target_positions "
                f"({self.config.max_target_positions}); shorten the decoder prompt or max_new_tokens."
            )
        start = tf.constant(0) if cache_position is None else tf.cast(cache_position, tf.int32)
        query_positions = start + tf.range(seq)
        if position_ids is None:
            position_ids = query_positions[None, :]
        scale = self.config.d_model**0.5 if self.config.scale_embedding else 1.0
        hidden = self.embed_tokens(input_ids) * scale + self.embed_positions(position_ids)
        hidden = self.dropout(hidden, training=training)
        key_length = seq if past_key_values is None else past_key_values[0][0][0].shape[2]
        mask = (tf.range(key_length)[None, :] <= query_positions[:, None])[None, None]
        if attention_mask is not None:
            mask = mask & tf.cast(attention_mask, tf.bool)[:, None, None, :]
        states, self_attn, cross_attn, new_cache = (), (), (), ()
        for i, layer in enumerate(self.layers):
            states += (hidden,)
            if past_key_values is None:
                hidden, self_probs, cross_probs = layer(
                    hidden, causal_mask=mask, encoder_hidden_states=encoder_hidden_states, training=training
                )
            else:
                hidden, self_probs, cross_probs, layer_cache = layer(
                    hidden,
                    causal_mask=mask,
                    encoder_hidden_states=encoder_hidden_states,
                    training=training,
                    layer_cache=past_key_values[i],
                    query_positions=query_positions,
                )
                new_cache += (layer_cache,)
            self_attn, cross_attn = self_attn + (self_probs,), cross_attn + (cross_probs,)
        hidden = self.layer_norm(hidden)
        return {
            "last_hidden_state": hidden,
            "hidden_states": states + (hidden,) if output_hidden_states else None,
            "attentions": self_attn if output_attentions else None,
            "cross_attentions": cross_attn if output_attentions else None,
            "past_key_values": new_cache if past_key_values is not None else None,
        }

    def cross_key_values(self, encoder_hidden_states: tf.Tensor) -> tuple[tuple[tf.Tensor, tf.Tensor], ...]:
        """Per layer the cross-attention (key, value) of the encoder output, computed once per window."""
        return tuple(layer.encoder_attn.key_values(encoder_hidden_states) for layer in self.layers)


class TFWhisperPreTrainedModel(TFPreTrainedModel):
    config_class = WhisperConfig
    base_model_prefix = "model"
    main_input_name = "input_features"

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """Silence of the config's length and one start token: enough to create every weight."""
        config = self.config
        shape = (1, config.num_mel_bins, 2 * config.max_source_positions)
        return {
            "input_features": tf.constant(np.zeros(shape, dtype=np.float32)),
            "decoder_input_ids": tf.constant([[0]], dtype=tf.int32),
        }


class TFWhisperModel(TFWhisperPreTrainedModel):
    """The encoder and the decoder, without the vocabulary projection."""

    def __init__(self, config: WhisperConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.encoder = TFWhisperEncoder(config)
        self.decoder = TFWhisperDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.decoder.embed_tokens = value

    def call(
        self,
        input_features=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        decoder_position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        training: bool = False,
    ):
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = config.return_dict if return_dict is None else return_dict
        if decoder_input_ids is None:
            raise InputError(
                "Whisper's decoder needs decoder_input_ids (start with config.decoder_start_token_id)."
            )
        encoder = self.encoder(
            input_features,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
        )
        decoder = self.decoder(
            decoder_input_ids,
            encoder_hidden_states=encoder.last_hidden_state,
            attention_mask=decoder_attention_mask,
            position_ids=decoder_position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
        )
        outputs = Seq2SeqModelOutput(
            last_hidden_state=decoder["last_hidden_state"],
            decoder_hidden_states=decoder["hidden_states"],
            decoder_attentions=decoder["attentions"],
            cross_attentions=decoder["cross_attentions"],
            encoder_last_hidden_state=encoder.last_hidden_state,
            encoder_hidden_states=encoder.hidden_states,
            encoder_attentions=encoder.attentions,
        )
        return finish_output(outputs, return_dict)


class TFWhisperForConditionalGeneration(TFWhisperPreTrainedModel):
    """Encoder-decoder with `proj_out`, the decoder's token-embedding layer itself (tied)."""

    _tied_weights_keys = ["proj_out.weight"]

    def __init__(self, config: WhisperConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.model = TFWhisperModel(config)
        self.post_init()

    def get_output_embeddings(self) -> keras.layers.Embedding:
        return self.model.decoder.embed_tokens

    def call(
        self,
        input_features=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        decoder_position_ids=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        training: bool = False,
    ):
        config = self.config
        return_dict = config.return_dict if return_dict is None else return_dict
        if labels is not None and decoder_input_ids is None:
            decoder_input_ids = shift_tokens_right(labels, config.pad_token_id, config.decoder_start_token_id)
        outputs = self.model(
            input_features,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            decoder_position_ids=decoder_position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        hidden = outputs.last_hidden_state
        embeddings = self.model.decoder.embed_tokens.embeddings
        logits = tf.matmul(hidden, tf.cast(embeddings, hidden.dtype), transpose_b=True)
        loss = cross_entropy(tf.cast(logits, tf.float32), labels) if labels is not None else None
        fields = {k: v for k, v in outputs.items() if k != "last_hidden_state"}
        return finish_output(Seq2SeqLMOutput(loss=loss, logits=logits, **fields), return_dict)

    generate_trace_count = 0

    def generate(
        self, input_features: Any, generation_config: Any = None, attention_mask: Any = None, **kwargs: Any
    ) -> tf.Tensor:
        """Greedy transcription as the torch model's `generate` (same tokens; see its docstring for the keywords and
        long-form windows). Each window runs in one `tf.function(jit_compile=True)`: the encoder, the
        cross-attention keys/values once per layer, the prompt prefill and a `tf.while_loop` over the self-attention
        cache; compiled once per (plan, batch), so equal shapes never retrace (`generate_trace_count`)."""
        model_config = getattr(self, "generation_config", None)

        def plan_for(long_form: bool) -> WhisperPlan:
            return whisper_plan(self.config, model_config, generation_config, kwargs, long_form)

        def window(plan: WhisperPlan, features: np.ndarray) -> np.ndarray:
            tokens, length = self._compiled_window(plan)(tf.constant(features))
            return tokens.numpy()[:, len(plan.prompt) : int(length)]

        features = None if input_features is None else np.asarray(input_features)
        mask = None if attention_mask is None else np.asarray(attention_mask)
        return tf.constant(transcribe(plan_for, self.config, features, mask, window))

    def init_cache(self, batch_size: int, max_length: int) -> tuple:
        """Zeros: per layer the self-attention (key, value) [batch_size, heads, max_length, head_dim]."""
        config = self.config
        heads = config.decoder_attention_heads
        shape = (batch_size, heads, max_length, config.d_model // heads)
        dtype = self.model.decoder.embed_tokens.compute_dtype
        return tuple((tf.zeros(shape, dtype), tf.zeros(shape, dtype)) for _ in range(config.decoder_layers))

    def _compiled_window(self, plan: WhisperPlan) -> Any:
        compiled = self.__dict__.setdefault("_generate_fns", {})
        if plan.key not in compiled:

            def traced(features):
                type(self).generate_trace_count += 1  # runs once per trace, never per call
                return _window_loop(self, plan, features)

            compiled[plan.key] = tf.function(
                traced, jit_compile=True, reduce_retracing=False, autograph=False
            )
        return compiled[plan.key]

    def _decode(self, ids, encoder_hidden, cache, position):
        decoder = self.model.decoder
        out = decoder(
            ids, encoder_hidden_states=encoder_hidden, past_key_values=cache, cache_position=position
        )
        hidden = out["last_hidden_state"][:, -1]
        logits = tf.matmul(hidden, tf.cast(decoder.embed_tokens.embeddings, hidden.dtype), transpose_b=True)
        return tf.cast(logits, tf.float32), out["past_key_values"]


def _tf_where(condition, x, y):
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    dtype = x.dtype if x.shape.rank else y.dtype
    return tf.where(condition, tf.cast(x, dtype), tf.cast(y, dtype))


TF_OPS = Ops(
    asarray=tf.constant,
    where=_tf_where,
    max=lambda x, axis: tf.reduce_max(x, axis=axis),
    logsumexp=lambda x, axis: tf.reduce_logsumexp(x, axis=axis),
    log_softmax=lambda x: tf.nn.log_softmax(x, axis=-1),
    column=lambda x, i: tf.gather(x, tf.maximum(i, 0), axis=1),
)


def _window_loop(model: TFWhisperForConditionalGeneration, plan: WhisperPlan, features):
    """One window, traced once: encoder, cross keys/values, prompt prefill, then a `tf.while_loop`."""
    batch, begin, total = features.shape[0], len(plan.prompt), plan.max_length
    encoder_hidden = model.model.encoder(features).last_hidden_state
    cache = tuple(zip(model.init_cache(batch, total), model.model.decoder.cross_key_values(encoder_hidden)))
    prompt = tf.tile(tf.constant([plan.prompt], tf.int32), (batch, 1))
    tokens = tf.concat([prompt, tf.fill((batch, total - begin), tf.constant(plan.pad_token_id, tf.int32))], 1)
    logits, cache = model._decode(prompt, encoder_hidden, cache, tf.constant(0))
    eos = tf.constant(plan.eos_token_ids, tf.int32)
    columns = tf.range(total)[None, :]

    def cond(cur, tokens, done, logits, cache):
        return (cur < total) & ~tf.reduce_all(done)

    def body(cur, tokens, done, logits, cache):
        scores = process_scores(TF_OPS, plan, tokens, cur, logits)
        chosen = tf.where(done, plan.pad_token_id, tf.argmax(scores, axis=-1, output_type=tf.int32))
        tokens = tf.where(columns == cur, chosen[:, None], tokens)
        done = done | tf.reduce_any(chosen[:, None] == eos[None, :], axis=-1)
        logits, cache = model._decode(chosen[:, None], encoder_hidden, cache, tf.minimum(cur, total - 1))
        return cur + 1, tokens, done, logits, cache

    state = (tf.constant(begin), tokens, tf.zeros((batch,), tf.bool), logits, cache)
    cur, tokens, *_ = tf.while_loop(cond, body, state, maximum_iterations=total - begin)
    return tokens, cur
