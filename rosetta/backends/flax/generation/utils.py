"""`GenerationMixin` for Flax causal LMs: the whole decode in one `jax.jit` over `lax.while_loop`.

The cache is preallocated (`model.init_cache(rows, max_length)`), every shape is static, and the
jitted function is kept per (settings) on the model, so calls with the same shapes never retrace
(`generate_trace_count` counts traces). Greedy search and beam search follow transformers' loops
step for step; sampling draws from `jax.random.categorical` with the given `prng_key` / `seed`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ....core.errors import InputError
from ....core.generation_config import GenerationConfig
from ....core.generation_utils import (
    GenerateBeamDecoderOnlyOutput,
    GenerateDecoderOnlyOutput,
    StopStrings,
    check_token_ids,
    last_logits_kwargs,
    left_padding_lengths,
    processor_plan,
    split_generate_kwargs,
)
from ....core.memory import release_freed_memory
from .logits_process import build_processor


class GenerationMixin:
    """Adds `generate(...)` to a Flax causal LM that follows the KV-cache contract."""

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
    ) -> jnp.ndarray | GenerateDecoderOnlyOutput | GenerateBeamDecoderOnlyOutput:
        """Continue `input_ids` [batch, prompt] (left-padded where `attention_mask` is 0)."""
        config, runtime = split_generate_kwargs(
            "flax", self._generation_defaults(), generation_config, dict(kwargs)
        )
        if config.num_beams > 1 and config.stop_strings:
            raise InputError(
                "stop_strings work with greedy search and sampling; drop them or set num_beams=1."
            )
        ids = np.asarray(input_ids, dtype=np.int32)
        check_token_ids(ids, getattr(self.config, "vocab_size", None))
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int32)
        key = runtime.get("prng_key")
        if key is None:
            key = jax.random.PRNGKey(int(runtime.get("seed") or 0))
        settings = _Settings(config, ids.shape[1], self.config)
        times = (
            config.num_beams
            if config.num_beams > 1
            else (config.num_return_sequences if config.do_sample else 1)
        )
        ids, mask = np.repeat(ids, times, axis=0), np.repeat(mask, times, axis=0)
        compiled = settings.key in self.__dict__.get("_generate_fns", {})
        fn = self._compiled_generate(settings)
        out = fn(getattr(self, "params", None), jnp.asarray(ids), jnp.asarray(mask), key)
        if not compiled:
            release_freed_memory()
        return _finish(out, settings, config, runtime)

    def _constrain_cache(self, cache: Any) -> Any:
        """The KV cache with its sharding pinned: on a model loaded with `mesh=`, each layer's k and v
        [batch, kv_heads, max_len, head_dim] sharded by heads over "model" (`sharding.constrain_kv_cache`);
        unchanged otherwise."""
        placement = getattr(self, "placement", None)
        if placement is None:
            return cache
        from ..sharding import constrain_kv_cache

        return constrain_kv_cache(cache, placement.mesh)

    def _compiled_generate(self, settings: _Settings):
        cache = self.__dict__.setdefault("_generate_fns", {})
        if settings.key not in cache:
            loop = _beam_loop if settings.config.num_beams > 1 else _sample_loop

            def traced(params, ids, mask, key):
                type(self).generate_trace_count += 1  # runs once per trace, never per call
                return loop(self, settings, params, ids, mask, key)

            cache[settings.key] = jax.jit(traced)
        return cache[settings.key]


class _Settings:
    """The static (trace-time) values of one kind of call; `key` identifies its compiled function."""

    def __init__(self, config: GenerationConfig, prompt_length: int, model_config: Any):
        self.config = config
        self.prompt_length = prompt_length
        self.max_length = config.resolved_max_length(prompt_length)
        self.eos = config.eos_token_ids
        self.pad = config.resolved_pad_token_id()
        self.plan = processor_plan(config, for_beam_search=config.num_beams > 1)
        self.key = (config.to_json_string(), prompt_length)


def _forward_of(model) -> Any:
    """The function whose signature says which inputs `model` takes: its Flax module's `__call__`, or
    the model's own for a model that is not a `FlaxPreTrainedModel`."""
    module_class = getattr(model, "module_class", None)
    return model.__call__ if module_class is None else module_class.__call__


def _model_step(model, params, ids, mask, positions, cache, slot):
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        cache_position=slot,
        params=params,
        return_dict=True,
        **last_logits_kwargs(_forward_of(model)),
    )
    return out.logits[:, -1, :].astype(jnp.float32), model._constrain_cache(out.past_key_values)


def _prefill(model, s: _Settings, params, ids, mask):
    rows, length = ids.shape
    full_mask = jnp.zeros((rows, s.max_length), jnp.int32).at[:, :length].set(mask)
    positions = jnp.maximum(jnp.cumsum(mask, axis=-1) - 1, 0)
    cache = model._constrain_cache(model.init_cache(rows, s.max_length))
    logits, cache = _model_step(model, params, ids, full_mask, positions, cache, jnp.int32(0))
    tokens = jnp.full((rows, s.max_length), s.pad, jnp.int32).at[:, :length].set(ids)
    ctx = {"prompt_length": s.prompt_length, "pad_lengths": jnp.argmax(mask != 0, axis=1).astype(jnp.int32)}
    return tokens, full_mask, cache, logits, ctx


def _decode_step(model, params, next_tokens, full_mask, cache, slot):
    full_mask = full_mask.at[:, slot].set(1)
    written = jnp.arange(full_mask.shape[1])[None, :] <= slot
    positions = (jnp.sum(full_mask * written, axis=-1, keepdims=True) - 1).astype(jnp.int32)
    logits, cache = _model_step(model, params, next_tokens[:, None], full_mask, positions, cache, slot)
    return logits, full_mask, cache


def _sample_loop(model, s: _Settings, params, ids, mask, key):
    tokens, full_mask, cache, logits, ctx = _prefill(model, s, params, ids, mask)
    process = build_processor(s.plan, ctx)
    rows, eos, steps = ids.shape[0], jnp.asarray(s.eos or [-1], jnp.int32), s.max_length - s.prompt_length
    scores_buf = jnp.zeros((steps, rows, logits.shape[-1]), jnp.float32) if s.config.output_scores else None

    def cond(state):
        return (state["cur"] < s.max_length) & jnp.any(state["unfinished"])

    def body(state):
        cur = state["cur"]
        scores = process(state["tokens"], cur, state["logits"])
        key, sub = jax.random.split(state["key"])
        if s.config.do_sample:
            chosen = jax.random.categorical(sub, scores, axis=-1).astype(jnp.int32)
        else:
            chosen = jnp.argmax(scores, axis=-1).astype(jnp.int32)
        chosen = jnp.where(state["unfinished"], chosen, s.pad) if s.eos else chosen
        new = dict(state, key=key, cur=cur + 1, tokens=state["tokens"].at[:, cur].set(chosen))
        new["unfinished"] = state["unfinished"] & ~jnp.isin(chosen, eos) if s.eos else state["unfinished"]
        if scores_buf is not None:
            new["scores"] = state["scores"].at[cur - s.prompt_length].set(scores)
        new["logits"], new["mask"], new["cache"] = _decode_step(
            model, params, chosen, state["mask"], state["cache"], jnp.minimum(cur, s.max_length - 1)
        )
        return new

    state = {
        "cur": jnp.int32(s.prompt_length),
        "tokens": tokens,
        "unfinished": jnp.ones(rows, bool),
        "key": key,
    }
    state.update(logits=logits, mask=full_mask, cache=cache, scores=scores_buf)
    state = jax.lax.while_loop(cond, body, state)
    return {"sequences": state["tokens"], "length": state["cur"], "scores": state["scores"]}


def _gather_beams(x, idx):
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def _beam_loop(model, s: _Settings, params, ids, mask, key):
    c, nb, length = s.config, s.config.num_beams, s.prompt_length
    b = ids.shape[0] // nb
    keep = max(2, 1 + len(s.eos)) * nb
    fill = (s.pad or s.eos[0]) if s.eos else -1
    tokens, full_mask, cache, logits, ctx = _prefill(model, s, params, ids, mask)
    process = build_processor(s.plan, ctx)
    eos, top_mask = jnp.asarray(s.eos or [-1], jnp.int32), jnp.arange(keep) < nb
    running = (
        jnp.full((b, nb, s.max_length), fill, jnp.int32).at[:, :, :length].set(ids.reshape(b, nb, length))
    )

    def body(st):
        cur = st["cur"]
        log_probs = process(st["running"].reshape(b * nb, -1), cur, jax.nn.log_softmax(st["logits"], axis=-1))
        vocab = log_probs.shape[-1]
        acc = (log_probs.reshape(b, nb, vocab) + st["running_scores"][:, :, None]).reshape(b, nb * vocab)
        key, sub = jax.random.split(st["key"])
        topk_lp, topk_idx = _top_candidates(acc, keep, c.do_sample, sub)
        source, new_ids = topk_idx // vocab, topk_idx % vocab
        topk_seqs = _gather_beams(st["running"], source)
        topk_seqs = topk_seqs.at[:, :, cur].set(new_ids)
        hits = jnp.isin(new_ids, eos) & bool(s.eos) | (cur + 1 >= s.max_length)
        run_lp = topk_lp + hits.astype(jnp.float32) * -1e9
        chosen = jax.lax.top_k(run_lp, nb)[1]
        just_done = hits & top_mask[None, :]
        final_lp = topk_lp / ((cur + 1 - length).astype(jnp.float32) ** c.length_penalty)
        full = jnp.all(st["finished"], -1, keepdims=True) & (c.early_stopping is True)
        penalty = full.astype(jnp.float32) + (~st["improvable"]).astype(jnp.float32) + (~just_done)
        final_lp = final_lp + penalty.astype(jnp.float32) * -1e9
        merged_scores = jnp.concatenate((st["beam_scores"], final_lp), 1)
        merged = jax.lax.top_k(merged_scores, nb)[1]
        new = dict(st, key=key, cur=cur + 1)
        new["running"], new["running_scores"] = (
            _gather_beams(topk_seqs, chosen),
            _gather_beams(run_lp, chosen),
        )
        new["sequences"] = _gather_beams(jnp.concatenate((st["sequences"], topk_seqs), 1), merged)
        new["beam_scores"] = _gather_beams(merged_scores, merged)
        new["finished"] = _gather_beams(jnp.concatenate((st["finished"], just_done), 1), merged)
        lens = jnp.full(just_done.shape, cur + 1 - length, jnp.int32)
        new["hyp_len"] = _gather_beams(jnp.concatenate((st["hyp_len"], lens), 1), merged)
        new["improvable"] = _improvable(s, st["improvable"], new, cur + 1)
        new["all_hit"] = jnp.all(hits)
        rows = (_gather_beams(source, chosen) + jnp.arange(b)[:, None] * nb).reshape(-1)
        reordered = jax.tree_util.tree_map(lambda x: x[rows], st["cache"])
        last = new["running"][:, :, cur].reshape(-1)
        new["logits"], new["mask"], new["cache"] = _decode_step(
            model, params, last, st["mask"][rows], reordered, jnp.minimum(cur, s.max_length - 1)
        )
        return new

    def cond(st):
        open_beam = ~(jnp.all(st["finished"]) & (c.early_stopping is True))
        return jnp.any(st["improvable"]) & open_beam & ~st["all_hit"]

    st = {"cur": jnp.int32(length), "running": running, "sequences": running, "key": key, "logits": logits}
    st.update(running_scores=jnp.zeros((b, nb)).at[:, 1:].set(-1e9), beam_scores=jnp.full((b, nb), -1e9))
    st.update(
        finished=jnp.zeros((b, nb), bool), hyp_len=jnp.zeros((b, nb), jnp.int32), all_hit=jnp.bool_(False)
    )
    st.update(improvable=jnp.ones((b, 1), bool), mask=full_mask, cache=cache)
    st = jax.lax.while_loop(cond, body, st)
    n = c.num_return_sequences
    return {
        "sequences": st["sequences"][:, :n].reshape(b * n, -1),
        "sequences_scores": st["beam_scores"][:, :n].reshape(-1),
        "length": length + jnp.max(st["hyp_len"][:, :n]),
    }


def _top_candidates(acc, keep, do_sample, key):
    if not do_sample:
        return jax.lax.top_k(acc, keep)
    gumbel = jax.random.gumbel(key, acc.shape)  # sampling without replacement: top-k of perturbed scores
    idx = jax.lax.top_k(acc + gumbel, keep)[1]
    lp = jnp.take_along_axis(acc, idx, axis=1)
    order = jnp.argsort(-lp, axis=-1)
    return jnp.take_along_axis(lp, order, axis=-1), jnp.take_along_axis(idx, order, axis=-1)


def _improvable(s: _Settings, improvable, st, cur):
    c = s.config
    if c.early_stopping == "never" and c.length_penalty > 0.0:
        best_len = jnp.float32(s.max_length - s.prompt_length)
    else:
        best_len = (cur - s.prompt_length).astype(jnp.float32)
    best_running = st["running_scores"][:, :1] / (best_len**c.length_penalty)
    worst_done = jnp.where(st["finished"], jnp.min(st["beam_scores"], axis=1, keepdims=True), -1.0e9)
    return improvable & jnp.any(best_running > worst_done, axis=-1, keepdims=True)


def _finish(out: dict, s: _Settings, config: GenerationConfig, runtime: dict):
    length = int(out["length"])
    sequences = np.asarray(out["sequences"])[:, :length]
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
    sequences = jnp.asarray(sequences)
    if not config.return_dict_in_generate:
        return sequences
    if config.num_beams > 1:
        scores = out["sequences_scores"] if config.output_scores else None
        return GenerateBeamDecoderOnlyOutput(sequences=sequences, sequences_scores=scores)
    scores = None
    if config.output_scores:
        scores = tuple(out["scores"][i] for i in range(length - s.prompt_length))
    return GenerateDecoderOnlyOutput(sequences=sequences, scores=scores)


__all__ = ["GenerationMixin", "left_padding_lengths"]
