"""GPT2Tokenizer on GPT-2's real byte-level BPE, from tokenizer.json and from vocab.json + merges.txt."""

from __future__ import annotations

import pytest

from rosetta.core.errors import InputError
from rosetta.models.gpt2.tokenization_gpt2 import GPT2Tokenizer
from tests.fixtures_text import TEXTS, assert_parity, assert_same_encoding
from tests.tokenizer_files import gpt2_folder, gpt2_vocab_folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return gpt2_folder(tmp_path_factory.mktemp("json")), gpt2_vocab_folder(tmp_path_factory.mktemp("vocab"))


def _pair(folder, **kwargs):
    transformers = pytest.importorskip("transformers")
    ours, theirs = (
        GPT2Tokenizer.from_pretrained(folder, **kwargs),
        transformers.GPT2Tokenizer.from_pretrained(folder, **kwargs),
    )
    ours.pad_token = theirs.pad_token = "<|endoftext|>"
    return ours, theirs


def test_known_ids(folders):
    tokenizer = GPT2Tokenizer.from_pretrained(folders[0])
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert tokenizer(" Hello world")["input_ids"] == [18435, 995]
    assert GPT2Tokenizer.from_pretrained(folders[0], add_prefix_space=True)("Hello world")["input_ids"] == [
        18435,
        995,
    ]
    assert len(tokenizer) == tokenizer.vocab_size == 50257 and tokenizer.eos_token_id == 50256
    assert tokenizer.pad_token is None and tokenizer.model_max_length == 1024


@pytest.mark.parametrize("source", ["tokenizer.json", "vocab.json"])
def test_parity_with_transformers(folders, source):
    ours, theirs = _pair(folders[0] if source == "tokenizer.json" else folders[1])
    assert_parity(ours, theirs, words=None)


def test_add_prefix_space_and_split_words(folders):
    ours, theirs = _pair(folders[0], add_prefix_space=True)
    assert_parity(ours, theirs, texts=TEXTS[:4], calls=[{}, {"padding": True}], pair_calls=[])
    assert ours.backend_tokenizer.pre_tokenizer.add_prefix_space is True
    assert ours.init_kwargs["add_prefix_space"] is True


def test_padding_needs_a_pad_token(folders):
    tokenizer = GPT2Tokenizer.from_pretrained(folders[0])
    with pytest.raises(InputError, match="has no pad token"):
        tokenizer(["Hello", "Hello world"], padding=True)
    tokenizer.pad_token = tokenizer.eos_token
    batch = tokenizer(["Hello", "Hello world"], padding=True, padding_side="left")
    assert batch["input_ids"][0] == [50256, 15496] and batch["attention_mask"][0] == [0, 1]


def test_round_trips_with_transformers(folders, tmp_path):
    transformers = pytest.importorskip("transformers")
    ours, _ = _pair(folders[0])
    ours.save_pretrained(tmp_path / "rosetta")
    assert (tmp_path / "rosetta" / "vocab.json").exists() and (tmp_path / "rosetta" / "merges.txt").exists()
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "rosetta")
    assert type(theirs).__name__ == "GPT2Tokenizer" and theirs.pad_token == "<|endoftext|>"
    assert_same_encoding(ours(TEXTS, padding=True), theirs(TEXTS, padding=True))
    theirs.save_pretrained(tmp_path / "transformers")
    back = GPT2Tokenizer.from_pretrained(tmp_path / "transformers")
    assert_same_encoding(back(TEXTS, padding=True), theirs(TEXTS, padding=True))
    from rosetta import AutoTokenizer

    assert type(AutoTokenizer.from_pretrained(tmp_path / "transformers")) is GPT2Tokenizer
    # the legacy files alone rebuild the same tokenizer
    (tmp_path / "rosetta" / "tokenizer.json").unlink()
    legacy = GPT2Tokenizer.from_pretrained(tmp_path / "rosetta")
    assert legacy(TEXTS)["input_ids"] == ours(TEXTS)["input_ids"]


def test_auto_tokenizer_from_model_type(folders, tmp_path):
    from rosetta import AutoTokenizer

    (tmp_path / "tokenizer.json").write_bytes((folders[0] / "tokenizer.json").read_bytes())
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert type(tokenizer) is GPT2Tokenizer and tokenizer("Hello world")["input_ids"] == [15496, 995]
