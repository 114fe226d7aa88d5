"""tf.distribute: `from_pretrained` inside a `MirroredStrategy` scope and Keras `fit` under it, on the model's
own loss, train as one device does with the same global batch.

Two logical CPU devices must be configured before TensorFlow initialises, so the strategy runs in a child
process (this file, run as a module); the parent checks what it reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3
GLOBAL_BATCH = 8


def _child() -> dict:
    """Fit the same checkpoint on one device and on two mirrored CPUs; report losses and weights."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras

    from rosetta import TFBertForSequenceClassification
    from tests.parity import tiny_config

    folder = tempfile.mkdtemp()
    keras.utils.set_random_seed(0)
    config = tiny_config(num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    TFBertForSequenceClassification(config).save_pretrained(folder)
    rng = np.random.default_rng(0)
    train = {"input_ids": rng.integers(1, 99, (32, 8)), "attention_mask": np.ones((32, 8), dtype=np.int64)}
    train["labels"] = (train["input_ids"][:, 0] > 50).astype(np.int64)

    def fit(strategy: tf.distribute.Strategy) -> tuple[keras.Model, list[float]]:
        with strategy.scope():
            model = TFBertForSequenceClassification.from_pretrained(folder)
            # SGD: Adam's first steps divide by sqrt(g^2), which turns the rounding of a sum of per-replica
            # gradients into updates of +-lr where a gradient is near zero.
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))  # no loss: the model's own
        dataset = model.prepare_tf_dataset(train, batch_size=GLOBAL_BATCH, shuffle=False)
        return model, model.fit(dataset, epochs=EPOCHS, verbose=0).history["loss"]

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with mirrored.scope():
        loaded = TFBertForSequenceClassification.from_pretrained(folder)
    reference = TFBertForSequenceClassification.from_pretrained(folder)
    loaded_equal = all(
        np.array_equal(ref.numpy(), replica.numpy())
        for ref, var in zip(reference.weights, loaded.weights, strict=True)
        for replica in var.value.values
    )
    one_model, one = fit(tf.distribute.get_strategy())
    two_model, two = fit(mirrored)
    saved = tempfile.mkdtemp()
    two_model.save_pretrained(saved)
    reloaded = TFBertForSequenceClassification.from_pretrained(saved)
    return {
        "replicas": [len(v.value.values) for v in two_model.trainable_variables],
        "loaded_equal": loaded_equal,
        "one": one,
        "two": two,
        "weight_gap": max(
            float(np.abs(a.numpy() - b.numpy()).max())
            for a, b in zip(one_model.weights, two_model.weights, strict=True)
        ),
        "replica_gap": max(
            float(np.abs(v.value.values[0].numpy() - v.value.values[1].numpy()).max())
            for v in two_model.weights
        ),
        "saved_gap": max(
            float(np.abs(a.numpy() - b.numpy()).max())
            for a, b in zip(two_model.weights, reloaded.weights, strict=True)
        ),
    }


@pytest.fixture(scope="module")
def report() -> dict:
    pytest.importorskip("tensorflow")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.backends.test_tf_distribute"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_from_pretrained_in_a_strategy_scope_mirrors_the_checkpoint(report):
    assert report["replicas"] and set(report["replicas"]) == {2}
    assert report["loaded_equal"]


def test_mirrored_fit_losses_equal_one_device(report):
    one, two = np.array(report["one"]), np.array(report["two"])
    assert len(one) == len(two) == EPOCHS
    assert np.ptp(one) > 1e-3  # the fits trained
    np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    assert report["weight_gap"] < 1e-5
    assert report["replica_gap"] == 0.0


def test_a_mirrored_model_saves_the_canonical_checkpoint(report):
    assert report["saved_gap"] == 0.0


if __name__ == "__main__":
    print(json.dumps(_child()))
