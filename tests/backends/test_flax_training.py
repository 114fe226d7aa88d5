"""Training Flax models with optax (`rosetta.backends.flax.training`), on a tiny BERT classifier.

Compiling a training step takes seconds on a CPU, so the tests share three compiled steps:
the `fit` run (AdamW, dropout in the classifier), and SGD steps without dropout with and
without gradient accumulation (`plain`, `accumulating`).
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

from flax.traverse_util import flatten_dict  # noqa: E402

from rosetta import FlaxBertForSequenceClassification  # noqa: E402
from rosetta.backends.flax.training import (  # noqa: E402
    TrainState,
    create_learning_rate_fn,
    create_train_state,
    decay_mask_fn,
    eval_step,
    fit,
    train_step,
)
from rosetta.core.errors import InputError  # noqa: E402
from tests.parity import tiny_config  # noqa: E402

NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
SEQ = 8


def toy_batch(size: int, seed: int) -> dict[str, np.ndarray]:
    """A separable task: label 1 sequences draw their tokens from [10, 50), label 0 from [50, 90)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size)
    input_ids = np.where(
        labels[:, None] == 1, rng.integers(10, 50, (size, SEQ)), rng.integers(50, 90, (size, SEQ))
    )
    attention_mask = np.ones((size, SEQ), dtype=np.int32)
    attention_mask[0, SEQ - 3 :] = 0
    return {
        "input_ids": input_ids.astype(np.int32),
        "attention_mask": attention_mask,
        "labels": labels.astype(np.int32),
    }


def counting(apply_fn):
    """`apply_fn` that counts its calls: the step calls it once per trace, never when it runs compiled."""

    def counted(*args, **kwargs):
        counted.calls += 1
        return apply_fn(*args, **kwargs)

    counted.calls = 0
    return counted


@pytest.fixture(scope="module")
def trained():
    """(model, TrainOutput, held-out batch, held-out loss before training): `fit` on the toy task.

    Dropout only before the classifier: one dropout site compiles much faster than BERT's ten.
    """
    model = FlaxBertForSequenceClassification(tiny_config(**NO_DROPOUT, classifier_dropout=0.1))
    held_out = toy_batch(64, seed=1000)
    loss_before = float(model(**held_out).loss)
    batches = [toy_batch(16, seed) for seed in range(15)]
    output = fit(
        model,
        batches,
        epochs=3,
        learning_rate=3e-3,
        weight_decay=0.01,
        warmup_steps=5,
        logging_steps=5,
        eval_batches=[held_out],
    )
    return model, output, held_out, loss_before


@pytest.fixture(scope="module")
def no_dropout_model():
    return FlaxBertForSequenceClassification(tiny_config(**NO_DROPOUT))


def sgd_state(model, gradient_accumulation_steps: int) -> TrainState:
    state = create_train_state(
        model,
        optimizer=optax.sgd(0.5),
        max_grad_norm=None,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    return state.replace(apply_fn=counting(state.apply_fn))


@pytest.fixture(scope="module")
def plain(no_dropout_model):
    return sgd_state(no_dropout_model, 1)


@pytest.fixture(scope="module")
def accumulating(no_dropout_model):
    return sgd_state(no_dropout_model, 2)


# -- fit ----------------------------------------------------------------------------------------------
def test_fit_learns_the_toy_task(trained):
    model, output, held_out, loss_before = trained
    loss_after = float(model(**held_out).loss)  # model.params are the trained ones
    assert loss_after < 0.5 * loss_before, (loss_before, loss_after)
    assert output.global_step == int(output.state.step) == 45
    train_logs = [record for record in output.log_history if "loss" in record]
    losses = [record["loss"] for record in train_logs]
    assert len(losses) == 9 and losses[-1] < 0.5 * losses[0], losses
    # warmup over 5 steps, then linear decay to 0 at step 45: the last update ran at 1/40 of the peak
    np.testing.assert_allclose(train_logs[-1]["learning_rate"], 3e-3 / 40, rtol=1e-6)
    eval_logs = [record for record in output.log_history if "eval_loss" in record]
    assert [(record["epoch"], record["step"]) for record in eval_logs] == [(0, 15), (1, 30), (2, 45)]
    np.testing.assert_allclose(eval_logs[-1]["eval_loss"], loss_after, rtol=1e-5)


def test_eval_step_is_the_model_without_dropout(trained):
    model, output, held_out, _ = trained
    metrics = eval_step(output.state, held_out)
    outputs = model(**held_out)
    np.testing.assert_allclose(metrics["logits"], outputs.logits, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], outputs.loss, atol=1e-6)


def test_trained_flax_checkpoint_gives_the_same_logits_in_torch(trained, tmp_path):
    torch = pytest.importorskip("torch")
    from rosetta import BertForSequenceClassification

    model, _, held_out, _ = trained
    model.save_pretrained(tmp_path)
    torch_model = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        inputs = {key: torch.from_numpy(held_out[key]).long() for key in ("input_ids", "attention_mask")}
        torch_logits = torch_model(**inputs).logits.numpy()
    np.testing.assert_allclose(torch_logits, np.asarray(model(**held_out).logits), atol=2e-5, rtol=0)


# -- dropout --------------------------------------------------------------------------------------------
def two_losses(state: TrainState, batch: dict) -> tuple[float, float]:
    """The losses of the same batch at the same params, with this step's and the next step's dropout key."""
    next_state, first = train_step(state, batch)
    assert not np.array_equal(next_state.dropout_rng, state.dropout_rng)
    _, second = train_step(state.replace(dropout_rng=next_state.dropout_rng), batch)
    return float(first["loss"]), float(second["loss"])


def test_each_step_draws_new_dropout(trained):
    first, second = two_losses(trained[1].state, toy_batch(16, seed=7))
    assert first != second


def test_without_dropout_the_key_does_not_matter(plain):
    first, second = two_losses(plain, toy_batch(8, seed=7))
    assert first == second


# -- gradient accumulation ------------------------------------------------------------------------------
def test_two_micro_batches_of_4_make_one_step_of_8(plain, accumulating):
    batch = toy_batch(8, seed=3)
    whole, whole_metrics = train_step(plain, batch)
    micro, micro_metrics = train_step(accumulating, batch)
    assert int(micro.step) == 1
    np.testing.assert_allclose(micro_metrics["loss"], whole_metrics["loss"], atol=1e-6)
    np.testing.assert_allclose(micro_metrics["grad_norm"], whole_metrics["grad_norm"], rtol=1e-5)
    for path, value in flatten_dict(whole.params).items():
        np.testing.assert_allclose(
            flatten_dict(micro.params)[path], value, atol=1e-5, rtol=0, err_msg="/".join(path)
        )


# -- mistakes (refused while tracing: nothing is compiled) --------------------------------------------------
def test_batch_must_split_into_the_micro_batches(no_dropout_model):
    state = create_train_state(no_dropout_model, gradient_accumulation_steps=2)
    with pytest.raises(InputError, match="gradient_accumulation_steps=2"):
        train_step(state, toy_batch(7, seed=0))


def test_a_batch_without_labels_is_refused(no_dropout_model):
    with pytest.raises(InputError, match="no loss"):
        train_step(create_train_state(no_dropout_model), {"input_ids": np.ones((8, SEQ), np.int32)})


def test_fit_refuses_several_epochs_of_a_one_pass_iterator(no_dropout_model):
    with pytest.raises(InputError, match="one-pass iterator"):
        fit(no_dropout_model, iter([toy_batch(8, seed=0)]), epochs=2)


def test_a_batch_with_unknown_keys_is_refused(no_dropout_model):
    with pytest.raises(InputError, match=r"\['label'\]"):
        train_step(
            create_train_state(no_dropout_model),
            {"input_ids": np.ones((8, SEQ), np.int32), "label": np.zeros(8, np.int32)},
        )


# -- compilation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["plain", "accumulating"])
def test_the_step_is_traced_once(name, request):
    state = request.getfixturevalue(name)
    for seed in range(3):
        state, _ = train_step(state, toy_batch(8, seed))
    assert state.apply_fn.calls == 1


# -- optimizer ------------------------------------------------------------------------------------------
def test_weight_decay_skips_biases_and_layer_norms(no_dropout_model):
    mask = flatten_dict(decay_mask_fn(no_dropout_model.params))
    no_decay = {path for path, decays in mask.items() if not decays}
    expected = {path for path in mask if path[-1] == "bias" or "LayerNorm" in path}
    assert no_decay == expected
    assert mask[("bert", "embeddings", "word_embeddings", "embedding")]
    assert mask[("classifier", "kernel")]


def test_learning_rate_warms_up_then_decays_linearly():
    schedule = create_learning_rate_fn(1.0, warmup_steps=2, total_steps=6)
    np.testing.assert_allclose([schedule(step) for step in range(8)], [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0])
    constant = create_learning_rate_fn(1.0, warmup_steps=2)
    np.testing.assert_allclose([constant(step) for step in range(4)], [0, 0.5, 1, 1])
