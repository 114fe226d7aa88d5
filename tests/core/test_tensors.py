"""to_framework and BatchFeature: lists and arrays to each framework's tensors."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.tensors import BatchFeature, check_tensor_type, framework_of, to_framework


def test_numpy_conventions():
    assert to_framework([[1, 2], [3, 4]], None) == [[1, 2], [3, 4]]
    ints, floats = to_framework([[1, 2], [3, 4]], "np"), to_framework([0.5, 1.5], "np")
    assert ints.dtype == np.int64 and floats.dtype == np.float32
    assert to_framework(np.zeros(3, dtype=np.float64), "np").dtype == np.float64  # arrays keep their dtype
    stacked = to_framework([np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)], "np")
    assert stacked.shape == (2, 2, 3)
    assert check_tensor_type("numpy") == "np" and check_tensor_type("torch") == "pt"
    with pytest.raises(InputError, match="'input_ids': the sequences have different lengths"):
        to_framework([[1, 2], [3]], "np", name="input_ids")
    with pytest.raises(InputError, match="return_tensors='mx' is not supported"):
        to_framework([1], "mx")


def test_torch():
    torch = pytest.importorskip("torch")
    tensor = to_framework([[1, 2]], "pt")
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.int64 and framework_of(tensor) == "pt"
    assert to_framework(tensor, "pt") is tensor
    assert to_framework(tensor, "np").tolist() == [[1, 2]]
    readonly = np.arange(3)
    readonly.flags.writeable = False
    assert to_framework(readonly, "pt").tolist() == [0, 1, 2]
    batch = BatchFeature({"input_ids": [[1, 2]], "pixel_values": [[0.5, 1.0]]}, tensor_type="pt")
    batch.to(torch.float16)
    assert batch.pixel_values.dtype == torch.float16 and batch.input_ids.dtype == torch.int64
    assert batch.to("cpu", dtype=torch.float32).pixel_values.dtype == torch.float32


def test_tensorflow_and_jax():
    tf = pytest.importorskip("tensorflow")
    tensor = to_framework([[1, 2]], "tf")
    assert isinstance(tensor, tf.Tensor) and tensor.dtype == tf.int32 and framework_of(tensor) == "tf"
    assert to_framework([0.5], "tf").dtype == tf.float32
    jax = pytest.importorskip("jax")
    array = to_framework([[1, 2]], "jax")
    assert (
        isinstance(array, jax.Array)
        and framework_of(array) == "jax"
        and to_framework(array, "np").tolist() == [[1, 2]]
    )
