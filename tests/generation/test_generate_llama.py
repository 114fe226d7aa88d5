"""generate on the same tiny Llama checkpoint: token-identical in PyTorch, TensorFlow, Flax and transformers.

Left-padded batches, with min_new_tokens, eos_token_id (one or a list) and pad_token_id set; greedy and
beam search in all three.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.parity import rosetta_class, tiny_config_dict

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from .test_generate import CASES, _prompt, _resolve  # noqa: E402

MAX_NEW = 10


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llama")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**tiny_config_dict("llama"))
    hf = transformers.LlamaForCausalLM(config).eval()
    hf.save_pretrained(folder)
    ids, mask = _prompt(config.vocab_size)
    ref = hf.generate(
        input_ids=torch.tensor(ids),
        attention_mask=torch.tensor(mask),
        max_new_tokens=MAX_NEW,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    eos = [int(ref[0, 9]), int(ref[1, 11])]  # tokens the model does produce, so rows end early
    return folder, hf, ids, mask, eos


def _transformers_tokens(hf, ids, mask, kwargs):
    out = hf.generate(
        input_ids=torch.tensor(ids),
        attention_mask=torch.tensor(mask),
        max_new_tokens=MAX_NEW,
        do_sample=False,
        pad_token_id=0,
        **{"eos_token_id": None, **kwargs},
    )
    return out.numpy()


def _rosetta_tokens(backend, folder, ids, mask, kwargs):
    model = rosetta_class(backend, "LlamaForCausalLM").from_pretrained(folder)
    out = model.generate(
        ids, attention_mask=mask, max_new_tokens=MAX_NEW, do_sample=False, pad_token_id=0, **kwargs
    )
    out = out.sequences if hasattr(out, "sequences") else out
    return np.asarray(out)


# Every case in torch; the compiled loops (one compile per setting) run a cover of the processors:
# greedy with an eos list + min_new_tokens, beam search with eos, repetition penalty + n-gram blocking.
COVER = [CASES[1], CASES[2], CASES[5]]
PARAMS = [
    *(pytest.param("torch", case, id=f"torch-{json.dumps(case)}") for case in CASES),
    *(
        pytest.param(backend, case, id=f"{backend}-{json.dumps(case)}")
        for backend in ("flax", "tf")
        for case in COVER
    ),
]


@pytest.mark.parametrize("backend, case", PARAMS)
def test_generate_matches_transformers(checkpoint, backend, case):
    folder, hf, ids, mask, eos = checkpoint
    kwargs = _resolve(case, eos)
    expected = _transformers_tokens(hf, ids, mask, kwargs)
    actual = _rosetta_tokens(backend, folder, ids, mask, kwargs)
    width = min(actual.shape[1], expected.shape[1])
    assert actual.shape[0] == expected.shape[0]
    np.testing.assert_array_equal(actual[:, :width], expected[:, :width])
    # beyond the shorter output only padding may remain
    assert (actual[:, width:] == 0).all() and (expected[:, width:] == 0).all()


def test_generation_config_travels_with_the_checkpoint(checkpoint, tmp_path):
    folder = checkpoint[0]
    model = rosetta_class("torch", "LlamaForCausalLM").from_pretrained(folder)
    model.generation_config.max_new_tokens = 3
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "generation_config.json").read_text())["max_new_tokens"] == 3
    for backend in ("tf", "flax"):
        assert (
            rosetta_class(backend, "LlamaForCausalLM")
            .from_pretrained(tmp_path)
            .generation_config.max_new_tokens
            == 3
        )
    assert transformers.GenerationConfig.from_pretrained(tmp_path).max_new_tokens == 3


@pytest.mark.parametrize("backend", ["torch", "tf", "flax"])
def test_a_cached_call_past_the_last_slot_is_refused(checkpoint, backend):
    """XLA's DynamicUpdateSlice (the TF and Flax cache write) would clamp the write onto earlier slots."""
    from rosetta.core.errors import InputError

    pytest.importorskip({"torch": "torch", "tf": "tensorflow", "flax": "flax"}[backend])
    folder = checkpoint[0]
    model = rosetta_class(backend, "LlamaForCausalLM").from_pretrained(folder)
    ids, last_two, past_them = np.array([[5, 6]]), np.array(6), np.array(7)
    if backend == "torch":
        ids, last_two, past_them = (torch.from_numpy(a) for a in (ids, last_two, past_them))
    cache = model.init_cache(1, 8)
    model(input_ids=ids, past_key_values=cache, cache_position=last_two)
    with pytest.raises(
        InputError, match="Writing 2 positions at cache_position 7 overruns the cache of 8 slots"
    ):
        model(input_ids=ids, past_key_values=cache, cache_position=past_them)
