"""Data collators: numpy inside, any framework out; checked against transformers' collators."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.data import (
    DataCollatorForLanguageModeling,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    DefaultDataCollator,
    default_data_collator,
)
from tests.assets import minilm

SENTENCES = [
    "A man is eating food.",
    "Hello world",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Hi",
]


@pytest.fixture(scope="module")
def tokenizer():
    from rosetta import BertTokenizer

    return BertTokenizer.from_pretrained(minilm())


@pytest.fixture(scope="module")
def hf_tokenizer():
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(minilm())


def examples(tok, labels=None):
    encoded = tok(SENTENCES)
    rows = [{k: v[i] for k, v in encoded.items()} for i in range(len(SENTENCES))]
    for row, label in zip(rows, labels or [None] * len(rows)):
        if label is not None:
            row["label"] = label
    return rows


def as_numpy(batch):
    return {k: np.asarray(v) for k, v in batch.items()}


# -- default_data_collator -----------------------------------------------------------------------------
def test_default_collator_labels_dtypes_and_dropped_fields():
    torch = pytest.importorskip("torch")
    features = [
        {"input_ids": [1, 2, 3], "label": 1, "text": "a", "extra": None, "pixel": np.ones(2)},
        {"input_ids": [4, 5, 6], "label": 0, "text": "b", "extra": None, "pixel": np.zeros(2)},
    ]
    batch = default_data_collator(features)
    assert set(batch) == {"input_ids", "labels", "pixel"}
    assert batch["labels"].dtype == torch.int64 and batch["input_ids"].dtype == torch.int64
    assert batch["pixel"].dtype == torch.float64 and batch["input_ids"].tolist() == [[1, 2, 3], [4, 5, 6]]
    regression = default_data_collator([{"x": [0.5], "label": 0.5}, {"x": [1.5], "label": 2.0}])
    assert regression["labels"].dtype == torch.float32 and regression["x"].dtype == torch.float32
    stacked = default_data_collator([{"x": torch.ones(2, dtype=torch.bfloat16), "label_ids": [1, 2]}] * 3)
    assert stacked["x"].dtype == torch.bfloat16 and stacked["labels"].shape == (3, 2)


def test_default_collator_matches_transformers():
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    features = [{"input_ids": [1, 2, 3], "attention_mask": [1, 1, 0], "label": i % 2} for i in range(4)]
    ours, theirs = default_data_collator(features), transformers.default_data_collator(features)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key].dtype == theirs[key].dtype and ours[key].tolist() == theirs[key].tolist()


@pytest.mark.parametrize("return_tensors", ["np", "pt", "jax", "tf"])
def test_collators_return_every_framework(return_tensors, tokenizer):
    module = {"np": "numpy", "pt": "torch", "jax": "jax", "tf": "tensorflow"}[return_tensors]
    pytest.importorskip(module)
    rows = examples(tokenizer, labels=[0, 1, 1, 0])
    plain = [{"input_ids": r["input_ids"]} for r in rows]
    tagged = [{**r, "labels": [1] * len(r["input_ids"])} for r in plain]
    batches = [
        DefaultDataCollator(return_tensors)(
            [{"input_ids": [1, 2], "label": 0}, {"input_ids": [3, 4], "label": 1}]
        ),
        DataCollatorWithPadding(tokenizer, return_tensors=return_tensors)(rows),
        DataCollatorForTokenClassification(tokenizer, return_tensors=return_tensors)(tagged),
        DataCollatorForLanguageModeling(tokenizer, return_tensors=return_tensors, seed=0)(plain),
    ]
    for batch in batches:
        assert "labels" in batch
        for value in batch.values():
            assert type(value).__module__.split(".")[0] in (module, "jaxlib"), type(value)


# -- padding ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pad_to_multiple_of", [None, 8])
def test_padding_collator_matches_transformers(tokenizer, hf_tokenizer, pad_to_multiple_of):
    pytest.importorskip("torch")
    import transformers

    ours = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)(
        examples(tokenizer, [1, 0, 1, 1])
    )
    theirs = transformers.DataCollatorWithPadding(hf_tokenizer, pad_to_multiple_of=pad_to_multiple_of)(
        examples(hf_tokenizer, [1, 0, 1, 1])
    )
    assert set(ours) == set(theirs) and "labels" in ours
    for key in ours:
        assert ours[key].tolist() == theirs[key].tolist(), key


def test_token_classification_collator_matches_transformers(tokenizer, hf_tokenizer):
    pytest.importorskip("torch")
    import transformers

    def with_labels(tok):
        rows = examples(tok)
        for row in rows:
            row["labels"] = [-100] + [i % 3 for i in range(len(row["input_ids"]) - 2)] + [-100]
        return rows

    ours = DataCollatorForTokenClassification(tokenizer)(with_labels(tokenizer))
    theirs = transformers.DataCollatorForTokenClassification(hf_tokenizer)(with_labels(hf_tokenizer))
    for key in theirs:
        assert ours[key].tolist() == theirs[key].tolist(), key
    assert ours["labels"][3].tolist()[3:] == [-100] * (
        ours["labels"].shape[1] - 3
    )  # "Hi": [CLS] hi [SEP] + padding


def test_token_classification_left_padding_and_no_labels():
    class LeftPadder:
        padding_side = "left"
        pad_token_id = 0

        def pad(self, features, padding=True, max_length=None, pad_to_multiple_of=None, return_tensors=None):
            longest = max(len(f["input_ids"]) for f in features)
            ids = [[0] * (longest - len(f["input_ids"])) + list(f["input_ids"]) for f in features]
            return {"input_ids": np.asarray(ids)}

    batch = DataCollatorForTokenClassification(LeftPadder(), return_tensors="np")(
        [{"input_ids": [5, 6, 7], "labels": [1, 2, 3]}, {"input_ids": [8], "labels": [4]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["labels"].tolist() == [[1, 2, 3], [-100, -100, 4]]
    unlabeled = DataCollatorForTokenClassification(LeftPadder(), return_tensors="np")(
        [{"input_ids": [5]}, {"input_ids": [6, 7]}]
    )
    assert set(unlabeled) == {"input_ids"}


# -- language modeling ----------------------------------------------------------------------------------------
def _mlm_batch(tokenizer, collator, rows=64):
    rng = np.random.default_rng(1)
    ids = [[101, *rng.integers(1000, 29000, int(rng.integers(20, 120))).tolist(), 102] for _ in range(rows)]
    original = tokenizer.pad([{"input_ids": x} for x in ids], return_tensors="np")["input_ids"]
    return original, collator([{"input_ids": x} for x in ids])


def test_mlm_masking_statistics(tokenizer):
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="np", seed=0)
    original, batch = _mlm_batch(tokenizer, collator)
    inputs, labels = batch["input_ids"], batch["labels"]
    special = np.isin(original, tokenizer.all_special_ids)
    chosen = labels != -100
    assert not np.any(chosen & special)  # [CLS], [SEP] and [PAD] are never chosen
    np.testing.assert_array_equal(labels[chosen], original[chosen])
    assert np.all(inputs[~chosen] == original[~chosen])
    assert abs(chosen.sum() / (~special).sum() - 0.15) < 0.015
    masked = chosen & (inputs == tokenizer.mask_token_id)
    randomised = chosen & (inputs != tokenizer.mask_token_id) & (inputs != original)
    kept = chosen & (inputs == original)
    shares = np.array([masked.sum(), randomised.sum(), kept.sum()]) / chosen.sum()
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.04)
    assert inputs.max() < len(tokenizer)


def test_mlm_randomness_is_reproducible(tokenizer):
    first = _mlm_batch(tokenizer, DataCollatorForLanguageModeling(tokenizer, return_tensors="np", seed=3))[1]
    second = _mlm_batch(tokenizer, DataCollatorForLanguageModeling(tokenizer, return_tensors="np", seed=3))[1]
    assert np.array_equal(first["input_ids"], second["input_ids"]) and np.array_equal(
        first["labels"], second["labels"]
    )
    global_rng = DataCollatorForLanguageModeling(
        tokenizer, return_tensors="np"
    )  # numpy's global RNG (set_seed)
    np.random.seed(7)
    a = _mlm_batch(tokenizer, global_rng)[1]
    np.random.seed(7)
    b = _mlm_batch(tokenizer, global_rng)[1]
    assert np.array_equal(a["labels"], b["labels"]) and not np.array_equal(a["labels"], first["labels"])


def test_mlm_uses_the_special_tokens_mask_when_given(tokenizer):
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=1.0, mask_replace_prob=1.0, random_replace_prob=0.0, return_tensors="np"
    )
    rows = [
        {"input_ids": [101, 2000, 2001, 102], "special_tokens_mask": [1, 1, 0, 1]}
    ]  # 2000 declared special
    batch = collator(rows)
    assert "special_tokens_mask" not in batch
    assert batch["input_ids"].tolist() == [[101, 2000, 103, 102]] and batch["labels"].tolist() == [
        [-100, -100, 2001, -100]
    ]


def test_causal_lm_labels_and_plain_id_lists(tokenizer):
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm=False, return_tensors="np", pad_to_multiple_of=4
    )
    batch = collator([[101, 7592, 102], [101, 7592, 2088, 2003, 102]])  # lists of ids, no dicts
    assert batch["input_ids"].tolist() == [
        [101, 7592, 102, 0, 0, 0, 0, 0],
        [101, 7592, 2088, 2003, 102, 0, 0, 0],
    ]
    assert batch["labels"].tolist() == [
        [101, 7592, 102] + [-100] * 5,
        [101, 7592, 2088, 2003, 102] + [-100] * 3,
    ]


def test_mlm_needs_a_mask_token_and_sane_probabilities():
    class NoMask:
        mask_token_id = None
        pad_token_id = 0

    with pytest.raises(InputError, match="mask token"):
        DataCollatorForLanguageModeling(NoMask())
    DataCollatorForLanguageModeling(NoMask(), mlm=False)
    with pytest.raises(InputError, match="mlm_probability"):
        DataCollatorForLanguageModeling(NoMask(), mlm=False, mlm_probability=1.5)
    with pytest.raises(InputError, match="sum to at most 1"):
        DataCollatorForLanguageModeling(NoMask(), mlm=False, mask_replace_prob=0.9, random_replace_prob=0.2)


def test_mlm_matches_transformers_masking_rates(tokenizer, hf_tokenizer):
    """Different RNGs, so compare the rates: both choose ~15% and split 80/10/10."""
    torch = pytest.importorskip("torch")
    import transformers

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = [{"input_ids": [101, *rng.integers(1000, 29000, 100).tolist(), 102]} for _ in range(64)]
    theirs = transformers.DataCollatorForLanguageModeling(hf_tokenizer)(rows)
    ours = DataCollatorForLanguageModeling(tokenizer, seed=0)(rows)
    rate = lambda batch: (batch["labels"] != -100).float().mean().item()  # noqa: E731
    assert abs(rate(ours) - rate(theirs)) < 0.02
    assert (
        ours["input_ids"].dtype == theirs["input_ids"].dtype
        and ours["labels"].dtype == theirs["labels"].dtype
    )
