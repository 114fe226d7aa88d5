"""Whisper's decoding plan and transcription loop, framework-neutral.

- `whisper_plan`: the forced prompt (<|startoftranscript|> [<|lang|> <|task|>] [<|notimestamps|>]), suppressed
  tokens, stop ids, lengths and the timestamp rules, from generation_config= over the model's, keywords over both.
- `process_scores`: the per-step logits rules (transformers' order: suppress-at-begin, suppress, then
  `WhisperTimeStampLogitsProcessor`), written once over a tiny array namespace (`ops`) so that the torch loop, the
  jitted Flax `lax.while_loop` and the XLA-compiled TF `tf.while_loop` all run the same arithmetic.
- `transcribe`: transformers' sequential window loop: 30 s windows (`2 * max_source_positions` frames) from each
  row's seek pointer; after each window the row seeks to its last timestamp pair, or by the whole window; the kept
  segments' tokens are concatenated and right-padded. Short-form input is the one-window case of the same loop.
  Each backend supplies only `decode_window(features [batch, mel, frames]) -> new tokens [batch, n]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...core.errors import InputError

_KNOWN = (
    "max_new_tokens",
    "min_new_tokens",
    "max_length",
    "language",
    "task",
    "return_timestamps",
    "num_beams",
)
INPUT_STRIDE = 2  # conv1 stride 1 x conv2 stride 2: frames per encoder position (and per timestamp step)


@dataclass(frozen=True)
class WhisperPlan:
    prompt: tuple[int, ...]  # <|startoftranscript|> [<|lang|> <|task|>] [<|notimestamps|>]
    max_length: int  # prompt + new tokens, per window
    suppress_tokens: tuple[int, ...]
    begin_suppress_tokens: tuple[int, ...]
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    vocab_size: int
    return_timestamps: bool
    timestamp_begin: int  # <|0.00|>; vocab_size + 1 when the model has no <|notimestamps|>
    no_timestamps_token_id: int | None
    max_initial_timestamp_index: int | None
    min_new_tokens: int = 0  # end-of-text is banned before this many new tokens (per window)

    @property
    def key(self) -> tuple:
        """What identifies one compiled decode (with the input shapes)."""
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)


# the torch short-form name used before the plan grew timestamps
GreedyPlan = WhisperPlan


def _setting(name: str, kwargs: dict, *sources: Any, default: Any = None) -> Any:
    if name in kwargs and kwargs[name] is not None:
        return kwargs[name]
    for source in sources:
        value = getattr(source, name, None)
        if value is None and source is not None and hasattr(source, "extra"):
            value = source.extra.get(name)
        if value is not None:
            return value
    return default


def _prompt(config: Any, sources: tuple, kwargs: dict, return_timestamps: bool) -> list[int]:
    prompt = [_setting("decoder_start_token_id", {}, *sources, config)]
    language, task = _setting("language", kwargs, *sources), _setting("task", kwargs, *sources)
    lang_ids = _setting("lang_to_id", {}, *sources) or {}
    task_ids = _setting("task_to_id", {}, *sources) or {}
    if language is None and lang_ids:
        raise InputError(
            "This Whisper model is multilingual: pass language= (e.g. 'en' or '<|en|>'); rosetta does not detect "
            "the language."
        )
    if language is not None:
        key = language if language.startswith("<|") else f"<|{language}|>"
        if key not in lang_ids:
            known = sorted(lang_ids)[:10] if lang_ids else "none (an English-only model)"
            raise InputError(f"Unknown language {language!r}; this model knows {known}...")
        prompt.append(lang_ids[key])
    if task is not None:
        if task not in task_ids:
            raise InputError(f"Unknown task {task!r}; use one of {sorted(task_ids) or 'none'}.")
        prompt.append(task_ids[task])
    elif language is not None and "transcribe" in task_ids:  # as transformers: a language implies transcribe
        prompt.append(task_ids["transcribe"])
    no_timestamps = _setting("no_timestamps_token_id", {}, *sources)
    if no_timestamps is not None and not return_timestamps:
        prompt.append(int(no_timestamps))
    return prompt


def whisper_plan(
    config: Any, model_generation_config: Any, generation_config: Any, kwargs: dict, long_form: bool = False
) -> WhisperPlan:
    """The plan of one transcription: generation_config= over the model's, keywords over both."""
    unknown = sorted(k for k in kwargs if k not in _KNOWN)
    if unknown:
        raise InputError(f"Whisper generate() got unknown keyword(s) {unknown}; it takes {list(_KNOWN)}.")
    sources = tuple(s for s in (generation_config, model_generation_config) if s is not None)
    num_beams = _setting("num_beams", kwargs, *sources, default=1)
    if num_beams != 1:
        raise InputError(
            f"Whisper generate() decodes greedily; num_beams={num_beams!r} (from the keywords or the generation "
            "config) is not supported. Pass num_beams=1."
        )
    return_timestamps = _setting("return_timestamps", kwargs, *sources)
    no_timestamps = _setting("no_timestamps_token_id", {}, *sources)
    if long_form:
        if return_timestamps is False:
            raise InputError(
                "More than 30 s of input_features (long-form audio) is transcribed window by window by seeking to "
                "the predicted timestamps: pass return_timestamps=True (or leave it unset), or pass at most "
                f"{2 * config.max_source_positions} frames."
            )
        return_timestamps = True
    return_timestamps = bool(return_timestamps)
    if return_timestamps and no_timestamps is None:
        raise InputError(
            "return_timestamps=True needs generation_config.no_timestamps_token_id (the <|notimestamps|> id; "
            "timestamp tokens follow it); load the model's generation_config.json or set the field."
        )
    prompt = _prompt(config, sources, kwargs, return_timestamps)
    limit = config.max_target_positions
    max_new = kwargs.get("max_new_tokens")
    if max_new is None:
        max_new = _setting("max_new_tokens", {}, *sources)
    if max_new is not None:
        if len(prompt) + max_new > limit:
            raise InputError(
                f"The decoder prompt ({len(prompt)} tokens) plus max_new_tokens ({max_new}) exceeds "
                f"max_target_positions ({limit}); lower max_new_tokens."
            )
        max_length = len(prompt) + int(max_new)
    else:  # transformers: max_length grows by the prompt, up to max_target_positions
        max_length = _setting("max_length", kwargs, *sources) or limit
        max_length = min(int(max_length) + min(limit // 2 - 1, len(prompt)), limit)
    eos = _setting("eos_token_id", {}, *sources, config)
    eos_ids = (eos,) if isinstance(eos, int) else tuple(eos)
    pad = _setting("pad_token_id", {}, *sources, config)
    return WhisperPlan(
        prompt=tuple(int(t) for t in prompt),
        max_length=max_length,
        suppress_tokens=tuple(_setting("suppress_tokens", {}, *sources, config, default=()) or ()),
        begin_suppress_tokens=tuple(
            _setting("begin_suppress_tokens", {}, *sources, config, default=()) or ()
        ),
        eos_token_ids=eos_ids,
        pad_token_id=int(pad if pad is not None else eos_ids[0]),
        vocab_size=int(config.vocab_size),
        return_timestamps=return_timestamps,
        timestamp_begin=int(no_timestamps) + 1 if no_timestamps is not None else int(config.vocab_size) + 1,
        no_timestamps_token_id=None if no_timestamps is None else int(no_timestamps),
        max_initial_timestamp_index=_setting("max_initial_timestamp_index", {}, *sources),
        min_new_tokens=_min_new_tokens(kwargs, sources, max_length - len(prompt)),
    )


def _min_new_tokens(kwargs: dict, sources: tuple, max_new: int) -> int:
    value = _setting("min_new_tokens", kwargs, *sources, default=0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"min_new_tokens must be an integer >= 0, got {value!r}.")
    if value > max_new:
        raise InputError(
            f"min_new_tokens ({value}) is more than the {max_new} new tokens this call allows; raise "
            "max_new_tokens or lower min_new_tokens."
        )
    return value


greedy_plan = whisper_plan


# -- the per-step logits rules, once for every backend ------------------------------------------------------------
class Ops:
    """The few array operations `process_scores` needs; each backend passes its own (numpy-like semantics)."""

    def __init__(self, asarray, where, max, logsumexp, log_softmax, column):  # noqa: A002
        self.asarray, self.where, self.max = asarray, where, max
        self.logsumexp, self.log_softmax, self.column = logsumexp, log_softmax, column


def _vocab_mask(plan: WhisperPlan, ids: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros((1, plan.vocab_size), dtype=bool)
    mask[0, [i for i in ids if 0 <= i < plan.vocab_size]] = True
    return mask


def process_scores(ops: Ops, plan: WhisperPlan, tokens: Any, cur: Any, scores: Any) -> Any:
    """Logits [batch, vocab] (float32) of the token at column `cur` of `tokens` [batch, max_length], after
    transformers' Whisper processors: min-new-tokens, suppress-at-begin, suppress, and with timestamps its timestamp rules."""
    neg = float("-inf")
    begin = len(plan.prompt)
    at_begin = cur == begin
    if plan.min_new_tokens:  # first, as transformers' MinNewTokensLengthLogitsProcessor
        scores = ops.where(
            ops.asarray(_vocab_mask(plan, plan.eos_token_ids)) & (cur - begin < plan.min_new_tokens),
            neg,
            scores,
        )
    if plan.begin_suppress_tokens:
        scores = ops.where(ops.asarray(_vocab_mask(plan, plan.begin_suppress_tokens)) & at_begin, neg, scores)
    if plan.suppress_tokens:
        scores = ops.where(ops.asarray(_vocab_mask(plan, plan.suppress_tokens)), neg, scores)
    if not plan.return_timestamps:
        return scores
    tb, eos = plan.timestamp_begin, plan.eos_token_ids[0]
    vocab = ops.asarray(np.arange(plan.vocab_size, dtype=np.int32)[None, :])
    scores = ops.where(vocab == plan.no_timestamps_token_id, neg, scores)
    generated = cur - begin
    last = ops.column(tokens, cur - 1)[:, None]  # clamped reads: masked by `generated` below
    penultimate = ops.column(tokens, cur - 2)[:, None]
    last_was = (last >= tb) & (generated >= 1)
    penultimate_was = (penultimate >= tb) | (generated < 2)
    scores = ops.where(last_was & penultimate_was & (vocab >= tb), neg, scores)
    scores = ops.where(last_was & ~penultimate_was & (vocab < eos), neg, scores)
    columns = ops.asarray(np.arange(plan.max_length, dtype=np.int32)[None, :])
    in_generated = (columns >= begin) & (columns < cur)
    latest = ops.max(ops.where(in_generated & (tokens >= tb), tokens, -1), 1)[
        :, None
    ]  # timestamps never decrease
    bump = ops.where(last_was & ~penultimate_was, 0, 1)
    timestamp_last = ops.where(latest >= tb, latest + bump, tb)
    scores = ops.where((vocab >= tb) & (vocab < timestamp_last), neg, scores)
    scores = ops.where((vocab < tb) & at_begin, neg, scores)
    if plan.max_initial_timestamp_index is not None:
        scores = ops.where((vocab > tb + plan.max_initial_timestamp_index) & at_begin, neg, scores)
    logprobs = ops.log_softmax(scores)
    timestamp_logprob = ops.logsumexp(ops.where(vocab >= tb, logprobs, neg), 1)[:, None]
    max_text = ops.max(ops.where(vocab < tb, logprobs, neg), 1)[:, None]
    return ops.where((timestamp_logprob > max_text) & (vocab < tb), neg, scores)


# -- the window loop ------------------------------------------------------------------------------------------------
def num_segment_frames(config: Any) -> int:
    return INPUT_STRIDE * config.max_source_positions


def transcribe(
    plan_for: Callable[[bool], WhisperPlan],
    config: Any,
    input_features: Any,
    attention_mask: Any,
    decode_window: Callable[[WhisperPlan, np.ndarray], np.ndarray],
) -> np.ndarray:
    """transformers' Whisper generate loop over windows; returns the tokens [batch, n] (int64) it returns.

    `plan_for(long_form)` builds the plan; `decode_window(plan, features [batch, mel, window])` greedy-decodes one
    window per row and gives the new tokens [batch, n] (rows padded with `pad_token_id` after their end)."""
    features = np.asarray(input_features, dtype=np.float32)
    if features.ndim != 3 or features.shape[1] != config.num_mel_bins:
        raise InputError(
            f"Whisper generate needs input_features [batch, {config.num_mel_bins}, frames] (WhisperFeatureExtractor's "
            f"output), got {features.shape}."
        )
    batch, _, total = features.shape
    window = num_segment_frames(config)
    long_form = total > window
    plan = plan_for(long_form)
    if long_form and batch > 1 and attention_mask is None:
        raise InputError(
            "Batched long-form transcription needs the frames' attention_mask: call the feature extractor with "
            "return_attention_mask=True (and padding='longest', truncation=False) and pass attention_mask=."
        )
    if long_form and batch > 1:
        max_frames = np.asarray(attention_mask).sum(-1).astype(np.int64)
    else:
        max_frames = np.full(batch, total, dtype=np.int64)
    seek = np.zeros(batch, dtype=np.int64)
    segments: list[list[np.ndarray]] = [[] for _ in range(batch)]
    while (seek < max_frames).any():
        active = seek < max_frames
        seek_frames = np.minimum(max_frames - seek, window)
        segment_input = np.zeros((batch, features.shape[1], window), dtype=np.float32)
        for i in np.flatnonzero(active):
            segment_input[i, :, : seek_frames[i]] = features[i, :, seek[i] : seek[i] + seek_frames[i]]
        new_tokens = np.asarray(decode_window(plan, segment_input))
        for i in np.flatnonzero(active):
            kept, offset = _segment(plan, _strip(plan, new_tokens[i]), int(seek_frames[i]))
            segments[i].extend(kept)
            seek[i] += offset
    rows = [np.concatenate(row) if row else np.zeros(0, np.int64) for row in segments]
    out = np.full((batch, max(len(r) for r in rows)), plan.pad_token_id, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _strip(plan: WhisperPlan, sequence: np.ndarray) -> np.ndarray:
    """transformers' `generate_with_fallback`: padding dropped (the end-of-text kept when pad is eos), then one
    final end-of-text dropped."""
    sequence = np.asarray(sequence, dtype=np.int64)
    pad, eos = plan.pad_token_id, plan.eos_token_ids[0]
    if len(sequence) and sequence[-1] == pad:
        count = int((sequence == pad).sum()) - (1 if pad == eos else 0)
        if count:
            sequence = sequence[:-count]
    if len(sequence) and sequence[-1] == eos:
        sequence = sequence[:-1]
    return sequence


def _segment(plan: WhisperPlan, sequence: np.ndarray, seek_frames: int) -> tuple[list[np.ndarray], int]:
    """transformers' `_retrieve_segment`: the kept token slices and how many frames to seek forward."""
    tb = plan.timestamp_begin
    is_ts = [int(t) >= tb for t in sequence]
    single_ending = is_ts[-2:] == [False, True]
    cuts = [i + 1 for i in range(len(is_ts) - 1) if is_ts[i] and is_ts[i + 1]]
    if not cuts:
        return [sequence], seek_frames
    if single_ending:
        cuts.append(len(sequence))
    else:
        cuts[-1] += 1
    kept, last = [], 0
    for cut in cuts:
        kept.append(sequence[last:cut])
        last = cut
    if single_ending:
        return kept, seek_frames
    return kept, (int(sequence[last - 2]) - tb) * INPUT_STRIDE


def finish_tokens(plan: WhisperPlan, tokens: np.ndarray) -> np.ndarray:
    """The new tokens [batch, n] of a buffer that starts with the prompt (a window's `decode_window` result)."""
    return np.asarray(tokens)[:, len(plan.prompt) :]
