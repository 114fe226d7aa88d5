"""Gemma in every backend and head against transformers: embeddings scaled by sqrt(hidden), (1 + w) RMSNorm,
GELU-tanh MLP, its own head_dim, tied LM head; the KV cache and greedy generate."""

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
    tiny_model,
    to_backend,
    to_numpy,
)

HEADS = ["GemmaModel", "GemmaForCausalLM", "GemmaForSequenceClassification"]


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    import torch

    checkpoints = {}
    for i, head in enumerate(HEADS):
        torch.manual_seed(i)
        config = hf_class("GemmaConfig")(
            **tiny_config_dict("gemma", num_labels=3), attn_implementation="eager"
        )
        model = hf_class(head)(config).eval()
        with torch.no_grad():  # transformers starts the norms at zeros: give (1 + w) something to scale
            for name, param in model.named_parameters():
                if name.endswith("norm.weight"):
                    param.normal_(0.0, 0.5)
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
    inputs, labels = tiny_inputs(task_of(head), "gemma"), tiny_labels(task_of(head))
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected, actual = run("hf", reference, inputs, **flags), run(backend, model, inputs, **flags)
    assert set(actual) == set(expected)
    assert_close(actual, expected, TOLERANCE[backend])
    if labels:
        feed = {**inputs, **labels}
        assert_close(run(backend, model, feed), run("hf", reference, feed), TOLERANCE[backend], keys=["loss"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_embeds_are_scaled_too(backend, hf_checkpoints):
    """transformers scales whatever enters the decoder: ids and inputs_embeds give the same outputs."""
    folder, _ = hf_checkpoints["GemmaModel"]
    model = _load(backend, "GemmaModel", folder)
    inputs = tiny_inputs("base", "gemma")
    table = model.canonical_state_dict()["embed_tokens.weight"]
    by_embeds = {"inputs_embeds": table[inputs["input_ids"]], "attention_mask": inputs["attention_mask"]}
    assert_close(run(backend, model, by_embeds), run(backend, model, inputs), TOLERANCE[backend])


def test_random_init_norms_are_zeros_and_the_head_is_tied():
    for backend in BACKENDS:
        model = tiny_model(backend, "causal-lm", "gemma")
        state = model.canonical_state_dict()
        np.testing.assert_array_equal(state["model.norm.weight"], np.zeros(32, np.float32))
        np.testing.assert_array_equal(
            state["model.layers.1.input_layernorm.weight"], np.zeros(32, np.float32)
        )
        assert state["model.layers.0.self_attn.q_proj.weight"].shape == (4 * 16, 32)
        assert "lm_head.weight" not in state or np.array_equal(
            state["lm_head.weight"], state["model.embed_tokens.weight"]
        ), backend


def test_config_reads_legacy_activation_names():
    import rosetta

    assert rosetta.GemmaConfig().hidden_act == "gelu_pytorch_tanh"
    assert rosetta.GemmaConfig(hidden_act="gelu").hidden_act == "gelu_pytorch_tanh"
    legacy = rosetta.GemmaConfig(hidden_act="gelu", hidden_activation="gelu_pytorch_tanh")
    assert legacy.hidden_act == "gelu_pytorch_tanh" and legacy.tie_word_embeddings


@pytest.mark.parametrize("backend", BACKENDS)
def test_saves_load_back_in_transformers(backend, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints["GemmaForCausalLM"]
    _load(backend, "GemmaForCausalLM", folder).save_pretrained(tmp_path)
    reloaded = hf_class("GemmaForCausalLM").from_pretrained(tmp_path, attn_implementation="eager").eval()
    reloaded.config.use_cache = False
    inputs = tiny_inputs("causal-lm", "gemma")
    assert_close(run("hf", reloaded, inputs), run("hf", reference, inputs), 0.0)


# -- the KV cache and generate ----------------------------------------------------------------------------------
def _left_padded(batch: int = 2, seq: int = 8, padded: int = 2):
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

    folder, reference = hf_checkpoints["GemmaForCausalLM"]
    model = _load(backend, "GemmaForCausalLM", folder)
    ids, mask, positions = _left_padded()
    feed = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    with torch.no_grad():
        expected = reference(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()
    real = mask.astype(bool)  # padded positions carry no meaning
    full = run(backend, model, feed)["logits"]
    cached = _cached_logits(backend, model, ids, mask, positions, prefill=5)
    assert np.abs(full - expected)[real].max() <= TOLERANCE[backend]
    assert np.abs(cached - expected)[real].max() <= TOLERANCE[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_greedy_generate_matches_transformers(backend, hf_checkpoints):
    import torch

    folder, reference = hf_checkpoints["GemmaForCausalLM"]
    ids, mask, _ = _left_padded(seq=6)
    kwargs = dict(max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
    expected = reference.generate(
        input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), **kwargs
    ).numpy()
    out = _load(backend, "GemmaForCausalLM", folder).generate(ids, attention_mask=mask, **kwargs)
    np.testing.assert_array_equal(np.asarray(getattr(out, "sequences", out)), expected)
