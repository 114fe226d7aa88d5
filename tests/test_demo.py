"""The demo's data loading: the built-in set and the user's own files."""

import json

import pytest

from rosetta.core.errors import InputError
from rosetta.demo.data import load_dataset, sentiment_examples


def test_builtin_set_is_balanced_and_deterministic():
    rows = sentiment_examples()
    assert rows == sentiment_examples() and {r["label"] for r in rows} == {0, 1}
    assert sum(r["label"] for r in rows) * 2 == len(rows)
    train, held_out, names = load_dataset(None, max_examples=100)
    assert len(train) == 80 and len(held_out) == 20 and names == ["negative", "positive"]


def test_csv_with_string_labels(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("sentence,label\ngood,pos\nbad,neg\nfine,pos\nawful,neg\nnice,pos\n")
    train, held_out, names = load_dataset(str(path))
    assert names == ["neg", "pos"] and len(train) + len(held_out) == 5
    assert {r["text"] for r in train + held_out} == {"good", "bad", "fine", "awful", "nice"}


def test_jsonl_with_int_labels(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "label": i % 3}) for i in range(10)))
    _, _, names = load_dataset(str(path))
    assert names == ["0", "1", "2"]


def test_missing_columns_is_a_clear_error(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"body": "x", "y": 1}]))
    with pytest.raises(InputError, match="text column"):
        load_dataset(str(path))
