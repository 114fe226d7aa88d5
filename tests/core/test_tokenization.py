"""PreTrainedTokenizer and BatchEncoding, on the real MiniLM WordPiece tokenizer, against transformers."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from rosetta.core.errors import InputError, MissingFileError
from rosetta.core.tokenization import BatchEncoding, PreTrainedTokenizer
from rosetta.models.bert.tokenization_bert import BertTokenizer
from tests.fixtures_text import LONG_TEXT, PAIRS, TEXTS, as_lists, assert_parity, assert_same_encoding
from tests.tokenizer_files import bert_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return bert_folder(tmp_path_factory.mktemp("minilm"))


@pytest.fixture(scope="module")
def hf_tokenizer(folder):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(folder)


@pytest.fixture
def tokenizer(folder):
    return BertTokenizer.from_pretrained(folder)


def test_known_ids(tokenizer):
    assert tokenizer("A man is eating food.")["input_ids"] == [101, 1037, 2158, 2003, 5983, 2833, 1012, 102]


def test_parity_with_transformers(tokenizer, hf_tokenizer):
    assert_parity(tokenizer, hf_tokenizer)


def test_single_example_shapes(tokenizer, hf_tokenizer):
    for kwargs in (
        {"return_length": True},
        {"return_tensors": "np"},
        {"return_overflowing_tokens": True, "max_length": 20, "stride": 5},
    ):
        assert_same_encoding(tokenizer(LONG_TEXT, **kwargs), hf_tokenizer(LONG_TEXT, **kwargs), kwargs)
    assert tokenizer("Hello", "world")["token_type_ids"] == [0, 0, 0, 1, 1]
    assert tokenizer.encode("A man is eating food.") == hf_tokenizer.encode("A man is eating food.")
    assert tokenizer.encode(PAIRS[0][0], PAIRS[0][1]) == hf_tokenizer.encode(PAIRS[0][0], PAIRS[0][1])


def test_model_max_length_truncation(tokenizer, hf_tokenizer):
    text = LONG_TEXT * 3
    ours = tokenizer(text, truncation=True)
    assert len(ours["input_ids"]) == 512 == tokenizer.model_max_length
    assert ours["input_ids"] == hf_tokenizer(text, truncation=True)["input_ids"]
    padded = tokenizer(["short"], padding="max_length")
    assert len(padded["input_ids"][0]) == 512


def test_vocabulary_and_conversions(tokenizer, hf_tokenizer):
    assert len(tokenizer) == len(hf_tokenizer) == tokenizer.vocab_size == 30522
    assert tokenizer.get_vocab() == hf_tokenizer.get_vocab()
    tokens = tokenizer.tokenize(TEXTS[1])
    assert tokenizer.convert_tokens_to_ids(tokens) == hf_tokenizer.convert_tokens_to_ids(tokens)
    assert tokenizer.convert_tokens_to_ids("not-a-token-at-all") == tokenizer.unk_token_id
    ids = tokenizer("Hello world")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == hf_tokenizer.convert_ids_to_tokens(ids)
    assert tokenizer.convert_ids_to_tokens(ids, skip_special_tokens=True) == ["hello", "world"]
    assert tokenizer.convert_ids_to_tokens(101) == "[CLS]"
    assert tokenizer.convert_tokens_to_string(
        ["hello", "##s", "world"]
    ) == hf_tokenizer.convert_tokens_to_string(["hello", "##s", "world"])
    assert tokenizer.num_special_tokens_to_add() == 2 and tokenizer.num_special_tokens_to_add(pair=True) == 3


def test_special_tokens(tokenizer, hf_tokenizer):
    for name in ("cls", "sep", "pad", "unk", "mask", "bos", "eos"):
        assert getattr(tokenizer, f"{name}_token") == getattr(hf_tokenizer, f"{name}_token"), name
        assert getattr(tokenizer, f"{name}_token_id") == getattr(hf_tokenizer, f"{name}_token_id"), name
    assert set(tokenizer.all_special_tokens) == set(hf_tokenizer.all_special_tokens)
    assert set(tokenizer.all_special_ids) == set(hf_tokenizer.all_special_ids)
    assert tokenizer.additional_special_tokens == []
    tokenizer.pad_token_id = 100
    assert tokenizer.pad_token == "[UNK]"
    tokenizer.pad_token = None
    assert tokenizer.pad_token_id is None


def test_add_tokens_and_special_tokens(tokenizer, hf_tokenizer, folder):
    import transformers

    reference = transformers.AutoTokenizer.from_pretrained(folder)
    # like transformers (and the Rust library), a token already in the vocabulary counts as added, with its id
    assert (
        tokenizer.add_tokens(["rosettastone", "hello"])
        == reference.add_tokens(["rosettastone", "hello"])
        == 2
    )
    assert tokenizer.add_special_tokens({"additional_special_tokens": ["<ent>", "<rel>"]}) == 2
    reference.add_special_tokens({"additional_special_tokens": ["<ent>", "<rel>"]})
    assert len(tokenizer) == len(reference) == 30525
    assert tokenizer.convert_tokens_to_ids(["hello", "rosettastone", "<ent>"]) == [7592, 30522, 30523]
    text = "The rosettastone <ent> is <rel> here"
    assert tokenizer(text)["input_ids"] == reference(text)["input_ids"]
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)
    assert tokenizer.additional_special_tokens == ["<ent>", "<rel>"]
    assert tokenizer.add_special_tokens({"pad_token": "[PAD]"}) == 0
    with pytest.raises(InputError, match="Unknown special token key 'padding_token'"):
        tokenizer.add_special_tokens({"padding_token": "[PAD]"})
    with pytest.raises(InputError, match="add_tokens takes strings"):
        tokenizer.add_tokens([3])


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_and_truncation_sides(folder, side):
    transformers = pytest.importorskip("transformers")
    ours = BertTokenizer.from_pretrained(folder, padding_side=side, truncation_side=side)
    theirs = transformers.AutoTokenizer.from_pretrained(folder, padding_side=side, truncation_side=side)
    for kwargs in ({"padding": True}, {"padding": "max_length", "max_length": 20, "truncation": True}):
        assert_same_encoding(ours(TEXTS, **kwargs), theirs(TEXTS, **kwargs), (side, kwargs))
    row = ours(["a b c", "a"], padding=True)["attention_mask"][1]
    assert row == ([1, 1, 1, 0, 0] if side == "right" else [0, 0, 1, 1, 1])


def test_pad_collation(tokenizer, hf_tokenizer):
    examples = [tokenizer(text, return_special_tokens_mask=True) for text in TEXTS[:4]]
    reference = [hf_tokenizer(text, return_special_tokens_mask=True) for text in TEXTS[:4]]
    for kwargs in (
        {},
        {"padding_side": "left"},
        {"padding": "max_length", "max_length": 40},
        {"pad_to_multiple_of": 8},
    ):
        assert_same_encoding(tokenizer.pad(examples, **kwargs), hf_tokenizer.pad(reference, **kwargs), kwargs)
    as_dict = {key: [e[key] for e in examples] for key in examples[0]}
    batch = tokenizer.pad(as_dict, return_tensors="np")
    assert batch["input_ids"].shape == (4, max(len(e["input_ids"]) for e in examples))
    assert as_lists(batch["special_tokens_mask"][3][-1]) == 1


def test_pad_keeps_torch_inputs_torch(tokenizer):
    torch = pytest.importorskip("torch")
    examples = [{"input_ids": torch.tensor(tokenizer(t)["input_ids"])} for t in ("a b c", "a")]
    batch = tokenizer.pad(examples)
    assert isinstance(batch["input_ids"], torch.Tensor) and batch["input_ids"].tolist()[1] == [
        101,
        1037,
        102,
        0,
        0,
    ]
    assert batch["attention_mask"].tolist()[1] == [1, 1, 1, 0, 0]


def _tensor_class(framework: str) -> type:
    if framework == "np":
        return np.ndarray
    if framework == "pt":
        return pytest.importorskip("torch").Tensor
    if framework == "tf":
        return pytest.importorskip("tensorflow").Tensor
    return pytest.importorskip("jax").Array


@pytest.mark.parametrize("framework", ["np", "pt", "tf", "jax"])
def test_return_tensors(tokenizer, framework):
    tensor_class = _tensor_class(framework)
    batch = tokenizer(TEXTS[:3], padding=True, return_tensors=framework)
    reference = tokenizer(TEXTS[:3], padding=True)
    for key, value in batch.items():
        assert isinstance(value, tensor_class), (key, type(value))
        assert np.asarray(value).tolist() == reference[key]
    single = tokenizer("Hello", return_tensors=framework)
    assert tuple(single["input_ids"].shape) == (1, 3)
    assert np.asarray(tokenizer.encode("Hello", return_tensors=framework)).tolist() == [[101, 7592, 102]]


def test_batch_encoding(tokenizer):
    torch = pytest.importorskip("torch")
    batch = tokenizer(["Hello world", "Héllo"], padding=True, return_tensors="pt")
    assert isinstance(batch, BatchEncoding) and isinstance(batch, dict)
    assert batch.input_ids is batch["input_ids"]
    assert batch.to("cpu") is batch and batch["input_ids"].device == torch.device("cpu")
    assert batch.word_ids(0) == [None, 0, 1, None] and batch.word_ids(1) == [None, 0, None, None]
    assert batch.sequence_ids(0) == [None, 0, 0, None]
    assert batch.char_to_token(0, 7) == 2 and batch.token_to_chars(0, 1) == (0, 5)
    assert len(batch.encodings) == 2 and batch.tokens(1)[1] == "hello"
    restored = pickle.loads(pickle.dumps(batch))
    assert restored.input_ids.tolist() == batch.input_ids.tolist() and restored.word_ids(0) == batch.word_ids(
        0
    )
    with pytest.raises(AttributeError, match="no field 'labels'"):
        batch.labels  # noqa: B018
    with pytest.raises(InputError, match="encodings"):
        tokenizer.pad([{"input_ids": [1, 2]}]).word_ids()


def test_decode_inputs(tokenizer, hf_tokenizer):
    ids = tokenizer(["Hello, world!", "Don't stop"], padding=True)["input_ids"]
    assert tokenizer.decode(ids[0]) == "[CLS] hello, world! [SEP]"
    assert tokenizer.decode(np.array(ids[0])) == tokenizer.decode(ids[0])
    assert tokenizer.decode(ids) == tokenizer.batch_decode(ids)
    assert tokenizer.decode(7592) == "hello"
    assert tokenizer.batch_decode(np.array(ids), skip_special_tokens=True) == [
        "hello, world!",
        "don ' t stop",
    ]
    for cleanup in (True, False):
        assert tokenizer.decode(ids[1], clean_up_tokenization_spaces=cleanup) == hf_tokenizer.decode(
            ids[1], clean_up_tokenization_spaces=cleanup
        )
    torch = pytest.importorskip("torch")
    assert tokenizer.decode(torch.tensor(ids[0])) == tokenizer.decode(ids[0])


def test_save_load_round_trips(tokenizer, tmp_path):
    transformers = pytest.importorskip("transformers")
    tokenizer.add_tokens(["rosettastone"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<ent>"]})
    files = tokenizer.save_pretrained(tmp_path / "rosetta")
    names = {p.rsplit("/", 1)[-1] for p in files}
    assert {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} <= names
    config = json.loads((tmp_path / "rosetta" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertTokenizer" and config["model_max_length"] == 512
    assert config["do_lower_case"] is True
    text = "The rosettastone <ent> Héllo wörld 😀"

    reloaded = BertTokenizer.from_pretrained(tmp_path / "rosetta")
    assert reloaded(text) == tokenizer(text) and len(reloaded) == len(tokenizer)
    assert reloaded.additional_special_tokens == ["<ent>"]

    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "rosetta")
    assert type(theirs).__name__.startswith("BertTokenizer")
    assert_same_encoding(reloaded(TEXTS, padding=True), theirs(TEXTS, padding=True))
    assert theirs(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert theirs.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == tokenizer.decode(
        tokenizer(text)["input_ids"], skip_special_tokens=True
    )

    theirs.save_pretrained(tmp_path / "transformers")
    back = BertTokenizer.from_pretrained(tmp_path / "transformers")
    assert back(text) == tokenizer(text) and back.model_max_length == 512


def test_auto_tokenizer_and_generic_class(folder, tmp_path):
    from rosetta import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(folder)
    assert type(auto) is BertTokenizer
    generic = PreTrainedTokenizer(tokenizer_file=str(folder / "tokenizer.json"), pad_token="[PAD]")
    assert generic("A man is eating food.")["input_ids"] == auto("A man is eating food.")["input_ids"]
    generic.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizer"
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is PreTrainedTokenizer


def test_push_to_hub_and_load_by_repo_id(tokenizer, hub_server, fresh_hf_cache):
    repo_id = hub_server.new_repo_id("tiny-tokenizer")
    tokenizer.push_to_hub(repo_id)
    loaded = BertTokenizer.from_pretrained(repo_id)
    assert loaded("Héllo world")["input_ids"] == tokenizer("Héllo world")["input_ids"]
    with pytest.raises(MissingFileError, match="tokenizer.json"):
        BertTokenizer.from_pretrained(fresh_hf_cache)


BAD_CALLS = [
    ({"text": None}, "No text was given"),
    ({"text": 42}, "must be a string or a list of strings, got int"),
    ({"text": [101, 102]}, r"text\[0\] is a int; a batch must be a list of strings"),
    ({"text": []}, "empty batch"),
    ({"text": ["a", "b"], "text_pair": ["c"]}, "text has 2 examples but text_pair has 1"),
    ({"text": ["a", "b"], "text_pair": "c"}, "both be batches"),
    ({"text": "a b", "is_split_into_words": True}, "must be a list of words"),
    ({"text": ["a"], "padding": "longer"}, "padding='longer' is not a valid padding strategy"),
    (
        {"text": ["a"], "truncation": "only_third"},
        "truncation='only_third' is not a valid truncation strategy",
    ),
    ({"text": ["a"], "return_tensors": "torchy"}, "return_tensors='torchy' is not supported"),
    ({"text": ["a", "b c"], "return_tensors": "np"}, "different lengths. Pass padding=True"),
    ({"text": ["a"], "max_length": 0}, "max_length must be a positive integer"),
    ({"text": ["a"], "padding_side": "middle"}, "padding_side must be 'left' or 'right'"),
    ({"text": ["a"], "return_tensor": "pt"}, "unexpected keyword arguments: return_tensor"),
    (
        {
            "text": [LONG_TEXT],
            "truncation": True,
            "max_length": 10,
            "stride": 20,
            "return_overflowing_tokens": True,
        },
        "could not truncate as asked",
    ),
    (
        {"text": ["a"], "padding": True, "truncation": True, "max_length": 10, "pad_to_multiple_of": 4},
        "not a multiple",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CALLS)
def test_bad_input_is_input_error(tokenizer, kwargs, message):
    with pytest.raises(InputError, match=message):
        tokenizer(**kwargs)


def test_padding_without_pad_token(tokenizer):
    tokenizer.pad_token = None
    with pytest.raises(InputError, match="has no pad token.*tokenizer.pad_token = tokenizer.eos_token"):
        tokenizer(["a", "b c"], padding=True)
    with pytest.raises(InputError, match="has no pad token"):
        tokenizer.pad([{"input_ids": [1]}, {"input_ids": [1, 2]}])


def test_other_bad_input(tokenizer, tmp_path):
    with pytest.raises(InputError, match="Token ids must be ints"):
        tokenizer.decode("hello")
    with pytest.raises(InputError, match="pad\\(\\) needs a 'input_ids' field"):
        tokenizer.pad([{"ids": [1]}])
    with pytest.raises(InputError, match="needs a tokenizer.json"):
        PreTrainedTokenizer()
    with pytest.raises(InputError, match="needs a vocab_file"):
        BertTokenizer()
    with pytest.raises(
        MissingFileError,
        match="'tokenizer.json' was not found.*BertTokenizer loads tokenizer.json or the legacy vocab.txt",
    ):
        BertTokenizer.from_pretrained(tmp_path)
    with pytest.raises(InputError, match="padding='max_length' needs max_length"):
        PreTrainedTokenizer(tokenizer_object=tokenizer.backend_tokenizer, pad_token="[PAD]")(
            ["a"], padding="max_length"
        )


def test_importing_preprocessing_imports_no_framework():
    code = (
        "import sys\n"
        "import rosetta.core.tokenization, rosetta.core.image_processing, rosetta.core.feature_extraction\n"
        "import rosetta.core.processing, rosetta.core.tensors\n"
        "from rosetta import BertTokenizer, GPT2Tokenizer, RobertaTokenizer, LlamaTokenizer, CLIPTokenizer, CLIPProcessor\n"
        "from rosetta import ViTImageProcessor, CLIPImageProcessor, Wav2Vec2Processor, WhisperFeatureExtractor\n"
        "from rosetta import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, PreTrainedTokenizer, AutoTokenizer\n"
        "print(','.join(m for m in ('torch', 'tensorflow', 'jax', 'flax', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
