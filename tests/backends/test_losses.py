"""One problem-type rule, and the three backends' losses agree on it and on the numbers."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import ConfigError
from rosetta.core.problem_type import problem_type
from rosetta.models.bert.configuration_bert import BertConfig

BACKENDS = ("torch", "tf", "flax")
_MODULES = {"torch": "torch", "tf": "tensorflow", "flax": "jax"}


@pytest.mark.parametrize(
    "num_labels,labels_are_integers,expected",
    [
        (1, False, "regression"),
        (1, True, "regression"),
        (3, True, "single_label_classification"),
        (3, False, "multi_label_classification"),
    ],
)
def test_rule_infers_and_stores_the_problem_type(num_labels, labels_are_integers, expected):
    config = BertConfig(num_labels=num_labels)
    assert config.problem_type is None
    assert problem_type(config, num_labels, labels_are_integers) == expected
    assert config.problem_type == expected


def test_rule_keeps_a_problem_type_already_set():
    config = BertConfig(num_labels=3, problem_type="multi_label_classification")
    assert problem_type(config, 3, labels_are_integers=True) == "multi_label_classification"
    assert config.problem_type == "multi_label_classification"


def test_rule_rejects_an_unknown_problem_type():
    config = BertConfig(num_labels=3)
    config.problem_type = "ranking"
    with pytest.raises(ConfigError, match="ranking"):
        problem_type(config, 3, labels_are_integers=True)


def _losses(backend: str):
    pytest.importorskip(_MODULES[backend])
    if backend == "torch":
        from rosetta.backends.torch import losses
    elif backend == "tf":
        from rosetta.backends.tf import losses
    else:
        from rosetta.backends.flax import losses
    return losses


def _native(backend: str, array: np.ndarray):
    if backend == "torch":
        import torch

        return torch.from_numpy(array)
    if backend == "tf":
        import tensorflow as tf

        return tf.constant(array)
    import jax.numpy as jnp

    return jnp.asarray(array)


def _loss(backend: str, name: str, *arrays: np.ndarray, config: BertConfig | None = None) -> float:
    fn = getattr(_losses(backend), name)
    natives = [_native(backend, a) for a in arrays]
    value = fn(config, *natives) if config is not None else fn(*natives)
    return float(np.asarray(value))


_RNG = np.random.default_rng(0)
_CASES = {
    "regression": (1, _RNG.normal(size=(4, 1)).astype(np.float32), _RNG.normal(size=(4,)).astype(np.float32)),
    "single_label_classification": (
        3,
        _RNG.normal(size=(4, 3)).astype(np.float32),
        np.array([0, 2, 1, 2], dtype=np.int64),
    ),
    "multi_label_classification": (
        3,
        _RNG.normal(size=(4, 3)).astype(np.float32),
        np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]], dtype=np.float32),
    ),
}


@pytest.mark.parametrize("expected", list(_CASES))
def test_sequence_classification_losses_agree_across_backends(expected):
    num_labels, logits, labels = _CASES[expected]
    values = {}
    for backend in BACKENDS:
        config = BertConfig(num_labels=num_labels)
        values[backend] = _loss(backend, "sequence_classification_loss", logits, labels, config=config)
        assert config.problem_type == expected, backend
    assert max(values.values()) - min(values.values()) <= 1e-6, values
    reference = _reference_loss(expected, logits, labels)
    for backend, value in values.items():
        assert value == pytest.approx(reference, abs=1e-6), backend


def _reference_loss(kind: str, logits: np.ndarray, labels: np.ndarray) -> float:
    x = logits.astype(np.float64)
    if kind == "regression":
        return float(np.mean((x.squeeze() - labels) ** 2))
    if kind == "single_label_classification":
        log_probs = x - np.log(np.exp(x).sum(-1, keepdims=True))
        return float(-np.mean(log_probs[np.arange(len(labels)), labels]))
    return float(np.mean(np.maximum(x, 0) - x * labels + np.log1p(np.exp(-np.abs(x)))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_flattens_and_ignores_minus_100(backend):
    logits = _RNG.normal(size=(2, 3, 5)).astype(np.float32)
    labels = np.array([[1, -100, 4], [0, 2, -100]], dtype=np.int64)
    flat_logits, flat_labels = logits.reshape(-1, 5), labels.reshape(-1)
    keep = flat_labels != -100
    reference = _reference_loss("single_label_classification", flat_logits[keep], flat_labels[keep])
    assert _loss(backend, "cross_entropy", logits, labels) == pytest.approx(reference, abs=1e-6)
