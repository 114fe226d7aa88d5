"""RobertaTokenizer on a RoBERTa layout of GPT-2's real BPE (vocab.json + merges.txt), against transformers."""

from __future__ import annotations

import pytest

from rosetta.models.roberta.tokenization_roberta import RobertaTokenizer
from tests.fixtures_text import TEXTS, assert_parity, assert_same_encoding
from tests.tokenizer_files import roberta_vocab_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return roberta_vocab_folder(tmp_path_factory.mktemp("roberta"))


def test_parity_with_transformers(folder):
    transformers = pytest.importorskip("transformers")
    ours, theirs = (
        RobertaTokenizer.from_pretrained(folder),
        transformers.RobertaTokenizer.from_pretrained(folder),
    )
    assert (ours.cls_token_id, ours.pad_token_id, ours.sep_token_id, ours.unk_token_id) == (0, 1, 2, 3)
    assert ours.mask_token_id == len(ours) - 1 == 50260
    assert_parity(ours, theirs, words=None)


def test_mask_token_takes_the_space_before_it(folder):
    tokenizer = RobertaTokenizer.from_pretrained(folder)
    with_space, without = tokenizer("Hello <mask>!")["input_ids"], tokenizer("Hello<mask>!")["input_ids"]
    assert with_space == without and tokenizer.mask_token_id in with_space


def test_round_trip_with_transformers(folder, tmp_path):
    transformers = pytest.importorskip("transformers")
    ours = RobertaTokenizer.from_pretrained(folder)
    ours.save_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert_same_encoding(ours(TEXTS, padding=True), theirs(TEXTS, padding=True))
    assert RobertaTokenizer.from_pretrained(tmp_path)(TEXTS[1])["input_ids"] == ours(TEXTS[1])["input_ids"]
