"""LlamaTokenizer on a Llama-style tokenizer.json (Metaspace, BPE with byte fallback), against transformers."""

from __future__ import annotations

import pytest

from rosetta.models.llama.tokenization_llama import LlamaTokenizer
from tests.fixtures_text import TEXTS, assert_parity, assert_same_encoding
from tests.tokenizer_files import llama_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return llama_folder(tmp_path_factory.mktemp("llama"), TEXTS)


def test_byte_fallback_and_bos(folder):
    tokenizer = LlamaTokenizer.from_pretrained(folder)
    ids = tokenizer("héllo 😀")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == 1
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert (
        "<0xF0>" in tokens and "<0x9F>" in tokens
    )  # the emoji is not in the vocabulary: its UTF-8 bytes are
    assert tokenizer.decode(ids, skip_special_tokens=True) == "héllo 😀"
    assert tokenizer.padding_side == "left"


def test_parity_with_transformers(folder):
    transformers = pytest.importorskip("transformers")
    ours, theirs = LlamaTokenizer.from_pretrained(folder), transformers.LlamaTokenizer.from_pretrained(folder)
    ours.pad_token = theirs.pad_token = "</s>"
    assert_parity(ours, theirs, words=None)


def test_add_eos_token_and_round_trip(folder, tmp_path):
    transformers = pytest.importorskip("transformers")
    ours = LlamaTokenizer.from_pretrained(folder, add_eos_token=True)
    assert ours("hello")["input_ids"][0] == 1 and ours("hello")["input_ids"][-1] == ours.eos_token_id
    ours.pad_token = "</s>"
    ours.save_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert_same_encoding(ours(TEXTS, padding=True), theirs(TEXTS, padding=True))
    assert LlamaTokenizer.from_pretrained(tmp_path)("hello")["input_ids"] == ours("hello")["input_ids"]
