"""Logits processors in torch, one function per name of `processor_plan`, transformers' arithmetic.

Every function takes `(tokens, cur_len, scores, ctx)`: `tokens` is the [rows, max_length] buffer
whose first `cur_len` columns are written, `scores` the [rows, vocab] float32 scores of the next
token, `ctx` the per-call values (`prompt_length`, `pad_lengths`). Columns past `cur_len` are never
read, so the same functions serve the eager loop and a fixed-shape compiled step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

NEG_INF = -float("inf")


def repetition_penalty(tokens, cur_len, scores, ctx, penalty: float):
    vocab = scores.shape[-1]
    positions = torch.arange(tokens.shape[1], device=tokens.device)[None, :]
    ignored = (positions < ctx["pad_lengths"][:, None]) | (positions >= cur_len)
    ids = tokens.masked_fill(ignored, vocab).clamp(max=vocab)
    seen = torch.zeros((scores.shape[0], vocab + 1), dtype=torch.bool, device=scores.device)
    seen.scatter_(1, ids, True)
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)
    return torch.where(seen[:, :vocab], penalised, scores)


def no_repeat_ngram(tokens, cur_len, scores, ctx, size: int):
    if cur_len < size:
        return scores
    vocab = scores.shape[-1]
    written = tokens[:, :cur_len]
    prefix = written[:, cur_len + 1 - size :]
    windows = written.unfold(dimension=1, size=size, step=1)
    matches = (windows[..., :-1] == prefix.unsqueeze(1)).all(dim=-1)
    banned = torch.zeros((scores.shape[0], vocab + 1), dtype=torch.bool, device=scores.device)
    banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab), vocab), True)
    return scores.masked_fill(banned[:, :vocab], NEG_INF)


def _ban_eos(scores, eos: list[int]):
    eos_mask = torch.isin(
        torch.arange(scores.shape[-1], device=scores.device), torch.tensor(eos, device=scores.device)
    )
    return torch.where(eos_mask, NEG_INF, scores)


def min_length(tokens, cur_len, scores, ctx, min_length: int, eos: list[int]):
    return _ban_eos(scores, eos) if cur_len < min_length else scores


def min_new_tokens(tokens, cur_len, scores, ctx, min_new_tokens: int, eos: list[int]):
    return _ban_eos(scores, eos) if cur_len - ctx["prompt_length"] < min_new_tokens else scores


def temperature(tokens, cur_len, scores, ctx, temperature: float):
    return scores / temperature


def top_k(tokens, cur_len, scores, ctx, top_k: int):
    k = min(top_k, scores.shape[-1])
    return scores.masked_fill(scores < torch.topk(scores, k)[0][..., -1, None], NEG_INF)


def top_p(tokens, cur_len, scores, ctx, top_p: float, min_tokens_to_keep: int):
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - top_p)
    remove_sorted[..., -min_tokens_to_keep:] = 0
    remove = remove_sorted.scatter(1, sorted_indices, remove_sorted)
    return scores.masked_fill(remove, NEG_INF)


def min_p(tokens, cur_len, scores, ctx, min_p: float, min_tokens_to_keep: int):
    probs = torch.softmax(scores, dim=-1)
    remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
    keep = torch.topk(probs, min(min_tokens_to_keep, probs.shape[-1]), dim=-1).indices
    remove.scatter_(-1, keep, False)
    return scores.masked_fill(remove, NEG_INF)


PROCESSORS: dict[str, Callable[..., torch.Tensor]] = {
    "repetition_penalty": repetition_penalty,
    "no_repeat_ngram": no_repeat_ngram,
    "min_length": min_length,
    "min_new_tokens": min_new_tokens,
    "temperature": temperature,
    "top_k": top_k,
    "top_p": top_p,
    "min_p": min_p,
}


def build_processor(plan: list[tuple[str, dict[str, Any]]], ctx: dict[str, Any]) -> Callable:
    """One function `(tokens, cur_len, scores) -> scores` applying `plan` in order."""
    steps = [(PROCESSORS[name], params) for name, params in plan]

    def process(tokens: torch.Tensor, cur_len: int, scores: torch.Tensor) -> torch.Tensor:
        for fn, params in steps:
            scores = fn(tokens, cur_len, scores, ctx, **params)
        return scores

    return process
