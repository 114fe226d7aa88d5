"""numpy in -> the model's own tensors -> the model -> numpy out: the one path every caller takes.

Pipelines, the demo, the benchmarks and the tests' parity harness call `numpy_call(model, inputs)`.
It goes through the model's own `numpy_call` (every rosetta base class has one, in
`rosetta.convert.pretrained`), and returns a plain dict with bfloat16 widened to float32.
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
    if isinstance(value, Mapping):  # a nested output
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return tuple(to_numpy(v) for v in value)
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def numpy_call(model: Any, inputs: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    """`model.numpy_call(inputs, **kwargs)` (inference mode) as {output name: numpy (or tuple of numpy)}."""
    out = model.numpy_call(inputs, **kwargs)
    return {k: to_numpy(v) for k, v in out.items() if v is not None}
