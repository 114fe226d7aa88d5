"""The layout rules of rosetta.convert.mapping, proven on real layers of each framework.

Weights are made in torch's (canonical) layout, moved into Keras and Flax layers by the
mapping's own permutations, and the three layers must compute the same outputs. Swapping any
two rules (conv1d for conv2d, a transpose for the identity) fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.convert.mapping import canonical_name, canonical_shape, from_canonical, to_canonical
from tests.parity import require

CASES = {
    # layout: (torch layer factory, input shape in torch's NC... layout)
    "linear": ((7, 5), (2, 7)),
    "conv1d": ((3, 4, 5), (2, 3, 11)),  # in, out, kernel
    "conv2d": ((3, 4, (3, 2)), (2, 3, 9, 8)),
}


def _torch(layout: str, rng: np.random.Generator):
    require("torch")
    import torch

    args, shape = CASES[layout]
    layer = {"linear": torch.nn.Linear, "conv1d": torch.nn.Conv1d, "conv2d": torch.nn.Conv2d}[layout](*args)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(p.shape).astype(np.float32)))
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        y = layer(torch.from_numpy(x)).numpy()
    return layer.weight.detach().numpy(), layer.bias.detach().numpy(), x, y


def _channels_last(x: np.ndarray) -> np.ndarray:
    return x if x.ndim == 2 else np.moveaxis(x, 1, -1)


def _keras(layout: str, weight: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    require("tf")
    import keras

    out_features = weight.shape[0]
    if layout == "linear":
        layer = keras.layers.Dense(out_features)
    elif layout == "conv1d":
        layer = keras.layers.Conv1D(out_features, weight.shape[2])
    else:
        layer = keras.layers.Conv2D(out_features, weight.shape[2:])
    layer.build(_channels_last(x).shape)
    layer.set_weights([from_canonical(weight, layout), bias])
    return np.asarray(layer(_channels_last(x)))


def _flax(layout: str, weight: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    require("flax")
    import flax.linen as nn
    import jax.numpy as jnp

    out_features = weight.shape[0]
    layer = (
        nn.Dense(out_features)
        if layout == "linear"
        else nn.Conv(out_features, weight.shape[2:], padding="VALID")
    )
    params = {"params": {"kernel": jnp.asarray(from_canonical(weight, layout)), "bias": jnp.asarray(bias)}}
    return np.asarray(layer.apply(params, jnp.asarray(_channels_last(x))))


@pytest.mark.parametrize("layout", list(CASES))
def test_layouts_move_weights_between_torch_keras_and_flax(layout):
    weight, bias, x, expected = _torch(layout, np.random.default_rng(0))
    expected = _channels_last(expected)
    np.testing.assert_allclose(_keras(layout, weight, bias, x), expected, atol=2e-5)
    np.testing.assert_allclose(_flax(layout, weight, bias, x), expected, atol=2e-5)


@pytest.mark.parametrize("layout, ndim", [("linear", 2), ("conv1d", 3), ("conv2d", 4)])
def test_kernel_names_and_shapes_round_trip(layout, ndim):
    native = np.arange(np.prod(range(2, 2 + ndim))).reshape(range(2, 2 + ndim))
    name, found = canonical_name(("encoder", "proj", "kernel"), ndim)
    assert (name, found) == ("encoder.proj.weight", layout)
    canonical = to_canonical(native, layout)
    assert canonical.shape == canonical_shape(native.shape, layout)
    np.testing.assert_array_equal(from_canonical(canonical, layout), native)


def test_a_declared_layout_override_carries_through_loading_and_saving(tmp_path):
    """A model that stores a Linear as [in, out] (GPT-2's Conv1D) declares the identity layout for it."""
    require("torch")
    require("flax")
    require("tf")
    import torch

    from rosetta import BertModel, FlaxBertModel, TFBertModel
    from tests.parity import tiny_config

    class TorchBertWithConv1DPooler(BertModel):
        _layout_overrides = {r"pooler\.dense\.weight$": "identity"}

    class FlaxBertWithConv1DPooler(FlaxBertModel):
        _layout_overrides = {r"pooler\.dense\.weight$": "identity"}

    class TFBertWithConv1DPooler(TFBertModel):
        _layout_overrides = {r"pooler\.dense\.weight$": "identity"}

    torch.manual_seed(0)
    model = BertModel(tiny_config("bert")).eval()
    state = model.canonical_state_dict()
    state["pooler.dense.weight"] = np.ascontiguousarray(state["pooler.dense.weight"].T)  # stored [in, out]
    model.save_pretrained(tmp_path, state_dict=state)
    assert TorchBertWithConv1DPooler.canonical_layouts(model.config)["pooler.dense.weight"][1] == "identity"
    assert BertModel.canonical_layouts(model.config)["pooler.dense.weight"][1] == "linear"
    for cls in (FlaxBertWithConv1DPooler, TFBertWithConv1DPooler):
        assert cls.canonical_layouts(model.config)["pooler.dense.weight"] == ((32, 32), "identity")
        loaded = cls.from_pretrained(tmp_path)
        # the native kernel is the stored [in, out] array itself, not its transpose
        np.testing.assert_array_equal(
            loaded.canonical_state_dict()["pooler.dense.weight"], state["pooler.dense.weight"]
        )
        pooled = loaded.numpy_call({"input_ids": np.array([[1, 2, 3]])}).pooler_output
        expected = model.numpy_call({"input_ids": np.array([[1, 2, 3]])}).pooler_output
        np.testing.assert_allclose(pooled, expected, atol=2e-5)
