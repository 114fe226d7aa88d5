"""GPT-2 in every backend and every head, against transformers and against each other; the KV cache."""

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
    tiny_config,
    tiny_config_dict,
    tiny_inputs,
    tiny_labels,
    to_backend,
    to_numpy,
)

HEADS = ["GPT2Model", "GPT2LMHeadModel", "GPT2ForSequenceClassification"]
TASKS = {
    "GPT2Model": "base",
    "GPT2LMHeadModel": "causal-lm",
    "GPT2ForSequenceClassification": "sequence-classification",
}
TINY = tiny_config_dict("gpt2", num_labels=3)
TOL = 2e-5
REFERENCE_ONLY = {"cache", "past_key_values", "cross_attentions"}  # transformers' extra outputs


def make_inputs() -> dict[str, np.ndarray]:
    """Two rows, the second left-padded by three pad tokens."""
    return tiny_inputs("base", "gpt2")


def padded_positions(mask: np.ndarray) -> np.ndarray:
    """Position ids of a left-padded batch: each row counts from its first real token."""
    return np.clip(np.cumsum(mask, axis=-1) - 1, 0, None)


def save_reference(folder, head: str, seed: int = 0, **overrides):
    import torch

    torch.manual_seed(seed)
    config = hf_class("GPT2Config")(**{**TINY, **overrides}, attn_implementation="eager")
    model = hf_class(head)(config).eval()
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    checkpoints = {}
    for seed, head in enumerate(HEADS):
        folder = tmp_path_factory.mktemp(head)
        checkpoints[head] = (folder, save_reference(folder, head, seed))
    return checkpoints


def load(backend: str, head: str, folder):
    model, info = rosetta_class(backend, head).from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(backend, head, hf_checkpoints):
    """Outputs, hidden states, attentions and loss on a left-padded batch, padded positions included."""
    folder, reference = hf_checkpoints[head]
    model = load(backend, head, folder)
    inputs = make_inputs()
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected = run("hf", reference, inputs, **flags)
    actual = run(backend, model, inputs, **flags)
    assert set(actual) == set(expected) - REFERENCE_ONLY
    assert_close(actual, expected, TOLERANCE[backend])
    labels = tiny_labels(TASKS[head])
    if labels:
        feed = {**inputs, **labels}
        assert_close(run(backend, model, feed), run("hf", reference, feed), TOLERANCE[backend], keys=["loss"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_position_ids_token_type_ids_and_inputs_embeds(backend, hf_checkpoints):
    folder, reference = hf_checkpoints["GPT2LMHeadModel"]
    model = load(backend, "GPT2LMHeadModel", folder)
    inputs = make_inputs()
    inputs["position_ids"] = padded_positions(inputs["attention_mask"])
    inputs["token_type_ids"] = np.ones_like(inputs["input_ids"])
    assert_close(run(backend, model, inputs), run("hf", reference, inputs), TOLERANCE[backend])
    embeds = reference.transformer.wte.weight.detach().numpy()[inputs.pop("input_ids")]
    feed = {**inputs, "inputs_embeds": embeds}
    assert_close(run(backend, model, feed), run("hf", reference, feed), TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_untied_lm_head(backend, tmp_path):
    reference = save_reference(tmp_path, "GPT2LMHeadModel", seed=3, tie_word_embeddings=False)
    model = load(backend, "GPT2LMHeadModel", tmp_path)
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    assert not np.array_equal(state["lm_head.weight"], state["transformer.wte.weight"])
    np.testing.assert_array_equal(model.canonical_state_dict()["lm_head.weight"], state["lm_head.weight"])
    inputs = make_inputs()
    assert_close(run(backend, model, inputs), run("hf", reference, inputs), TOLERANCE[backend])


# -- the KV cache ----------------------------------------------------------------------------------------
PREFILL, STEPS, MAX_LENGTH = 4, 3, 10


def cached_logits(backend: str, model, ids: np.ndarray, mask: np.ndarray, step=None) -> np.ndarray:
    """Logits of a prefill of PREFILL tokens then STEPS single-token calls on a cache of MAX_LENGTH slots."""
    batch = ids.shape[0]
    cache = model.init_cache(batch, MAX_LENGTH)
    positions = padded_positions(mask)
    cache_mask = np.zeros((batch, MAX_LENGTH), dtype=np.int64)
    logits = []
    for start, stop in [(0, PREFILL), *((p, p + 1) for p in range(PREFILL, PREFILL + STEPS))]:
        cache_mask[:, start:stop] = mask[:, start:stop]
        feed = {
            "input_ids": to_backend(backend, ids[:, start:stop]),
            "attention_mask": to_backend(backend, cache_mask.copy()),
            "position_ids": to_backend(backend, positions[:, start:stop]),
            "cache_position": to_backend(backend, np.array(start, dtype=np.int32)),
        }
        if step is not None:
            step_logits, cache = step(cache=cache, **feed)
        else:
            out = _call(backend, model, feed, cache)
            step_logits, cache = out.logits, out.past_key_values
        logits.append(to_numpy(step_logits))
    return np.concatenate(logits, axis=1)


def _call(backend: str, model, feed: dict, cache):
    if backend == "torch":
        import torch

        with torch.no_grad():
            return model(**feed, past_key_values=cache, return_dict=True)
    return model(**feed, past_key_values=cache, return_dict=True)


def _full_logits(backend: str, model, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": padded_positions(mask)}
    return run(backend, model, inputs)["logits"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_decoding_matches_full_forward(backend, hf_checkpoints):
    """Prefill + 3 steps through the cache give the full forward's logits at every real token; in TF and
    Flax the same steps compiled (XLA / jax.jit) trace once per shape and give the same logits."""
    folder, reference = hf_checkpoints["GPT2LMHeadModel"]
    model = load(backend, "GPT2LMHeadModel", folder)
    inputs = make_inputs()
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    full = _full_logits(backend, model, ids, mask)
    assert_close({"logits": full}, {"logits": _full_logits("hf", reference, ids, mask)}, TOLERANCE[backend])
    cached = cached_logits(backend, model, ids, mask)
    real = mask.astype(bool)
    assert cached.shape == full.shape
    assert_close({"logits": cached[real]}, {"logits": full[real]}, TOLERANCE[backend])
    if backend in COMPILED_STEPS:
        traces = []
        compiled = cached_logits(backend, model, ids, mask, step=COMPILED_STEPS[backend](model, traces))
        assert len(traces) == 2  # the prefill's shapes and the single-token step's, each once
        assert_close({"logits": compiled}, {"logits": cached}, TOL)


def _tf_step(model, traces: list):
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step(input_ids, attention_mask, position_ids, cache_position, cache):
        traces.append(1)
        out = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            cache_position=cache_position,
            return_dict=True,
        )
        return out.logits, out.past_key_values

    return step


def _flax_step(model, traces: list):
    import jax

    @jax.jit
    def step(params, input_ids, attention_mask, position_ids, cache_position, cache):
        traces.append(1)
        out = model.module.apply(
            {"params": params},
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            cache_position=cache_position,
        )
        return out.logits, out.past_key_values

    return lambda **feed: step(model.params, **feed)


COMPILED_STEPS = {"tf": _tf_step, "flax": _flax_step}


@pytest.mark.parametrize("backend", BACKENDS)
def test_init_cache_layout(backend, hf_checkpoints):
    folder, _ = hf_checkpoints["GPT2LMHeadModel"]
    model = load(backend, "GPT2LMHeadModel", folder)
    cache = model.init_cache(3, 12)
    pairs = list(zip(cache.key_cache, cache.value_cache)) if backend == "torch" else list(cache)
    assert len(pairs) == TINY["n_layer"]
    for k, v in pairs:
        for array in (to_numpy(k), to_numpy(v)):
            assert array.shape == (3, TINY["n_head"], 12, TINY["n_embd"] // TINY["n_head"])
            assert array.dtype == np.float32 and not array.any()


# -- checkpoints -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", BACKENDS)
def test_save_loads_in_every_backend_and_transformers(source, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints["GPT2LMHeadModel"]
    model = load(source, "GPT2LMHeadModel", folder)
    model.save_pretrained(tmp_path)
    weights = model.canonical_state_dict()
    inputs = make_inputs()
    expected = run(source, model, inputs)
    for target in BACKENDS:
        reloaded = load(target, "GPT2LMHeadModel", tmp_path)
        reloaded_weights = reloaded.canonical_state_dict()
        assert set(reloaded_weights) == set(weights)
        for name, array in weights.items():
            np.testing.assert_array_equal(reloaded_weights[name], array, err_msg=name)
        assert_close(run(target, reloaded, inputs), expected, TOL)
    in_transformers = (
        hf_class("GPT2LMHeadModel").from_pretrained(tmp_path, attn_implementation="eager").eval()
    )
    assert_close(run("hf", in_transformers, inputs), run("hf", reference, inputs), 0.0, keys=["logits"])


def test_conv1d_kernels_are_the_canonical_arrays(hf_checkpoints):
    """torch's Conv1D weight is [in, out]: the TF and Flax Dense kernels hold it as it is, not transposed."""
    folder, reference = hf_checkpoints["GPT2LMHeadModel"]
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    conv1d = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]
    torch_layouts = rosetta_class("torch", "GPT2LMHeadModel").canonical_layouts(tiny_config("gpt2"))
    for name in conv1d:
        assert torch_layouts[f"transformer.h.0.{name}.weight"][1] == "identity"
    tf_model = load("tf", "GPT2LMHeadModel", folder)
    tf_kernels = {".".join(path): v.numpy() for path, v in _tf_weights(tf_model)}
    flax_model = load("flax", "GPT2LMHeadModel", folder)
    flax_params = flax_model.params["transformer"]["h"]
    for layer in range(TINY["n_layer"]):
        for name in conv1d:
            canonical = state[f"transformer.h.{layer}.{name}.weight"]
            np.testing.assert_array_equal(tf_kernels[f"transformer.h.{layer}.{name}.kernel"], canonical)
            module, leaf = name.split(".")
            np.testing.assert_array_equal(
                np.asarray(flax_params[str(layer)][module][leaf]["kernel"]), canonical
            )


def _tf_weights(model):
    from rosetta.backends.tf.modeling_tf_utils import named_weights

    return named_weights(model)


@pytest.mark.parametrize("backend", BACKENDS)
def test_transformers_4_checkpoint_with_mask_buffers_loads(backend, hf_checkpoints, tmp_path):
    """transformers 4 saved the causal mask (`attn.bias`, `attn.masked_bias`) and no `transformer.` prefix
    in GPT2Model checkpoints: both load with no unexpected key."""
    from safetensors.numpy import load_file, save_file

    folder, reference = hf_checkpoints["GPT2Model"]
    tensors = load_file(str(folder / "model.safetensors"))
    n = TINY["n_positions"]
    for layer in range(TINY["n_layer"]):
        tensors[f"h.{layer}.attn.bias"] = np.tril(np.ones((n, n), dtype=bool))[None, None]
        tensors[f"h.{layer}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    model = load(backend, "GPT2Model", tmp_path)
    inputs = make_inputs()
    assert_close(run(backend, model, inputs), run("hf", reference, inputs), TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequence_classification_needs_a_pad_token_for_batches(backend, tmp_path):
    from rosetta.core.errors import InputError

    save_reference(tmp_path, "GPT2ForSequenceClassification", pad_token_id=None)
    model = rosetta_class(backend, "GPT2ForSequenceClassification").from_pretrained(tmp_path)
    ids = tiny_inputs("base", "gpt2")["input_ids"]
    with pytest.raises(InputError, match="pad_token_id"):
        run(backend, model, {"input_ids": ids})
    one_row = run(backend, model, {"input_ids": ids[:1]})  # one row: its last token
    assert one_row["logits"].shape == (1, 3)
