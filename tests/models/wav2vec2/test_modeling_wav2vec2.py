"""Wav2Vec2 in every backend and every head, against transformers and against each other."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.parity import (
    BACKENDS,
    TOLERANCE,
    assert_close,
    check_matches_transformers,
    hf_class,
    require,
    rosetta_class,
    run,
    save_transformers_models,
    task_of,
    tiny_config_dict,
    tiny_inputs,
    tiny_labels,
)

HEADS = ["Wav2Vec2Model", "Wav2Vec2ForCTC", "Wav2Vec2ForSequenceClassification"]
# "group": GroupNorm in the first convolution, post-norm encoder; "layer": LayerNorm convolutions, stable encoder.
VARIANTS = {
    "group": tiny_config_dict("wav2vec2", num_labels=3),
    "layer": tiny_config_dict("wav2vec2", num_labels=3, feat_extract_norm="layer", do_stable_layer_norm=True),
}
INPUTS = tiny_inputs("base", "wav2vec2")


def labels_of(head: str) -> dict[str, np.ndarray]:
    return tiny_labels(task_of(head)) if head != "Wav2Vec2Model" else {}


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    return {
        name: save_transformers_models(tmp_path_factory, "Wav2Vec2Config", HEADS, cfg)
        for name, cfg in VARIANTS.items()
    }


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(head, backend, variant, hf_checkpoints):
    """Hidden states, attentions, extract_features, logits and the CTC / classification loss on the same weights."""
    folder, reference = hf_checkpoints[variant][head]
    check_matches_transformers(backend, head, folder, reference, INPUTS, labels_of(head), TOLERANCE[backend])


def _legacy_folder(folder, target):
    """The transformers checkpoint with the positional conv saved under the old weight_g / weight_v names."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    renames = {
        "parametrizations.weight.original0": "weight_g",
        "parametrizations.weight.original1": "weight_v",
    }
    renamed = {}
    for name, value in tensors.items():
        for new, old in renames.items():
            name = name.replace(new, old)
        renamed[name] = value
    assert any(k.endswith("weight_g") for k in renamed)
    target.mkdir()
    save_file(renamed, str(target / "model.safetensors"))
    (target / "config.json").write_text((folder / "config.json").read_text())
    return target


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_weight_norm_names_load(backend, hf_checkpoints, tmp_path):
    """weight_g / weight_v checkpoints load with no missing or unexpected keys and give the same logits."""
    folder, reference = hf_checkpoints["group"]["Wav2Vec2ForCTC"]
    legacy = _legacy_folder(folder, tmp_path / "legacy")
    model, info = rosetta_class(backend, "Wav2Vec2ForCTC").from_pretrained(legacy, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert_close(
        run(backend, model, INPUTS), run("hf", reference, INPUTS), TOLERANCE[backend], keys=["logits"]
    )


@pytest.mark.parametrize("source", BACKENDS)
def test_save_loads_everywhere(source, hf_checkpoints, tmp_path):
    """A save from any backend loads in the other two and in transformers with the same outputs."""
    folder, reference = hf_checkpoints["layer"]["Wav2Vec2ForCTC"]
    rosetta_class(source, "Wav2Vec2ForCTC").from_pretrained(folder).save_pretrained(tmp_path / "saved")
    expected = run("hf", reference, {**INPUTS, **labels_of("Wav2Vec2ForCTC")})
    for backend in BACKENDS:
        model = rosetta_class(backend, "Wav2Vec2ForCTC").from_pretrained(tmp_path / "saved")
        assert_close(run(backend, model, {**INPUTS, **labels_of("Wav2Vec2ForCTC")}), expected, 2e-5)
    reloaded = hf_class("Wav2Vec2ForCTC").from_pretrained(tmp_path / "saved").eval()
    assert_close(
        run("hf", reloaded, INPUTS), run("hf", reference, INPUTS), TOLERANCE["torch"], keys=["logits"]
    )


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_ctc_alignment(zero_infinity, hf_checkpoints):
    """Labels longer than the frames cost inf (or 0 with ctc_zero_infinity) in every backend, as in torch."""
    folder, _ = hf_checkpoints["group"]["Wav2Vec2ForCTC"]
    labels = np.arange(1, 21)[None].repeat(2, axis=0)  # 20 labels, 14 frames
    losses = [
        float(
            run(
                b,
                rosetta_class(b, "Wav2Vec2ForCTC").from_pretrained(
                    folder, ctc_zero_infinity=zero_infinity, ctc_loss_reduction="sum"
                ),
                {**INPUTS, "labels": labels},
            )["loss"]
        )
        for b in BACKENDS
    ]
    assert losses == [0.0] * 3 if zero_infinity else all(np.isinf(x) for x in losses)


def test_auto_classes_pick_wav2vec2(hf_checkpoints):
    folder, _ = hf_checkpoints["group"]["Wav2Vec2ForCTC"]
    import rosetta

    for backend, prefix in (("torch", ""), ("tf", "TF"), ("flax", "Flax")):
        require(backend)
        model = getattr(rosetta, f"{prefix}AutoModelForCTC").from_pretrained(folder)
        assert type(model).__name__ == f"{prefix}Wav2Vec2ForCTC"
    classifier_folder, _ = hf_checkpoints["group"]["Wav2Vec2ForSequenceClassification"]
    model = rosetta.AutoModelForAudioClassification.from_pretrained(classifier_folder)
    assert type(model).__name__ == "Wav2Vec2ForSequenceClassification"


def test_ctc_decoding_of_argmax_ids(tmp_path):
    """batch_decode groups repeats and drops the blank, as transformers' tokenizer does."""
    import rosetta

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "A": 5, "B": 6, "C": 7}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = rosetta.Wav2Vec2CTCTokenizer(str(tmp_path / "vocab.json"))
    ids = [[5, 5, 0, 5, 6, 6, 4, 7, 0, 0], [6, 0, 6, 4, 4, 5, 0, 0, 0, 0]]
    assert tokenizer.batch_decode(ids) == ["AAB C", "BB A"]
    reference = hf_class("Wav2Vec2CTCTokenizer")(str(tmp_path / "vocab.json"))
    assert reference.batch_decode(ids) == tokenizer.batch_decode(ids)
