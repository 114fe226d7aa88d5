"""Llama in every backend and every head, against transformers and against each other; the KV cache."""

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

HEADS = ["LlamaModel", "LlamaForCausalLM", "LlamaForSequenceClassification"]
TOL = 2e-5
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 8}  # fmt: skip
# name -> config overrides; every variant is checked on the causal LM, the plain one on every head.
VARIANTS = {
    "plain": {},
    "linear-tied": {"rope_scaling": {"rope_type": "linear", "factor": 2.0}, "tie_word_embeddings": True},
    # max_position_embeddings below the input length, so the NTK base actually grows
    "dynamic": {"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}, "max_position_embeddings": 4},
    "llama3-biases": {"rope_scaling": LLAMA3, "attention_bias": True, "mlp_bias": True, "head_dim": 16},
}
CASES = [("plain", head) for head in HEADS] + [(v, "LlamaForCausalLM") for v in VARIANTS if v != "plain"]


def _save_reference(tmp_path_factory, variant: str, head: str):
    import torch

    torch.manual_seed(len(variant) + len(head))
    config = hf_class("LlamaConfig")(
        **tiny_config_dict("llama", num_labels=3, **VARIANTS[variant]), attn_implementation="eager"
    )
    model = hf_class(head)(config).eval()
    model.config.use_cache = False  # the reference returns no cache object in its outputs
    folder = tmp_path_factory.mktemp(f"{variant}-{head}")
    model.save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    return {case: _save_reference(tmp_path_factory, *case) for case in CASES}


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
    inputs, labels = tiny_inputs(task_of(head), "llama"), tiny_labels(task_of(head))
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected, actual = run("hf", reference, inputs, **flags), run(backend, model, inputs, **flags)
    assert set(actual) == set(expected)
    assert_close(actual, expected, TOLERANCE[backend])
    if labels:
        feed = {**inputs, **labels}
        assert_close(run(backend, model, feed), run("hf", reference, feed), TOLERANCE[backend], keys=["loss"])


def test_rope_variants_change_the_outputs(hf_checkpoints):
    """Each scaling must matter on these inputs, or the parity above would not test it."""
    inputs = tiny_inputs("causal-lm", "llama")
    import torch

    for variant, overrides in VARIANTS.items():
        if "rope_scaling" not in overrides:
            continue
        _, reference = hf_checkpoints[(variant, "LlamaForCausalLM")]
        unscaled = {k: v for k, v in overrides.items() if k != "rope_scaling"}
        model = hf_class("LlamaForCausalLM")(
            hf_class("LlamaConfig")(**tiny_config_dict("llama", **unscaled))
        ).eval()
        model.load_state_dict(reference.state_dict())
        with torch.no_grad():
            plain = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
        assert np.abs(run("hf", reference, inputs)["logits"] - plain).max() > 1e-4, variant


@pytest.mark.parametrize(
    "overrides",
    [
        {"rope_theta": 100000.0, "head_dim": 64},  # SmolLM2's
        {
            "rope_theta": 500000.0,
            "head_dim": 128,
            "rope_scaling": {**LLAMA3, "original_max_position_embeddings": 8192},
            "max_position_embeddings": 131072,
        },
        {"rope_theta": 1000000.0, "head_dim": 128, "rope_scaling": {"rope_type": "linear", "factor": 4.0}},
    ],
    ids=["default", "llama3", "linear"],
)
def test_torch_rotary_frequencies_are_transformers_bit_for_bit(overrides):
    """float32 pow is not correctly rounded and numpy's differs from torch's on some CPUs; a one-ulp
    difference moved SmolLM2's logits 1.2e-4 from transformers' over 30 layers."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from rosetta.models.llama.modeling_llama import LlamaRotaryEmbedding

    ours = LlamaRotaryEmbedding(
        rosetta_class("torch", "LlamaConfig")(**tiny_config_dict("llama", **overrides))
    )
    theirs = transformers.models.llama.modeling_llama.LlamaRotaryEmbedding(
        hf_class("LlamaConfig")(**tiny_config_dict("llama", **overrides))
    )
    assert ours.inv_freq.dtype == theirs.inv_freq.dtype == torch.float32
    assert torch.equal(ours.inv_freq, theirs.inv_freq)


def test_random_init_norms_are_ones():
    from tests.parity import tiny_model

    for backend in BACKENDS:
        model = tiny_model(backend, "causal-lm", "llama")
        state = model.canonical_state_dict()
        np.testing.assert_array_equal(state["model.norm.weight"], np.ones(32, np.float32))
        np.testing.assert_array_equal(state["model.layers.1.input_layernorm.weight"], np.ones(32, np.float32))
        assert np.std(state["model.layers.0.self_attn.q_proj.weight"]) > 0.01


# -- the KV cache ---------------------------------------------------------------------------------------------
def _left_padded(batch: int = 2, seq: int = 8, padded: int = 2):
    ids = np.random.default_rng(3).integers(1, 99, (batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    mask[1, :padded] = 0
    ids[1, :padded] = 0
    positions = np.clip(np.cumsum(mask, -1) - 1, 0, None)
    return ids, mask, positions


def _cached_logits(backend: str, model, ids, mask, positions, prefill: int) -> np.ndarray:
    """Prefill `prefill` tokens, then one token per step; the logits of every position, stacked."""
    batch, seq = ids.shape
    cache = model.init_cache(batch, seq)
    steps = [(0, prefill)] + [(i, i + 1) for i in range(prefill, seq)]
    logits = []
    for start, stop in steps:
        cache_mask = mask * (np.arange(seq) < stop)
        feed = {
            "input_ids": ids[:, start:stop],
            "attention_mask": cache_mask,
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

    folder, reference = hf_checkpoints[("plain", "LlamaForCausalLM")]
    model = _load(backend, "LlamaForCausalLM", folder)
    ids, mask, positions = _left_padded()
    feed = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    with torch.no_grad():
        expected = reference(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()
    full = run(backend, model, feed)["logits"]
    cached = _cached_logits(backend, model, ids, mask, positions, prefill=5)
    real = mask.astype(bool)  # padded positions carry no meaning
    assert np.abs(full - expected)[real].max() <= TOLERANCE[backend]
    assert np.abs(cached - expected)[real].max() <= TOLERANCE[backend]
    if backend == "torch":
        cache = model.init_cache(2, 8)
        out = model(torch.from_numpy(ids[:, :5]), attention_mask=torch.from_numpy(mask * (np.arange(8) < 5)),
                    position_ids=torch.from_numpy(positions[:, :5]), past_key_values=cache,
                    cache_position=torch.tensor(0, dtype=torch.int32))  # fmt: skip
        assert out.past_key_values is cache and cache.key_cache[0].shape == (2, 2, 8, 8)
        assert torch.all(cache.key_cache[1][:, :, 5:] == 0) and torch.any(cache.key_cache[1][:, :, :5] != 0)


def test_tf_cached_step_compiles_with_xla(hf_checkpoints):
    import tensorflow as tf

    folder, _ = hf_checkpoints[("plain", "LlamaForCausalLM")]
    model = _load("tf", "LlamaForCausalLM", folder)
    ids, mask, positions = _left_padded()
    cache = model.init_cache(2, 8)
    prefill = model(input_ids=ids[:, :5], attention_mask=mask * (np.arange(8) < 5), position_ids=positions[:, :5],
                    past_key_values=cache, cache_position=tf.constant(0, tf.int32))  # fmt: skip

    @tf.function(jit_compile=True)
    def step(input_ids, attention_mask, position_ids, past_key_values, cache_position):
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                    past_key_values=past_key_values, cache_position=cache_position)  # fmt: skip
        return out.logits, out.past_key_values

    args = (ids[:, 5:6], mask * (np.arange(8) < 6), positions[:, 5:6])
    compiled, _ = step(*(tf.constant(a) for a in args), prefill.past_key_values, tf.constant(5, tf.int32))
    eager = model(input_ids=args[0], attention_mask=args[1], position_ids=args[2],
                  past_key_values=prefill.past_key_values, cache_position=tf.constant(5, tf.int32))  # fmt: skip
    np.testing.assert_allclose(compiled.numpy(), eager.logits.numpy(), atol=1e-5)


# -- checkpoints across backends ----------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["plain", "linear-tied"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_checkpoint_loads_everywhere(backend, variant, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints[(variant, "LlamaForCausalLM")]
    _load(backend, "LlamaForCausalLM", folder).save_pretrained(tmp_path)
    inputs = tiny_inputs("causal-lm", "llama")
    expected = run("hf", reference, inputs)
    reloaded = hf_class("LlamaForCausalLM").from_pretrained(tmp_path, attn_implementation="eager").eval()
    reloaded.config.use_cache = False
    assert_close(run("hf", reloaded, inputs), expected, 0.0)
    for other in BACKENDS:
        assert_close(
            run(other, _load(other, "LlamaForCausalLM", tmp_path), inputs), expected, TOLERANCE[other]
        )


def test_sdpa_and_eager_agree(hf_checkpoints):
    folder, _ = hf_checkpoints[("plain", "LlamaForCausalLM")]
    inputs = tiny_inputs("causal-lm", "llama")
    sdpa = rosetta_class("torch", "LlamaForCausalLM").from_pretrained(folder, attn_implementation="sdpa")
    eager = rosetta_class("torch", "LlamaForCausalLM").from_pretrained(folder, attn_implementation="eager")
    assert_close(run("torch", sdpa, inputs), run("torch", eager, inputs), 1e-5)


def test_config_reads_transformers_rope_parameters():
    import rosetta

    config = rosetta.LlamaConfig(rope_parameters={"rope_type": "linear", "factor": 4.0, "rope_theta": 500.0})
    assert config.rope_theta == 500.0 and config.rope_scaling == {"rope_type": "linear", "factor": 4.0}
    with pytest.raises(rosetta.core.errors.ConfigError, match="yarn"):
        rosetta.LlamaConfig(rope_scaling={"rope_type": "yarn", "factor": 2.0})
    with pytest.raises(rosetta.core.errors.ConfigError, match="num_key_value_heads"):
        rosetta.LlamaConfig(num_attention_heads=4, num_key_value_heads=3, hidden_size=32)
