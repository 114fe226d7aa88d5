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


def test_train_save_and_serve_in_three_frameworks(tmp_path, capsys):
    """`make demo`'s path on a tiny BERT: train a few steps in torch, save, serve in all three, same answers."""
    from rosetta.core.frameworks import FRAMEWORKS
    from rosetta.demo.__main__ import main
    from tests.assets import minilm
    from tests.parity import require, tiny_model

    for key in FRAMEWORKS:
        require(key)
    from rosetta import AutoTokenizer

    start = tmp_path / "tiny"
    tiny_model("torch", "sequence-classification", vocab_size=30522).save_pretrained(start)
    AutoTokenizer.from_pretrained(minilm()).save_pretrained(start)
    argv = [
        "--model",
        str(start),
        "--output-dir",
        str(tmp_path / "demo"),
        "--epochs",
        "1",
        "--batch-size",
        "8",
    ]
    main([*argv, "--max-examples", "40", "--max-length", "16"])

    out = capsys.readouterr().out
    rows = [
        line.split("|")[1:-1]
        for line in out.splitlines()
        if line.startswith("| ") and "framework" not in line
    ]
    assert [r[0].strip() for r in rows] == [fw.display_name for fw in FRAMEWORKS.values()]
    accuracies = {float(r[1]) for r in rows}
    assert len(accuracies) == 1 and 0.0 <= accuracies.pop() <= 1.0
    assert all(float(r[3]) <= 1e-4 for r in rows), out  # logits agree with PyTorch's
    assert "Accuracy is identical in all three frameworks." in out
    assert (tmp_path / "demo" / "model" / "model.safetensors").is_file()
