"""Whisper's greedy decoding plan, framework-neutral: the forced prompt, suppressed tokens, stop ids, length."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...core.errors import InputError

_KNOWN = ("max_new_tokens", "max_length", "language", "task")


@dataclass(frozen=True)
class GreedyPlan:
    prompt: list[int]  # <|startoftranscript|> [<|lang|> <|task|>] <|notimestamps|>
    max_length: int  # prompt + new tokens
    suppress_tokens: list[int]
    begin_suppress_tokens: list[int]
    eos_token_ids: list[int]
    pad_token_id: int


def _setting(name: str, kwargs: dict, *sources: Any, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    for source in sources:
        value = getattr(source, name, None)
        if value is None and source is not None and hasattr(source, "extra"):
            value = source.extra.get(name)
        if value is not None:
            return value
    return default


def _prompt(config: Any, sources: tuple, kwargs: dict) -> list[int]:
    prompt = [_setting("decoder_start_token_id", {}, *sources, config)]
    language, task = kwargs.get("language"), kwargs.get("task")
    if language is not None or task is not None:
        lang_ids = _setting("lang_to_id", {}, *sources) or {}
        task_ids = _setting("task_to_id", {}, *sources) or {}
        if language is not None:
            key = language if language.startswith("<|") else f"<|{language}|>"
            if key not in lang_ids:
                raise InputError(
                    f"Unknown language {language!r}; this model knows {sorted(lang_ids)[:10]}..."
                )
            prompt.append(lang_ids[key])
        if task is not None:
            if task not in task_ids:
                raise InputError(f"Unknown task {task!r}; use one of {sorted(task_ids)}.")
            prompt.append(task_ids[task])
    no_timestamps = _setting("no_timestamps_token_id", {}, *sources)
    if no_timestamps is not None:
        prompt.append(int(no_timestamps))
    return prompt


def greedy_plan(
    config: Any, model_generation_config: Any, generation_config: Any, kwargs: dict
) -> GreedyPlan:
    """The plan of one greedy transcription: generation_config= over the model's, keywords over both."""
    unknown = sorted(k for k in kwargs if k not in _KNOWN)
    if unknown:
        raise InputError(f"Whisper generate() got unknown keyword(s) {unknown}; it takes {list(_KNOWN)}.")
    sources = tuple(s for s in (generation_config, model_generation_config) if s is not None)
    prompt = _prompt(config, sources, kwargs)
    max_new = kwargs.get("max_new_tokens")
    limit = config.max_target_positions
    max_length = len(prompt) + max_new if max_new is not None else _setting("max_length", kwargs, *sources)
    max_length = min(int(max_length or limit), limit)
    eos = _setting("eos_token_id", {}, *sources, config)
    return GreedyPlan(
        prompt=prompt,
        max_length=max_length,
        suppress_tokens=list(_setting("suppress_tokens", {}, *sources, config, default=[]) or []),
        begin_suppress_tokens=list(_setting("begin_suppress_tokens", {}, *sources, config, default=[]) or []),
        eos_token_ids=[eos] if isinstance(eos, int) else list(eos),
        pad_token_id=int(_setting("pad_token_id", {}, *sources, config)),
    )


def greedy_decode(plan: GreedyPlan, batch: int, logits_at: Any) -> np.ndarray:
    """Greedy search over a fixed [batch, max_length] token buffer (one compiled shape in TF and Flax):
    `logits_at(buffer, position)` gives the logits [batch, vocab] of the token at `position` (the causal
    decoder ignores the padding after it). Same suppression and stopping as the torch loop."""
    buffer = np.full((batch, plan.max_length), plan.pad_token_id, dtype=np.int32)
    buffer[:, : len(plan.prompt)] = plan.prompt
    done = np.zeros(batch, dtype=bool)
    length = len(plan.prompt)
    while length < plan.max_length:
        logits = np.array(logits_at(buffer, length - 1), dtype=np.float32)
        logits[:, plan.suppress_tokens] = -np.inf
        if length == len(plan.prompt):
            logits[:, plan.begin_suppress_tokens] = -np.inf
        next_tokens = np.where(done, plan.pad_token_id, logits.argmax(axis=-1))
        buffer[:, length] = next_tokens
        length += 1
        done |= np.isin(next_tokens, plan.eos_token_ids)
        if done.all():
            break
    return finish_tokens(plan, buffer[:, :length])


def finish_tokens(plan: GreedyPlan, tokens: np.ndarray) -> np.ndarray:
    """transformers' short-form output: the prompt and a final all-end-of-text column left out."""
    new = tokens[:, len(plan.prompt) :]
    if new.shape[1] and np.isin(new[:, -1], [*plan.eos_token_ids, plan.pad_token_id]).all():
        new = new[:, :-1]
    return new
