"""Whisper in torch against transformers on tiny random weights: every output, losses, save/load both ways,
and the cached decoder (self-attention cache + cross-attention cache) against the full forward."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from tests.parity import (
    BACKENDS,
    TOLERANCE,
    assert_close,
    hf_class,
    require,
    rosetta_class,
    run,
    tiny_config_dict,
    tiny_inputs,
)

pytest.importorskip("torch")
import torch  # noqa: E402

HEADS = ["WhisperModel", "WhisperForConditionalGeneration"]
TINY = tiny_config_dict("whisper", suppress_tokens=[5, 6])


def inputs(batch: int = 2, seq: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    return tiny_inputs("speech-seq2seq", "whisper", batch=batch, seq=seq, seed=seed)


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    require("hf")
    folders = {}
    for i, head in enumerate(HEADS):
        torch.manual_seed(i)
        model = hf_class(head)(hf_class("WhisperConfig")(**TINY, attn_implementation="eager")).eval()
        folder = tmp_path_factory.mktemp(head)
        model.save_pretrained(folder)
        folders[head] = (folder, model)
    return folders


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(backend, head, hf_checkpoints):
    """Logits, encoder and decoder hidden states, self- and cross-attentions and the loss within 1e-5 (torch)
    / 2e-5 (TF, Flax) of transformers on the same checkpoint."""
    folder, reference = hf_checkpoints[head]
    model, info = rosetta_class(backend, head).from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected, actual = run("hf", reference, inputs(), **flags), run(backend, model, inputs(), **flags)
    assert set(actual) == set(expected) - {"cache"}
    assert_close(actual, expected, TOLERANCE[backend])
    if head.endswith("Generation"):
        labelled = {**inputs(), "labels": np.random.default_rng(1).integers(0, 99, (2, 5))}
        assert_close(
            run(backend, model, labelled), run("hf", reference, labelled), TOLERANCE[backend], keys=["loss"]
        )


def test_round_trip_torch_tf_flax_torch_is_bit_exact(hf_checkpoints, tmp_path):
    """Saved by each backend in turn, every weight comes back bit for bit; transformers loads the last save."""
    for backend in BACKENDS:
        require(backend)
    folder, reference = hf_checkpoints["WhisperForConditionalGeneration"]
    original = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    model = original
    for step, backend in enumerate(["tf", "flax", "torch"]):
        model.save_pretrained(tmp_path / str(step))
        model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(
            tmp_path / str(step)
        )
    before, after = original.canonical_state_dict(), model.canonical_state_dict()
    assert sorted(before) == sorted(after)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    model.save_pretrained(tmp_path / "last")
    reloaded = hf_class("WhisperForConditionalGeneration").from_pretrained(tmp_path / "last").eval()
    assert_close(run("hf", reloaded, inputs()), run("hf", reference, inputs()), 1e-6, keys=["logits"])


def test_labels_alone_shift_into_decoder_inputs(hf_checkpoints):
    folder, reference = hf_checkpoints["WhisperForConditionalGeneration"]
    model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    features = {"input_features": inputs()["input_features"], "labels": inputs()["decoder_input_ids"]}
    assert_close(run("torch", model, features), run("hf", reference, features), 1e-5, keys=["loss", "logits"])


def test_save_loads_in_transformers(hf_checkpoints, tmp_path):
    """Ours saved -> transformers loads it with no missing keys and the same logits; proj_out stays tied."""
    folder, _ = hf_checkpoints["WhisperForConditionalGeneration"]
    model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    assert model.proj_out.weight is model.model.decoder.embed_tokens.weight
    model.save_pretrained(tmp_path)
    reloaded, info = hf_class("WhisperForConditionalGeneration").from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert_close(run("hf", reloaded.eval(), inputs()), run("torch", model, inputs()), 1e-6, keys=["logits"])


def test_cached_decoding_matches_full_forward(hf_checkpoints):
    """Prefill 2 tokens then one per step over init_cache: each step's logits equal the full forward's."""
    folder, _ = hf_checkpoints["WhisperForConditionalGeneration"]
    model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    data = {k: torch.from_numpy(v) for k, v in inputs(seq=6).items()}
    with torch.no_grad():
        full = model(**data).logits
        encoder = model.get_encoder()(data["input_features"]).last_hidden_state
        cache = model.init_cache(2, 10)
        mask = torch.zeros(2, 10, dtype=torch.long)
        steps, position = (
            [data["decoder_input_ids"][:, :2]]
            + [data["decoder_input_ids"][:, i : i + 1] for i in range(2, 6)],
            0,
        )
        for ids in steps:
            mask[:, position : position + ids.shape[1]] = 1
            out = model(decoder_input_ids=ids, encoder_outputs=(encoder,), decoder_attention_mask=mask,
                        past_key_values=cache, cache_position=position)  # fmt: skip
            expected = full[:, position : position + ids.shape[1]]
            assert torch.allclose(out.logits, expected, atol=1e-5), (
                position,
                (out.logits - expected).abs().max(),
            )
            position += ids.shape[1]
    assert cache.cross_key_cache[0] is not None and cache.cross_key_cache[0].shape == (2, 4, 16, 8)


def test_a_cached_call_past_the_last_slot_is_refused(hf_checkpoints):
    folder, _ = hf_checkpoints["WhisperForConditionalGeneration"]
    model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    data = {k: torch.from_numpy(v) for k, v in inputs(batch=1, seq=2).items()}
    cache = model.init_cache(1, 4)
    with torch.no_grad():
        model(**data, past_key_values=cache, cache_position=2)
        with pytest.raises(
            InputError, match="Writing 2 positions at cache_position 3 overruns the cache of 4 slots"
        ):
            model(**data, past_key_values=cache, cache_position=3)


def test_generate_matches_transformers_tiny(hf_checkpoints):
    """Greedy tokens from our generate equal transformers' on the tiny model (suppress lists applied)."""
    folder, reference = hf_checkpoints["WhisperForConditionalGeneration"]
    model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    features = torch.from_numpy(inputs()["input_features"])
    ours = model.generate(features, max_new_tokens=8)
    start = torch.full((2, 1), TINY["decoder_start_token_id"])
    with torch.no_grad():
        theirs = reference.generate(features, decoder_input_ids=start, max_new_tokens=8, suppress_tokens=[5, 6],
                                    begin_suppress_tokens=[4])  # fmt: skip
    assert ours.tolist() == theirs.tolist()
    assert not torch.isin(ours, torch.tensor([5, 6])).any()


def test_wrong_features_are_refused_by_name(hf_checkpoints):
    folder, _ = hf_checkpoints["WhisperModel"]
    model = rosetta_class("torch", "WhisperModel").from_pretrained(folder)
    with pytest.raises(InputError, match="input_features"):
        model(input_features=torch.zeros(1, 8, 30), decoder_input_ids=torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(InputError, match="max_target_positions"):
        model(input_features=torch.zeros(1, 8, 32), decoder_input_ids=torch.ones(1, 30, dtype=torch.long))


@pytest.mark.parametrize("backend", ["tf", "flax"])
def test_generate_same_tokens_in_every_backend(backend, hf_checkpoints):
    """TF and Flax greedy transcription gives the torch model's tokens (which equal transformers')."""
    folder, _ = hf_checkpoints["WhisperForConditionalGeneration"]
    torch_model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(folder)
    features = inputs()["input_features"]
    expected = torch_model.generate(torch.from_numpy(features), max_new_tokens=8).numpy()
    np.testing.assert_array_equal(np.asarray(model.generate(features, max_new_tokens=8)), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_classes_pick_whisper(backend, hf_checkpoints):
    require(backend)
    import rosetta
    from rosetta.core.frameworks import FRAMEWORKS

    prefix = FRAMEWORKS[backend].class_prefix
    folder, _ = hf_checkpoints["WhisperForConditionalGeneration"]
    model = getattr(rosetta, f"{prefix}AutoModelForSpeechSeq2Seq").from_pretrained(folder)
    assert type(model).__name__ == f"{prefix}WhisperForConditionalGeneration"
    base = getattr(rosetta, f"{prefix}AutoModel").from_pretrained(hf_checkpoints["WhisperModel"][0])
    assert type(base).__name__ == f"{prefix}WhisperModel"
