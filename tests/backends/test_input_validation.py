"""Bad model inputs give the same named `InputError` in torch, TensorFlow and Flax (rosetta.core.inputs).

A tiny BERT (vocab 99, 2 token types, 16 positions) in each framework; every fault must raise
`InputError` naming the input, and the edge values that are valid (id 98, length 16) must run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.inputs import InputView, check_model_inputs

FRAMEWORKS = ("torch", "tf", "flax")
TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=16, type_vocab_size=2)  # fmt: skip
IDS = np.array([[5, 7, 9, 11], [2, 4, 6, 8]], dtype=np.int64)
MASK = np.ones_like(IDS)

# (id, inputs that replace the valid ones, the input the message must name)
FAULTS = [
    ("id-too-large", {"input_ids": np.where(IDS == 9, 99, IDS)}, "input_ids"),
    ("id-negative", {"input_ids": np.where(IDS == 9, -1, IDS)}, "input_ids"),
    ("too-long", {"input_ids": np.ones((1, 17), np.int64), "attention_mask": None}, "input_ids"),
    ("type-id-out-of-range", {"token_type_ids": np.full_like(IDS, 2)}, "token_type_ids"),
    ("float-ids", {"input_ids": IDS.astype(np.float32)}, "input_ids"),
    ("bool-ids", {"input_ids": IDS > 5}, "input_ids"),
    ("mask-too-short", {"attention_mask": MASK[:, :3]}, "attention_mask"),
    ("mask-wrong-batch", {"attention_mask": MASK[:1]}, "attention_mask"),
    ("mask-wrong-rank", {"attention_mask": MASK[:, None, :]}, "attention_mask"),
]

# Valid inputs at the edges: the last vocabulary row, the last token type, the longest sequence.
EDGES = [
    ("last-id", {"input_ids": np.full_like(IDS, 98)}),
    ("last-type-id", {"token_type_ids": np.ones_like(IDS)}),
    ("longest", {"input_ids": np.full((1, 16), 3, np.int64), "attention_mask": np.ones((1, 16), np.int64)}),
    ("int32-ids", {"input_ids": IDS.astype(np.int32), "attention_mask": MASK.astype(np.int32)}),
    ("bool-mask", {"attention_mask": MASK.astype(bool)}),
]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def model(request: pytest.FixtureRequest) -> tuple[str, Any]:
    framework = request.param
    pytest.importorskip({"torch": "torch", "tf": "tensorflow", "flax": "flax"}[framework])
    import rosetta

    config = rosetta.BertConfig(**TINY)
    cls = {"torch": "BertModel", "tf": "TFBertModel", "flax": "FlaxBertModel"}[framework]
    model = getattr(rosetta, cls)(config)
    if framework == "torch":
        model.eval()
    return framework, model


def to_framework(framework: str, value: np.ndarray) -> Any:
    """`value` as the framework's own tensor (what a user passes after `return_tensors=`)."""
    if framework == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(value))
    if framework == "tf":
        import tensorflow as tf

        return tf.constant(value)
    import jax.numpy as jnp

    return jnp.asarray(value)


def call(framework: str, model: Any, replace: dict[str, Any]) -> Any:
    inputs = {"input_ids": IDS, "attention_mask": MASK, "token_type_ids": np.zeros_like(IDS), **replace}
    if replace.get("input_ids") is not None and "token_type_ids" not in replace:
        inputs["token_type_ids"] = None  # the default zeros fit the new ids' shape
    tensors = {k: to_framework(framework, v) for k, v in inputs.items() if v is not None}
    if framework == "torch":
        import torch

        with torch.no_grad():
            return model(**tensors)
    return model(**tensors)


@pytest.mark.parametrize(("replace", "name"), [pytest.param(r, n, id=i) for i, r, n in FAULTS])
def test_bad_input_is_an_input_error_naming_it(model: tuple[str, Any], replace: dict, name: str) -> None:
    framework, module = model
    with pytest.raises(InputError, match=name):
        call(framework, module, replace)


@pytest.mark.parametrize("replace", [pytest.param(r, id=i) for i, r in EDGES])
def test_valid_edge_inputs_run(model: tuple[str, Any], replace: dict) -> None:
    framework, module = model
    output = call(framework, module, replace)
    hidden = np.asarray(
        output.last_hidden_state if framework != "torch" else output.last_hidden_state.numpy()
    )
    assert np.isfinite(hidden).all()


def test_torch_positional_ids_are_checked() -> None:
    torch = pytest.importorskip("torch")
    import rosetta

    model = rosetta.BertModel(rosetta.BertConfig(**TINY)).eval()
    with pytest.raises(InputError, match="input_ids holds 99"):
        model(torch.tensor([[1, 99]]))


def test_tf_symbolic_inputs_skip_value_checks_only() -> None:
    tf = pytest.importorskip("tensorflow")
    import rosetta

    model = rosetta.TFBertModel(rosetta.BertConfig(**TINY))
    traced = tf.function(lambda ids: model(input_ids=ids).last_hidden_state)
    # Values are unknown while tracing: an out-of-range id is not checked inside the graph ...
    traced(tf.constant([[1, 2]]))
    # ... but the dtype is: float ids are refused while tracing too (autograph off: it would wrap the error).
    with pytest.raises(InputError, match="input_ids has a float dtype"):
        tf.function(lambda ids: model(input_ids=ids), autograph=False)(tf.constant([[1.0, 2.0]]))


def test_flax_traced_inputs_are_not_read() -> None:
    pytest.importorskip("flax")
    import jax
    import jax.numpy as jnp

    import rosetta

    model = rosetta.FlaxBertModel(rosetta.BertConfig(**TINY))
    out = jax.jit(lambda ids: model(input_ids=ids).last_hidden_state)(jnp.asarray(IDS))
    assert out.shape == (2, 4, 32)


class Config:
    vocab_size = 10
    max_position_embeddings = 8
    type_vocab_size = 2


def test_check_is_neutral_over_views() -> None:
    """The core check reads `InputView`s: unknown values and dims are skipped, known ones checked."""
    check_model_inputs(Config(), "M", {"input_ids": InputView((None, 4), "i", None)})
    with pytest.raises(InputError, match="at most 8"):
        check_model_inputs(Config(), "M", {"input_ids": InputView((2, 9), "i", None)})
    with pytest.raises(InputError, match=r"config.vocab_size = 10"):
        check_model_inputs(Config(), "M", {"input_ids": InputView((2, 4), "i", lambda: (0, 10))})


def test_max_length_override_and_rotary_models() -> None:
    ids = np.zeros((1, 8), np.int64)
    with pytest.raises(InputError, match="at most 6"):
        check_model_inputs(Config(), "M", {"input_ids": ids}, max_length=6)

    class Rotary(Config):
        rope_theta = 10000.0

    check_model_inputs(Rotary(), "M", {"input_ids": np.zeros((1, 12), np.int64)})


def test_mask_may_be_longer_with_a_cache() -> None:
    inputs = {"input_ids": np.zeros((2, 1), np.int64), "attention_mask": np.ones((2, 5), np.int64)}
    with pytest.raises(InputError, match="attention_mask"):
        check_model_inputs(Config(), "M", inputs)
    check_model_inputs(Config(), "M", {**inputs, "past_key_values": object()})


def test_position_ids_are_bounded_unless_rotary() -> None:
    ids = np.zeros((1, 2), np.int64)
    with pytest.raises(InputError, match="position_ids holds 8"):
        check_model_inputs(Config(), "M", {"input_ids": ids, "position_ids": np.array([[0, 8]])})

    class Rotary(Config):
        rope_theta = 10000.0

    check_model_inputs(Rotary(), "M", {"input_ids": ids, "position_ids": np.array([[0, 8]])})
