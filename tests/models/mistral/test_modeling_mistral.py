"""Mistral in every backend and head against transformers; its sliding window in the full forward, the
KV cache and greedy generate (sequences longer than the window)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.parity import (
    BACKENDS,
    TOLERANCE,
    assert_close,
    hf_class,
    rosetta_class,
    run,
    task_of,
    tiny_config_dict,
    tiny_inputs,
    tiny_labels,
    to_backend,
    to_numpy,
)

HEADS = ["MistralModel", "MistralForCausalLM", "MistralForSequenceClassification"]
WINDOW = 4  # the tiny config's sliding_window: every input below is longer


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    import torch

    checkpoints = {}
    for i, head in enumerate(HEADS):
        torch.manual_seed(i)
        config = hf_class("MistralConfig")(
            **tiny_config_dict("mistral", num_labels=3), attn_implementation="eager"
        )
        model = hf_class(head)(config).eval()
        model.config.use_cache = False
        folder = tmp_path_factory.mktemp(head)
        model.save_pretrained(folder)
        checkpoints[head] = (folder, model)
    return checkpoints


def _load(backend: str, head: str, folder):
    model, info = rosetta_class(backend, head).from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(backend, head, hf_checkpoints):
    folder, reference = hf_checkpoints[head]
    model = _load(backend, head, folder)
    assert model.config.sliding_window == WINDOW
    inputs, labels = tiny_inputs(task_of(head), "mistral"), tiny_labels(task_of(head))
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected, actual = run("hf", reference, inputs, **flags), run(backend, model, inputs, **flags)
    assert set(actual) == set(expected)
    assert_close(actual, expected, TOLERANCE[backend])
    if labels:
        feed = {**inputs, **labels}
        assert_close(run(backend, model, feed), run("hf", reference, feed), TOLERANCE[backend], keys=["loss"])


def test_the_window_hides_old_keys(hf_checkpoints):
    """Attention probabilities are zero outside (p - window, p], and the window changes the logits."""
    import torch

    folder, reference = hf_checkpoints["MistralForCausalLM"]
    inputs = tiny_inputs("causal-lm", "mistral")
    for backend in BACKENDS:
        probs = run(backend, _load(backend, "MistralForCausalLM", folder), inputs, output_attentions=True)
        seq = inputs["input_ids"].shape[1]
        query, key = np.arange(seq)[:, None], np.arange(seq)[None, :]
        outside = (key <= query - WINDOW) | (key > query)
        assert np.all(probs["attentions"][0][0][:, outside] == 0), backend
    unwindowed = hf_class("MistralForCausalLM")(
        hf_class("MistralConfig")(**tiny_config_dict("mistral", sliding_window=None))
    ).eval()
    unwindowed.load_state_dict(reference.state_dict())
    with torch.no_grad():
        plain = unwindowed(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
    assert np.abs(run("hf", reference, inputs)["logits"] - plain).max() > 1e-4


@pytest.mark.parametrize("backend", BACKENDS)
def test_saves_load_back_in_transformers(backend, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints["MistralForCausalLM"]
    _load(backend, "MistralForCausalLM", folder).save_pretrained(tmp_path)
    reloaded = hf_class("MistralForCausalLM").from_pretrained(tmp_path, attn_implementation="eager").eval()
    reloaded.config.use_cache = False
    inputs = tiny_inputs("causal-lm", "mistral")
    assert_close(run("hf", reloaded, inputs), run("hf", reference, inputs), 0.0)


# -- the KV cache and generate, past the window ---------------------------------------------------------------
def _left_padded(batch: int = 2, seq: int = 9, padded: int = 2):
    ids = np.random.default_rng(3).integers(1, 99, (batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    mask[1, :padded] = 0
    ids[1, :padded] = 0
    return ids, mask, np.clip(np.cumsum(mask, -1) - 1, 0, None)


def _cached_logits(backend: str, model, ids, mask, positions, prefill: int) -> np.ndarray:
    """Prefill `prefill` tokens, then one token per step; the logits of every position, stacked."""
    batch, seq = ids.shape
    cache = model.init_cache(batch, seq)
    logits = []
    for start, stop in [(0, prefill)] + [(i, i + 1) for i in range(prefill, seq)]:
        feed = {
            "input_ids": ids[:, start:stop],
            "attention_mask": mask * (np.arange(seq) < stop),
            "position_ids": positions[:, start:stop],
            "cache_position": np.array(start, dtype=np.int32),
        }
        out = model(
            **{k: to_backend(backend, v) for k, v in feed.items()}, past_key_values=cache, return_dict=True
        )
        cache = out.past_key_values
        logits.append(to_numpy(out.logits))
    return np.concatenate(logits, axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_decoding_equals_full_forward(backend, hf_checkpoints):
    import torch

    folder, reference = hf_checkpoints["MistralForCausalLM"]
    model = _load(backend, "MistralForCausalLM", folder)
    ids, mask, positions = _left_padded()
    feed = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    with torch.no_grad():
        expected = reference(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()
    real = mask.astype(bool)  # padded positions carry no meaning
    full = run(backend, model, feed)["logits"]
    cached = _cached_logits(backend, model, ids, mask, positions, prefill=3)  # 6 steps past a window of 4
    assert np.abs(full - expected)[real].max() <= TOLERANCE[backend]
    assert np.abs(cached - expected)[real].max() <= TOLERANCE[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_greedy_generate_matches_transformers(backend, hf_checkpoints):
    import torch

    folder, reference = hf_checkpoints["MistralForCausalLM"]
    ids, mask, _ = _left_padded(seq=6)
    kwargs = dict(max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
    expected = reference.generate(
        input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), **kwargs
    ).numpy()
    out = _load(backend, "MistralForCausalLM", folder).generate(ids, attention_mask=mask, **kwargs)
    np.testing.assert_array_equal(np.asarray(getattr(out, "sequences", out)), expected)
