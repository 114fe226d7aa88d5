"""Wav2Vec2CTCTokenizer (built with the tokenizers library) against transformers' Python one."""

from __future__ import annotations

import pytest

from rosetta.models.wav2vec2.tokenization_wav2vec2 import Wav2Vec2CTCTokenizer
from tests.tokenizer_files import CTC_VOCAB, ctc_folder

TEXTS = ["HELLO WORLD", "HI  THERE", "A <unk> B", "DON'T STOP?", "lower case", "X\nY", "A<s>B", ""]
PREDICTIONS = [
    [0, 11, 11, 0, 11, 8, 8, 4, 4, 20, 0, 8, 0, 0, 13, 15, 2],
    [1, 6, 6, 6, 0, 4, 4, 9, 9, 2],
    [0, 0, 0],
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return ctc_folder(tmp_path_factory.mktemp("ctc"))


@pytest.fixture(scope="module")
def pair(folder):
    transformers = pytest.importorskip("transformers")
    return Wav2Vec2CTCTokenizer.from_pretrained(folder), transformers.Wav2Vec2CTCTokenizer.from_pretrained(
        folder
    )


def test_encoding_matches_transformers(pair):
    ours, theirs = pair
    for text in TEXTS:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"], text
    batch, reference = ours(TEXTS, padding=True), theirs(TEXTS, padding=True)
    assert (
        batch["input_ids"] == reference["input_ids"]
        and batch["attention_mask"] == reference["attention_mask"]
    )
    assert len(ours) == len(theirs) == len(CTC_VOCAB) and ours.word_delimiter_token_id == 4


def test_ctc_decoding_matches_transformers(pair):
    ours, theirs = pair
    for ids in PREDICTIONS:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(
                ids, skip_special_tokens=skip
            ), (ids, skip)
    assert ours.decode(PREDICTIONS[0]) == "HHO FORL</s>"
    assert ours.batch_decode(PREDICTIONS) == theirs.batch_decode(PREDICTIONS)


def test_do_lower_case(folder):
    transformers = pytest.importorskip("transformers")
    ours = Wav2Vec2CTCTokenizer.from_pretrained(folder, do_lower_case=True)
    theirs = transformers.Wav2Vec2CTCTokenizer.from_pretrained(folder, do_lower_case=True)
    assert ours("hello world")["input_ids"] == theirs("hello world")["input_ids"]
    assert ours.decode(PREDICTIONS[1], skip_special_tokens=True) == theirs.decode(
        PREDICTIONS[1], skip_special_tokens=True
    )


def test_round_trips(pair, tmp_path):
    transformers = pytest.importorskip("transformers")
    ours, theirs = pair
    ours.save_pretrained(tmp_path / "rosetta")
    loaded = transformers.AutoTokenizer.from_pretrained(tmp_path / "rosetta")
    assert (
        type(loaded).__name__ == "Wav2Vec2CTCTokenizer"
        and loaded("HELLO")["input_ids"] == ours("HELLO")["input_ids"]
    )
    theirs.save_pretrained(tmp_path / "transformers")
    from rosetta import AutoTokenizer

    back = AutoTokenizer.from_pretrained(tmp_path / "transformers")
    assert type(back) is Wav2Vec2CTCTokenizer and back.decode(PREDICTIONS[0]) == theirs.decode(PREDICTIONS[0])
