"""One checkpoint, three frameworks: weights survive torch -> tf -> flax -> torch bit for bit, in every dtype."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.convert.formats import load_checkpoint
from tests.parity import BACKENDS, rosetta_class, run, tiny_config


def raw_tensors(folder) -> dict[str, bytes]:
    reader = load_checkpoint(folder)
    return {name: (reader.dtype(name), reader.shape(name), reader[name].tobytes()) for name in reader}


@pytest.mark.parametrize("head", ["BertForPreTraining", "BertForSequenceClassification"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_round_trip_is_bit_exact(tmp_path, head, dtype):
    import torch

    torch.manual_seed(0)
    model = rosetta_class("torch", head)(tiny_config()).to(getattr(torch, dtype))
    model.save_pretrained(tmp_path / "torch")
    original = raw_tensors(tmp_path / "torch")
    assert {d for d, _, _ in original.values()} == {
        {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}[dtype]
    }

    previous = tmp_path / "torch"
    for backend in ("tf", "flax", "torch"):
        loaded = rosetta_class(backend, head).from_pretrained(
            previous, **{"torch_dtype" if backend == "torch" else "dtype": "auto"}
        )
        folder = tmp_path / f"after-{backend}"
        loaded.save_pretrained(folder)
        assert raw_tensors(folder) == original, f"weights changed after passing through {backend}"
        previous = folder


def test_same_logits_from_one_checkpoint_after_training_step(tmp_path):
    """A torch model changed by an optimiser step is served identically by TF and Flax."""
    import torch

    torch.manual_seed(0)
    model = rosetta_class("torch", "BertForSequenceClassification")(tiny_config(hidden_dropout_prob=0.0))
    inputs = {
        "input_ids": np.random.default_rng(0).integers(1, 99, (4, 9)),
        "attention_mask": np.ones((4, 9), dtype=np.int64),
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = model(
        **{k: torch.from_numpy(v) for k, v in inputs.items()}, labels=torch.tensor([0, 1, 1, 0])
    ).loss
    loss.backward()
    optimizer.step()
    model.eval().save_pretrained(tmp_path)
    outputs = {
        b: run(b, rosetta_class(b, "BertForSequenceClassification").from_pretrained(tmp_path), inputs)[
            "logits"
        ]
        for b in BACKENDS
    }
    np.testing.assert_allclose(outputs["tf"], outputs["torch"], atol=2e-5)
    np.testing.assert_allclose(outputs["flax"], outputs["torch"], atol=2e-5)
