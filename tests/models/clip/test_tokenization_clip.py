"""CLIPTokenizer on the real CLIP BPE vocabulary (built from open_clip's file), against transformers."""

from __future__ import annotations

import pytest

from rosetta.models.clip.tokenization_clip import CLIPTokenizer
from tests.fixtures_text import TEXTS, assert_parity, assert_same_encoding
from tests.tokenizer_files import clip_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return clip_folder(tmp_path_factory.mktemp("clip"))


def test_known_ids(folder):
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    assert tokenizer("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    assert (
        tokenizer.decode([49406, 320, 1125, 539, 320, 2368, 49407], skip_special_tokens=True)
        == "a photo of a cat"
    )


def test_parity_with_transformers(folder):
    transformers = pytest.importorskip("transformers")
    ours, theirs = CLIPTokenizer.from_pretrained(folder), transformers.CLIPTokenizer.from_pretrained(folder)
    assert_parity(ours, theirs, words=None)


def test_round_trips_with_transformers(folder, tmp_path):
    transformers = pytest.importorskip("transformers")
    ours = CLIPTokenizer.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "rosetta")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "rosetta")
    assert type(theirs).__name__ == "CLIPTokenizer"
    assert_same_encoding(
        ours(TEXTS, padding="max_length", truncation=True),
        theirs(TEXTS, padding="max_length", truncation=True),
    )
    theirs.save_pretrained(tmp_path / "transformers")
    back = CLIPTokenizer.from_pretrained(tmp_path / "transformers")
    assert_same_encoding(back(TEXTS, padding=True), theirs(TEXTS, padding=True))
    assert back.decode(back(TEXTS[1])["input_ids"]) == theirs.decode(theirs(TEXTS[1])["input_ids"])
