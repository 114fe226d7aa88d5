"""Fault-injection rows: model inputs a user can get wrong (issue 12, "Inputs").

Each row: `id`, `fault`, `inputs` (numpy arrays that replace the valid batch; None drops one), the error
class `expect` (None: the call must succeed and give finite outputs) and a substring `match` of its
message (the input named), checked in every framework of `frameworks` that is installed. The model is
a tiny BERT built from its config (vocab 99, 2 token types, 16 positions); each input is passed as
the framework's own tensor. `run_row` runs a row.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rosetta.core.errors import InputError

FRAMEWORKS = ("torch", "tf", "flax")
_MODULES = {"torch": "torch", "tf": "tensorflow", "flax": "flax"}
_CLASSES = {"torch": "BertModel", "tf": "TFBertModel", "flax": "FlaxBertModel"}
_TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=16, type_vocab_size=2)  # fmt: skip
_IDS = np.array([[5, 7, 9, 11], [2, 4, 6, 8]], dtype=np.int64)
_MASK = np.ones_like(_IDS)


def _row(id: str, fault: str, inputs: dict[str, Any], match: str = "", ok: bool = False) -> dict[str, Any]:
    return {"id": id, "fault": fault, "inputs": inputs, "expect": None if ok else InputError, "match": match,
            "frameworks": FRAMEWORKS}  # fmt: skip


CASES: list[dict[str, Any]] = [
    _row(
        "input-id-too-large", "an id = vocab_size", {"input_ids": np.where(_IDS == 9, 99, _IDS)}, "input_ids"
    ),
    _row("input-id-negative", "an id -1", {"input_ids": np.where(_IDS == 9, -1, _IDS)}, "input_ids"),
    _row(
        "input-too-long",
        "17 tokens, max_position_embeddings 16",
        {"input_ids": np.ones((1, 17), np.int64), "attention_mask": None, "token_type_ids": None},
        "input_ids",
    ),
    _row(
        "input-type-id-too-large",
        "token type 2, type_vocab_size 2",
        {"token_type_ids": np.full_like(_IDS, 2)},
        "token_type_ids",
    ),
    _row("input-ids-float", "float32 ids", {"input_ids": _IDS.astype(np.float32)}, "input_ids"),
    _row("input-ids-bool", "bool ids", {"input_ids": _IDS > 5}, "input_ids"),
    _row(
        "input-mask-short",
        "attention_mask one token short",
        {"attention_mask": _MASK[:, :3]},
        "attention_mask",
    ),
    _row(
        "input-mask-batch", "attention_mask of another batch", {"attention_mask": _MASK[:1]}, "attention_mask"
    ),
    _row(
        "input-mask-rank", "attention_mask [B, 1, L]", {"attention_mask": _MASK[:, None, :]}, "attention_mask"
    ),
    _row(
        "input-edge-last-id",
        "every id = vocab_size - 1 (valid)",
        {"input_ids": np.full_like(_IDS, 98)},
        ok=True,
    ),
    _row(
        "input-edge-longest",
        "16 tokens, max_position_embeddings 16 (valid)",
        {
            "input_ids": np.full((1, 16), 3, np.int64),
            "attention_mask": np.ones((1, 16), np.int64),
            "token_type_ids": np.ones((1, 16), np.int64),
        },
        ok=True,
    ),  # fmt: skip
]


@functools.cache
def _model(framework: str) -> Any:
    import rosetta

    model = getattr(rosetta, _CLASSES[framework])(rosetta.BertConfig(**_TINY))
    return model.eval() if framework == "torch" else model


def _tensor(framework: str, value: np.ndarray) -> Any:
    if framework == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(value))
    if framework == "tf":
        import tensorflow as tf

        return tf.constant(value)
    import jax.numpy as jnp

    return jnp.asarray(value)


def _call(framework: str, replace: dict[str, Any]) -> Any:
    inputs = {"input_ids": _IDS, "attention_mask": _MASK, "token_type_ids": np.zeros_like(_IDS), **replace}
    tensors = {name: _tensor(framework, value) for name, value in inputs.items() if value is not None}
    if framework == "torch":
        import torch

        with torch.no_grad():
            return _model(framework)(**tensors)
    return _model(framework)(**tensors)


def run_row(case: dict[str, Any], target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip(_MODULES[target])
    if case["expect"] is None:
        hidden = _call(target, case["inputs"]).last_hidden_state
        assert np.isfinite(np.asarray(hidden)).all(), f"{case['id']} in {target}: non-finite outputs"
        return
    with pytest.raises(case["expect"], match=case["match"]):
        _call(target, case["inputs"])
