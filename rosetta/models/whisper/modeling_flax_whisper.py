"""Whisper in JAX/Flax: conv front end -> attention -> encoder/decoder layers -> stacks -> heads.

Module for module and attribute for attribute the torch file (`modeling_whisper.py`), as linen modules: the params
tree reads `model/decoder/layers/0/encoder_attn/k_proj/kernel` where torch's state dict reads
`model.decoder.layers.0.encoder_attn.k_proj.weight`; the convolutions' WIO kernels are torch's OIW weights by the
generic layout rule, and `proj_out` is the decoder's token embedding itself (`Embed.attend`), as tied in torch.
`input_features` are [batch, mel bins, frames] as in torch; the convolutions run channels-last.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ...backends.flax.activations import get_activation
from ...backends.flax.flax_utils import FlaxModuleList, query_blocked_attention
from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel, Path
from ...core.errors import InputError
from ...core.outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput, finish_output
from .configuration_whisper import WhisperConfig
from .generation_whisper import Ops, WhisperPlan, process_scores, transcribe, whisper_plan

Array = jax.Array


def _dense(features: int, dtype: Any, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=dtype)


def _layer_norm(dtype: Any) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=1e-5, dtype=dtype, param_dtype=dtype, use_fast_variance=False)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's encoder positions [length, channels] (float32), as torch's `sinusoids`."""
    increment = np.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = np.exp(-increment * np.arange(channels // 2, dtype=np.float32)).astype(np.float32)
    scaled = np.arange(length, dtype=np.float32)[:, None] * inv_timescales[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1).astype(np.float32)


def shift_tokens_right(input_ids: Array, pad_token_id: int, decoder_start_token_id: int) -> Array:
    shifted = jnp.concatenate(
        [jnp.full((input_ids.shape[0], 1), decoder_start_token_id, input_ids.dtype), input_ids[:, :-1]],
        axis=1,
    )
    return jnp.where(shifted == -100, pad_token_id, shifted)


class FlaxWhisperAttention(nn.Module):
    config: WhisperConfig
    num_heads: int
    is_cross: bool = False
    dtype: Any = jnp.float32

    def setup(self) -> None:
        embed_dim = self.config.d_model
        if embed_dim % self.num_heads != 0:
            raise InputError(
                f"d_model ({embed_dim}) must be a multiple of the attention heads ({self.num_heads})."
            )
        self.head_dim = embed_dim // self.num_heads
        self.k_proj = _dense(embed_dim, self.dtype, use_bias=False)
        self.v_proj = _dense(embed_dim, self.dtype)
        self.q_proj = _dense(embed_dim, self.dtype)
        self.out_proj = _dense(embed_dim, self.dtype)
        self.dropout = nn.Dropout(self.config.attention_dropout)

    def _heads(self, x: Array) -> Array:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge_heads(self, context: Array) -> Array:
        batch, _, seq, _ = context.shape
        return context.transpose(0, 2, 1, 3).reshape(batch, seq, self.num_heads * self.head_dim)

    def key_values(self, source: Array) -> tuple[Array, Array]:
        """Keys and values [batch, heads, length, head_dim] of `source` (the cross-attention cache entries)."""
        return self._heads(self.k_proj(source)), self._heads(self.v_proj(source))

    def __call__(
        self,
        hidden_states,
        key_value_states=None,
        mask=None,
        deterministic: bool = True,
        layer_cache: tuple[Array, Array] | None = None,
        start: Array | None = None,
        output_attentions: bool = True,
    ):
        """`layer_cache`: cross-attention, the precomputed (key, value); self-attention, the contract's
        (key, value) [batch, heads, max_length, head_dim], written at `start` and returned."""
        query = self._heads(self.q_proj(hidden_states) * self.head_dim**-0.5)
        if not (output_attentions or self.is_cross or layer_cache is not None or mask is not None) and (
            deterministic or self.config.attention_dropout == 0
        ):  # the encoder: its probabilities unused, its 1500 queries attended a block at a time
            context = query_blocked_attention(query, *self.key_values(hidden_states))
            return self.out_proj(self._merge_heads(context)), None
        if self.is_cross and layer_cache is not None:
            key, value = layer_cache
        else:
            key, value = self.key_values(key_value_states if self.is_cross else hidden_states)
        if not self.is_cross and layer_cache is not None:
            index = (0, 0, start, 0)
            key = jax.lax.dynamic_update_slice(layer_cache[0], key.astype(layer_cache[0].dtype), index)
            value = jax.lax.dynamic_update_slice(layer_cache[1], value.astype(layer_cache[1].dtype), index)
            layer_cache = (key, value)
        scores = query @ key.swapaxes(-1, -2)
        if mask is not None:
            scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
        probs = jax.nn.softmax(scores, axis=-1)
        context = self._merge_heads(self.dropout(probs, deterministic=deterministic) @ value)
        if layer_cache is not None and not self.is_cross:
            return self.out_proj(context), probs, layer_cache
        return self.out_proj(context), probs


class FlaxWhisperEncoderLayer(nn.Module):
    config: WhisperConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.self_attn = FlaxWhisperAttention(config, config.encoder_attention_heads, dtype=self.dtype)
        self.self_attn_layer_norm = _layer_norm(self.dtype)
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = _dense(config.encoder_ffn_dim, self.dtype)
        self.fc2 = _dense(config.d_model, self.dtype)
        self.final_layer_norm = _layer_norm(self.dtype)
        self.dropout = nn.Dropout(config.dropout)
        self.activation_dropout = nn.Dropout(config.activation_dropout)

    def __call__(self, hidden_states: Array, deterministic: bool = True, output_attentions: bool = True):
        attn, probs = self.self_attn(
            self.self_attn_layer_norm(hidden_states),
            deterministic=deterministic,
            output_attentions=output_attentions,
        )
        hidden_states = hidden_states + self.dropout(attn, deterministic=deterministic)
        ffn = self.activation_dropout(
            self.activation_fn(self.fc1(self.final_layer_norm(hidden_states))), deterministic=deterministic
        )
        return hidden_states + self.dropout(self.fc2(ffn), deterministic=deterministic), probs


class FlaxWhisperDecoderLayer(nn.Module):
    config: WhisperConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        heads = config.decoder_attention_heads
        self.self_attn = FlaxWhisperAttention(config, heads, dtype=self.dtype)
        self.self_attn_layer_norm = _layer_norm(self.dtype)
        self.encoder_attn = FlaxWhisperAttention(config, heads, is_cross=True, dtype=self.dtype)
        self.encoder_attn_layer_norm = _layer_norm(self.dtype)
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = _dense(config.decoder_ffn_dim, self.dtype)
        self.fc2 = _dense(config.d_model, self.dtype)
        self.final_layer_norm = _layer_norm(self.dtype)
        self.dropout = nn.Dropout(config.dropout)
        self.activation_dropout = nn.Dropout(config.activation_dropout)

    def __call__(
        self,
        hidden_states,
        mask,
        encoder_hidden_states,
        deterministic: bool = True,
        layer_cache=None,
        start=None,
    ):
        """`layer_cache`: (self (key, value), cross (key, value)); returned with the self entry updated."""
        normed = self.self_attn_layer_norm(hidden_states)
        if layer_cache is None:
            attn, self_probs = self.self_attn(normed, None, mask, deterministic)
            cross_cache = None
        else:
            attn, self_probs, self_cache = self.self_attn(
                normed, None, mask, deterministic, layer_cache[0], start
            )
            cross_cache = layer_cache[1]
            layer_cache = (self_cache, cross_cache)
        hidden_states = hidden_states + self.dropout(attn, deterministic=deterministic)
        attn, cross_probs = self.encoder_attn(
            self.encoder_attn_layer_norm(hidden_states),
            encoder_hidden_states,
            None,
            deterministic,
            cross_cache,
        )
        hidden_states = hidden_states + self.dropout(attn, deterministic=deterministic)
        ffn = self.activation_dropout(
            self.activation_fn(self.fc1(self.final_layer_norm(hidden_states))), deterministic=deterministic
        )
        out = (
            hidden_states + self.dropout(self.fc2(ffn), deterministic=deterministic),
            self_probs,
            cross_probs,
        )
        return out if layer_cache is None else (*out, layer_cache)


class FlaxWhisperEncoder(nn.Module):
    config: WhisperConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        conv = dict(dtype=self.dtype, param_dtype=self.dtype)
        self.conv1 = nn.Conv(config.d_model, kernel_size=(3,), padding=((1, 1),), **conv)
        self.conv2 = nn.Conv(config.d_model, kernel_size=(3,), strides=(2,), padding=((1, 1),), **conv)
        self.embed_positions = nn.Embed(config.max_source_positions, config.d_model, **conv)
        self.layers = FlaxModuleList(FlaxWhisperEncoderLayer, config, config.encoder_layers, dtype=self.dtype)
        self.layer_norm = _layer_norm(self.dtype)
        self.dropout = nn.Dropout(config.dropout)

    def __call__(
        self, input_features, output_attentions=False, output_hidden_states=False, deterministic=True
    ):
        config = self.config
        expected = (config.num_mel_bins, 2 * config.max_source_positions)
        if input_features is None or input_features.ndim != 3 or tuple(input_features.shape[1:]) != expected:
            shape = None if input_features is None else tuple(input_features.shape)
            raise InputError(
                f"Whisper needs input_features [batch, {expected[0]}, {expected[1]}] (num_mel_bins, "
                f"2 * max_source_positions), got {shape}. Pass WhisperFeatureExtractor's output (padded to 30 s)."
            )
        hidden = jax.nn.gelu(
            self.conv1(input_features.astype(self.dtype).transpose(0, 2, 1)), approximate=False
        )
        hidden = jax.nn.gelu(self.conv2(hidden), approximate=False)
        hidden = self.dropout(hidden + self.embed_positions.embedding, deterministic=deterministic)
        states, attentions = (), ()
        for layer in self.layers:
            states += (hidden,)
            hidden, probs = layer(hidden, deterministic=deterministic, output_attentions=output_attentions)
            attentions += (probs,)
        hidden = self.layer_norm(hidden)
        return BaseModelOutput(
            last_hidden_state=hidden,
            hidden_states=states + (hidden,) if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
        )


class FlaxWhisperDecoder(nn.Module):
    config: WhisperConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.embed_tokens = nn.Embed(
            config.vocab_size, config.d_model, dtype=self.dtype, param_dtype=self.dtype
        )
        self.embed_positions = nn.Embed(
            config.max_target_positions, config.d_model, dtype=self.dtype, param_dtype=self.dtype
        )
        self.layers = FlaxModuleList(FlaxWhisperDecoderLayer, config, config.decoder_layers, dtype=self.dtype)
        self.layer_norm = _layer_norm(self.dtype)
        self.dropout = nn.Dropout(config.dropout)

    def __call__(
        self,
        input_ids,
        encoder_hidden_states,
        attention_mask=None,
        position_ids=None,
        output_attentions=False,
        output_hidden_states=False,
        deterministic=True,
        past_key_values=None,
        cache_position=None,
    ):
        """`past_key_values`: per layer (self (key, value) [batch, heads, max_length, head_dim], cross (key, value)),
        the self entries written at `cache_position` and returned under "past_key_values"."""
        batch, seq = input_ids.shape
        if seq > self.config.max_target_positions:
            raise InputError(
                f"decoder_input_ids reach position {seq}, beyond max_target_positions "
                f"({self.config.max_target_positions}); shorten the decoder prompt or max_new_tokens."
            )
        start = jnp.zeros((), jnp.int32) if cache_position is None else jnp.asarray(cache_position, jnp.int32)
        if position_ids is None:
            position_ids = jnp.broadcast_to(start + jnp.arange(seq), (batch, seq))
        scale = self.config.d_model**0.5 if self.config.scale_embedding else 1.0
        hidden = self.embed_tokens(input_ids) * scale + self.embed_positions(position_ids)
        hidden = self.dropout(hidden, deterministic=deterministic)
        key_length = seq if past_key_values is None else past_key_values[0][0][0].shape[2]
        mask = (jnp.arange(key_length)[None, :] <= (start + jnp.arange(seq))[:, None])[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask.astype(bool)[:, None, None, :]
        states, self_attn, cross_attn, new_cache = (), (), (), ()
        for i, layer in enumerate(self.layers):
            states += (hidden,)
            if past_key_values is None:
                hidden, self_probs, cross_probs = layer(hidden, mask, encoder_hidden_states, deterministic)
            else:
                hidden, self_probs, cross_probs, layer_cache = layer(
                    hidden, mask, encoder_hidden_states, deterministic, past_key_values[i], start
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

    def cross_key_values(self, encoder_hidden_states: Array) -> tuple[tuple[Array, Array], ...]:
        """Per layer the cross-attention (key, value) of the encoder output, computed once per window."""
        return tuple(layer.encoder_attn.key_values(encoder_hidden_states) for layer in self.layers)


class FlaxWhisperModule(nn.Module):
    config: WhisperConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.encoder = FlaxWhisperEncoder(self.config, dtype=self.dtype)
        self.decoder = FlaxWhisperDecoder(self.config, dtype=self.dtype)

    def __call__(
        self,
        input_features=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        decoder_position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
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
        encoder = self.encoder(input_features, output_attentions, output_hidden_states, deterministic)
        decoder = self.decoder(
            decoder_input_ids,
            encoder.last_hidden_state,
            decoder_attention_mask,
            decoder_position_ids,
            output_attentions,
            output_hidden_states,
            deterministic,
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


class FlaxWhisperForConditionalGenerationModule(nn.Module):
    config: WhisperConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.model = FlaxWhisperModule(self.config, dtype=self.dtype)

    def __call__(
        self,
        input_features=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        decoder_position_ids=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ):
        config = self.config
        return_dict = config.return_dict if return_dict is None else return_dict
        if labels is not None and decoder_input_ids is None:
            decoder_input_ids = shift_tokens_right(labels, config.pad_token_id, config.decoder_start_token_id)
        outputs = self.model(
            input_features,
            decoder_input_ids,
            decoder_attention_mask,
            decoder_position_ids,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.model.decoder.embed_tokens.attend(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
            loss = losses.mean()
        fields = {k: v for k, v in outputs.items() if k != "last_hidden_state"}
        return finish_output(Seq2SeqLMOutput(loss=loss, logits=logits, **fields), return_dict)


class FlaxWhisperPreTrainedModel(FlaxPreTrainedModel):
    config_class = WhisperConfig
    base_model_prefix = "model"
    main_input_name = "input_features"
    _input_embeddings_path = ("decoder", "embed_tokens", "embedding")

    def _dummy_inputs(self, input_shape: tuple[int, ...]) -> dict[str, Array]:
        config = self.config
        frames = 2 * config.max_source_positions
        return {
            "input_features": jnp.zeros((1, config.num_mel_bins, frames), dtype=self.dtype),
            "decoder_input_ids": jnp.zeros((1, 1), dtype=jnp.int32),
        }

    def _init_weights(self, rng: np.random.Generator, path: Path, leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        """The shared rules; the encoder positions are the fixed sinusoids."""
        if path[-3:] == ("encoder", "embed_positions", "embedding"):
            return sinusoids(*leaf.shape).astype(leaf.dtype)
        return super()._init_weights(rng, path, leaf)


class FlaxWhisperModel(FlaxWhisperPreTrainedModel):
    module_class = FlaxWhisperModule


class FlaxWhisperForConditionalGeneration(FlaxWhisperPreTrainedModel):
    module_class = FlaxWhisperForConditionalGenerationModule
    _tied_weights_keys = ["proj_out.weight"]

    generate_trace_count = 0

    def generate(
        self,
        input_features: Any,
        generation_config: Any = None,
        attention_mask: Any = None,
        params: Any = None,
        **kwargs: Any,
    ) -> Array:
        """Greedy transcription as the torch model's `generate` (same tokens; see its docstring for the keywords and
        long-form windows). Each window runs in one `jax.jit`: the encoder, the cross-attention keys/values once per
        layer, the prompt prefill and a `lax.while_loop` over the self-attention cache; compiled once per (plan,
        batch), so equal shapes never retrace (`generate_trace_count`)."""
        params = self.params if params is None else params
        model_config = getattr(self, "generation_config", None)

        def plan_for(long_form: bool) -> WhisperPlan:
            return whisper_plan(self.config, model_config, generation_config, kwargs, long_form)

        def window(plan: WhisperPlan, features: np.ndarray) -> np.ndarray:
            tokens, length = self._compiled_window(plan)(params, jnp.asarray(features))
            return np.asarray(tokens)[:, len(plan.prompt) : int(length)]

        features = None if input_features is None else np.asarray(input_features)
        mask = None if attention_mask is None else np.asarray(attention_mask)
        return jnp.asarray(transcribe(plan_for, self.config, features, mask, window))

    def init_cache(self, batch_size: int, max_length: int) -> tuple:
        """Zeros: per layer the self-attention (key, value) [batch_size, heads, max_length, head_dim]."""
        config = self.config
        heads = config.decoder_attention_heads
        shape = (batch_size, heads, max_length, config.d_model // heads)
        return tuple(
            (jnp.zeros(shape, self.dtype), jnp.zeros(shape, self.dtype)) for _ in range(config.decoder_layers)
        )

    def _compiled_window(self, plan: WhisperPlan) -> Any:
        compiled = self.__dict__.setdefault("_generate_fns", {})
        if plan.key not in compiled:

            def traced(params, features):
                type(self).generate_trace_count += 1  # runs once per trace, never per call
                return _window_loop(self, plan, params, features)

            compiled[plan.key] = jax.jit(traced)
        return compiled[plan.key]


def _encode(module: FlaxWhisperForConditionalGenerationModule, features: Array) -> Array:
    encoder_hidden = module.model.encoder(features).last_hidden_state
    return encoder_hidden, module.model.decoder.cross_key_values(encoder_hidden)


def _decode(module: FlaxWhisperForConditionalGenerationModule, ids, encoder_hidden, cache, position):
    decoder = module.model.decoder
    out = decoder(ids, encoder_hidden, past_key_values=cache, cache_position=position)
    logits = decoder.embed_tokens.attend(out["last_hidden_state"][:, -1])
    return logits.astype(jnp.float32), out["past_key_values"]


JAX_OPS = Ops(
    asarray=jnp.asarray,
    where=jnp.where,
    max=lambda x, axis: jnp.max(x, axis=axis),
    logsumexp=lambda x, axis: jax.nn.logsumexp(x, axis=axis),
    log_softmax=lambda x: jax.nn.log_softmax(x, axis=-1),
    column=lambda x, i: jax.lax.dynamic_index_in_dim(x, jnp.maximum(i, 0), axis=1, keepdims=False),
)


def _window_loop(model: FlaxWhisperForConditionalGeneration, plan: WhisperPlan, params, features):
    """One window, traced once: encoder, cross keys/values, prompt prefill, then a `lax.while_loop`."""

    def apply(method, *args):
        return model.module.apply({"params": params}, *args, method=method)

    batch, begin, total = features.shape[0], len(plan.prompt), plan.max_length
    encoder_hidden, cross = apply(_encode, features)
    tokens = (
        jnp.full((batch, total), plan.pad_token_id, jnp.int32).at[:, :begin].set(jnp.asarray(plan.prompt))
    )
    self_cache = model.init_cache(batch, total)
    cache = tuple(zip(self_cache, cross))
    logits, cache = apply(_decode, tokens[:, :begin], encoder_hidden, cache, jnp.int32(0))
    eos = jnp.asarray(plan.eos_token_ids, jnp.int32)

    def cond(state):
        return (state[0] < total) & ~jnp.all(state[2])

    def body(state):
        cur, tokens, done, logits, cache = state
        scores = process_scores(JAX_OPS, plan, tokens, cur, logits)
        chosen = jnp.where(done, plan.pad_token_id, jnp.argmax(scores, axis=-1).astype(jnp.int32))
        tokens = jax.lax.dynamic_update_slice(tokens, chosen[:, None], (0, cur))
        done = done | jnp.isin(chosen, eos)
        logits, cache = apply(_decode, chosen[:, None], encoder_hidden, cache, jnp.minimum(cur, total - 1))
        return cur + 1, tokens, done, logits, cache

    state = (jnp.int32(begin), tokens, jnp.zeros(batch, bool), logits, cache)
    cur, tokens, *_ = jax.lax.while_loop(cond, body, state)
    return tokens, cur
