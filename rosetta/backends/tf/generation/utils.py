"""`GenerationMixin` for TensorFlow causal LMs: an XLA-compiled loop over the static KV cache.

`tf.function(jit_compile=True)` over a `tf.while_loop`: the cache is preallocated
(`model.init_cache(rows, max_length)`), shapes are static, and the compiled function is kept per
settings on the model, so a second call with the same shapes reuses it. Greedy search follows
transformers' loop step for step; sampling uses stateless draws seeded by `seed` and the step.
Beam search is not compiled in TF yet: `num_beams > 1` raises `InputError` naming the
frameworks that have it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ....core.errors import InputError
from ....core.generation_config import GenerationConfig
from ....core.generation_utils import (
    GenerateDecoderOnlyOutput,
    StopStrings,
    processor_plan,
    split_generate_kwargs,
)
from .logits_process import build_processor


class GenerationMixin:
    """Adds `generate(...)` to a TF causal LM that follows the KV-cache contract."""

    generate_trace_count = 0

    def _generation_defaults(self) -> GenerationConfig:
        config = getattr(self, "generation_config", None)
        return (
            config
            if isinstance(config, GenerationConfig)
            else GenerationConfig.from_model_config(self.config)
        )

    def generate(
        self,
        input_ids: Any,
        attention_mask: Any = None,
        generation_config: GenerationConfig | None = None,
        **kwargs: Any,
    ) -> tf.Tensor | GenerateDecoderOnlyOutput:
        """Continue `input_ids` [batch, prompt] (left-padded where `attention_mask` is 0)."""
        config, runtime = split_generate_kwargs(
            "tf", self._generation_defaults(), generation_config, dict(kwargs)
        )
        if config.num_beams > 1:
            raise InputError(
                "Beam search (num_beams > 1) is not available in the TensorFlow backend yet; use the torch or "
                "Flax model of the same checkpoint, which give the same tokens."
            )
        ids = np.asarray(input_ids, dtype=np.int32)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int32)
        times = config.num_return_sequences if config.do_sample else 1
        ids, mask = np.repeat(ids, times, axis=0), np.repeat(mask, times, axis=0)
        settings = _Settings(config, ids.shape[1])
        fn = self._compiled_generate(settings)
        out = fn(tf.constant(ids), tf.constant(mask), tf.constant(int(runtime.get("seed") or 0), tf.int32))
        return _finish(out, settings, config, runtime)

    def _compiled_generate(self, settings: _Settings):
        cache = self.__dict__.setdefault("_generate_fns", {})
        if settings.key not in cache:

            def traced(ids, mask, seed):
                type(self).generate_trace_count += 1  # runs once per trace, never per call
                return _sample_loop(self, settings, ids, mask, seed)

            cache[settings.key] = tf.function(traced, jit_compile=True, reduce_retracing=False)
        return cache[settings.key]


class _Settings:
    def __init__(self, config: GenerationConfig, prompt_length: int):
        self.config = config
        self.prompt_length = prompt_length
        self.max_length = config.resolved_max_length(prompt_length)
        self.eos = config.eos_token_ids
        self.pad = config.resolved_pad_token_id()
        self.plan = processor_plan(config)
        self.key = (config.to_json_string(), prompt_length)


def _model_step(model, ids, mask, positions, cache, slot):
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        cache_position=slot,
        return_dict=True,
        training=False,
    )
    return tf.cast(out.logits[:, -1, :], tf.float32), out.past_key_values


def _sample_loop(model, s: _Settings, ids, mask, seed):
    rows, length, total = ids.shape[0], s.prompt_length, s.max_length
    full_mask = tf.concat([mask, tf.zeros((rows, total - length), tf.int32)], axis=1)
    positions = tf.maximum(tf.cumsum(mask, axis=-1) - 1, 0)
    logits, cache = _model_step(
        model, ids, full_mask, positions, model.init_cache(rows, total), tf.constant(0)
    )
    tokens = tf.concat([ids, tf.fill((rows, total - length), tf.constant(s.pad, tf.int32))], axis=1)
    pad_lengths = tf.cast(tf.argmax(tf.cast(mask != 0, tf.int32), axis=1), tf.int32)
    process = build_processor(s.plan, {"prompt_length": length, "pad_lengths": pad_lengths})
    eos = tf.constant(s.eos or [-1], tf.int32)
    columns = tf.range(total)[None, :]

    def cond(cur, tokens, unfinished, logits, full_mask, cache):
        return (cur < total) & tf.reduce_any(unfinished)

    def body(cur, tokens, unfinished, logits, full_mask, cache):
        scores = process(tokens, cur, logits)
        if s.config.do_sample:
            draw = tf.random.stateless_categorical(scores, 1, seed=tf.stack([seed, cur]), dtype=tf.int32)
            chosen = draw[:, 0]
        else:
            chosen = tf.argmax(scores, axis=-1, output_type=tf.int32)
        if s.eos:
            chosen = tf.where(unfinished, chosen, s.pad)
            unfinished = unfinished & ~tf.reduce_any(chosen[:, None] == eos[None, :], axis=-1)
        at_cur = columns == cur
        tokens = tf.where(at_cur, chosen[:, None], tokens)
        full_mask = tf.where(at_cur, 1, full_mask)
        written = tf.cast(columns <= cur, tf.int32)
        positions = tf.reduce_sum(full_mask * written, axis=-1, keepdims=True) - 1
        slot = tf.minimum(cur, total - 1)
        logits, cache = _model_step(model, chosen[:, None], full_mask, positions, cache, slot)
        return cur + 1, tokens, unfinished, logits, full_mask, cache

    state = (tf.constant(length), tokens, tf.ones((rows,), tf.bool), logits, full_mask, cache)
    cur, tokens, *_ = tf.while_loop(cond, body, state, maximum_iterations=total - length)
    return tokens, cur


def _finish(out, s: _Settings, config: GenerationConfig, runtime: dict):
    tokens, cur = out
    sequences = tokens.numpy()[:, : int(cur)]
    if config.stop_strings:
        sequences = StopStrings(runtime["tokenizer"], config.stop_strings, s.prompt_length).truncate(
            sequences, s.pad
        )
    streamer = runtime.get("streamer")
    if streamer is not None:  # the compiled loop hands the tokens over once it returns
        streamer.put(sequences[:, : s.prompt_length])
        for column in sequences[:, s.prompt_length :].T:
            streamer.put(column)
        streamer.end()
    sequences = tf.constant(sequences)
    if not config.return_dict_in_generate:
        return sequences
    return GenerateDecoderOnlyOutput(sequences=sequences)
