"""The TF backend's building blocks: activations, losses, LayerNorm, the weight walk, datasets."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")

import keras  # noqa: E402

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
from rosetta.core.configuration import PretrainedConfig  # noqa: E402
from rosetta.core.errors import ConfigError, ConversionError, InputError  # noqa: E402
from rosetta.core.outputs import BaseModelOutputWithPooling, SequenceClassifierOutput  # noqa: E402


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
    expected = torch.nn.CrossEntropyLoss()(torch.from_numpy(logits).view(-1, 7), torch.from_numpy(labels).view(-1))
    np.testing.assert_allclose(losses.cross_entropy(tf.constant(logits), tf.constant(labels)).numpy(), expected.item(), rtol=1e-6)
    all_ignored = losses.cross_entropy(tf.constant(logits), tf.constant(np.full((2, 5), -100)))
    assert np.isnan(all_ignored.numpy())  # as torch: nothing counts, the mean is 0/0


def test_question_answering_loss_clamps_and_ignores_like_torch():
    rng = np.random.default_rng(1)
    start, end = (rng.normal(size=(3, 6)).astype(np.float32) for _ in range(2))
    start_positions, end_positions = np.array([0, 9, 5]), np.array([-1, 2, 6])  # out of range: clamped, 6 ignored
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
        "dense.kernel", "dense.bias", "output.kernel", "output.bias",
        "layer.0.kernel", "layer.0.bias", "layer.1.kernel", "layer.1.bias",
    ]
    replacement = keras.layers.Dense(4)
    replacement.build((None, 4))
    block.dense = replacement  # after build, as prune_heads does
    assert len(block.trainable_variables) == 8 and any(v is replacement.kernel for v in block.trainable_variables)


class _BrokenConfig(PretrainedConfig):
    model_type = "broken"


class _Odd(TFLayer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(name="kernel", shape=(2, 3, 4, 5, 6, 7))  # no canonical layout of rank 6
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
    assert message.count("not reachable through public layer attributes") == 2  # the private Dense's kernel and bias


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
        BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    )


@pytest.mark.parametrize("form", ["columns", "examples", "datasets"])
def test_prepare_tf_dataset_takes_every_form(classifier, form):
    columns = {"input_ids": np.arange(30).reshape(10, 3) % 20, "label": np.arange(10) % 2, "idx": np.arange(10)}
    data = {
        "columns": columns,
        "examples": [{k: v[i] for k, v in columns.items()} for i in range(10)],
        "datasets": _FakeDataset({k: v.tolist() for k, v in columns.items()}),
    }[form]
    batches = list(classifier.prepare_tf_dataset(data, batch_size=4, shuffle=False))
    assert [b["input_ids"].shape[0] for b in batches] == [4, 4, 2]
    assert set(batches[0]) == {"input_ids", "labels"}  # "label" read as labels, "idx" not an input
    np.testing.assert_array_equal(np.concatenate([b["labels"] for b in batches]), columns["label"])
    shuffled = np.concatenate([b["labels"] for b in classifier.prepare_tf_dataset(data, batch_size=4, drop_remainder=True)])
    assert len(shuffled) == 8


def test_prepare_tf_dataset_explains_ragged_columns(classifier):
    with pytest.raises(InputError, match="collate_fn"):
        classifier.prepare_tf_dataset([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}])
