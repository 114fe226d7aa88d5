"""The TF backend: its building blocks (activations, losses, LayerNorm, the weight walk, datasets) and the
behaviour of its base class, exercised on BERT (and checked against the torch backend)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")

import keras  # noqa: E402

import rosetta  # noqa: E402
from rosetta import (  # noqa: E402
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    TFAutoModelForSequenceClassification,
    TFBertForMaskedLM,
    TFBertForPreTraining,
    TFBertForQuestionAnswering,
    TFBertForSequenceClassification,
    TFBertModel,
)
from rosetta.backends.tf import losses  # noqa: E402
from rosetta.backends.tf.activations import ACT2FN  # noqa: E402
from rosetta.backends.tf.modeling_tf_utils import (  # noqa: E402
    TFLayer,
    TFPreTrainedModel,
    init_empty_weights,
    named_weights,
    resolve_tf_dtype,
)
from rosetta.backends.torch.activations import ACT2CLS  # noqa: E402
from rosetta.convert.formats import load_checkpoint  # noqa: E402
from rosetta.core.configuration import PretrainedConfig  # noqa: E402
from rosetta.core.errors import (  # noqa: E402
    ConfigError,
    ConversionError,
    InputError,
    WeightsMismatchError,
)
from rosetta.core.outputs import BaseModelOutputWithPooling, SequenceClassifierOutput  # noqa: E402
from tests.parity import assert_close, run, text_inputs, tiny_config, tiny_config_dict, to_numpy, token_ids  # noqa: E402


@pytest.mark.parametrize("name", sorted(ACT2FN))
def test_activations_match_torch(name):
    x = np.linspace(-6, 6, 101, dtype=np.float32)
    expected = ACT2CLS[name]()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ACT2FN[name](tf.constant(x)).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("eps", [1e-12, 1e-5, 1e-1])
def test_layer_norm_epsilon_means_what_torch_means(eps):
    """Both add eps to the biased variance under the square root; a small-variance input shows any difference."""
    x = np.random.default_rng(0).normal(0, 1e-3, (3, 16)).astype(np.float32)
    expected = torch.nn.LayerNorm(16, eps=eps)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(keras.layers.LayerNormalization(epsilon=eps)(x).numpy(), expected, atol=1e-5)


def test_cross_entropy_ignores_minus_100_like_torch():
    logits = np.random.default_rng(0).normal(size=(2, 5, 7)).astype(np.float32)
    labels = np.array([[1, -100, 3, 6, -100], [0, 2, -100, -100, 4]])
    expected = torch.nn.CrossEntropyLoss()(
        torch.from_numpy(logits).view(-1, 7), torch.from_numpy(labels).view(-1)
    )
    np.testing.assert_allclose(
        losses.cross_entropy(tf.constant(logits), tf.constant(labels)).numpy(), expected.item(), rtol=1e-6
    )
    all_ignored = losses.cross_entropy(tf.constant(logits), tf.constant(np.full((2, 5), -100)))
    assert np.isnan(all_ignored.numpy())  # as torch: nothing counts, the mean is 0/0


def test_question_answering_loss_clamps_and_ignores_like_torch():
    rng = np.random.default_rng(1)
    start, end = (rng.normal(size=(3, 6)).astype(np.float32) for _ in range(2))
    start_positions, end_positions = (
        np.array([0, 9, 5]),
        np.array([-1, 2, 6]),
    )  # out of range: clamped, 6 ignored
    ignored = 6
    ce = torch.nn.CrossEntropyLoss(ignore_index=ignored)
    expected = (
        ce(torch.from_numpy(start), torch.from_numpy(start_positions).clamp(0, ignored))
        + ce(torch.from_numpy(end), torch.from_numpy(end_positions).clamp(0, ignored))
    ) / 2
    actual = losses.question_answering_loss(*map(tf.constant, (start, end, start_positions, end_positions)))
    np.testing.assert_allclose(actual.numpy(), expected.item(), rtol=1e-6)


def test_model_outputs_survive_tf_function():
    @tf.function(jit_compile=True)
    def f(x):
        return SequenceClassifierOutput(logits=x * 2, hidden_states=(x, x + 1))

    out = f(tf.ones((2, 3)))
    assert type(out) is SequenceClassifierOutput and list(out) == ["logits", "hidden_states"]
    assert out.loss is None and out[0].shape == (2, 3) and len(out.hidden_states) == 2
    # a legitimate value in the first field is left alone
    assert BaseModelOutputWithPooling(last_hidden_state=[1, 2]).last_hidden_state == [1, 2]


def test_dtype_names():
    assert resolve_tf_dtype("torch.bfloat16") == "bfloat16" and resolve_tf_dtype(tf.float16) == "float16"
    assert resolve_tf_dtype(np.float32) == "float32" and resolve_tf_dtype(None) is None
    with pytest.raises(ConfigError, match="Unknown dtype"):
        resolve_tf_dtype("int8")


def test_init_empty_weights_builds_zeros_and_remembers_the_initialiser():
    with init_empty_weights():
        layer = keras.layers.Dense(3, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.5))
        layer.build((None, 4))
    assert np.all(layer.kernel.numpy() == 0)
    assert isinstance(layer.kernel._rosetta_initializer, keras.initializers.TruncatedNormal)
    assert keras.layers.Layer.add_weight.__name__ == "add_weight"  # restored
    assert np.any(keras.layers.Dense(3, kernel_initializer="ones")(np.ones((1, 4))).numpy() != 0)


class _Block(TFLayer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.output = keras.layers.Dense(4)  # the name torch modules use, free on a TFLayer
        self.layer = [keras.layers.Dense(4), keras.layers.Dense(4)]

    def call(self, x):
        for layer in self.layer:
            x = layer(x)
        return self.output(self.dense(x))


def test_weight_paths_follow_attributes_and_replacing_a_layer_untracks_the_old_one():
    block = _Block()
    block(np.ones((1, 4), dtype=np.float32))
    paths = [".".join(path) for path, _ in named_weights(block)]
    assert paths == [
        "dense.kernel",
        "dense.bias",
        "output.kernel",
        "output.bias",
        "layer.0.kernel",
        "layer.0.bias",
        "layer.1.kernel",
        "layer.1.bias",
    ]
    replacement = keras.layers.Dense(4)
    replacement.build((None, 4))
    block.dense = replacement  # after build, as prune_heads does
    assert len(block.trainable_variables) == 8 and any(
        v is replacement.kernel for v in block.trainable_variables
    )


class _BrokenConfig(PretrainedConfig):
    model_type = "broken"


class _Odd(TFLayer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(
            name="kernel", shape=(2, 3, 4, 5, 6, 7)
        )  # no canonical layout of rank 6
        self.bias = self.add_weight(name="bias", shape=(2,))
        self.beta = self.add_weight(name="beta", shape=(2,))  # also "bias" once renamed


class _BrokenModel(TFPreTrainedModel):
    config_class = _BrokenConfig

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.odd = _Odd()
        self._hidden = keras.layers.Dense(2)  # private: no canonical name
        self._hidden.build((None, 2))
        self.post_init()

    def call(self, input_ids=None, training=False):
        return input_ids


def test_every_mapping_problem_is_reported_at_once():
    with pytest.raises(ConversionError) as err:
        _BrokenModel(_BrokenConfig()).canonical_weights()
    message = str(err.value)
    assert message.startswith("4 weight(s) of _BrokenModel do not map to canonical names")
    assert "odd.kernel: a kernel of rank 6 has no canonical layout" in message
    assert "odd.beta and odd.bias both map to the canonical name 'odd.bias'" in message
    assert (
        message.count("not reachable through public layer attributes") == 2
    )  # the private Dense's kernel and bias


class _FakeDataset:
    """Stands in for datasets.Dataset: named columns, read column by column."""

    def __init__(self, columns):
        self._columns = columns
        self.column_names = list(columns)

    def with_format(self, *_):
        return self

    def __getitem__(self, name):
        return self._columns[name]


@pytest.fixture(scope="module")
def classifier():
    from rosetta import BertConfig, TFBertForSequenceClassification

    return TFBertForSequenceClassification(
        BertConfig(
            vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8
        )
    )


@pytest.mark.parametrize("form", ["columns", "examples", "datasets"])
def test_prepare_tf_dataset_takes_every_form(classifier, form):
    columns = {
        "input_ids": np.arange(30).reshape(10, 3) % 20,
        "label": np.arange(10) % 2,
        "idx": np.arange(10),
    }
    data = {
        "columns": columns,
        "examples": [{k: v[i] for k, v in columns.items()} for i in range(10)],
        "datasets": _FakeDataset({k: v.tolist() for k, v in columns.items()}),
    }[form]
    batches = list(classifier.prepare_tf_dataset(data, batch_size=4, shuffle=False))
    assert [b["input_ids"].shape[0] for b in batches] == [4, 4, 2]
    assert set(batches[0]) == {"input_ids", "labels"}  # "label" read as labels, "idx" not an input
    np.testing.assert_array_equal(np.concatenate([b["labels"] for b in batches]), columns["label"])
    shuffled = np.concatenate(
        [b["labels"] for b in classifier.prepare_tf_dataset(data, batch_size=4, drop_remainder=True)]
    )
    assert len(shuffled) == 8


def test_prepare_tf_dataset_explains_ragged_columns(classifier):
    with pytest.raises(InputError, match="collate_fn"):
        classifier.prepare_tf_dataset([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}])


# -- the base class, on BERT ------------------------------------------------------------------------
TOL = 2e-5


def raw_tensors(folder) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    reader = load_checkpoint(folder)
    return {name: (reader.dtype(name), reader.shape(name), reader[name].tobytes()) for name in reader}


# -- Keras.fit, then the same logits in every backend -------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A TFBertForSequenceClassification trained by compile + fit on its own loss, saved: (folder, history, logits)."""
    keras.utils.set_random_seed(0)
    model = TFBertForSequenceClassification(tiny_config(num_labels=2))
    rng = np.random.default_rng(0)
    train = {"input_ids": rng.integers(1, 99, (32, 8)), "attention_mask": np.ones((32, 8), dtype=np.int64)}
    train["labels"] = (train["input_ids"][:, 0] > 50).astype(np.int64)  # learnable from the first token
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3))  # no loss: the model's own
    history = model.fit(model.prepare_tf_dataset(train, batch_size=8), epochs=4, verbose=0).history
    folder = tmp_path_factory.mktemp("fitted")
    model.save_pretrained(folder)
    return folder, history["loss"], run("tf", model, text_inputs())


def test_fit_trains_on_the_models_own_loss(trained):
    _, losses, _ = trained
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.05, losses


def test_fitted_checkpoint_gives_the_same_logits_in_torch(trained):
    folder, _, tf_outputs = trained
    model = BertForSequenceClassification.from_pretrained(folder)
    assert_close(run("torch", model, text_inputs()), tf_outputs, TOL)


def test_fitted_checkpoint_gives_the_same_logits_in_flax(trained):
    pytest.importorskip("flax")
    from rosetta import FlaxBertForSequenceClassification

    folder, _, tf_outputs = trained
    model = FlaxBertForSequenceClassification.from_pretrained(folder)
    assert_close(run("flax", model, text_inputs()), tf_outputs, TOL)


def test_evaluate_predict_and_labels_as_y():
    keras.utils.set_random_seed(1)
    model = TFBertForSequenceClassification(tiny_config(num_labels=2))
    features = text_inputs(batch=6)
    labels = np.array([0, 1, 1, 0, 1, 0])
    # labels passed as y, compiled metrics fed with the logits (eager: the graph path is fitted above)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), metrics=["accuracy"], run_eagerly=True)
    history = model.fit(features, labels, batch_size=3, epochs=1, verbose=0).history
    assert set(history) == {"loss", "accuracy"}
    expected = run("tf", model, {**features, "labels": labels})
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    scores = model.evaluate({**features, "labels": labels}, batch_size=6, verbose=0, return_dict=True)
    assert abs(scores["loss"] - float(expected["loss"])) < 1e-5
    predicted = model.predict(features, batch_size=4, verbose=0)
    assert set(predicted) == {"logits"}
    np.testing.assert_allclose(predicted["logits"], expected["logits"], atol=1e-6)


def test_fit_evaluate_and_predict_turn_off_autotuning_only_where_the_dataset_leaves_it_unset(monkeypatch):
    """Keras drops each epoch's tf.data iterator at the next epoch; dropping an autotuned one waits for the
    autotuning thread (seconds, GIL held). fit / evaluate / predict (and fit's validation_data) hand Keras
    the dataset with autotuning off, unless the user's dataset says otherwise; arrays pass through."""
    seen = []
    for method in ("fit", "evaluate", "predict"):
        monkeypatch.setattr(
            keras.Model, method, lambda self, x=None, *a, **k: seen.append((x, k.get("validation_data")))
        )
    model = TFBertForSequenceClassification(tiny_config(num_labels=2))
    dataset = tf.data.Dataset.from_tensor_slices({"input_ids": np.ones((4, 3), np.int32)}).batch(2)
    chosen = tf.data.Options()
    chosen.autotune.enabled = True
    tuned = dataset.with_options(chosen)
    arrays = {"input_ids": np.ones((4, 3), np.int32)}

    model.fit(dataset, validation_data=dataset, epochs=1)
    model.evaluate(dataset)
    model.predict(dataset)
    model.fit(tuned, validation_data=arrays)
    model.predict(arrays)
    autotune = [
        None if not isinstance(d, tf.data.Dataset) else d.options().autotune.enabled
        for x, v in seen
        for d in (x, v)
    ]
    assert autotune == [False, False, False, None, False, None, True, None, None, None]
    assert seen[3][1] is arrays and seen[4][0] is arrays
    assert list(seen[0][0].as_numpy_iterator())[0]["input_ids"].shape == (2, 3)  # the same data


def test_fit_on_a_collated_dataset_of_examples():
    """Ragged examples, a padding collate_fn, "label" read as labels, unknown columns dropped."""
    keras.utils.set_random_seed(2)
    model = TFBertForSequenceClassification(tiny_config(num_labels=2))
    examples = [
        {"input_ids": list(range(1, 3 + i % 4)), "label": i % 2, "text": f"example {i}"} for i in range(10)
    ]

    def pad(batch):
        width = max(len(e["input_ids"]) for e in batch)
        return {
            "input_ids": np.array([e["input_ids"] + [0] * (width - len(e["input_ids"])) for e in batch]),
            "attention_mask": np.array(
                [[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"])) for e in batch]
            ),
            "label": np.array([e["label"] for e in batch]),
        }

    dataset = model.prepare_tf_dataset(examples, batch_size=4, collate_fn=pad, drop_remainder=True)
    assert dataset.cardinality().numpy() == 2
    batch = next(iter(dataset))
    assert set(batch) == {"input_ids", "attention_mask", "labels"} and batch["input_ids"].shape[0] == 4
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), run_eagerly=True)
    assert len(model.fit(dataset, epochs=2, verbose=0).history["loss"]) == 2


# -- calling -------------------------------------------------------------------------------------------
def test_jit_compiled_call_equals_eager():
    model = TFBertForQuestionAnswering(tiny_config())
    feed = {k: tf.constant(v) for k, v in text_inputs().items()}
    compiled = tf.function(
        lambda **kw: model(**kw, output_hidden_states=True, output_attentions=True), jit_compile=True
    )
    eager = model(**feed, output_hidden_states=True, output_attentions=True)
    jitted = compiled(**feed)
    assert type(jitted) is type(eager) and list(jitted) == list(eager)
    assert_close(
        {k: to_numpy(v) for k, v in jitted.items()}, {k: to_numpy(v) for k, v in eager.items()}, 1e-5
    )


def test_dropout_only_in_training():
    model = TFBertForSequenceClassification(
        tiny_config(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
    )
    feed = {k: tf.constant(v) for k, v in text_inputs().items()}
    first, second = model(**feed).logits, model(**feed, training=False).logits
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    trained_a, trained_b = model(**feed, training=True).logits, model(**feed, training=True).logits
    assert np.abs(trained_a.numpy() - trained_b.numpy()).max() > 1e-4
    assert np.abs(trained_a.numpy() - first.numpy()).max() > 1e-4


def test_outputs_as_tuples_and_num_parameters():
    model = TFBertModel(tiny_config())
    out = model(input_ids=tf.constant(token_ids()), return_dict=False)
    assert isinstance(out, tuple) and len(out) == 2
    torch_model = BertModel(tiny_config())
    assert model.num_parameters() == torch_model.num_parameters()
    assert model.num_parameters(exclude_embeddings=True) == torch_model.num_parameters(
        exclude_embeddings=True
    )
    assert (
        TFBertForMaskedLM(tiny_config()).num_parameters() == BertForMaskedLM(tiny_config()).num_parameters()
    )  # tied counted once


# -- resizing and pruning -----------------------------------------------------------------------------
def test_resize_token_embeddings_keeps_the_decoder_tied(tmp_path):
    keras.utils.set_random_seed(3)
    model = TFBertForMaskedLM(tiny_config())
    old = model.get_input_embeddings().embeddings.numpy()
    old_bias = model.cls.predictions.bias.numpy()
    resized = model.resize_token_embeddings(105, pad_to_multiple_of=8)
    new = resized.embeddings.numpy()
    assert new.shape == (112, 32) and model.config.vocab_size == 112
    np.testing.assert_array_equal(new[:99], old)
    assert np.abs(new[99:].mean(0) - old.mean(0)).max() < 0.05  # new rows sit around the old mean
    assert model.cls.predictions.decoder is resized is model.bert.embeddings.word_embeddings
    assert model.cls.predictions.bias.shape == (112,)
    np.testing.assert_array_equal(model.cls.predictions.bias.numpy()[:99], old_bias)
    assert len(model.trainable_variables) == len(
        TFBertForMaskedLM(tiny_config()).trainable_variables
    )  # old ones untracked
    logits = model(input_ids=tf.constant([[1, 105, 111, 3]])).logits
    assert logits.shape == (1, 4, 112)
    model.save_pretrained(tmp_path)
    torch_model = BertForMaskedLM.from_pretrained(tmp_path)
    np.testing.assert_allclose(
        run("torch", torch_model, {"input_ids": np.array([[1, 105, 111, 3]])})["logits"],
        logits.numpy(),
        atol=TOL,
    )


def test_prune_heads_reapplied_on_load_and_read_by_torch(tmp_path):
    keras.utils.set_random_seed(4)
    model = TFBertModel(tiny_config())
    model.prune_heads({0: [0, 2], 1: [1]})
    assert model.config.pruned_heads == {0: [0, 2], 1: [1]}
    assert model.encoder.layer[0].attention.self.query.kernel.shape == (32, 16)
    assert model.encoder.layer[0].attention.output.dense.kernel.shape == (16, 32)
    expected = run("tf", model, text_inputs(), output_attentions=True)
    assert expected["attentions"][0].shape[1] == 2 and expected["attentions"][1].shape[1] == 3
    model.save_pretrained(tmp_path)
    reloaded, info = TFBertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and reloaded.encoder.layer[1].attention.self.num_attention_heads == 3
    assert_close(run("tf", reloaded, text_inputs(), output_attentions=True), expected, 0.0)
    assert_close(
        run("torch", BertModel.from_pretrained(tmp_path), text_inputs(), output_attentions=True),
        expected,
        TOL,
    )


# -- checkpoints -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_checkpoints_round_trip_exactly(tmp_path, dtype):
    torch.manual_seed(0)
    BertForMaskedLM(tiny_config()).to(getattr(torch, dtype)).save_pretrained(tmp_path / "torch")
    model = TFBertForMaskedLM.from_pretrained(tmp_path / "torch", dtype="auto")
    assert model.weights_dtype_name == dtype and model.cls.predictions.bias.dtype == dtype
    assert model(input_ids=tf.constant(token_ids())).logits.dtype == dtype
    model.save_pretrained(tmp_path / "tf")
    assert raw_tensors(tmp_path / "tf") == raw_tensors(tmp_path / "torch")
    assert TFBertForMaskedLM.from_pretrained(tmp_path / "torch").weights_dtype_name == "float32"


def test_transformers_checkpoint_loads_completely(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    reference = transformers.BertForPreTraining(
        transformers.BertConfig(**tiny_config_dict(), attn_implementation="eager")
    ).eval()
    reference.save_pretrained(tmp_path)
    model, info = TFBertForPreTraining.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
    assert_close(run("tf", model, text_inputs()), run("hf", reference, text_inputs()), TOL)


@pytest.mark.parametrize(
    "saved,loaded,overrides",
    [
        (
            TFBertModel,
            TFBertForSequenceClassification,
            {"num_labels": 3},
        ),  # base checkpoint into a head model
        (TFBertForSequenceClassification, TFBertModel, {}),  # head checkpoint into the base model
        (TFBertForMaskedLM, TFBertForPreTraining, {}),  # tied decoder, NSP head missing
        (TFBertForPreTraining, TFBertForMaskedLM, {}),  # pooler and NSP head ignored
    ],
)
def test_loading_info_is_the_one_torch_reports(tmp_path, saved, loaded, overrides):
    keras.utils.set_random_seed(5)
    source = saved(tiny_config())
    source.save_pretrained(tmp_path)
    model, info = loaded.from_pretrained(tmp_path, output_loading_info=True, **overrides)
    torch_class = getattr(rosetta, loaded.__name__.removeprefix("TF"))
    _, torch_info = torch_class.from_pretrained(tmp_path, output_loading_info=True, **overrides)
    assert info == torch_info
    # whatever both hold is the same weight
    before = {k.removeprefix("bert."): v for k, v in source.canonical_state_dict().items()}
    after = {k.removeprefix("bert."): v for k, v in model.canonical_state_dict().items()}
    assert "embeddings.word_embeddings.weight" in before.keys() & after.keys()
    for name in before.keys() & after.keys():
        np.testing.assert_array_equal(after[name], before[name])


def test_base_checkpoint_into_head_model(tmp_path, caplog):
    keras.utils.set_random_seed(6)
    TFBertModel(tiny_config()).save_pretrained(tmp_path)
    model, info = TFBertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=3, output_loading_info=True
    )
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"] and info["unexpected_keys"] == []
    assert "newly initialized" in caplog.text and "classifier.weight" in caplog.text
    kernel = model.classifier.kernel.numpy()
    assert (
        kernel.shape == (32, 3) and 0.005 < kernel.std() < 0.05
    )  # drawn from initializer_range, not left at zero
    assert np.all(model.classifier.bias.numpy() == 0)


def test_head_checkpoint_into_base_model(tmp_path):
    keras.utils.set_random_seed(7)
    head = TFBertForSequenceClassification(tiny_config())
    head.save_pretrained(tmp_path)
    base, info = TFBertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == ["classifier.weight", "classifier.bias"]
    feed = tf.constant(token_ids())
    np.testing.assert_array_equal(
        base(input_ids=feed).last_hidden_state.numpy(), head.bert(input_ids=feed).last_hidden_state.numpy()
    )


def test_mismatched_sizes_name_both_shapes(tmp_path):
    TFBertForSequenceClassification(tiny_config(num_labels=2)).save_pretrained(tmp_path)
    with pytest.raises(WeightsMismatchError) as err:
        TFBertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert (
        "classifier.weight" in str(err.value) and "(2, 32)" in str(err.value) and "(5, 32)" in str(err.value)
    )
    model, info = TFBertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert ("classifier.weight", (2, 32), (5, 32)) in info["mismatched_keys"]
    assert "classifier.weight" in info["missing_keys"] and model.classifier.kernel.shape == (32, 5)


def test_loading_runs_no_initialiser_on_loaded_weights(tmp_path, monkeypatch):
    """from_pretrained builds with zeros and assigns; only weights the checkpoint lacks are drawn."""
    TFBertModel(tiny_config()).save_pretrained(tmp_path)
    calls = []
    for initializer in (
        keras.initializers.TruncatedNormal,
        keras.initializers.Ones,
        keras.initializers.GlorotUniform,
    ):
        original = initializer.__call__

        def counting(self, shape, *args, _original=original, _name=initializer.__name__, **kwargs):
            calls.append((_name, tuple(shape)))
            return _original(self, shape, *args, **kwargs)

        monkeypatch.setattr(initializer, "__call__", counting)
    TFBertModel.from_pretrained(tmp_path)
    assert calls == []
    TFBertForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    assert calls == [("TruncatedNormal", (32, 3))]  # the new classifier kernel, nothing else
    calls.clear()
    TFBertModel(tiny_config())  # a model built from a config does initialise everything
    assert len([c for c in calls if c[0] == "TruncatedNormal"]) == 3 + 2 * 6 + 1


def test_sharded_save_and_auto_class(tmp_path):
    keras.utils.set_random_seed(8)
    model = TFBertForSequenceClassification(tiny_config(num_labels=4))
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    reloaded = TFAutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(reloaded) is TFBertForSequenceClassification and reloaded.config.architectures == [
        "BertForSequenceClassification"
    ]
    out = reloaded(input_ids=tf.constant(token_ids()))
    assert isinstance(out, SequenceClassifierOutput)
    np.testing.assert_array_equal(
        out.logits.numpy(), model(input_ids=tf.constant(token_ids())).logits.numpy()
    )


@pytest.mark.parametrize(
    "problem_type,num_labels,labels",
    [
        ("regression", 1, np.array([0.5, -1.0], dtype=np.float32)),
        ("single_label_classification", 3, np.array([0, 2])),
        ("multi_label_classification", 3, np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)),
    ],
)
def test_sequence_classification_losses_match_torch(tmp_path, problem_type, num_labels, labels):
    TFBertForSequenceClassification(tiny_config(num_labels=num_labels)).save_pretrained(tmp_path)
    model = TFBertForSequenceClassification.from_pretrained(tmp_path)
    torch_model = BertForSequenceClassification.from_pretrained(tmp_path)
    actual = run("tf", model, {**text_inputs(), "labels": labels})
    assert model.config.problem_type == problem_type
    assert_close(actual, run("torch", torch_model, {**text_inputs(), "labels": labels}), TOL)


def test_push_to_hub_and_load_from_the_repo(hub_server, fresh_hf_cache):
    keras.utils.set_random_seed(9)
    model = TFBertModel(tiny_config())
    repo_id = hub_server.new_repo_id("tf-bert")
    model.push_to_hub(repo_id, max_shard_size="20KB")
    files = set(hub_server.repo(repo_id).files("main"))
    assert {"config.json", "model.safetensors.index.json", "README.md"} <= files
    assert "TensorFlow" in hub_server.repo(repo_id).files("main")["README.md"].decode()
    reloaded = TFBertModel.from_pretrained(repo_id, revision="main")
    feed = tf.constant(token_ids())
    np.testing.assert_array_equal(
        reloaded(input_ids=feed).last_hidden_state.numpy(), model(input_ids=feed).last_hidden_state.numpy()
    )


def _cache_write_expected(cache: np.ndarray, new: np.ndarray, offset: int) -> np.ndarray:
    expected = cache.copy()
    expected[:, :, offset : offset + new.shape[2]] = new
    return expected


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
def test_update_cache_writes_the_new_slots_and_nothing_else(compiled):
    from rosetta.backends.tf.tf_utils import update_cache

    rng = np.random.default_rng(0)
    cache = rng.standard_normal((2, 3, 8, 4)).astype("float32")
    new = rng.standard_normal((2, 3, 2, 4)).astype("float32")
    write = tf.function(update_cache, jit_compile=True) if compiled else update_cache
    for offset in (0, 3, 6):
        out = write(tf.constant(cache), tf.constant(new), tf.constant(offset))
        np.testing.assert_array_equal(out.numpy(), _cache_write_expected(cache, new, offset))


def test_update_cache_refuses_a_write_past_the_last_slot():
    from rosetta.backends.tf.tf_utils import update_cache

    cache, new = tf.zeros((1, 2, 8, 4)), tf.ones((1, 2, 2, 4))
    with pytest.raises(
        InputError, match="Writing 2 positions at cache_position 7 overruns the cache of 8 slots"
    ):
        update_cache(cache, new, tf.constant(7))
    with pytest.raises(InputError, match="cache_position 7 overruns"):
        update_cache(cache, new, 7)
