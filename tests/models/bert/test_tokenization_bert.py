"""BertTokenizer built from the legacy vocab.txt, and its normalisation options, against transformers."""

from __future__ import annotations

import pytest

from rosetta.models.bert.tokenization_bert import BertTokenizer
from tests.fixtures_text import TEXTS, assert_parity, assert_same_encoding
from tests.tokenizer_files import bert_folder, bert_vocab_folder

OPTIONS = [
    {},
    {"do_lower_case": False},
    {"strip_accents": False},
    {"do_lower_case": False, "strip_accents": True},
    {"tokenize_chinese_chars": False},
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return bert_folder(tmp_path_factory.mktemp("json")), bert_vocab_folder(tmp_path_factory.mktemp("vocab"))


def test_vocab_txt_matches_transformers(folders):
    transformers = pytest.importorskip("transformers")
    _, vocab = folders
    ours = BertTokenizer(vocab_file=str(vocab / "vocab.txt"), model_max_length=512)
    theirs = transformers.BertTokenizer(vocab=str(vocab / "vocab.txt"), model_max_length=512)
    assert_parity(ours, theirs)


@pytest.mark.parametrize("options", OPTIONS)
def test_normalisation_options(folders, options):
    transformers = pytest.importorskip("transformers")
    json_folder, vocab = folders
    theirs = transformers.BertTokenizer(vocab=str(vocab / "vocab.txt"), **options)
    from_vocab = BertTokenizer(vocab_file=str(vocab / "vocab.txt"), **options)
    from_json = BertTokenizer.from_pretrained(
        json_folder, **options
    )  # overrides the tokenizer.json normaliser
    for text in TEXTS:
        assert from_vocab.tokenize(text) == theirs.tokenize(text), (options, text)
        assert from_json(text)["input_ids"] == theirs(text)["input_ids"], (options, text)
    saved = from_json.init_kwargs
    assert saved["do_lower_case"] == options.get("do_lower_case", True)


def test_tokenizer_json_and_vocab_txt_agree(folders):
    json_folder, vocab_folder = folders
    from_json, from_vocab = (
        BertTokenizer.from_pretrained(json_folder),
        BertTokenizer.from_pretrained(vocab_folder),
    )
    assert from_vocab.model_max_length == 512 and from_vocab.do_lower_case is True
    assert_same_encoding(
        from_vocab(TEXTS, padding=True, return_offsets_mapping=True),
        from_json(TEXTS, padding=True, return_offsets_mapping=True),
    )


def test_vocab_only_folder_round_trips_through_transformers(folders, tmp_path):
    transformers = pytest.importorskip("transformers")
    _, vocab_folder = folders
    ours = BertTokenizer.from_pretrained(vocab_folder, do_lower_case=False)
    ours.save_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert theirs("Héllo World")["input_ids"] == ours("Héllo World")["input_ids"]
    assert theirs.do_lower_case is False and ours.tokenize("Héllo world") == [
        "[UNK]",
        "world",
    ]  # uncased vocab
