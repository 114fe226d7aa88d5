"""`rosetta verify`: one checkpoint through every framework, compared layer by layer."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from rosetta.verify import verifier as verify

from .helpers import FIXTURES, cli, copy_fixture

pytest.importorskip("torch")


def test_a_good_checkpoint_passes_against_transformers(tmp_path, capsys):
    pytest.importorskip("transformers")
    report, card = tmp_path / "report.json", tmp_path / "card.md"
    rc = cli(
        "verify", FIXTURES / "pt", "--frameworks", "torch,transformers", "--json", report, "--markdown", card
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PASS" in out and "layer 2" in out and "prediction_logits" in out
    data = json.loads(report.read_text())
    assert (
        data["passed"] is True
        and data["reference"] == "torch"
        and data["architecture"] == "BertForPreTraining"
    )
    assert data["inputs"]["padded_positions"] > 0
    hf = data["frameworks"]["transformers"]
    assert hf["status"] == "ok" and [h["layer"] for h in hf["hidden_states"]] == [
        "embeddings",
        "layer 1",
        "layer 2",
    ]
    assert all(h["max_abs"] <= 1e-4 for h in hf["hidden_states"])
    logits = hf["outputs"]["prediction_logits"]
    assert (
        logits["max_abs"] <= 1e-4 and logits["kl"] < 1e-8 and logits["top1"] == 1.0 and logits["topk"] == 1.0
    )
    assert set(hf["outputs"]) == {"prediction_logits", "seq_relationship_logits"}
    assert (
        "## Cross-framework verification" in card.read_text()
        and "| transformers | BertForPreTraining |" in card.read_text()
    )


def test_a_perturbed_framework_fails_with_exit_code_1(tmp_path, capsys, monkeypatch):
    """transformers reads the same checkpoint with layer_norm_eps changed: every layer drifts."""
    transformers = pytest.importorskip("transformers")
    load = transformers.BertConfig.from_pretrained.__func__

    def perturbed(cls, *args, **kwargs):
        result = load(cls, *args, **kwargs)
        config = result[0] if isinstance(result, tuple) else result
        config.layer_norm_eps = 0.5
        return result

    monkeypatch.setattr(transformers.BertConfig, "from_pretrained", classmethod(perturbed))
    report = tmp_path / "report.json"
    assert cli("verify", FIXTURES / "pt", "--frameworks", "torch,transformers", "--json", report) == 1
    assert "FAIL" in capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["passed"] is False and data["frameworks"]["transformers"]["status"] == "failed"
    assert data["frameworks"]["transformers"]["hidden_states"][0]["max_abs"] > 1e-2


def test_a_tolerance_tighter_than_the_noise_fails(tmp_path, capsys):
    pytest.importorskip("transformers")
    pytest.importorskip("flax")
    assert cli("verify", FIXTURES / "pt", "--frameworks", "torch,flax", "--atol", "1e-12") == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("fixture", ["pt", "tf"])
def test_tf_and_flax_agree_with_torch(tmp_path, capsys, fixture):
    """Also from a legacy tf_model.h5: every framework reads it through the conversion layer."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("flax")
    report = tmp_path / "report.json"
    rc = cli("verify", FIXTURES / fixture, "--frameworks", "torch,tf,flax", "--json", report)
    out = capsys.readouterr().out
    assert rc == 0, out
    data = json.loads(report.read_text())
    for framework in ("tf", "flax"):
        result = data["frameworks"][framework]
        assert result["status"] == "ok" and result["class_name"].endswith("BertForPreTraining")
        assert max(h["max_abs"] for h in result["hidden_states"]) <= 2e-5
        assert result["outputs"]["prediction_logits"]["top1"] == 1.0


def test_unavailable_or_unknown_frameworks_are_errors_when_asked_for(monkeypatch, capsys):
    assert cli("verify", FIXTURES / "pt", "--frameworks", "torch,mxnet") == 2
    assert "mxnet" in capsys.readouterr().err
    monkeypatch.setattr(verify, "available", lambda framework: framework == "torch")
    assert cli("verify", FIXTURES / "pt", "--frameworks", "torch,tf") == 2
    assert "asks for tf: TensorFlow is not installed" in capsys.readouterr().err


def test_by_default_missing_frameworks_are_skipped(monkeypatch, capsys, tmp_path):
    pytest.importorskip("transformers")
    monkeypatch.setattr(verify, "available", lambda framework: framework in ("torch", "transformers"))
    report = tmp_path / "r.json"
    assert cli("verify", FIXTURES / "pt", "--json", report) == 0
    data = json.loads(report.read_text())
    assert data["frameworks"]["tf"] == {
        "status": "skipped",
        "class_name": "",
        "reason": "not installed",
        "hidden_states": [],
        "outputs": {},
    }


def test_nothing_to_compare_is_an_error(tmp_path, capsys):
    src = copy_fixture("pt", tmp_path / "src")
    assert cli("verify", src, "--frameworks", "torch") == 2
    assert "nothing to compare" in capsys.readouterr().err


def test_logit_metrics():
    ref = np.array([[[4.0, 3.0, 2.0, 1.0, 0.0, -1.0]], [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]]])
    same = verify.compare_logits(ref.copy(), ref, mask=np.ones((2, 1)))
    assert (
        same["max_abs"] == 0
        and same["kl"] == 0
        and same["top1"] == 1
        and same["topk"] == 1
        and same["k"] == 5
    )
    swapped = ref.copy()
    swapped[0, 0, [0, 1]] = swapped[0, 0, [1, 0]]
    stats = verify.compare_logits(swapped, ref, mask=np.ones((2, 1)))
    assert stats["top1"] == 0.5 and stats["topk"] == 1.0 and stats["kl"] > 0 and stats["max_abs"] == 1.0
    masked = verify.compare_logits(swapped, ref, mask=np.array([[0], [1]]))  # the padded row is left out
    assert masked["top1"] == 1.0 and masked["kl"] == 0 and masked["max_abs"] == 1.0
    assert verify.compare_arrays(np.array([2.0, 4.0]), np.array([2.0, 3.0])) == {
        "max_abs": 1.0,
        "max_rel": 1.0 / 3.0,
    }


def test_a_plain_model_card_runs_no_verification(monkeypatch):
    from rosetta.core.configuration import PretrainedConfig
    from rosetta.verify import model_card

    def boom(*args, **kwargs):
        raise AssertionError("verification ran")

    monkeypatch.setattr(importlib.import_module("rosetta.verify.model_card"), "run_verification", boom)
    config = PretrainedConfig(architectures=["BertForPreTraining"])
    card = model_card("user/tiny", config, trained_in="PyTorch", folder="/nowhere")
    assert "# user/tiny" in card and "BertForPreTraining" in card and "from PyTorch" in card
    assert "verification was not run" in card and "Verified in" not in card and "- pytorch" not in card


def test_a_verified_model_card_lists_only_the_frameworks_that_agreed(monkeypatch):
    pytest.importorskip("transformers")
    from rosetta import AutoConfig
    from rosetta.verify import model_card

    monkeypatch.setattr(verify, "available", lambda framework: framework in ("torch", "transformers"))
    card = model_card(
        "user/tiny", AutoConfig.from_pretrained(FIXTURES / "pt"), "PyTorch", FIXTURES / "pt", verify=True
    )
    assert "Verified in: PyTorch, Hugging Face transformers." in card
    assert "- pytorch" in card and "- tf" not in card and "## Cross-framework verification" in card
    assert "| tf | - | - | - | - | - | skipped: not installed |" in card
