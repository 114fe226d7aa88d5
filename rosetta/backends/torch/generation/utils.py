"""`GenerationMixin` for torch causal LMs: greedy search, sampling and beam search.

The loops follow transformers' `generate` step for step (same processors in the same order,
`torch.argmax` / `torch.topk` tie-breaking, the vectorised beam search), so the tokens are
identical. The model is called through the shared KV-cache contract: the static cache (`init_cache`
+ one token per step, optionally `torch.compile`d) or, with `use_static_cache=False`, a
`DynamicCache` grown by concatenation.
"""

from __future__ import annotations

from typing import Any

import torch

from ....core.generation_config import GenerationConfig
from ....core.generation_utils import (
    GenerateBeamDecoderOnlyOutput,
    GenerateDecoderOnlyOutput,
    StopStrings,
    check_token_ids,
    left_padding_lengths,
    processor_plan,
    split_generate_kwargs,
)
from .decoding import CachedDecoder, DynamicDecoder
from .logits_process import build_processor


class GenerationMixin:
    """Adds `generate(...)` to a torch causal LM that follows the KV-cache contract."""

    def _generation_defaults(self) -> GenerationConfig:
        config = getattr(self, "generation_config", None)
        return (
            config
            if isinstance(config, GenerationConfig)
            else GenerationConfig.from_model_config(self.config)
        )

    @torch.no_grad()
    def generate(
        self,
        input_ids: Any,
        attention_mask: Any = None,
        generation_config: GenerationConfig | None = None,
        **kwargs: Any,
    ) -> torch.Tensor | GenerateDecoderOnlyOutput | GenerateBeamDecoderOnlyOutput:
        """Continue `input_ids` [batch, prompt] (left-padded where `attention_mask` is 0)."""
        config, runtime = split_generate_kwargs(
            "torch", self._generation_defaults(), generation_config, dict(kwargs)
        )
        device = _device_of(self)
        input_ids = torch.as_tensor(input_ids, dtype=torch.long, device=device)
        check_token_ids(input_ids, getattr(self.config, "vocab_size", None))
        mask = (
            torch.ones_like(input_ids)
            if attention_mask is None
            else torch.as_tensor(attention_mask, device=device)
        )
        run = _Run(self, config, runtime, input_ids, mask.long())
        try:
            return run.beam_search() if config.num_beams > 1 else run.sample()
        finally:
            run.release()


def _device_of(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


class _Run:
    """The state of one `generate` call."""

    def __init__(self, model, config: GenerationConfig, runtime: dict, input_ids, mask):
        self.model, self.config, self.runtime = model, config, runtime
        self.prompt_length = input_ids.shape[1]
        self.max_length = config.resolved_max_length(self.prompt_length)
        self.eos = config.eos_token_ids
        self.pad = config.resolved_pad_token_id()
        self.input_ids, self.mask = input_ids, mask
        self.generator = runtime.get("generator")
        if self.generator is None and runtime.get("seed") is not None:
            self.generator = torch.Generator(device=input_ids.device).manual_seed(int(runtime["seed"]))
        decoder_cls = CachedDecoder if runtime.get("use_static_cache", True) else DynamicDecoder
        self.decoder_cls = decoder_cls
        self.decoder = None
        self.compile = bool(runtime.get("compile", False))

    def release(self) -> None:
        if self.decoder is not None:
            self.decoder.release()

    def _expand(self, times: int):
        ids, mask = self.input_ids.repeat_interleave(times, 0), self.mask.repeat_interleave(times, 0)
        pads = torch.as_tensor(left_padding_lengths(mask.cpu().numpy()), device=ids.device)
        return ids, mask, {"prompt_length": self.prompt_length, "pad_lengths": pads}

    # -- greedy search and sampling ------------------------------------------------------------
    def sample(self):
        config = self.config
        ids, mask, ctx = self._expand(config.num_return_sequences if config.do_sample else 1)
        rows, length = ids.shape
        tokens = torch.full((rows, self.max_length), self.pad, dtype=torch.long, device=ids.device)
        tokens[:, :length] = ids
        process = build_processor(processor_plan(config), ctx)
        decoder = self.decoder = self.decoder_cls(self.model, mask, self.max_length, self.compile)
        stops = (
            StopStrings(self.runtime["tokenizer"], config.stop_strings, length)
            if config.stop_strings
            else None
        )
        streamer = self.runtime.get("streamer")
        if streamer is not None:
            streamer.put(ids.cpu())
        logits = decoder.prefill(ids)
        unfinished = torch.ones(rows, dtype=torch.bool, device=ids.device)
        eos = torch.tensor(self.eos, dtype=torch.long, device=ids.device)
        stopping = bool(self.eos) or stops is not None
        all_scores, all_logits, cur = [], [], length
        while True:
            scores = process(tokens, cur, logits.float())
            # kept only when asked: 128 steps of a 49k vocabulary at batch 8 is 200 MB
            if config.output_scores:
                all_scores.append(scores)
            if config.output_logits:
                all_logits.append(logits.float())
            next_tokens = self._choose(scores)
            if stopping:
                next_tokens = torch.where(unfinished, next_tokens, self.pad)
            tokens[:, cur] = next_tokens
            cur += 1
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if self.eos:
                unfinished &= ~torch.isin(next_tokens, eos)
            if stops is not None:
                hits = [stops.hit(tokens[r].cpu().numpy(), cur) for r in range(rows)]
                unfinished &= ~torch.tensor(hits, device=ids.device)
            if cur >= self.max_length or not bool(unfinished.any()):
                break
            logits = decoder.step(next_tokens, cur - 1)
        if streamer is not None:
            streamer.end()
        sequences = tokens[:, :cur]
        if not config.return_dict_in_generate:
            return sequences
        return GenerateDecoderOnlyOutput(
            sequences=sequences,
            scores=tuple(all_scores) if config.output_scores else None,
            logits=tuple(all_logits) if config.output_logits else None,
        )

    def _choose(self, scores: torch.Tensor) -> torch.Tensor:
        if self.config.do_sample:
            probs = torch.softmax(scores, dim=-1)
            return torch.multinomial(probs, num_samples=1, generator=self.generator).squeeze(1)
        return torch.argmax(scores, dim=-1)

    # -- beam search -----------------------------------------------------------------------------
    def beam_search(self):
        if self.config.stop_strings:
            from ....core.errors import InputError

            raise InputError(
                "stop_strings work with greedy search and sampling; drop them or set num_beams=1."
            )
        state = _BeamState(self)
        return state.search()


def _gather_beams(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """tensor [batch, beams, ...] -> [batch, len(indices[0]), ...] picked along the beam axis."""
    while indices.dim() < tensor.dim():
        indices = indices.unsqueeze(-1)
    return torch.gather(tensor, 1, indices.expand(*indices.shape[:2], *tensor.shape[2:]))


class _BeamState:
    """transformers' vectorised beam search (`_beam_search`), over our decoders."""

    def __init__(self, run: _Run):
        self.run, config = run, run.config
        self.batch, self.length = run.input_ids.shape
        self.beams = config.num_beams
        self.keep = max(2, 1 + len(run.eos)) * self.beams
        self.fill = (run.pad or run.eos[0]) if run.eos else -1
        device = run.input_ids.device
        self.top_mask = torch.arange(self.keep, device=device) < self.beams
        self.eos = torch.tensor(run.eos, dtype=torch.long, device=device)

    def search(self):
        run, config, b, nb, length = self.run, self.run.config, self.batch, self.beams, self.length
        device = run.input_ids.device
        ids, mask, ctx = run._expand(nb)
        process = build_processor(processor_plan(config, for_beam_search=True), ctx)
        decoder = run.decoder = run.decoder_cls(run.model, mask, run.max_length, run.compile)
        running = torch.full((b, nb, run.max_length), self.fill, dtype=torch.long, device=device)
        running[:, :, :length] = ids.view(b, nb, length)
        sequences = running.clone()
        running_scores = torch.zeros((b, nb), device=device)
        running_scores[:, 1:] = -1e9
        beam_scores = torch.full((b, nb), -1e9, device=device)
        finished = torch.zeros((b, nb), dtype=torch.bool, device=device)
        hyp_len = torch.zeros((b, nb), dtype=torch.long, device=device)
        improvable = torch.ones((b, 1), dtype=torch.bool, device=device)
        logits, cur, all_scores = decoder.prefill(ids), length, []
        while True:
            log_probs = process(running.view(b * nb, -1), cur, torch.log_softmax(logits.float(), dim=-1))
            if config.output_scores:
                all_scores.append(log_probs)
            vocab = log_probs.shape[-1]
            acc = (log_probs.view(b, nb, vocab) + running_scores[:, :, None]).view(b, nb * vocab)
            topk_lp, topk_idx = self._top_candidates(acc)
            source = topk_idx // vocab
            topk_seqs = _gather_beams(running, source)
            topk_seqs[:, :, cur] = topk_idx % vocab
            hits = torch.isin(topk_idx % vocab, self.eos) | (cur + 1 >= run.max_length)
            run_lp = topk_lp + hits.float() * -1e9
            chosen = torch.topk(run_lp, k=nb)[1]
            running, running_scores = _gather_beams(topk_seqs, chosen), _gather_beams(run_lp, chosen)
            just_done = hits & self.top_mask[None, :]
            final_lp = topk_lp / ((cur + 1 - length) ** config.length_penalty)
            full = finished.all(-1, keepdim=True) & (config.early_stopping is True)
            final_lp = (
                final_lp + full.float() * -1e9 + (~improvable).float() * -1e9 + (~just_done).float() * -1e9
            )
            merged = torch.topk(torch.cat((beam_scores, final_lp), 1), k=nb)[1]
            sequences = _gather_beams(torch.cat((sequences, topk_seqs), 1), merged)
            beam_scores = _gather_beams(torch.cat((beam_scores, final_lp), 1), merged)
            finished = _gather_beams(torch.cat((finished, just_done), 1), merged)
            new_len = torch.full_like(just_done, cur + 1 - length, dtype=torch.long)
            hyp_len = _gather_beams(torch.cat((hyp_len, new_len), 1), merged)
            rows = (_gather_beams(source, chosen) + torch.arange(b, device=device)[:, None] * nb).view(-1)
            decoder.reorder(rows)
            cur += 1
            improvable = self._improvable(improvable, running_scores, beam_scores, finished, cur)
            open_beam = not (bool(finished.all()) and config.early_stopping is True)
            if not (bool(improvable.any()) and open_beam and not bool(hits.all())):
                break
            logits = decoder.step(running[:, :, cur - 1].reshape(-1), cur - 1)
        return self._finish(sequences, beam_scores, hyp_len, all_scores)

    def _top_candidates(self, acc: torch.Tensor):
        if self.run.config.do_sample:
            idx = torch.multinomial(torch.softmax(acc, dim=-1), self.keep, generator=self.run.generator)
            lp, order = torch.gather(acc, 1, idx).sort(dim=-1, descending=True)
            return lp, idx.gather(-1, order)
        return torch.topk(acc, k=self.keep)

    def _improvable(self, improvable, running_scores, beam_scores, finished, cur):
        config = self.run.config
        if config.early_stopping == "never" and config.length_penalty > 0.0:
            best_len = self.run.max_length - self.length
        else:
            best_len = cur - self.length
        best_running = running_scores[:, :1] / (best_len**config.length_penalty)
        worst_done = torch.where(finished, beam_scores.min(dim=1, keepdim=True)[0], -1.0e9)
        return improvable & (best_running > worst_done).any(dim=-1, keepdim=True)

    def _finish(self, sequences, beam_scores, hyp_len, all_scores):
        config, n = self.run.config, self.run.config.num_return_sequences
        sequences = sequences[:, :n].reshape(-1, sequences.shape[-1])
        scores = beam_scores[:, :n].reshape(-1)
        sequences = sequences[:, : self.length + int(hyp_len[:, :n].max())]
        if not config.return_dict_in_generate:
            return sequences
        return GenerateBeamDecoderOnlyOutput(
            sequences=sequences,
            sequences_scores=scores if config.output_scores else None,
            scores=tuple(all_scores) if config.output_scores else None,
        )
