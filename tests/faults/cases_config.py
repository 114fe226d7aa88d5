"""Fault-injection rows: config.json files a model must never be built from.

Each row: `id`, `fault` (what is wrong), `prepare(folder, monkeypatch) -> src` (writes the bad
config.json into `folder`; returns what to pass to `from_pretrained` / `rosetta convert` /
`rosetta verify`), the error class `expect` and a substring `match` of its message (the field named).
Every entry point must refuse the row when it reads config.json, before allocating any weight.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rosetta.core.errors import ConfigError

ENTRY_POINTS = ("config", "torch", "tf", "flax", "convert", "verify")
_TINY = {"model_type": "bert", "vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
         "num_attention_heads": 4, "intermediate_size": 37, "max_position_embeddings": 64}  # fmt: skip


def _config(**fields: Any) -> Callable[[Path, Any], str]:
    def prepare(folder: Path, monkeypatch: Any = None) -> str:
        (folder / "config.json").write_text(json.dumps({**_TINY, **fields}))
        return str(folder)

    return prepare


def _text(text: str) -> Callable[[Path, Any], str]:
    def prepare(folder: Path, monkeypatch: Any = None) -> str:
        (folder / "config.json").write_text(text)
        return str(folder)

    return prepare


def _row(id: str, fault: str, prepare: Callable[[Path, Any], str], match: str) -> dict[str, Any]:
    return {"id": id, "fault": fault, "prepare": prepare, "expect": ConfigError, "match": match,
            "entry_points": ENTRY_POINTS}  # fmt: skip


CASES: list[dict[str, Any]] = [
    _row("config-vocab-zero", "vocab_size 0", _config(vocab_size=0), "'vocab_size'"),
    _row("config-vocab-negative", "vocab_size -1", _config(vocab_size=-1), "'vocab_size'"),
    _row("config-hidden-negative", "hidden_size -64", _config(hidden_size=-64), "'hidden_size'"),
    _row("config-layers-zero", "num_hidden_layers 0", _config(num_hidden_layers=0), "'num_hidden_layers'"),
    _row(
        "config-layers-null", "num_hidden_layers null", _config(num_hidden_layers=None), "'num_hidden_layers'"
    ),
    _row(
        "config-heads-zero", "num_attention_heads 0", _config(num_attention_heads=0), "'num_attention_heads'"
    ),
    _row("config-ffn-negative", "intermediate_size -1", _config(intermediate_size=-1), "'intermediate_size'"),
    _row(
        "config-positions-zero",
        "max_position_embeddings 0",
        _config(max_position_embeddings=0),
        "'max_position_embeddings'",
    ),
    _row("config-types-negative", "type_vocab_size -2", _config(type_vocab_size=-2), "'type_vocab_size'"),
    _row("config-vocab-float", "vocab_size 1.5", _config(vocab_size=1.5), "'vocab_size'"),
    _row("config-vocab-string", 'vocab_size "big"', _config(vocab_size="big"), "'vocab_size'"),
    _row("config-hidden-bool", "hidden_size true", _config(hidden_size=True), "'hidden_size'"),
    _row(
        "config-heads-indivisible",
        "hidden_size 100 over 12 heads",
        _config(hidden_size=100, num_attention_heads=12),
        "not a multiple of 'num_attention_heads'",
    ),
    _row(
        "config-kv-heads-indivisible",
        "4 heads over 3 key/value heads",
        _config(num_key_value_heads=3),
        "not a multiple of 'num_key_value_heads'",
    ),
    _row("config-head-dim-negative", "head_dim -8", _config(head_dim=-8), "'head_dim'"),
    _row("config-num-labels-zero", "num_labels 0", _config(num_labels=0), "num_labels"),
    _row("config-not-json", "config.json cut short", _text('{"model_type": "bert",'), "is not valid JSON"),
    _row("config-not-object", "config.json holds a list", _text("[1, 2]"), "must hold a JSON object"),
]
