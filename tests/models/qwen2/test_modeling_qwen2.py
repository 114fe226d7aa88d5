"""Qwen2 in every backend and head against transformers (q/k/v biases, o_proj without); its optional sliding
window on the layers `layer_types` names, in the full forward, the KV cache and greedy generate."""

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

HEADS = ["Qwen2Model", "Qwen2ForCausalLM", "Qwen2ForSequenceClassification"]
# layer 0 full attention, layer 1 a window of 4 keys (the inputs are longer)
WINDOWED = {"use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1}
CASES = [("plain", head) for head in HEADS] + [("windowed", "Qwen2ForCausalLM")]


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    import torch

    checkpoints = {}
    for i, (variant, head) in enumerate(CASES):
        torch.manual_seed(i)
        overrides = WINDOWED if variant == "windowed" else {}
        config = hf_class("Qwen2Config")(
            **tiny_config_dict("qwen2", num_labels=3, **overrides), attn_implementation="eager"
        )
        model = hf_class(head)(config).eval()
        model.config.use_cache = False
        folder = tmp_path_factory.mktemp(f"{variant}-{head}")
        model.save_pretrained(folder)
        checkpoints[(variant, head)] = (folder, model)
    return checkpoints


def _load(backend: str, head: str, folder):
    model, info = rosetta_class(backend, head).from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: "-".join(case))
def test_matches_transformers(backend, case, hf_checkpoints):
    variant, head = case
    folder, reference = hf_checkpoints[case]
    model = _load(backend, head, folder)
    inputs, labels = tiny_inputs(task_of(head), "qwen2"), tiny_labels(task_of(head))
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected, actual = run("hf", reference, inputs, **flags), run(backend, model, inputs, **flags)
    assert set(actual) == set(expected)
    assert_close(actual, expected, TOLERANCE[backend])
    if labels:
        feed = {**inputs, **labels}
        assert_close(run(backend, model, feed), run("hf", reference, feed), TOLERANCE[backend], keys=["loss"])


def test_biases_and_config_fields(hf_checkpoints):
    import rosetta

    state = _load("torch", "Qwen2ForCausalLM", hf_checkpoints[("plain", "Qwen2ForCausalLM")][0]).state_dict()
    assert {"model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.v_proj.bias"} <= set(state)
    assert "model.layers.0.self_attn.o_proj.bias" not in state
    config = rosetta.Qwen2Config()
    assert config.sliding_window is None and config.layer_types == ["full_attention"] * 32
    windowed = rosetta.Qwen2Config(num_hidden_layers=3, **WINDOWED)
    assert windowed.layer_types == ["full_attention", "sliding_attention", "sliding_attention"]


def test_the_window_hides_old_keys_on_its_layers(hf_checkpoints):
    folder, reference = hf_checkpoints[("windowed", "Qwen2ForCausalLM")]
    inputs = tiny_inputs("causal-lm", "qwen2")
    seq = inputs["input_ids"].shape[1]
    query, key = np.arange(seq)[:, None], np.arange(seq)[None, :]
    old = key <= query - WINDOWED["sliding_window"]
    for backend in BACKENDS:
        probs = run(backend, _load(backend, "Qwen2ForCausalLM", folder), inputs, output_attentions=True)
        full_layer, windowed_layer = probs["attentions"]
        assert np.all(windowed_layer[0][:, old] == 0) and np.all(full_layer[0][:, old] > 0), backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_saves_load_back_in_transformers(backend, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints[("windowed", "Qwen2ForCausalLM")]
    _load(backend, "Qwen2ForCausalLM", folder).save_pretrained(tmp_path)
    reloaded = hf_class("Qwen2ForCausalLM").from_pretrained(tmp_path, attn_implementation="eager").eval()
    reloaded.config.use_cache = False
    inputs = tiny_inputs("causal-lm", "qwen2")
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

    folder, reference = hf_checkpoints[("windowed", "Qwen2ForCausalLM")]
    model = _load(backend, "Qwen2ForCausalLM", folder)
    ids, mask, positions = _left_padded()
    feed = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    with torch.no_grad():
        expected = reference(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()
    real = mask.astype(bool)  # padded positions carry no meaning
    full = run(backend, model, feed)["logits"]
    cached = _cached_logits(backend, model, ids, mask, positions, prefill=3)
    assert np.abs(full - expected)[real].max() <= TOLERANCE[backend]
    assert np.abs(cached - expected)[real].max() <= TOLERANCE[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_greedy_generate_matches_transformers(backend, hf_checkpoints):
    import torch

    folder, reference = hf_checkpoints[("windowed", "Qwen2ForCausalLM")]
    ids, mask, _ = _left_padded(seq=6)
    kwargs = dict(max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
    expected = reference.generate(
        input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), **kwargs
    ).numpy()
    out = _load(backend, "Qwen2ForCausalLM", folder).generate(ids, attention_mask=mask, **kwargs)
    np.testing.assert_array_equal(np.asarray(getattr(out, "sequences", out)), expected)
