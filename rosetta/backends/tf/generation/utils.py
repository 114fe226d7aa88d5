"""`GenerationMixin` for TensorFlow causal LMs: an XLA-compiled loop over the static KV cache.

The prompt runs through a TensorFlow graph (`tf.function` without XLA), which fills the preallocated
cache (`model.init_cache(rows, max_length)`); the decode is `tf.function(jit_compile=True)` over a
`tf.while_loop` that takes that cache. Shapes are static, and both functions are kept per settings on
the model, so a second call with the same shapes reuses them. The prefill stays out of XLA because
TensorFlow's own (oneDNN) matmuls run a long prompt faster than XLA:CPU's dot (SmolLM2, 512 tokens:
951 vs 1072 ms on one machine here), and because each compiled copy of the layers is memory XLA keeps
for the life of the process (SmolLM2's steady batch-8 peak fell from 1.96x to 1.79x the weights + KV).
Greedy search follows transformers' loop step for step; sampling uses stateless draws seeded by `seed`
and the step.
Beam search is transformers' vectorised beam search (the torch loop's arithmetic) inside the same
kind of compiled `tf.while_loop`, the cache rows reordered with `tf.gather` at every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ....core.errors import InputError
from ....core.generation_config import GenerationConfig
from ....core.generation_utils import (
    GenerateBeamDecoderOnlyOutput,
    GenerateDecoderOnlyOutput,
    StopStrings,
    check_token_ids,
    last_logits_kwargs,
    processor_plan,
    split_generate_kwargs,
)
from ....core.memory import release_freed_memory
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
    ) -> tf.Tensor | GenerateDecoderOnlyOutput | GenerateBeamDecoderOnlyOutput:
        """Continue `input_ids` [batch, prompt] (left-padded where `attention_mask` is 0)."""
        config, runtime = split_generate_kwargs(
            "tf", self._generation_defaults(), generation_config, dict(kwargs)
        )
        if config.num_beams > 1 and config.stop_strings:
            raise InputError(
                "stop_strings work with greedy search and sampling; drop them or set num_beams=1."
            )
        ids = np.asarray(input_ids, dtype=np.int32)
        check_token_ids(ids, getattr(self.config, "vocab_size", None))
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int32)
        times = (
            config.num_beams
            if config.num_beams > 1
            else (config.num_return_sequences if config.do_sample else 1)
        )
        ids, mask = np.repeat(ids, times, axis=0), np.repeat(mask, times, axis=0)
        settings = _Settings(config, ids.shape[1])
        compiled = settings.key in self.__dict__.get("_generate_fns", {})
        prefill, decode = self._compiled_generate(settings)
        ids = tf.constant(ids)
        out = decode(
            ids, prefill(ids, tf.constant(mask)), tf.constant(int(runtime.get("seed") or 0), tf.int32)
        )
        if not compiled:
            release_freed_memory()
        return _finish(out, settings, config, runtime)

    def _compiled_generate(self, settings: _Settings):
        """(prefill, decode) for these settings: a TF graph that runs the prompt, an XLA loop that decodes."""
        cache = self.__dict__.setdefault("_generate_fns", {})
        if settings.key not in cache:
            loop = _beam_loop if settings.config.num_beams > 1 else _sample_loop

            def prefill(ids, mask):
                return _prefill(self, settings, ids, mask)

            def decode(ids, state, seed):
                type(self).generate_trace_count += 1  # runs once per trace, never per call
                return loop(self, settings, ids, state, seed)

            cache[settings.key] = (
                tf.function(prefill, jit_compile=False, reduce_retracing=False, autograph=False),
                tf.function(decode, jit_compile=True, reduce_retracing=False, autograph=False),
            )
        return cache[settings.key]


class _Settings:
    def __init__(self, config: GenerationConfig, prompt_length: int):
        self.config = config
        self.prompt_length = prompt_length
        self.max_length = config.resolved_max_length(prompt_length)
        self.eos = config.eos_token_ids
        self.pad = config.resolved_pad_token_id()
        self.plan = processor_plan(config, for_beam_search=config.num_beams > 1)
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
        **last_logits_kwargs(getattr(model, "call", model.__call__)),
    )
    return tf.cast(out.logits[:, -1, :], tf.float32), out.past_key_values


def _prefill(model, s: _Settings, ids, mask):
    """Run the prompt through the model: a dict of the [rows, max_length] token buffer and mask, the cache,
    the last position's logits and each row's left-padding length."""
    rows, length, total = ids.shape[0], s.prompt_length, s.max_length
    full_mask = tf.concat([mask, tf.zeros((rows, total - length), tf.int32)], axis=1)
    positions = tf.maximum(tf.cumsum(mask, axis=-1) - 1, 0)
    logits, cache = _model_step(
        model, ids, full_mask, positions, model.init_cache(rows, total), tf.constant(0)
    )
    tokens = tf.concat([ids, tf.fill((rows, total - length), tf.constant(s.pad, tf.int32))], axis=1)
    pad_lengths = tf.cast(tf.argmax(tf.cast(mask != 0, tf.int32), axis=1), tf.int32)
    return {"tokens": tokens, "mask": full_mask, "cache": cache, "logits": logits, "pad_lengths": pad_lengths}


def _unpack(s: _Settings, state: dict):
    """The prefill's state as the loops read it; `ctx` is what the logits processors need."""
    ctx = {"prompt_length": s.prompt_length, "pad_lengths": state["pad_lengths"]}
    return state["tokens"], state["mask"], state["cache"], state["logits"], ctx


def _decode_step(model, s: _Settings, next_tokens, full_mask, cache, cur):
    """Write `next_tokens` [rows] at column `cur` of the mask and cache; the logits of the next token."""
    columns = tf.range(s.max_length)[None, :]
    full_mask = tf.where(columns == cur, 1, full_mask)
    written = tf.cast(columns <= cur, tf.int32)
    positions = tf.reduce_sum(full_mask * written, axis=-1, keepdims=True) - 1
    slot = tf.minimum(cur, s.max_length - 1)
    logits, cache = _model_step(model, next_tokens[:, None], full_mask, positions, cache, slot)
    return logits, full_mask, cache


def _sample_loop(model, s: _Settings, ids, state, seed):
    rows, length, total = ids.shape[0], s.prompt_length, s.max_length
    tokens, full_mask, cache, logits, ctx = _unpack(s, state)
    process = build_processor(s.plan, ctx)
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
        tokens = tf.where(columns == cur, chosen[:, None], tokens)
        logits, full_mask, cache = _decode_step(model, s, chosen, full_mask, cache, cur)
        return cur + 1, tokens, unfinished, logits, full_mask, cache

    state = (tf.constant(length), tokens, tf.ones((rows,), tf.bool), logits, full_mask, cache)
    cur, tokens, *_ = tf.while_loop(cond, body, state, maximum_iterations=total - length)
    return {"sequences": tokens, "length": cur}


# -- beam search: transformers' vectorised `_beam_search`, as the torch loop runs it ------------------------
def _gather_beams(x, idx):
    """x [batch, beams, ...] -> [batch, idx.shape[1], ...] picked along the beam axis."""
    return tf.gather(x, idx, axis=1, batch_dims=1)


def _pow(base, exponent: float):
    """base ** exponent computed in float64 and rounded once to float32, as torch divides by a Python float."""
    return tf.cast(tf.cast(base, tf.float64) ** exponent, tf.float32)


def _top_candidates(acc, keep: int, do_sample: bool, seed, cur):
    if not do_sample:
        return tf.math.top_k(acc, keep)
    uniform = tf.random.stateless_uniform(tf.shape(acc), seed=tf.stack([seed, cur]), minval=1e-20, maxval=1.0)
    gumbel = -tf.math.log(-tf.math.log(uniform))  # sampling without replacement: top-k of perturbed scores
    idx = tf.math.top_k(acc + gumbel, keep).indices
    lp = tf.gather(acc, idx, batch_dims=1)
    order = tf.argsort(lp, axis=-1, direction="DESCENDING", stable=True)
    return tf.gather(lp, order, batch_dims=1), tf.gather(idx, order, batch_dims=1)


def _improvable(s: _Settings, improvable, running_scores, beam_scores, finished, cur):
    c = s.config
    if c.early_stopping == "never" and c.length_penalty > 0.0:
        best_len = tf.constant(s.max_length - s.prompt_length)
    else:
        best_len = cur - s.prompt_length
    best_running = running_scores[:, :1] / _pow(best_len, c.length_penalty)
    worst_done = tf.where(finished, tf.reduce_min(beam_scores, axis=1, keepdims=True), -1.0e9)
    return improvable & tf.reduce_any(best_running > worst_done, axis=-1, keepdims=True)


class _Beams:
    """The static values of one compiled beam search and its step (`body`) over a dict of tensors."""

    def __init__(self, model, s: _Settings, rows: int, process, seed):
        self.model, self.s, self.process, self.seed = model, s, process, seed
        self.nb = s.config.num_beams
        self.b = rows // self.nb
        self.keep = max(2, 1 + len(s.eos)) * self.nb
        self.eos = tf.constant(s.eos or [-1], tf.int32)
        self.top_mask = tf.range(self.keep) < self.nb

    def cond(self, st):
        open_beam = tf.constant(True)
        if self.s.config.early_stopping is True:
            open_beam = ~tf.reduce_all(st["finished"])
        return tf.reduce_any(st["improvable"]) & open_beam & ~st["all_hit"]

    def body(self, st):
        s, b, nb, cur, length = self.s, self.b, self.nb, st["cur"], self.s.prompt_length
        running = st["running"]
        log_probs = self.process(tf.reshape(running, (b * nb, -1)), cur, tf.nn.log_softmax(st["logits"], -1))
        vocab = log_probs.shape[-1]
        acc = tf.reshape(tf.reshape(log_probs, (b, nb, vocab)) + st["running_scores"][:, :, None], (b, -1))
        topk_lp, topk_idx = _top_candidates(acc, self.keep, s.config.do_sample, self.seed, cur)
        source, new_ids = topk_idx // vocab, topk_idx % vocab
        at_cur = tf.range(s.max_length)[None, None, :] == cur
        topk_seqs = tf.where(at_cur, new_ids[:, :, None], _gather_beams(running, source))
        hits = tf.reduce_any(new_ids[..., None] == self.eos, axis=-1) | (cur + 1 >= s.max_length)
        run_lp = topk_lp + tf.cast(hits, tf.float32) * -1e9
        chosen = tf.math.top_k(run_lp, nb).indices
        just_done = hits & self.top_mask[None, :]
        final_lp = topk_lp / _pow(cur + 1 - length, s.config.length_penalty)
        blocked = ~st["improvable"] | ~just_done
        if s.config.early_stopping is True:
            blocked = blocked | tf.reduce_all(st["finished"], -1, keepdims=True)
        final_lp = final_lp + tf.cast(blocked, tf.float32) * -1e9
        merged_scores = tf.concat((st["beam_scores"], final_lp), 1)
        merged = tf.math.top_k(merged_scores, nb).indices
        new = dict(st, cur=cur + 1, all_hit=tf.reduce_all(hits))
        new["running"], new["running_scores"] = (
            _gather_beams(topk_seqs, chosen),
            _gather_beams(run_lp, chosen),
        )
        new["sequences"] = _gather_beams(tf.concat((st["sequences"], topk_seqs), 1), merged)
        new["beam_scores"] = _gather_beams(merged_scores, merged)
        new["finished"] = _gather_beams(tf.concat((st["finished"], just_done), 1), merged)
        lens = tf.fill(tf.shape(just_done), cur + 1 - length)
        new["hyp_len"] = _gather_beams(tf.concat((st["hyp_len"], lens), 1), merged)
        new["improvable"] = _improvable(
            s, st["improvable"], new["running_scores"], new["beam_scores"], new["finished"], cur + 1
        )
        rows = tf.reshape(_gather_beams(source, chosen) + tf.range(b)[:, None] * nb, (-1,))
        cache = tf.nest.map_structure(lambda x: tf.gather(x, rows), st["cache"])
        last = tf.reshape(new["running"][:, :, cur], (-1,))
        new["logits"], new["mask"], new["cache"] = _decode_step(
            self.model, s, last, tf.gather(st["mask"], rows), cache, cur
        )
        return (new,)


def _beam_loop(model, s: _Settings, ids, state, seed):
    length, nb = s.prompt_length, s.config.num_beams
    tokens, full_mask, cache, logits, ctx = _unpack(s, state)
    beams = _Beams(model, s, ids.shape[0], build_processor(s.plan, ctx), seed)
    b, fill = beams.b, ((s.pad or s.eos[0]) if s.eos else -1)
    prompt = tf.reshape(ids, (b, nb, length))
    running = tf.concat([prompt, tf.fill((b, nb, s.max_length - length), tf.constant(fill, tf.int32))], 2)
    first = tf.range(nb)[None, :] == 0
    st = {"cur": tf.constant(length), "running": running, "sequences": running, "logits": logits}
    st.update(running_scores=tf.where(first, 0.0, tf.fill((b, nb), -1e9)), beam_scores=tf.fill((b, nb), -1e9))
    st.update(finished=tf.zeros((b, nb), tf.bool), hyp_len=tf.zeros((b, nb), tf.int32))
    st.update(all_hit=tf.constant(False), improvable=tf.ones((b, 1), tf.bool), mask=full_mask, cache=cache)
    (st,) = tf.while_loop(beams.cond, beams.body, (st,), maximum_iterations=s.max_length - length)
    n = s.config.num_return_sequences
    return {
        "sequences": tf.reshape(st["sequences"][:, :n], (b * n, -1)),
        "sequences_scores": tf.reshape(st["beam_scores"][:, :n], (-1,)),
        "length": length + tf.reduce_max(st["hyp_len"][:, :n]),
    }


def _finish(out: dict, s: _Settings, config: GenerationConfig, runtime: dict):
    sequences = out["sequences"].numpy()[:, : int(out["length"])]
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
    if config.num_beams > 1:
        scores = tf.constant(out["sequences_scores"]) if config.output_scores else None
        return GenerateBeamDecoderOnlyOutput(sequences=sequences, sequences_scores=scores)
    return GenerateDecoderOnlyOutput(sequences=sequences)
