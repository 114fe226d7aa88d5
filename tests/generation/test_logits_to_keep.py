"""`logits_to_keep`: a causal LM head on the last positions only, in every backend, and generate's prefill
asking for it (XLA does not sink the slice of the logits into the LM head's matmul, so without it TF and
Flax would project every prompt position onto the vocabulary and keep one)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from rosetta.core.errors import InputError
from tests.parity import rosetta_class, run, tiny_config, to_backend, token_ids

HEADS = {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}
BACKENDS = ("torch", "tf", "flax")
FORWARD = {"torch": "forward", "tf": "call", "flax": "__call__"}


def _model(backend: str, model_type: str):
    cls = rosetta_class(backend, HEADS[model_type])
    if backend == "torch":
        import torch

        torch.manual_seed(0)
        return cls(tiny_config(model_type)).eval()
    return cls(tiny_config(model_type), **({"seed": 0} if backend == "flax" else {}))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model_type", sorted(HEADS))
def test_logits_to_keep_gives_the_last_rows_of_the_full_logits(backend, model_type):
    model = _model(backend, model_type)
    ids = token_ids(batch=2, seq=7)
    full = run(backend, model, {"input_ids": ids})["logits"]
    for keep in (1, 3):
        last = run(backend, model, {"input_ids": ids}, logits_to_keep=keep)["logits"]
        assert last.shape == (2, keep, full.shape[-1])
        np.testing.assert_allclose(last, full[:, -keep:], atol=1e-6, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_logits_to_keep_is_refused_with_labels_or_when_not_a_count(backend):
    model = _model(backend, "llama")
    ids = to_backend(backend, token_ids(batch=2, seq=7))
    with pytest.raises(InputError, match="labels need the logits of every position"):
        model(input_ids=ids, labels=ids, logits_to_keep=1)
    for bad in (-1, 1.5, True):
        with pytest.raises(InputError, match="logits_to_keep"):
            model(input_ids=ids, logits_to_keep=bad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_generate_prefill_projects_only_the_last_position(backend, monkeypatch):
    """A spy on the head's forward: the prompt's pass (7 tokens) asks for one position and gets one."""
    model = _model(backend, "llama")
    cls, name = type(model), FORWARD[backend]
    original, calls = getattr(cls, name), []

    @functools.wraps(original)  # the same signature: generate reads it
    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls.append((kwargs.get("input_ids").shape[1], kwargs.get("logits_to_keep"), out.logits.shape[1]))
        return out

    monkeypatch.setattr(cls, name, spy)
    model.generate(to_backend(backend, token_ids(batch=2, seq=7)), max_new_tokens=3, do_sample=False)
    assert calls[0] == (7, 1, 1)
