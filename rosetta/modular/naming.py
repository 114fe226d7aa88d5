"""Renaming one model into another: `Bert` -> `Roberta`, `bert` -> `roberta`, `BERT` -> `ROBERTA`.

Each spelling is replaced where it starts a word or a CamelCase part (after `TF` or `Flax`
too), so `TFBertLayer` -> `TFRobertaLayer` and `modeling_bert` -> `modeling_roberta`, but
`albert`, `DistilBert` or `ROBERTA` are left alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
_FRAMEWORK_PREFIXES = ("Flax", "TF")


@dataclass(frozen=True)
class ModelNames:
    """The three spellings of one model's name."""

    camel: str
    lower: str
    upper: str
    display: str = ""  # how prose writes it ("RoBERTa"); the upper spelling when not declared

    @classmethod
    def from_folder(cls, folder: str, camel: str | None = None, display: str | None = None) -> ModelNames:
        camel = camel or "".join(part.capitalize() for part in folder.split("_"))
        return cls(camel=camel, lower=folder, upper=folder.upper(), display=display or folder.upper())


class Renamer:
    """Rewrites names, strings and comments of model `old` into model `new`."""

    def __init__(self, old: ModelNames, new: ModelNames):
        self.old = old
        self.new = new
        self._rules = [
            (re.compile(rf"(?:(?<![a-z])|(?<=Flax)){re.escape(old.camel)}"), new.camel),
            # not before a digit: "llama3" names a rope type, not the model
            (re.compile(rf"(?<![a-z]){re.escape(old.lower)}(?![0-9])"), new.lower),
            (re.compile(rf"(?<![A-Z]){re.escape(old.upper)}(?![0-9])"), new.upper),
        ]

    def name(self, word: str) -> str:
        if word == self.old.upper:  # the name alone, as prose writes it ("BERT" -> "RoBERTa")
            return self.new.display
        for pattern, replacement in self._rules:
            word = pattern.sub(replacement, word)
        return word

    def text(self, text: str, protected: Iterable[str] = ()) -> str:
        """`text` with every word renamed, except the words in `protected`."""
        keep = frozenset(protected)
        return _WORD.sub(lambda m: m.group(0) if m.group(0) in keep else self.name(m.group(0)), text)


def strip_framework(name: str) -> str:
    for prefix in _FRAMEWORK_PREFIXES:
        if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1].isupper():
            return name[len(prefix) :]
    return name


def _squash(name: str) -> str:
    return name.replace("_", "").lower()


def camel_prefixes(child: str, parent: str) -> tuple[str, str] | None:
    """(`Roberta`, `Bert`) from (`TFRobertaModel`, `TFBertModel`): the parts before a shared suffix."""
    child, parent = strip_framework(child), strip_framework(parent)
    for start in range(1, len(parent) + 1):
        suffix = parent[start:]
        if (not suffix or suffix[0].isupper()) and child.endswith(suffix) and len(child) > len(suffix):
            return child[: len(child) - len(suffix)], parent[:start]
    return None


def infer_camel(
    pairs: Iterable[tuple[str, str]], new_folder: str, old_folder: str
) -> tuple[str | None, str | None]:
    """The CamelCase spellings of the new and the old model, voted by the (child, parent) class pairs.

    Only pairs whose prefixes spell the folder names (underscores and case aside) vote, so
    `RobertaCustomEmbeddings(BertEmbeddings)` does not make `RobertaCustom` the new name.
    """
    votes: Counter[tuple[str, str]] = Counter()
    for child, parent in pairs:
        prefixes = camel_prefixes(child, parent)
        if (
            prefixes
            and _squash(prefixes[0]) == _squash(new_folder)
            and _squash(prefixes[1]) == _squash(old_folder)
        ):
            votes[prefixes] += 1
    if not votes:
        return None, None
    (new, old), _ = max(votes.items(), key=lambda item: item[1])
    return new, old
