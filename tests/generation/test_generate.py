"""generate in torch (vs transformers' own generate), Flax and TF (vs the torch loop), on left-padded batches."""

import numpy as np
import pytest

from rosetta.core.errors import InputError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from .toy_models import (  # noqa: E402
    VOCAB,
    flax_model_class,
    tf_model_class,
    tiny_hf_llama,
    torch_models,
    toy_weights,
)

CASES = [
    {},
    {"eos_token_id": "two", "min_new_tokens": 4},
    {"num_beams": 3, "eos_token_id": "two"},
    {"num_beams": 4, "eos_token_id": "one", "num_return_sequences": 2, "length_penalty": 0.5},
    {"num_beams": 3, "early_stopping": True, "eos_token_id": "two"},
    {"repetition_penalty": 1.3, "no_repeat_ngram_size": 2, "eos_token_id": "two"},
    {
        "num_beams": 2,
        "no_repeat_ngram_size": 3,
        "repetition_penalty": 1.2,
        "eos_token_id": "one",
        "early_stopping": "never",
    },
]

# Beam search in the TF XLA loop, beyond the shared cases: min_new_tokens, early_stopping False, no eos.
TF_BEAM_CASES = [
    {"num_beams": 3, "eos_token_id": "two", "min_new_tokens": 5, "early_stopping": False},
    {"num_beams": 2, "eos_token_id": "one", "length_penalty": 2.0, "early_stopping": "never"},
    {"num_beams": 4, "num_return_sequences": 3},
]


def _prompt(high):
    rng = np.random.default_rng(1)
    ids = rng.integers(3, high, (3, 7))
    mask = np.ones_like(ids)
    mask[0, :3], mask[1, :1] = 0, 0
    ids[mask == 0] = 0
    return ids, mask


def _resolve(case, eos):
    out = dict(case)
    if "eos_token_id" in out:
        out["eos_token_id"] = eos if out["eos_token_id"] == "two" else eos[0]
    return out


@pytest.fixture(scope="module")
def hf_pair():
    hf = tiny_hf_llama()
    _, adapter = torch_models()
    ids, mask = _prompt(50)
    ref = hf.generate(
        input_ids=torch.tensor(ids),
        attention_mask=torch.tensor(mask),
        max_new_tokens=10,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    eos = [int(ref[0, 10]), int(ref[1, 12])]  # tokens the model does produce, so rows end early
    return hf, adapter(hf), ids, mask, eos


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("static_cache", [True, False])
def test_torch_matches_transformers(hf_pair, case, static_cache):
    hf, ours, ids, mask, eos = hf_pair
    kw = _resolve(case, eos)
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    ref = hf.generate(
        input_ids=ids_t, attention_mask=mask_t, max_new_tokens=10, pad_token_id=0, do_sample=False, **kw
    )
    out = ours.generate(ids_t, mask_t, max_new_tokens=10, pad_token_id=0, use_static_cache=static_cache, **kw)
    assert out.shape == ref.shape
    assert torch.equal(out, ref)


def test_torch_processors_match_transformers():
    from transformers.generation import logits_process as hf

    from rosetta.backends.torch.generation.logits_process import PROCESSORS

    gen = torch.Generator().manual_seed(0)
    tokens, scores = torch.randint(0, 30, (4, 12), generator=gen), torch.randn(4, 30, generator=gen)
    ctx = {"prompt_length": 5, "pad_lengths": torch.tensor([0, 2, 0, 1])}
    pairs = [
        (
            "repetition_penalty",
            {"penalty": 1.5},
            hf.RepetitionPenaltyLogitsProcessor(1.5, prompt_ignore_length=ctx["pad_lengths"]),
        ),
        ("no_repeat_ngram", {"size": 2}, hf.NoRepeatNGramLogitsProcessor(2)),
        ("top_k", {"top_k": 5}, hf.TopKLogitsWarper(5)),
        ("top_p", {"top_p": 0.7, "min_tokens_to_keep": 1}, hf.TopPLogitsWarper(0.7)),
        ("min_p", {"min_p": 0.2, "min_tokens_to_keep": 2}, hf.MinPLogitsWarper(0.2, min_tokens_to_keep=2)),
        (
            "min_new_tokens",
            {"min_new_tokens": 9, "eos": [3, 4]},
            hf.MinNewTokensLengthLogitsProcessor(5, 9, [3, 4]),
        ),
    ]
    for name, params, theirs in pairs:
        ours = PROCESSORS[name](tokens, 12, scores.clone(), ctx, **params)
        torch.testing.assert_close(ours, theirs(tokens, scores.clone()), msg=name)


@pytest.fixture(scope="module")
def toy_pair():
    toy_cls, _ = torch_models()
    ids, mask = _prompt(23)
    return toy_cls(toy_weights()), ids, mask


def _torch_tokens(toy, ids, mask, kw):
    return toy.generate(
        torch.tensor(ids), torch.tensor(mask), max_new_tokens=12, pad_token_id=0, **kw
    ).numpy()


@pytest.mark.parametrize("case", CASES)
def test_flax_matches_torch(toy_pair, case):
    pytest.importorskip("jax")
    toy, ids, mask = toy_pair
    kw = _resolve(case, [5, 7])
    ours = np.asarray(
        flax_model_class()(toy_weights()).generate(ids, mask, max_new_tokens=12, pad_token_id=0, **kw)
    )
    np.testing.assert_array_equal(ours, _torch_tokens(toy, ids, mask, kw))


@pytest.mark.parametrize("case", CASES + TF_BEAM_CASES)
def test_tf_matches_torch(toy_pair, case):
    pytest.importorskip("tensorflow")
    toy, ids, mask = toy_pair
    kw = _resolve(case, [5, 7])
    ours = (
        tf_model_class()(toy_weights()).generate(ids, mask, max_new_tokens=12, pad_token_id=0, **kw).numpy()
    )
    np.testing.assert_array_equal(ours, _torch_tokens(toy, ids, mask, kw))


def test_compiled_loops_do_not_retrace_and_sampling_is_seeded(toy_pair):
    _, ids, mask = toy_pair
    sample = {"do_sample": True, "top_k": 5, "top_p": 0.9, "min_p": 0.05, "temperature": 0.7, "seed": 3}
    for cls in (flax_model_class(), tf_model_class()):
        model = cls(toy_weights())
        for beams in (1, 3):
            model.generate(ids, mask, max_new_tokens=6, num_beams=beams)
            before = cls.generate_trace_count
            model.generate((ids + 1) % VOCAB, mask, max_new_tokens=6, num_beams=beams)
            assert cls.generate_trace_count == before
        for beams in (1, 2):
            first = np.asarray(model.generate(ids, mask, max_new_tokens=6, num_beams=beams, **sample))
            again = np.asarray(model.generate(ids, mask, max_new_tokens=6, num_beams=beams, **sample))
            np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("framework", ["flax", "tf"])
def test_compiler_memory_released_once_per_compiled_loop(toy_pair, monkeypatch, framework):
    """XLA frees 100-200 MB of compiler memory that glibc keeps; generate hands it back to the OS
    after each new compilation, and only then (a trim walks the whole heap)."""
    import importlib

    _, ids, mask = toy_pair
    loop = importlib.import_module(f"rosetta.backends.{framework}.generation.utils")
    trims = []
    monkeypatch.setattr(loop, "release_freed_memory", lambda: trims.append(1))
    model = (flax_model_class() if framework == "flax" else tf_model_class())(toy_weights())
    model.generate(ids, mask, max_new_tokens=5)
    model.generate((ids + 1) % VOCAB, mask, max_new_tokens=5)  # other ids, all in the vocabulary
    assert len(trims) == 1
    model.generate(ids, mask, max_new_tokens=4)
    assert len(trims) == 2


def test_unknown_keyword_refused_by_name(toy_pair):
    toy, ids, mask = toy_pair
    with pytest.raises(InputError, match="'max_tokens'"):
        toy.generate(torch.tensor(ids), torch.tensor(mask), max_tokens=3)


@pytest.mark.parametrize("framework", ["torch", "flax", "tf"])
@pytest.mark.parametrize("bad", [VOCAB, -1])
def test_a_prompt_id_outside_the_vocabulary_is_refused_by_name(toy_pair, framework, bad):
    """Under XLA an embedding lookup past the table reads a clamped row, and torch fails inside its embedding:
    every backend refuses such ids by name before it runs, and the compiled loops compile nothing."""
    toy, ids, mask = toy_pair
    ids = ids.copy()
    ids[1, 4] = bad
    if framework == "torch":
        model, ids, mask = toy, torch.tensor(ids), torch.tensor(mask)
    else:
        model = (flax_model_class() if framework == "flax" else tf_model_class())(toy_weights())
    with pytest.raises(
        InputError, match=rf"input_ids holds {bad}, outside the model's vocabulary of {VOCAB} tokens"
    ):
        model.generate(ids, mask, max_new_tokens=3)
    assert not model.__dict__.get("_generate_fns")
