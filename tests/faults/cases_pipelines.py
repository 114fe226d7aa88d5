"""Fault-injection rows: pipeline arguments a user can get wrong.

Each row: `id`, `fault`, `run(folder, framework)` (builds a pipeline over the tiny text-classification
checkpoint in `folder` with the bad argument), the error class `expect` and a substring `match` of
its message, checked in every framework of `frameworks` that is installed.
`prepare_checkpoint(folder)` writes that checkpoint (a tiny BERT with a 99-word vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rosetta.core.errors import InputError

FRAMEWORKS = ("torch", "tf", "flax")


def prepare_checkpoint(folder: Path) -> Path:
    """A tiny torch BERT classifier with a BertTokenizer, saved to `folder` (needs torch)."""
    from rosetta import BertTokenizer
    from tests.parity import tiny_model

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(94)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tiny_model("torch", "sequence-classification").save_pretrained(folder)
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def _pipeline(**kwargs: Any) -> Callable[[Path, str], Any]:
    def run(folder: Path, framework: str) -> Any:
        from rosetta import pipeline

        return pipeline("text-classification", model=str(folder), framework=framework, **kwargs)

    return run


def _row(
    id: str, fault: str, run: Callable[[Path, str], Any], match: str, frameworks=FRAMEWORKS
) -> dict[str, Any]:
    return {
        "id": id,
        "fault": fault,
        "run": run,
        "expect": InputError,
        "match": match,
        "frameworks": frameworks,
    }


CASES: list[dict[str, Any]] = [
    _row("pipeline-device-banana", 'device="banana"', _pipeline(device="banana"), "banana"),
    _row("pipeline-device-object", "device=object()", _pipeline(device=object()), "device"),
    _row("pipeline-device-negative", "device=-5", _pipeline(device=-5), "device"),
    _row(
        "pipeline-gpu-for-tf-flax",
        'device="cuda:0" in TF/Flax',
        _pipeline(device="cuda:0"),
        "framework='pt'",
        ("tf", "flax"),
    ),  # fmt: skip
    _row(
        "pipeline-framework-unknown",
        'framework="mxnet"',
        lambda folder, _: _pipeline()(folder, "mxnet"),
        "framework must be one of",
    ),  # fmt: skip
    _row(
        "pipeline-task-unknown",
        'task="translation"',
        lambda folder, fw: __import__("rosetta").pipeline("translation", model=str(folder), framework=fw),
        "Unknown task",
    ),  # fmt: skip
]
