"""RoBERTa (generated from its modular source) in every backend and head, against transformers and each other."""

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
    "RobertaModel",
    "RobertaForMaskedLM",
    "RobertaForSequenceClassification",
    "RobertaForMultipleChoice",
    "RobertaForTokenClassification",
    "RobertaForQuestionAnswering",
]
TINY = tiny_config_dict("roberta", num_labels=3)
TOL = 2e-5


def make_inputs(head: str) -> dict[str, np.ndarray]:
    return tiny_inputs(task_of(head), "roberta")


def make_labels(head: str) -> dict[str, np.ndarray]:
    return tiny_labels(task_of(head))


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    return save_transformers_models(
        tmp_path_factory, "RobertaConfig", HEADS, TINY, qa_head="RobertaForQuestionAnswering"
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(backend, head, hf_checkpoints):
    folder, reference = hf_checkpoints[head]
    check_matches_transformers(
        backend, head, folder, reference, make_inputs(head), make_labels(head), TOLERANCE[backend]
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_embeds_positions(backend, hf_checkpoints):
    """Without ids, positions start after the padding index, as transformers counts them."""
    folder, reference = hf_checkpoints["RobertaModel"]
    model = rosetta_class(backend, "RobertaModel").from_pretrained(folder)
    input_ids = make_inputs("RobertaModel")["input_ids"][:1, :5]
    embeds = reference.embeddings.word_embeddings.weight.detach().numpy()[input_ids]
    assert_close(
        run(backend, model, {"inputs_embeds": embeds}), run("hf", reference, {"inputs_embeds": embeds}), TOL
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_checkpoint_loads_in_transformers(backend, hf_checkpoints, tmp_path):
    folder, reference = hf_checkpoints["RobertaForMaskedLM"]
    rosetta_class(backend, "RobertaForMaskedLM").from_pretrained(folder).save_pretrained(tmp_path)
    reloaded = hf_class("RobertaForMaskedLM").from_pretrained(tmp_path, attn_implementation="eager").eval()
    inputs = make_inputs("RobertaForMaskedLM")
    assert_close(run("hf", reloaded, inputs), run("hf", reference, inputs), 0.0)


def test_auto_classes_dispatch_to_roberta(hf_checkpoints):
    import rosetta

    folder, _ = hf_checkpoints["RobertaForSequenceClassification"]
    assert type(rosetta.AutoConfig.from_pretrained(folder)).__name__ == "RobertaConfig"
    for prefix in ("", "TF", "Flax"):
        model = getattr(rosetta, f"{prefix}AutoModelForSequenceClassification").from_pretrained(folder)
        assert type(model).__name__ == f"{prefix}RobertaForSequenceClassification"


def test_generated_files_are_standalone():
    """Each generated file imports nothing from BERT: it reads top to bottom on its own."""
    import pathlib

    folder = pathlib.Path(__file__).resolve().parents[3] / "rosetta" / "models" / "roberta"
    for name in (
        "configuration_roberta.py",
        "modeling_roberta.py",
        "modeling_tf_roberta.py",
        "modeling_flax_roberta.py",
    ):
        text = (folder / name).read_text()
        assert text.startswith("# This file was generated from rosetta/models/roberta/modular_roberta.py")
        assert "bert." not in text.replace("roberta.", "") and "from ..bert" not in text
