"""Adding tokens end to end: the real MiniLM WordPiece tokenizer grows, BERT's embeddings follow in
every backend, and a folder holding both loads back consistently in torch, TF and Flax.

The models are BertForMaskedLM loaded from the MiniLM checkpoint (a BertModel checkpoint: the
encoder is pretrained, the MLM head newly initialised), so the decoder tied to the word
embeddings and the vocabulary bias are resized too.
"""

from __future__ import annotations

import numpy as np
import pytest

from rosetta import AutoTokenizer, BertTokenizer
from tests.assets import minilm
from tests.parity import BACKENDS, assert_close, rosetta_class, run

NEW_TOKENS = ["rosettastone", "flaxify"]
SPECIAL_TOKEN = "<ent>"
BASE_VOCAB = 30522
TEXT = "The Rosettastone will flaxify <ent> models."
TOL = 2e-5


def grown_tokenizer() -> tuple[BertTokenizer, list[int]]:
    """MiniLM's tokenizer with the new tokens added, and the counts each call returned."""
    tokenizer = BertTokenizer.from_pretrained(minilm())
    counts = [
        tokenizer.add_tokens(NEW_TOKENS),
        tokenizer.add_tokens(NEW_TOKENS),  # already there
        tokenizer.add_special_tokens({"additional_special_tokens": [SPECIAL_TOKEN]}),
    ]
    return tokenizer, counts


@pytest.fixture(scope="module")
def tokenizer() -> BertTokenizer:
    return grown_tokenizer()[0]


@pytest.fixture(scope="module")
def inputs(tokenizer) -> dict[str, np.ndarray]:
    return dict(tokenizer(TEXT, return_tensors="np"))


def embedding_matrix(backend: str, model) -> np.ndarray:
    embeddings = model.get_input_embeddings()
    if backend == "torch":
        return embeddings.weight.detach().numpy().copy()
    if backend == "tf":
        return embeddings.embeddings.numpy()
    return np.asarray(embeddings)


@pytest.fixture(scope="module")
def resized(tokenizer) -> dict[str, tuple[object, np.ndarray]]:
    """Per backend, lazily: (MiniLM BertForMaskedLM resized to the grown tokenizer, its embeddings before)."""
    cache: dict[str, tuple[object, np.ndarray]] = {}

    def get(backend: str) -> tuple[object, np.ndarray]:
        if backend not in cache:
            model = rosetta_class(backend, "BertForMaskedLM").from_pretrained(minilm())
            before = embedding_matrix(backend, model)
            model.resize_token_embeddings(len(tokenizer))
            cache[backend] = model, before
        return cache[backend]

    return get


# -- the tokenizer --------------------------------------------------------------------------------------
def test_adding_tokens_returns_how_many_are_new():
    tokenizer, counts = grown_tokenizer()
    assert counts == [2, 0, 1]
    assert len(tokenizer) == BASE_VOCAB + 3 and tokenizer.vocab_size == BASE_VOCAB
    added = tokenizer.get_added_vocab()
    assert {token: added[token] for token in [*NEW_TOKENS, SPECIAL_TOKEN]} == {
        "rosettastone": BASE_VOCAB,
        "flaxify": BASE_VOCAB + 1,
        SPECIAL_TOKEN: BASE_VOCAB + 2,
    }
    assert (
        SPECIAL_TOKEN in tokenizer.additional_special_tokens and SPECIAL_TOKEN in tokenizer.all_special_tokens
    )


def test_new_tokens_encode_as_single_new_ids(tokenizer, inputs):
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    # lower cased like the rest of the text (the added words are normalised), never split into ## pieces
    assert tokens == [
        "[CLS]",
        "the",
        "rosettastone",
        "will",
        "flaxify",
        SPECIAL_TOKEN,
        "models",
        ".",
        "[SEP]",
    ]
    assert tokenizer.convert_tokens_to_ids([*NEW_TOKENS, SPECIAL_TOKEN]) == [
        BASE_VOCAB,
        BASE_VOCAB + 1,
        BASE_VOCAB + 2,
    ]
    assert (
        tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=True)
        == "the rosettastone will flaxify models."
    )


# -- resizing in every backend ----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_keeps_the_old_rows_and_grows_to_the_tokenizer(backend, tokenizer, resized):
    model, before = resized(backend)
    after = embedding_matrix(backend, model)
    assert before.shape == (BASE_VOCAB, 384)
    assert after.shape == (len(tokenizer), 384)
    np.testing.assert_array_equal(after[:BASE_VOCAB], before)
    assert np.all(np.isfinite(after[BASE_VOCAB:])) and not np.array_equal(
        after[BASE_VOCAB], after[BASE_VOCAB + 1]
    )
    assert model.config.vocab_size == len(tokenizer)


@pytest.mark.parametrize("backend", BACKENDS)
def test_resized_model_runs_on_the_new_ids(backend, tokenizer, inputs, resized):
    model, _ = resized(backend)
    logits = run(backend, model, inputs)["logits"]
    assert logits.shape == (1, inputs["input_ids"].shape[1], len(tokenizer))
    assert np.all(np.isfinite(logits))


# -- one folder, every backend ----------------------------------------------------------------------------
@pytest.mark.parametrize("saved_by", BACKENDS)
def test_tokenizer_and_model_round_trip_through_one_folder(saved_by, tokenizer, inputs, resized, tmp_path):
    model, _ = resized(saved_by)
    tokenizer.save_pretrained(tmp_path)
    model.save_pretrained(tmp_path)
    expected = run(saved_by, model, inputs)

    reloaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert len(reloaded_tokenizer) == len(tokenizer)
    assert reloaded_tokenizer.get_added_vocab() == tokenizer.get_added_vocab()
    assert reloaded_tokenizer.additional_special_tokens == [SPECIAL_TOKEN]
    reloaded_inputs = dict(reloaded_tokenizer(TEXT, return_tensors="np"))
    for key, value in inputs.items():
        np.testing.assert_array_equal(reloaded_inputs[key], value)

    for backend in BACKENDS:
        reloaded, info = rosetta_class(backend, "BertForMaskedLM").from_pretrained(
            tmp_path, output_loading_info=True
        )
        assert info["missing_keys"] == [] and info["unexpected_keys"] == [], (backend, info)
        assert reloaded.config.vocab_size == len(reloaded_tokenizer)
        assert_close(run(backend, reloaded, reloaded_inputs), expected, TOL, keys=["logits"])
