"""The one parity harness every model test uses: same checkpoint, every backend, same outputs.

A backend is named "torch", "tf" or "flax"; the reference is Hugging Face transformers
("hf"). Inputs are numpy arrays; each backend gets them as its own tensors, and outputs come
back as numpy, so any two runs compare with one function.
"""

from __future__ import annotations

import numpy as np
import pytest

BACKENDS = ("torch", "tf", "flax")
# Tiny random configs: torch against transformers' torch within 1e-5, across frameworks within 2e-5.
TOLERANCE = {"torch": 1e-5, "tf": 2e-5, "flax": 2e-5}
PREFIX = {"torch": "", "tf": "TF", "flax": "Flax"}
_FRAMEWORK_MODULE = {"torch": "torch", "tf": "tensorflow", "flax": "flax", "hf": "transformers"}


def require(backend: str) -> None:
    """Skip only when the backend's framework is not installed."""
    pytest.importorskip(_FRAMEWORK_MODULE[backend])


def rosetta_class(backend: str, name: str) -> type:
    """`rosetta_class("flax", "BertForMaskedLM")` -> FlaxBertForMaskedLM."""
    require(backend)
    import rosetta

    return getattr(rosetta, PREFIX[backend] + name)


def hf_class(name: str) -> type:
    require("hf")
    import transformers

    return getattr(transformers, name)


def to_backend(backend: str, value):
    if value is None:
        return None
    if backend in ("torch", "hf"):
        import torch

        return torch.from_numpy(np.asarray(value))
    if backend == "tf":
        import tensorflow as tf

        return tf.constant(value)
    import jax.numpy as jnp

    return jnp.asarray(value)


def to_numpy(value):
    """Any framework's tensor (or nested tuple of them) as numpy."""
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


def run(backend: str, model, inputs: dict[str, np.ndarray], **kwargs) -> dict[str, object]:
    """Call `model` on numpy inputs in its own framework; return {output name: numpy}."""
    args = {k: to_backend(backend, v) for k, v in inputs.items()}
    if backend in ("torch", "hf"):
        import torch

        with torch.no_grad():
            out = model(**args, **kwargs)
    elif backend == "tf":
        out = model(**args, training=False, **kwargs)
    else:
        out = model(**args, **kwargs)
    return {k: to_numpy(v) for k, v in out.items()}


def assert_close(actual: dict, expected: dict, atol: float, keys=None) -> float:
    """Every output in both dicts agrees within atol; returns the largest difference seen."""
    keys = keys or [k for k in expected if k in actual]
    assert keys, f"no outputs to compare: {sorted(actual)} vs {sorted(expected)}"
    worst = 0.0
    for key in keys:
        a, e = actual[key], expected[key]
        pairs = zip(a, e) if isinstance(e, tuple) else [(a, e)]
        if isinstance(e, tuple):
            assert len(a) == len(e), f"{key}: {len(a)} vs {len(e)} entries"
        for x, y in pairs:
            assert x.shape == y.shape, f"{key}: shape {x.shape} vs {y.shape}"
            diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
            assert diff <= atol, f"{key}: max abs difference {diff:.3g} > {atol}"
            worst = max(worst, diff)
    return worst


def save_transformers_models(tmp_path_factory, config_name: str, heads: list[str], config: dict, qa_head: str | None = None) -> dict:
    """One randomly initialised transformers model per head, saved by transformers: {head: (folder, model)}."""
    import torch

    folders = {}
    for i, head in enumerate(heads):
        torch.manual_seed(i)
        num_labels = 2 if head == qa_head else config.get("num_labels", 2)
        model = hf_class(head)(hf_class(config_name)(**{**config, "num_labels": num_labels}, attn_implementation="eager")).eval()
        folder = tmp_path_factory.mktemp(head)
        model.save_pretrained(folder)
        folders[head] = (folder, model)
    return folders


def check_matches_transformers(backend: str, head: str, folder, reference, inputs: dict, labels: dict, atol: float) -> None:
    """A transformers checkpoint loads with no key problems and gives the same outputs, losses included."""
    model, info = rosetta_class(backend, head).from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    flags = dict(output_hidden_states=True, output_attentions=True)
    expected = run("hf", reference, inputs, **flags)
    actual = run(backend, model, inputs, **flags)
    assert set(actual) == set(expected) - {"cross_attentions", "past_key_values"}
    assert_close(actual, expected, atol)
    if labels:
        assert_close(run(backend, model, {**inputs, **labels}), run("hf", reference, {**inputs, **labels}), atol, keys=["loss"])
