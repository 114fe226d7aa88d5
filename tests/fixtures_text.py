"""The text set every tokenizer is checked on against transformers."""

from __future__ import annotations

LONG_TEXT = (
    "The quick brown fox jumps over the lazy dog while the rain in Spain stays mainly in the plain. "
    "Tokenizers split text into pieces; models only ever see the ids of those pieces, so every "
    "library has to agree on them exactly, down to the last accent, emoji and space. "
) * 12

TEXTS = [
    "A man is eating food.",
    "Héllo wörld, ça va? Ångström naïve café résumé Crème brûlée",
    "日本語のテキストと中文字符混合 English words 한국어",
    "Emoji test 😀🎉👍🏽 and ❤️ family 👨\u200d👩\u200d👧 done",
    "   leading and trailing   spaces\t\ttabs\nnewlines\n\n",
    "",
    "UPPER lower MiXeD 12345 3.14159 $100.00 #hashtag @user",
    "Don't won't I'm you're they've it's y'all",
    "Punctuation!!! ??? ... --- (parens) [brackets] {braces} <angle>",
    "http://example.com/path?query=1&b=2 email@example.com",
    "Ünïcödé ﬁ ligature ① ２ full-width ＡＢＣ \u200bzero\u200dwidth\u00a0nbsp",
    "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    LONG_TEXT,
]

PAIRS = [
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("Héllo?", "日本語 😀"),
    ("A short question", LONG_TEXT),
    (LONG_TEXT, "A short answer."),
]

WORDS = [
    ["Hello", "wörld", "!"],
    ["split", "into", "words", "already", "😀"],
    ["日本語", "テキスト"],
]

# Call options checked for parity; each runs on the whole batch (and on pairs).
CALLS = [
    {},
    {"return_offsets_mapping": True, "return_special_tokens_mask": True, "return_length": True},
    {"add_special_tokens": False},
    {"padding": True},
    {"padding": True, "padding_side": "left"},
    {"padding": "max_length", "max_length": 64, "truncation": True},
    {"truncation": True, "max_length": 32, "stride": 8, "return_overflowing_tokens": True, "padding": True},
    {"padding": True, "pad_to_multiple_of": 8},
    {"max_length": 16},
]
# (call options, which PAIRS they apply to): "only_*" truncation needs the other text to fit.
PAIR_CALLS = [
    ({}, [0, 1, 2, 3]),
    (
        {
            "truncation": "only_second",
            "max_length": 40,
            "stride": 4,
            "return_overflowing_tokens": True,
            "return_offsets_mapping": True,
        },
        [0, 1, 2],
    ),
    ({"truncation": "longest_first", "max_length": 24, "padding": "max_length"}, [0, 1, 2, 3]),
    ({"truncation": "only_first", "max_length": 60, "padding": True}, [0, 1, 3]),
]


def as_lists(value: object) -> object:
    return (
        value.tolist()
        if hasattr(value, "tolist")
        else [as_lists(v) for v in value]
        if isinstance(value, (list, tuple))
        else value
    )


def assert_same_encoding(ours, theirs, context: object = "") -> None:
    assert set(ours) == set(theirs), (context, sorted(ours), sorted(theirs))
    for key in theirs:
        assert as_lists(ours[key]) == as_lists(theirs[key]), (context, key)
    if getattr(theirs, "encodings", None):
        for index in range(len(theirs.encodings)):
            assert ours.word_ids(index) == theirs.word_ids(index), (context, index)
            assert ours.tokens(index) == theirs.tokens(index), (context, index)


def assert_parity(
    ours, theirs, texts=TEXTS, pairs=PAIRS, words=WORDS, calls=CALLS, pair_calls=PAIR_CALLS
) -> None:
    """Same outputs as transformers for each text, the batch, the pairs and pre-split words, and the same decoding."""
    for text in texts:
        assert_same_encoding(ours(text), theirs(text), text)
        assert ours.tokenize(text) == theirs.tokenize(text), text
        ids = theirs(text)["input_ids"]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(
                ids, skip_special_tokens=skip
            ), (text, skip)
    for kwargs in calls:
        assert_same_encoding(ours(texts, **kwargs), theirs(texts, **kwargs), kwargs)
    for kwargs, indices in pair_calls:
        firsts, seconds = [pairs[i][0] for i in indices], [pairs[i][1] for i in indices]
        assert_same_encoding(
            ours(firsts, seconds, **kwargs), theirs(firsts, seconds, **kwargs), ("pairs", kwargs)
        )
    if words is not None:
        assert_same_encoding(
            ours(words, is_split_into_words=True), theirs(words, is_split_into_words=True), "words"
        )
    batch = theirs(texts)["input_ids"]
    assert ours.batch_decode(batch) == theirs.batch_decode(batch)
    assert ours.batch_decode(batch, skip_special_tokens=True) == theirs.batch_decode(
        batch, skip_special_tokens=True
    )
