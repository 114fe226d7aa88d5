"""The demo's data: a small sentiment set built from templates, or the user's own CSV/JSON/`datasets` name."""

from __future__ import annotations

import csv
import json
import os
import random

from ..core.errors import InputError

_SUBJECTS = [
    "the film",
    "this movie",
    "the acting",
    "the plot",
    "the soundtrack",
    "the ending",
    "the dialogue",
    "the cinematography",
    "the cast",
    "the script",
    "the director's work",
    "the story",
]
_POSITIVE = [
    "wonderful",
    "brilliant",
    "moving",
    "delightful",
    "superb",
    "a joy to watch",
    "beautifully made",
    "genuinely funny",
    "gripping from start to finish",
    "an absolute triumph",
    "charming",
    "excellent",
]
_NEGATIVE = [
    "dull",
    "a complete mess",
    "painfully slow",
    "boring",
    "badly written",
    "a waste of time",
    "forgettable",
    "clumsy and confusing",
    "awful",
    "tedious",
    "lifeless",
    "a huge disappointment",
]
_FRAMES = [
    "{s} was {a}.",
    "Honestly, {s} is {a}.",
    "I thought {s} was {a}.",
    "In the end {s} felt {a}.",
    "Everyone agreed that {s} was {a}.",
]


def sentiment_examples(seed: int = 0) -> list[dict]:
    """Every (frame, subject, adjective) sentence once, labelled 1 for positive, shuffled."""
    rows = [
        {"text": frame.format(s=subject, a=adjective).capitalize(), "label": label}
        for label, adjectives in ((1, _POSITIVE), (0, _NEGATIVE))
        for adjective in adjectives
        for subject in _SUBJECTS
        for frame in _FRAMES
    ]
    random.Random(seed).shuffle(rows)
    return rows


def load_dataset(
    spec: str | None, seed: int = 0, max_examples: int = 600
) -> tuple[list[dict], list[dict], list[str]]:
    """(train rows, held-out rows, label names) from the built-in set, a CSV/JSON(L) file, or a `datasets` name.

    Files need a text column (`text` or `sentence`) and an integer or string `label` column.
    """
    if spec is None:
        rows, names = sentiment_examples(seed)[:max_examples], ["negative", "positive"]
    elif os.path.exists(spec):
        rows, names = _read_file(spec)
    else:
        rows, names = _read_hub_dataset(spec)
    random.Random(seed).shuffle(rows)
    split = max(1, int(len(rows) * 0.8))
    return rows[:split], rows[split:], names


def _normalise(records: list[dict], source: str) -> tuple[list[dict], list[str]]:
    if not records:
        raise InputError(f"{source} holds no examples.")
    text_key = next((k for k in ("text", "sentence", "content", "review") if k in records[0]), None)
    if text_key is None or "label" not in records[0]:
        raise InputError(
            f"{source} needs a text column (text/sentence) and a label column; it has {sorted(records[0])}."
        )
    labels = [r["label"] for r in records]
    if all(isinstance(v, int) or str(v).isdigit() for v in labels):
        ids = [int(v) for v in labels]
        names = [str(i) for i in range(max(ids) + 1)]
    else:
        names = sorted({str(v) for v in labels})
        ids = [names.index(str(v)) for v in labels]
    return [{"text": str(r[text_key]), "label": i} for r, i in zip(records, ids)], names


def _read_file(path: str) -> tuple[list[dict], list[str]]:
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return _normalise(list(csv.DictReader(f)), path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = json.loads(text)
        records = data if isinstance(data, list) else data.get("data", [])
    except json.JSONDecodeError:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return _normalise(records, path)


def _read_hub_dataset(name: str) -> tuple[list[dict], list[str]]:
    try:
        import datasets
    except ImportError as err:
        raise InputError(
            f"{name!r} is not a file; to use a `datasets` name, `pip install datasets`."
        ) from err
    split = datasets.load_dataset(name, split="train")
    return _normalise([dict(r) for r in split.select(range(min(len(split), 2000)))], name)
