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


def _spy_init_cache(model, monkeypatch) -> list:
    made = []
    init = model.init_cache

    def counting(rows, max_length):
        made.append((rows, max_length))
        return init(rows, max_length)

    monkeypatch.setattr(model, "init_cache", counting)
    return made


@pytest.mark.parametrize("num_beams", [1, 3], ids=["greedy", "beam"])
def test_static_cache_is_reused_across_calls_of_one_shape(model, monkeypatch, num_beams):
    """A fresh cache per call held two caches' worth of memory from the second call on (the freed one
    stays with the allocator); the idle one is reused, zeroed, so the tokens do not change."""
    made = _spy_init_cache(model, monkeypatch)
    ids = torch.randint(3, 90, (2, 5))
    kwargs = dict(max_new_tokens=6, do_sample=False, pad_token_id=0, eos_token_id=None, num_beams=num_beams)
    first = model.generate(ids, **kwargs)
    cache = model.__dict__["_idle_generation_cache"]
    for tensor in cache.key_cache:
        tensor.fill_(float("nan"))  # whatever the last call left must not reach the next one
    second = model.generate(ids, **kwargs)
    assert len(made) == 1
    assert model.__dict__["_idle_generation_cache"] is cache
    assert torch.equal(first, second)


def test_static_cache_of_another_shape_replaces_the_idle_one(model, monkeypatch):
    made = _spy_init_cache(model, monkeypatch)
    kwargs = dict(do_sample=False, pad_token_id=0, eos_token_id=None)
    model.generate(torch.randint(3, 90, (2, 5)), max_new_tokens=4, **kwargs)
    model.generate(torch.randint(3, 90, (3, 5)), max_new_tokens=4, **kwargs)
    model.generate(torch.randint(3, 90, (3, 5)), max_new_tokens=7, **kwargs)
    assert made == [(2, 9), (3, 9), (3, 12)]
    assert model.__dict__["_idle_generation_cache"].batch_size == 3


def test_a_running_call_owns_its_cache(model, monkeypatch):
    """While a call runs the idle cache is off the model: a call made meanwhile (another thread) gets its own."""
    seen = []
    build = generation_utils.build_processor

    def watching(plan, ctx):
        process = build(plan, ctx)

        def watched(tokens, cur_len, scores):
            seen.append("_idle_generation_cache" in model.__dict__)
            return process(tokens, cur_len, scores)

        return watched

    kwargs = dict(max_new_tokens=3, do_sample=False, pad_token_id=0, eos_token_id=None)
    model.generate(torch.randint(3, 90, (2, 5)), **kwargs)
    monkeypatch.setattr(generation_utils, "build_processor", watching)
    model.generate(torch.randint(3, 90, (2, 5)), **kwargs)
    assert seen == [False, False, False]
    assert "_idle_generation_cache" in model.__dict__
