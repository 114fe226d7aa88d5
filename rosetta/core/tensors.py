"""Lists and arrays -> the tensors of whichever framework the user asked for.

`return_tensors` takes the values users know from Hugging Face: "np", "pt", "tf", "jax".
Nothing here imports a framework at module level: torch, TensorFlow and JAX are imported
inside `to_framework`, only when their tensors are asked for, and framework tensors given
as input are recognised by their type's module name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError

TENSOR_TYPES = ("np", "pt", "tf", "jax")
_ALIASES = {"numpy": "np", "torch": "pt", "tensorflow": "tf", "flax": "jax"}


def check_tensor_type(return_tensors: Any) -> str | None:
    """Normalise a `return_tensors` value ("np", "pt", "tf", "jax" or None); anything else is an InputError."""
    if return_tensors is None:
        return None
    value = getattr(return_tensors, "value", return_tensors)  # enums such as transformers' TensorType
    if isinstance(value, str):
        value = _ALIASES.get(value, value)
        if value in TENSOR_TYPES:
            return value
    raise InputError(
        f"return_tensors={return_tensors!r} is not supported. Use one of 'np' (numpy), 'pt' (PyTorch), "
        "'tf' (TensorFlow) or 'jax' (JAX), or None for Python lists."
    )


def framework_of(value: Any) -> str | None:
    """ "pt", "tf", "jax" or "np" for a tensor/array of that framework, None for anything else."""
    if isinstance(value, np.ndarray):
        return "np"
    module = type(value).__module__
    if module.startswith("torch"):
        return "pt"
    if module.startswith(("tensorflow", "keras")):
        return "tf"
    if module.startswith(("jax", "jaxlib")):
        return "jax"
    return None


def is_tensor(value: Any) -> bool:
    return framework_of(value) is not None


def to_numpy(value: Any) -> np.ndarray:
    """A numpy view or copy of a numpy/torch/TF/JAX array (a torch tensor may be on any device)."""
    if isinstance(value, np.ndarray):
        return value
    if framework_of(value) == "pt":
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _as_array(value: Any, name: str | None) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if is_tensor(value):
        return to_numpy(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and value and is_tensor(value[0]):
        value = [to_numpy(v) for v in value]
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        what = f"'{name}'" if name else "the values"
        raise InputError(
            f"Could not make one tensor of {what}: the sequences have different lengths. "
            "Pass padding=True (and truncation=True if some are too long) to get a rectangular batch."
        ) from err
    if array.dtype == object:
        what = f"'{name}'" if name else "the values"
        raise InputError(
            f"Could not make one tensor of {what}: the sequences have different lengths or mixed types. "
            "Pass padding=True (and truncation=True if some are too long) to get a rectangular batch."
        )
    if array.dtype == np.float64 and not isinstance(value, np.ndarray):
        array = array.astype(np.float32)  # Python floats become float32, as every framework expects
    return array


def to_framework(array_like: Any, return_tensors: Any, *, name: str | None = None) -> Any:
    """Convert nested lists, numpy arrays or another framework's tensors to `return_tensors`' type.

    With `return_tensors=None` the value comes back unchanged. Python floats become float32,
    Python ints int64 (int32 in TensorFlow, its models' convention; JAX without x64 makes
    int32 by itself). `name` only makes the error on ragged input say which field it was.
    """
    kind = check_tensor_type(return_tensors)
    if kind is None:
        return array_like
    if framework_of(array_like) == kind and kind != "np":
        return array_like
    array = _as_array(array_like, name)
    if kind == "np":
        return array
    if kind == "pt":
        import torch

        if not array.flags.writeable or not array.flags.c_contiguous:
            array = np.ascontiguousarray(array).copy()
        return torch.from_numpy(array)
    if kind == "tf":
        import tensorflow as tf

        if array.dtype == np.int64:
            array = array.astype(np.int32)
        return tf.convert_to_tensor(array)
    import jax.numpy as jnp

    return jnp.asarray(array)


class BatchFeature(dict):
    """A dict of model inputs with attribute access, `.to(device)` and framework conversion.

    `BatchEncoding` (tokenizers), image processors and feature extractors all return one.
    """

    def __init__(self, data: dict[str, Any] | None = None, tensor_type: Any = None):
        super().__init__(data or {})
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r}; it has {list(self)}."
            ) from None

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def convert_to_tensors(self, tensor_type: Any = None) -> BatchFeature:
        """Convert every value in place to `tensor_type` ("np", "pt", "tf", "jax"); None leaves them."""
        if check_tensor_type(tensor_type) is None:
            return self
        for key, value in self.items():
            self[key] = to_framework(value, tensor_type, name=key)
        return self

    def to(self, *args: Any, **kwargs: Any) -> BatchFeature:
        """Move torch tensors to a device (and cast floating ones to a dtype): `.to("cuda")`, `.to(torch.float16)`.

        Integer tensors (ids, masks) only change device, never dtype.
        """
        device = kwargs.get("device")
        if device is None and args and not _is_torch_dtype(args[0]):
            device = args[0]
        for key, value in self.items():
            if framework_of(value) != "pt":
                continue
            if value.is_floating_point():
                self[key] = value.to(*args, **kwargs)
            elif device is not None:
                self[key] = value.to(device=device, non_blocking=kwargs.get("non_blocking", False))
        return self


def _is_torch_dtype(value: Any) -> bool:
    return type(value).__module__ == "torch" and type(value).__name__ == "dtype"
