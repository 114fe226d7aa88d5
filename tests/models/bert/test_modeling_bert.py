"""BERT in every backend and every head, against transformers and against each other."""

from __future__ import annotations

import numpy as np
import pytest

from tests.parity import (
    BACKENDS,
    TOLERANCE,
    assert_close,
    check_matches_transformers,
    hf_class,
    rosetta_class,
    run,
    save_transformers_models,
    task_of,
    tiny_config_dict,
    tiny_inputs,
    tiny_labels,
)

HEADS = [
    "BertModel",
    "BertForPreTraining",
    "BertForMaskedLM",
    "BertForNextSentencePrediction",
    "BertForSequenceClassification",
    "BertForMultipleChoice",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
]
TINY = tiny_config_dict("bert", num_labels=3)
TOL = 2e-5


def make_inputs(head: str) -> dict[str, np.ndarray]:
    return tiny_inputs(task_of(head), "bert")


def make_labels(head: str) -> dict[str, np.ndarray]:
    return tiny_labels(task_of(head))


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    return save_transformers_models(
        tmp_path_factory, "BertConfig", HEADS, TINY, qa_head="BertForQuestionAnswering"
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(backend, head, hf_checkpoints):
    folder, reference = hf_checkpoints[head]
    check_matches_transformers(
        backend, head, folder, reference, make_inputs(head), make_labels(head), TOLERANCE[backend]
    )


def test_head_mask_in_every_backend(hf_checkpoints):
    """transformers 5 dropped head_mask, so torch is checked against its definition, the others against torch."""
    folder, _ = hf_checkpoints["BertModel"]
    inputs = make_inputs("BertModel")
    head_mask = np.ones((2, 4), dtype=np.float32)
    head_mask[0, 1] = 0.0
    head_mask[1, 3] = 0.0
    outputs = {}
    for backend in BACKENDS:
        model = rosetta_class(backend, "BertModel").from_pretrained(folder)
        outputs[backend] = run(backend, model, {**inputs, "head_mask": head_mask}, output_attentions=True)
    attentions = outputs["torch"]["attentions"]
    assert np.all(attentions[0][:, 1] == 0) and np.all(attentions[1][:, 3] == 0)
    assert np.all(attentions[0][:, 0].sum(-1) > 0.99)
    unmasked = run("torch", rosetta_class("torch", "BertModel").from_pretrained(folder), inputs)
    assert np.abs(unmasked["last_hidden_state"] - outputs["torch"]["last_hidden_state"]).max() > 1e-3
    assert_close(outputs["tf"], outputs["torch"], TOL)
    assert_close(outputs["flax"], outputs["torch"], TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tuple_outputs(backend, hf_checkpoints):
    folder, _ = hf_checkpoints["BertForSequenceClassification"]
    model = rosetta_class(backend, "BertForSequenceClassification").from_pretrained(folder)
    inputs = make_inputs("BertForSequenceClassification")
    as_dict = run(backend, model, {**inputs, **make_labels("BertForSequenceClassification")})
    from tests.parity import to_backend, to_numpy

    args = {
        k: to_backend(backend, v)
        for k, v in {**inputs, **make_labels("BertForSequenceClassification")}.items()
    }
    as_tuple = model(**args, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    np.testing.assert_array_equal(to_numpy(as_tuple[0]), as_dict["loss"])
    np.testing.assert_array_equal(to_numpy(as_tuple[1]), as_dict["logits"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_embeds_and_position_ids(backend, hf_checkpoints):
    folder, reference = hf_checkpoints["BertModel"]
    model = rosetta_class(backend, "BertModel").from_pretrained(folder)
    inputs = make_inputs("BertModel")
    embeds = reference.embeddings.word_embeddings.weight.detach().numpy()[inputs.pop("input_ids")]
    position_ids = np.array([[5, 4, 3, 2, 1, 0, 6]] * 2, dtype=np.int64)
    feed = {**inputs, "inputs_embeds": embeds, "position_ids": position_ids}
    assert_close(run(backend, model, feed), run("hf", reference, feed), TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_checkpoint_loads_in_transformers(backend, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints["BertForMaskedLM"]
    model = rosetta_class(backend, "BertForMaskedLM").from_pretrained(folder)
    model.save_pretrained(tmp_path)
    reloaded = hf_class("BertForMaskedLM").from_pretrained(tmp_path, attn_implementation="eager").eval()
    inputs = make_inputs("BertForMaskedLM")
    assert_close(run("hf", reloaded, inputs), run("hf", reference, inputs), 0.0)


def test_backends_agree_with_each_other(hf_checkpoints):
    folder, _ = hf_checkpoints["BertForSequenceClassification"]
    inputs = make_inputs("BertForSequenceClassification")
    outputs = {}
    for backend in BACKENDS:
        model = rosetta_class(backend, "BertForSequenceClassification").from_pretrained(folder)
        outputs[backend] = run(backend, model, inputs, output_hidden_states=True)
    assert_close(outputs["tf"], outputs["torch"], TOL)
    assert_close(outputs["flax"], outputs["torch"], TOL)
