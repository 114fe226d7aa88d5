"""numpy in -> the model's own tensors -> the model -> numpy out: the one path every caller takes.

Pipelines, the demo, the benchmarks and the tests' parity harness call `numpy_call(model, inputs)`.
It goes through the model's own `numpy_call` (every rosetta base class has one); the fallback
below is TEMPORARY, for models without it (until every base class carries it), and is the only
per-framework copy of this path outside the base classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.frameworks import framework_key, framework_of_class_name


def framework_of_model(model: Any) -> str:
    """'torch', 'tf' or 'flax': the model class's `framework`, else read from its class name."""
    declared = getattr(type(model), "framework", None)
    return framework_key(declared) if declared else framework_of_class_name(type(model).__name__)


def to_numpy(value: Any) -> Any:
    """A tensor of any framework (or a tuple/list of them) as numpy; bfloat16 becomes float32."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return tuple(to_numpy(v) for v in value)
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def numpy_call(model: Any, inputs: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    """`model(**inputs, **kwargs)` on numpy inputs, in inference mode; {output name: numpy (or tuple of numpy)}."""
    call = getattr(model, "numpy_call", None)
    out = call(inputs, **kwargs) if callable(call) else _native_call(model, inputs, **kwargs)
    return {k: to_numpy(v) for k, v in out.items() if v is not None}


def _native_call(model: Any, inputs: Mapping[str, Any], **kwargs: Any) -> Any:
    # TEMPORARY: remove once every base class has numpy_call.
    framework = framework_of_model(model)
    arrays = {k: np.asarray(v) for k, v in inputs.items() if v is not None}
    if framework == "torch":
        import torch

        device = next(iter(model.parameters()), torch.empty(0)).device
        with torch.no_grad():
            return model(**{k: torch.from_numpy(v).to(device) for k, v in arrays.items()}, **kwargs)
    if framework == "tf":
        import tensorflow as tf

        return model(**{k: tf.constant(v) for k, v in arrays.items()}, training=False, **kwargs)
    import jax.numpy as jnp

    return model(**{k: jnp.asarray(v) for k, v in arrays.items()}, **kwargs)
