from dataclasses import dataclass

import numpy as np
import pytest

from rosetta.core.outputs import ModelOutput, SequenceClassifierOutput


def test_none_fields_left_out():
    out = SequenceClassifierOutput(logits=np.ones(2), hidden_states=(np.zeros(1),))
    assert list(out.keys()) == ["logits", "hidden_states"]
    assert out[0] is out.logits and out["logits"] is out.logits
    assert len(out.to_tuple()) == 2 and out.loss is None
    with pytest.raises(KeyError):
        out["loss"]


def test_loss_first_when_present():
    out = SequenceClassifierOutput(loss=np.float32(1.0), logits=np.ones(2))
    assert out[0] == 1.0 and out[1] is out.logits and out[:2] == out.to_tuple()


def test_setting_fields_updates_both_views():
    out = SequenceClassifierOutput(logits=np.ones(2))
    out.loss = 3.0
    out["attentions"] = "a"
    assert out.loss == 3.0 and out["attentions"] == "a" and out.attentions == "a"


def test_jax_pytree_and_jit():
    jax = pytest.importorskip("jax")

    @dataclass
    class Late(ModelOutput):
        value: object = None

    @jax.jit
    def f(x):
        return SequenceClassifierOutput(logits=x * 2), Late(value=x + 1)

    out, late = f(jax.numpy.ones(3))
    assert isinstance(out, SequenceClassifierOutput) and float(out.logits[0]) == 2.0
    assert isinstance(late, Late) and float(late.value[0]) == 2.0
    leaves = jax.tree_util.tree_leaves(
        SequenceClassifierOutput(logits=jax.numpy.ones(1), loss=jax.numpy.zeros(()))
    )
    assert len(leaves) == 2
