"""Flax-specific behaviour of the base class, exercised on BERT (and checked against the torch backend)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

import jax.numpy as jnp  # noqa: E402

from rosetta import (  # noqa: E402
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    FlaxAutoModel,
    FlaxAutoModelForSequenceClassification,
    FlaxBertForMaskedLM,
    FlaxBertForPreTraining,
    FlaxBertForSequenceClassification,
    FlaxBertModel,
    FlaxPreTrainedModel,
)
from rosetta.convert.formats import load_checkpoint  # noqa: E402
from rosetta.core.errors import InputError, WeightsMismatchError  # noqa: E402
from rosetta.core.outputs import BaseModelOutputWithPooling, MaskedLMOutput  # noqa: E402
from tests.parity import assert_close, padding_mask, run, tiny_config, tiny_config_dict, token_ids  # noqa: E402

TOL = 2e-5


@pytest.fixture
def torch_bert(tmp_path):
    """A torch BertModel saved by rosetta: (folder, model)."""
    torch.manual_seed(0)
    model = BertModel(tiny_config()).eval()
    model.save_pretrained(tmp_path / "torch")
    return tmp_path / "torch", model


# -- calling ---------------------------------------------------------------------------------
def test_repeated_calls_with_the_same_shapes_never_retrace(monkeypatch):
    traces = []
    original = FlaxPreTrainedModel._forward

    @functools.wraps(original)
    def counting(self, *args, **kwargs):
        traces.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FlaxPreTrainedModel, "_forward", counting)
    model = FlaxBertModel(tiny_config())
    for seed in range(3):
        model(token_ids(seed=seed), attention_mask=padding_mask())
    assert len(traces) == 1
    model(token_ids(seed=3), attention_mask=padding_mask(), params=model.params)  # other params, same shapes
    assert len(traces) == 1
    model(token_ids(seq=9), attention_mask=padding_mask(seq=9))  # new shapes: one more trace, then cached too
    model(token_ids(seq=9, seed=1), attention_mask=padding_mask(seq=9))
    assert len(traces) == 2
    model(token_ids(), attention_mask=padding_mask(), output_hidden_states=True)  # new flags: one more
    model(token_ids(), attention_mask=padding_mask(), output_hidden_states=True)
    assert len(traces) == 3


def test_dropout_only_in_training():
    model = FlaxBertModel(tiny_config())
    x = token_ids()
    evaluated = model(x).last_hidden_state
    np.testing.assert_array_equal(model(x, dropout_rng=jax.random.PRNGKey(1)).last_hidden_state, evaluated)
    first = model(x, train=True, dropout_rng=jax.random.PRNGKey(1)).last_hidden_state
    again = model(x, train=True, dropout_rng=jax.random.PRNGKey(1)).last_hidden_state
    other = model(x, train=True, dropout_rng=jax.random.PRNGKey(2)).last_hidden_state
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - evaluated).max() > 1e-3 and np.abs(first - other).max() > 1e-3
    with pytest.raises(InputError, match="dropout_rng"):
        model(x, train=True)


def test_jit_of_a_function_returning_the_model_output():
    model = FlaxBertModel(tiny_config())

    @jax.jit
    def forward(params, input_ids):
        return model(input_ids, params=params, output_hidden_states=True)

    out = forward(model.params, token_ids())
    assert isinstance(out, BaseModelOutputWithPooling) and len(out.hidden_states) == 3
    np.testing.assert_allclose(out.last_hidden_state, model(token_ids()).last_hidden_state, atol=1e-6)
    grads = jax.grad(lambda p: forward(p, token_ids()).pooler_output.sum())(model.params)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(model.params)


def test_unexpected_inputs_and_params_are_rejected():
    model = FlaxBertModel(tiny_config())
    with pytest.raises(InputError, match="unexpected inputs \\['labels'\\]"):
        model(token_ids(), labels=token_ids())
    with pytest.raises(InputError, match="kernel: shape"):
        params = jax.tree_util.tree_map(lambda x: x, model.params)
        params["pooler"]["dense"]["kernel"] = jnp.zeros((3, 3))
        model.params = params


# -- loading -------------------------------------------------------------------------------------
def test_loading_initialises_only_what_the_checkpoint_lacks(torch_bert, monkeypatch):
    folder, _ = torch_bert
    initialised = []
    original = FlaxPreTrainedModel._init_weights

    def recording(self, rng, path, leaf):
        initialised.append("/".join(path))
        return original(self, rng, path, leaf)

    monkeypatch.setattr(FlaxPreTrainedModel, "_init_weights", recording)
    FlaxBertModel.from_pretrained(folder)
    assert initialised == []
    model, info = FlaxBertForSequenceClassification.from_pretrained(
        folder, num_labels=3, output_loading_info=True
    )
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    assert (
        info
        == BertForSequenceClassification.from_pretrained(folder, num_labels=3, output_loading_info=True)[1]
    )
    assert sorted(initialised) == ["classifier/bias", "classifier/kernel"]
    kernel = model.params["classifier"]["kernel"]
    assert kernel.shape == (32, 3) and 0.005 < float(kernel.std()) < 0.05
    assert np.all(np.asarray(model.params["classifier"]["bias"]) == 0)


def test_base_checkpoint_into_head_and_head_into_base(torch_bert, tmp_path):
    folder, torch_model = torch_bert
    head, info = FlaxBertForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert info["unexpected_keys"] == [] and info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    inputs = {"input_ids": token_ids(), "attention_mask": padding_mask()}
    expected = run("torch", torch_model, inputs)
    head_base = FlaxBertModel(head.config, _do_init=False)
    head_base.params = head.params["bert"]  # the head model's base, run on its own
    assert_close(run("flax", head_base, inputs), expected, TOL)

    head.save_pretrained(tmp_path / "head")
    base, info = FlaxBertModel.from_pretrained(tmp_path / "head", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == ["classifier.weight", "classifier.bias"]
    assert info == BertModel.from_pretrained(tmp_path / "head", output_loading_info=True)[1]
    assert_close(run("flax", base, inputs), expected, TOL)


def test_transformers_checkpoint_loads_with_nothing_missing(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(**tiny_config_dict(), attn_implementation="eager")
    reference = transformers.BertForPreTraining(config).eval()
    reference.save_pretrained(tmp_path)
    model, info = FlaxBertForPreTraining.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
    inputs = {"input_ids": token_ids(), "attention_mask": padding_mask()}
    assert_close(run("flax", model, inputs), run("hf", reference, inputs), TOL)


def test_mismatched_sizes_name_both_shapes(tmp_path):
    FlaxBertForSequenceClassification(tiny_config(num_labels=2)).save_pretrained(tmp_path)
    with pytest.raises(WeightsMismatchError) as err:
        FlaxBertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert (
        "classifier.weight" in str(err.value) and "(2, 32)" in str(err.value) and "(5, 32)" in str(err.value)
    )
    model, info = FlaxBertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert ("classifier.weight", (2, 32), (5, 32)) in info["mismatched_keys"]
    torch_info = BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )[1]
    assert info == torch_info
    assert ("classifier.bias", (2,), (5,)) in info["mismatched_keys"]
    assert model.params["classifier"]["kernel"].shape == (32, 5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_checkpoints_round_trip_exactly(tmp_path, dtype):
    torch.manual_seed(0)
    BertForMaskedLM(tiny_config()).to(getattr(torch, dtype)).save_pretrained(tmp_path / "torch")
    model = FlaxBertForMaskedLM.from_pretrained(tmp_path / "torch", dtype="auto")
    assert model.dtype == jnp.dtype(dtype)
    assert {str(leaf.dtype) for leaf in jax.tree_util.tree_leaves(model.params)} == {dtype}
    model.save_pretrained(tmp_path / "flax")
    with load_checkpoint(tmp_path / "torch") as before, load_checkpoint(tmp_path / "flax") as after:
        assert sorted(before) == sorted(after)
        for name in before:
            assert before.dtype(name) == after.dtype(name), name
            assert before[name].tobytes() == after[name].tobytes(), name
    assert FlaxBertForMaskedLM.from_pretrained(tmp_path / "torch").dtype == jnp.float32
    out = model(token_ids()).logits
    assert out.dtype == jnp.dtype(dtype) and bool(jnp.all(jnp.isfinite(out)))


def test_sharded_save_and_auto_classes(tmp_path):
    model = FlaxBertForSequenceClassification(tiny_config(num_labels=4))
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    reloaded = FlaxAutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == "FlaxBertForSequenceClassification" and reloaded.config.num_labels == 4
    assert reloaded.config.architectures == ["BertForSequenceClassification"]
    np.testing.assert_array_equal(reloaded(token_ids()).logits, model(token_ids()).logits)
    assert type(FlaxAutoModel.from_pretrained(tmp_path)).__name__ == "FlaxBertModel"
    torch_model = BertForSequenceClassification.from_pretrained(tmp_path)  # the same folder in torch
    assert_close(
        run("torch", torch_model.eval(), {"input_ids": token_ids()}),
        run("flax", model, {"input_ids": token_ids()}),
        TOL,
    )


# -- embeddings and heads ------------------------------------------------------------------------
def test_resize_token_embeddings_keeps_the_decoder_tied(tmp_path):
    model = FlaxBertForMaskedLM(tiny_config())
    old = np.asarray(model.get_input_embeddings())
    new = model.resize_token_embeddings(105, pad_to_multiple_of=8)
    assert new.shape == (112, 32) and model.config.vocab_size == 112
    np.testing.assert_array_equal(new[:99], old)
    assert np.abs(np.asarray(new[99:]).mean(0) - old.mean(0)).max() < 0.05
    bias = model.params["cls"]["predictions"]["bias"]
    assert bias.shape == (112,)
    x = np.array([[1, 105, 111, 3]])
    logits = model(x).logits
    assert logits.shape == (1, 4, 112)
    # The decoder is the word embedding matrix: perturbing a new row moves that token's logit.
    params = jax.tree_util.tree_map(lambda a: a, model.params)
    params["bert"]["embeddings"]["word_embeddings"]["embedding"] = new.at[111].add(1.0)
    assert not np.allclose(model(x, params=params).logits[..., 111], logits[..., 111])
    model.save_pretrained(tmp_path)
    reloaded = FlaxBertForMaskedLM.from_pretrained(tmp_path)
    np.testing.assert_array_equal(reloaded(x).logits, logits)
    torch_model = BertForMaskedLM.from_pretrained(tmp_path).eval()
    assert_close(run("torch", torch_model, {"input_ids": x}), run("flax", model, {"input_ids": x}), TOL)


def test_untied_decoder_matches_torch(tmp_path):
    torch.manual_seed(0)
    torch_model = BertForMaskedLM(tiny_config(tie_word_embeddings=False)).eval()
    torch_model.save_pretrained(tmp_path / "torch")
    model, info = FlaxBertForMaskedLM.from_pretrained(tmp_path / "torch", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert model.params["cls"]["predictions"]["decoder"]["kernel"].shape == (32, 99)
    inputs = {"input_ids": token_ids(), "attention_mask": padding_mask()}
    assert_close(run("flax", model, inputs), run("torch", torch_model, inputs), TOL)
    model.resize_token_embeddings(101)
    assert model.params["cls"]["predictions"]["decoder"]["kernel"].shape == (32, 101)


def test_prune_heads_reapplied_on_load_and_same_as_torch(torch_bert, tmp_path):
    folder, torch_model = torch_bert
    model = FlaxBertModel.from_pretrained(folder)
    model.prune_heads({0: [0, 2], 1: [1]})
    model.prune_heads({0: [2, 3]})  # 2 is gone already; 3 is renumbered past it
    torch_model.prune_heads({0: [0, 2], 1: [1]})
    torch_model.prune_heads({0: [2, 3]})
    assert model.config.pruned_heads == torch_model.config.pruned_heads == {0: [0, 2, 3], 1: [1]}
    assert model.params["encoder"]["layer"]["0"]["attention"]["self"]["query"]["kernel"].shape == (32, 8)
    assert model.params["encoder"]["layer"]["0"]["attention"]["output"]["dense"]["kernel"].shape == (8, 32)
    inputs = {"input_ids": token_ids(), "attention_mask": padding_mask()}
    expected = run("torch", torch_model, inputs, output_attentions=True)
    assert_close(run("flax", model, inputs, output_attentions=True), expected, TOL)
    model.save_pretrained(tmp_path / "pruned")
    reloaded, info = FlaxBertModel.from_pretrained(tmp_path / "pruned", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    out = run("flax", reloaded, inputs, output_attentions=True)
    assert out["attentions"][0].shape[1] == 1 and out["attentions"][1].shape[1] == 3
    assert_close(out, expected, TOL)
    assert_close(run("torch", BertModel.from_pretrained(tmp_path / "pruned"), inputs), expected, TOL)


def test_head_mask_and_fully_masked_rows_match_torch(torch_bert):
    folder, torch_model = torch_bert
    model = FlaxBertModel.from_pretrained(folder)
    head_mask = np.ones((2, 4), dtype=np.float32)
    head_mask[0, 1] = head_mask[1, 3] = 0.0
    inputs = {"input_ids": token_ids(), "attention_mask": padding_mask(), "head_mask": head_mask}
    out = run("flax", model, inputs, output_attentions=True)
    assert np.all(out["attentions"][0][:, 1] == 0) and np.all(out["attentions"][1][:, 3] == 0)
    assert_close(out, run("torch", torch_model, inputs, output_attentions=True), TOL)
    # A fully masked row attends uniformly (dtype-min masking), in both backends alike.
    inputs["attention_mask"] = np.array([[1] * 7, [0] * 7])
    out = run("flax", model, inputs, output_attentions=True)
    np.testing.assert_allclose(out["attentions"][0][1, 0], np.full((7, 7), 1 / 7), atol=1e-6)
    assert_close(out, run("torch", torch_model, inputs, output_attentions=True), TOL)


@pytest.mark.parametrize(
    "num_labels,labels",
    [
        (1, np.array([0.5, -1.0], dtype=np.float32)),
        (3, np.array([0, 2])),
        (3, np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)),
    ],
    ids=["regression", "single_label", "multi_label"],
)
def test_sequence_classification_losses_match_torch(tmp_path, num_labels, labels):
    torch.manual_seed(0)
    torch_model = BertForSequenceClassification(tiny_config(num_labels=num_labels)).eval()
    torch_model.save_pretrained(tmp_path)
    model = FlaxBertForSequenceClassification.from_pretrained(tmp_path)
    inputs = {"input_ids": token_ids(), "labels": labels}
    assert_close(run("flax", model, inputs), run("torch", torch_model, inputs), TOL)
    assert model.config.problem_type == torch_model.config.problem_type


def test_masked_lm_loss_ignores_minus_100(tmp_path):
    model = FlaxBertForMaskedLM(tiny_config())
    labels = np.full((2, 7), -100)
    labels[0, 2], labels[1, 5] = 17, 42
    out = model(token_ids(), labels=labels)
    log_probs = jax.nn.log_softmax(out.logits, axis=-1)
    expected = -(log_probs[0, 2, 17] + log_probs[1, 5, 42]) / 2
    np.testing.assert_allclose(out.loss, expected, rtol=1e-6)
    as_tuple = model(token_ids(), labels=labels, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    assert isinstance(model(token_ids()), MaskedLMOutput)


def test_num_parameters_and_from_config():
    model = FlaxBertModel.from_config(tiny_config(), dtype="bfloat16")
    assert model.dtype == jnp.bfloat16
    torch_model = BertModel(tiny_config())
    assert model.num_parameters() == torch_model.num_parameters()
    assert model.num_parameters(exclude_embeddings=True) == torch_model.num_parameters(
        exclude_embeddings=True
    )
    padding_row = model.get_input_embeddings()[model.config.pad_token_id]
    assert not np.any(np.asarray(padding_row, dtype=np.float32))
