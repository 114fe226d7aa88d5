"""torch `generate` keeps a step's scores and logits only when `output_scores` / `output_logits` ask.

Kept always, they were the whole excess of a steady batch-8 generate's peak memory over weights + KV cache:
128 steps of SmolLM2's 49k vocabulary at batch 8 is 200 MB. Weak references to each step's scores show
which steps are still alive while the loop runs.
"""

from __future__ import annotations

import weakref

import pytest

from tests.parity import rosetta_class, tiny_config_dict

torch = pytest.importorskip("torch")

import rosetta.backends.torch.generation.utils as generation_utils  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config_class = rosetta_class("torch", "LlamaConfig")
    return rosetta_class("torch", "LlamaForCausalLM")(config_class(**tiny_config_dict("llama"))).eval()


def _generate_watching_scores(model, monkeypatch, **kwargs) -> tuple[list[int], object]:
    """Runs generate; returns, per step, how many earlier steps' scores were still alive, and the output."""
    alive_per_step, refs = [], []
    build = generation_utils.build_processor

    def watching(plan, ctx):
        process = build(plan, ctx)

        def watched(tokens, cur_len, scores):  # tensors hold no cycles: refcounting frees them at once
            alive_per_step.append(sum(ref() is not None for ref in refs))
            out = process(tokens, cur_len, scores)
            refs.append(weakref.ref(out))
            return out

        return watched

    monkeypatch.setattr(generation_utils, "build_processor", watching)
    ids = torch.randint(3, 90, (2, 5))
    out = model.generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=0, eos_token_id=None, **kwargs)
    return alive_per_step, out


@pytest.mark.parametrize("num_beams", [1, 3], ids=["greedy", "beam"])
def test_scores_are_not_kept_unless_asked(model, monkeypatch, num_beams):
    alive, _ = _generate_watching_scores(model, monkeypatch, num_beams=num_beams)
    assert len(alive) == 12
    assert max(alive) <= 1, alive  # at most the previous step's scores, never a growing history


def test_scores_and_logits_kept_when_asked(model, monkeypatch):
    alive, out = _generate_watching_scores(
        model, monkeypatch, return_dict_in_generate=True, output_scores=True, output_logits=True
    )
    assert alive == list(range(12))
    assert len(out.scores) == len(out.logits) == 12
