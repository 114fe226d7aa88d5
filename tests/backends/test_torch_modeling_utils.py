"""Torch-specific behaviour of the base class, exercised on BERT."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rosetta import (  # noqa: E402
    AutoModel,
    AutoModelForSequenceClassification,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
)
from rosetta.core.errors import ConfigError, WeightsMismatchError  # noqa: E402
from tests.parity import tiny_config, token_ids  # noqa: E402


def test_head_newly_initialised_and_reported(tmp_path, caplog):
    torch.manual_seed(0)
    BertModel(tiny_config()).save_pretrained(tmp_path)
    model, info = BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=3, output_loading_info=True
    )
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    assert model.config.num_labels == 3 and model.classifier.weight.shape == (3, 32)
    assert "newly initialized" in caplog.text and "classifier.weight" in caplog.text
    # initialised from initializer_range, not left empty
    std = model.classifier.weight.std().item()
    assert 0.005 < std < 0.05 and torch.all(model.classifier.bias == 0)
    assert not any(p.device.type == "meta" for p in model.parameters())


def test_head_checkpoint_into_base_model(tmp_path):
    torch.manual_seed(0)
    head = BertForSequenceClassification(tiny_config()).eval()
    head.save_pretrained(tmp_path)
    base, info = BertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == ["classifier.weight", "classifier.bias"]
    x = torch.from_numpy(token_ids())
    torch.testing.assert_close(base(x).last_hidden_state, head.bert(x).last_hidden_state, rtol=0, atol=0)


def test_mismatched_sizes(tmp_path):
    BertForSequenceClassification(tiny_config(num_labels=2)).save_pretrained(tmp_path)
    with pytest.raises(WeightsMismatchError) as err:
        BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert (
        "classifier.weight" in str(err.value) and "(2, 32)" in str(err.value) and "(5, 32)" in str(err.value)
    )
    model, info = BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert ("classifier.weight", (2, 32), (5, 32)) in info["mismatched_keys"]
    assert model.classifier.weight.shape == (5, 32)


def test_tied_embeddings_and_resize(tmp_path):
    torch.manual_seed(0)
    model = BertForMaskedLM(tiny_config())
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    old = model.get_input_embeddings().weight.detach().clone()
    model.resize_token_embeddings(105, pad_to_multiple_of=8)
    new = model.get_input_embeddings().weight
    assert new.shape == (112, 32) and model.config.vocab_size == 112
    torch.testing.assert_close(new[:99], old)
    assert model.cls.predictions.decoder.weight is new
    assert (
        model.cls.predictions.decoder.bias is model.cls.predictions.bias
        and model.cls.predictions.bias.shape == (112,)
    )
    # new rows sit around the old rows' mean
    assert (new[99:].mean(0) - old.mean(0)).abs().max() < 0.05
    model.save_pretrained(tmp_path)
    reloaded = BertForMaskedLM.from_pretrained(tmp_path)
    x = torch.tensor([[1, 105, 111, 3]])
    torch.testing.assert_close(reloaded(x).logits, model.eval()(x).logits)


def test_prune_heads_reapplied_on_load(tmp_path):
    torch.manual_seed(0)
    model = BertModel(tiny_config()).eval()
    model.prune_heads({0: [0, 2], 1: [1]})
    assert model.config.pruned_heads == {0: [0, 2], 1: [1]}
    assert model.encoder.layer[0].attention.self.query.weight.shape == (16, 32)
    model.save_pretrained(tmp_path)
    reloaded, info = BertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and reloaded.encoder.layer[1].attention.self.num_attention_heads == 3
    x = torch.from_numpy(token_ids())
    torch.testing.assert_close(reloaded(x).last_hidden_state, model(x).last_hidden_state)
    out = reloaded(x, output_attentions=True)
    assert out.attentions[0].shape[1] == 2


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_dtypes_round_trip_exactly(tmp_path, dtype):
    model = BertModel(tiny_config()).to(getattr(torch, dtype))
    model.save_pretrained(tmp_path)
    reloaded = BertModel.from_pretrained(tmp_path, torch_dtype="auto")
    assert reloaded.dtype == getattr(torch, dtype)
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), name
    as_fp32 = BertModel.from_pretrained(tmp_path)
    assert as_fp32.dtype == torch.float32


def test_sharded_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = BertModel(tiny_config()).eval()
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "model.safetensors.index.json").exists()
    reloaded = BertModel.from_pretrained(tmp_path)
    x = torch.from_numpy(token_ids())
    torch.testing.assert_close(reloaded(x).last_hidden_state, model(x).last_hidden_state, rtol=0, atol=0)
    model.save_pretrained(tmp_path)  # a later unsharded save removes the stale shards
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_auto_classes(tmp_path):
    BertForSequenceClassification(tiny_config(num_labels=4)).save_pretrained(tmp_path)
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(model).__name__ == "BertForSequenceClassification" and model.config.num_labels == 4
    assert type(AutoModel.from_pretrained(tmp_path)).__name__ == "BertModel"
    with pytest.raises(ConfigError, match="AutoModelForCausalLM does not support 'bert'"):
        from rosetta import AutoModelForCausalLM

        AutoModelForCausalLM.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "problem_type,num_labels,labels",
    [
        ("regression", 1, torch.tensor([0.5, -1.0])),
        ("single_label_classification", 3, torch.tensor([0, 2])),
        ("multi_label_classification", 3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])),
    ],
)
def test_sequence_classification_problem_types(problem_type, num_labels, labels):
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_config(num_labels=num_labels)).eval()
    out = model(torch.from_numpy(token_ids()), labels=labels)
    assert model.config.problem_type == problem_type
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    logits = out.logits
    expected = {
        "regression": lambda: torch.nn.functional.mse_loss(logits.squeeze(), labels),
        "single_label_classification": lambda: torch.nn.functional.cross_entropy(logits, labels),
        "multi_label_classification": lambda: torch.nn.functional.binary_cross_entropy_with_logits(
            logits, labels
        ),
    }[problem_type]()
    torch.testing.assert_close(out.loss, expected)


def test_tuple_output_and_num_parameters():
    model = BertModel(tiny_config()).eval()
    out = model(torch.from_numpy(token_ids()), return_dict=False)
    assert isinstance(out, tuple) and len(out) == 2
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    assert model.num_parameters(exclude_embeddings=True) < model.num_parameters()


def test_loading_builds_no_weights_twice(tmp_path, monkeypatch):
    """from_pretrained never runs the initialiser on weights the checkpoint provides."""
    BertModel(tiny_config()).save_pretrained(tmp_path)
    calls = []
    original = BertModel._init_weights
    monkeypatch.setattr(
        BertModel, "_init_weights", lambda self, m: (calls.append(type(m).__name__), original(self, m))
    )
    BertModel.from_pretrained(tmp_path)
    assert [c for c in calls if c in ("Linear", "Embedding", "LayerNorm")] == []


def test_missing_custom_parameter_starts_at_zero(tmp_path):
    """A head parameter no initialiser knows (the MLM bias) is zeros when the checkpoint lacks it."""
    BertModel(tiny_config()).save_pretrained(tmp_path)
    model, info = BertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert "cls.predictions.bias" in info["missing_keys"]
    assert torch.all(model.cls.predictions.bias == 0)
