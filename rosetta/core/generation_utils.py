"""The framework-neutral parts of generation.

- `processor_plan`: which logits processors a `GenerationConfig` implies, in the order
  transformers applies them (each backend implements the same names natively);
- `GenerateDecoderOnlyOutput` / `GenerateBeamDecoderOnlyOutput`: what `generate` returns with
  `return_dict_in_generate=True`;
- `StopStrings`: stop strings checked on decoded text (needs the tokenizer);
- `TextStreamer` / `TextIteratorStreamer`: print or iterate the text as tokens arrive;
- `split_generate_kwargs`: the one place `generate(**kwargs)` is parsed (unknown keywords refused);
- `positions_for_logits` / `last_logits_kwargs`: a causal LM head on the last positions only
  (`logits_to_keep`), which is how every backend's prefill skips most of the LM head's cost.
"""

from __future__ import annotations

import inspect
import operator
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError
from .generation_config import FIELDS, GenerationConfig
from .outputs import ModelOutput

# Keywords `generate` accepts beside the GenerationConfig fields, per backend.
RUNTIME_KEYWORDS = {
    "torch": ("seed", "generator", "streamer", "tokenizer", "use_static_cache", "compile"),
    "tf": ("seed", "streamer", "tokenizer"),
    "flax": ("seed", "prng_key", "streamer", "tokenizer"),
}


def check_cache_fits(cache_position: int, length: int, max_length: int) -> None:
    """Refuse a write of `length` positions at `cache_position` into a static cache of `max_length`
    slots that would overrun it: the one check of the three backends' static caches (XLA's
    DynamicUpdateSlice, which TF and Flax write with, would clamp the write onto earlier slots)."""
    if cache_position < 0 or cache_position + length > max_length:
        raise InputError(
            f"Writing {length} positions at cache_position {cache_position} overruns the cache of "
            f"{max_length} slots; build it with init_cache(batch_size, max_length) large enough."
        )


def check_token_ids(input_ids: Any, vocab_size: int | None) -> None:
    """Refuse a prompt id outside [0, vocab_size) (`input_ids` a numpy array or a torch tensor). Under XLA an
    embedding lookup past its table reads a clamped row and generates from it silently, and torch fails
    inside its embedding; every backend's `generate` checks here, before it runs anything."""
    if vocab_size is None or 0 in tuple(input_ids.shape):
        return
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise InputError(
            f"input_ids holds {bad}, outside the model's vocabulary of {vocab_size} tokens (0..{vocab_size - 1}); "
            "encode the prompt with the tokenizer saved with this model."
        )


def split_generate_kwargs(
    framework: str, base: GenerationConfig, generation_config: GenerationConfig | None, kwargs: dict[str, Any]
) -> tuple[GenerationConfig, dict[str, Any]]:
    """Merge `generation_config` and `kwargs` over the model's defaults; return (config, runtime options)."""
    runtime = {k: kwargs.pop(k) for k in RUNTIME_KEYWORDS[framework] if k in kwargs}
    unknown = sorted(k for k in kwargs if k not in FIELDS)
    if unknown:
        known = sorted([*FIELDS, *RUNTIME_KEYWORDS[framework]])
        raise InputError(
            f"generate() got unknown keyword(s) {', '.join(map(repr, unknown))}. Known: {', '.join(known)}."
        )
    config = (generation_config or base).update(**kwargs)
    if config.stop_strings is not None and runtime.get("tokenizer") is None:
        raise InputError(
            "stop_strings needs the tokenizer to decode text: pass generate(..., tokenizer=tokenizer)."
        )
    if runtime.get("streamer") is not None and config.num_beams > 1:
        raise InputError(
            "A streamer works with greedy search and sampling, not with beam search (num_beams > 1)."
        )
    return config, runtime


def logits_to_keep_count(logits_to_keep: Any) -> int:
    """`logits_to_keep` as the Python int it must be (it sets a shape); a bool, float, array or negative
    value refused by name."""
    try:
        count = -1 if isinstance(logits_to_keep, bool) else operator.index(logits_to_keep)
    except TypeError:
        count = -1
    if count < 0:
        raise InputError(f"logits_to_keep must be an int >= 0 (0: every position), got {logits_to_keep!r}.")
    return count


def positions_for_logits(hidden_states: Any, logits_to_keep: int, labels: Any) -> Any:
    """The hidden states [batch, seq, hidden] a causal LM head runs on: every position, or in generation
    (`logits_to_keep` > 0) only the last `logits_to_keep`, which a loss over `labels` cannot use. The same
    slice serves torch tensors, TF tensors and jax arrays."""
    count = logits_to_keep_count(logits_to_keep)
    if not count:
        return hidden_states
    if labels is not None:
        raise InputError("labels need the logits of every position: drop logits_to_keep to compute a loss.")
    return hidden_states[:, -count:]


def last_logits_kwargs(forward: Callable) -> dict[str, int]:
    """`{"logits_to_keep": 1}` where the model's forward (torch `forward`, Keras `call`, a Flax module's
    `__call__`) takes it: a prefill then runs the LM head on the last position only, which for a long
    prompt is most of the head's cost. Nothing for a model without it."""
    try:
        accepts = "logits_to_keep" in inspect.signature(forward).parameters
    except (TypeError, ValueError):
        accepts = False
    return {"logits_to_keep": 1} if accepts else {}


def processor_plan(
    config: GenerationConfig, for_beam_search: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """The logits processors `config` implies, as (name, parameters), in transformers' order."""
    plan: list[tuple[str, dict[str, Any]]] = []
    eos = config.eos_token_ids
    if config.repetition_penalty not in (None, 1.0):
        plan.append(("repetition_penalty", {"penalty": float(config.repetition_penalty)}))
    if config.no_repeat_ngram_size:
        plan.append(("no_repeat_ngram", {"size": config.no_repeat_ngram_size}))
    if config.min_length and eos:
        plan.append(("min_length", {"min_length": config.min_length, "eos": eos}))
    if config.min_new_tokens and eos:
        plan.append(("min_new_tokens", {"min_new_tokens": config.min_new_tokens, "eos": eos}))
    if config.do_sample:
        keep = len(eos) + 1 if for_beam_search else 1
        if config.temperature != 1.0:
            plan.append(("temperature", {"temperature": float(config.temperature)}))
        if config.top_k:
            plan.append(("top_k", {"top_k": max(config.top_k, keep)}))
        if config.top_p is not None and config.top_p < 1.0:
            plan.append(("top_p", {"top_p": float(config.top_p), "min_tokens_to_keep": keep}))
        if config.min_p is not None:
            plan.append(("min_p", {"min_p": float(config.min_p), "min_tokens_to_keep": keep}))
    return plan


def left_padding_lengths(attention_mask: np.ndarray) -> np.ndarray:
    """Per row, how many padding slots precede the first real token (transformers' `prompt_ignore_length`)."""
    mask = np.asarray(attention_mask) != 0
    return mask.astype(np.int32).argmax(axis=1).astype(np.int32)


@dataclass
class GenerateDecoderOnlyOutput(ModelOutput):
    """Greedy search or sampling: the sequences, and with `output_scores` the processed scores per step."""

    sequences: Any = None
    scores: Any = None
    logits: Any = None


@dataclass
class GenerateBeamDecoderOnlyOutput(ModelOutput):
    """Beam search: the best sequences, their final scores and, with `output_scores`, per-step scores."""

    sequences: Any = None
    sequences_scores: Any = None
    scores: Any = None
    beam_indices: Any = None


class StopStrings:
    """Whether a row's generated text has just come to contain one of the stop strings."""

    def __init__(self, tokenizer: Any, stop_strings: str | list[str], prompt_length: int):
        self.tokenizer = tokenizer
        self.stop_strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
        if not self.stop_strings or not all(isinstance(s, str) and s for s in self.stop_strings):
            raise InputError(f"stop_strings must be non-empty strings, got {stop_strings!r}.")
        self.prompt_length = prompt_length

    def _contains(self, tokens: np.ndarray) -> bool:
        text = self.tokenizer.decode([int(t) for t in tokens], skip_special_tokens=False)
        return any(s in text for s in self.stop_strings)

    def hit(self, row: np.ndarray, length: int) -> bool:
        """Whether `row[prompt_length:length]` contains a stop string (checked once per new token)."""
        return self._contains(np.asarray(row)[self.prompt_length : length])

    def truncate(self, sequences: np.ndarray, pad_token_id: int) -> np.ndarray:
        """Pad every row after the token that completed a stop string (what stopping there would give)."""
        out = np.array(sequences, copy=True)
        for row in out:
            for end in range(self.prompt_length + 1, row.shape[0] + 1):
                if self.hit(row, end):
                    row[end:] = pad_token_id
                    break
        return out


def trim_finished_columns(sequences: np.ndarray, prompt_length: int, done_at: np.ndarray) -> np.ndarray:
    """Drop the trailing columns no row needed (every row had finished before them), as transformers does."""
    longest = int(np.max(done_at)) if done_at.size else sequences.shape[1]
    return sequences[:, : max(prompt_length + 1, min(longest, sequences.shape[1]))]


class TextStreamer:
    """Print text to stdout as tokens arrive (batch size 1), a word at a time."""

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, **decode_kwargs: Any):
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0
        self.next_tokens_are_prompt = True

    def put(self, value: Any) -> None:
        """Receive the prompt (first call) or the next token(s) of the single sequence."""
        array = np.asarray(value)
        if array.ndim > 1 and array.shape[0] > 1:
            raise InputError("TextStreamer only supports batch size 1.")
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.next_tokens_are_prompt = False
        self.token_cache.extend(int(t) for t in array.reshape(-1))
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):
            printable, self.token_cache, self.print_len = text[self.print_len :], [], 0
        else:
            cut = text.rfind(" ") + 1
            printable = text[self.print_len : cut] if cut > self.print_len else ""
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        """Flush what is left and finish the stream."""
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs) if self.token_cache else ""
        printable = text[self.print_len :]
        self.token_cache, self.print_len, self.next_tokens_are_prompt = [], 0, True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        print(text, flush=True, end="" if not stream_end else None)


class TextIteratorStreamer(TextStreamer):
    """Hand text pieces to a consumer thread: `for piece in streamer:` while `generate` runs in another."""

    def __init__(
        self, tokenizer: Any, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any
    ):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: queue.Queue = queue.Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> TextIteratorStreamer:
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value == self.stop_signal:
            raise StopIteration()
        return value
