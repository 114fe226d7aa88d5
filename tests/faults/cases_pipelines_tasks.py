"""Fault-injection rows: bad inputs and arguments to the task pipelines (rosetta.pipelines).

Same format as cases_pipelines.py: `run(folder, framework)` over the tiny text-classification checkpoint
that `prepare_checkpoint(folder)` writes; the error class `expect` and a substring `match` of its message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rosetta.core.errors import InputError
from tests.faults.cases_pipelines import FRAMEWORKS, prepare_checkpoint

__all__ = ["CASES", "prepare_checkpoint"]


def _call(task: str, inputs: Any, **kwargs: Any) -> Callable[[Path, str], Any]:
    def run(folder: Path, framework: str) -> Any:
        from rosetta import pipeline

        return pipeline(task, model=str(folder), framework=framework)(inputs, **kwargs)

    return run


def _no_model(folder: Path, framework: str) -> Any:
    from rosetta import pipeline

    return pipeline("text-generation", framework=framework)


def _object_without_tokenizer(folder: Path, framework: str) -> Any:
    import rosetta
    from rosetta.core.frameworks import FRAMEWORKS as TABLE

    auto = getattr(rosetta, TABLE[framework].class_prefix + "AutoModelForSequenceClassification")
    return rosetta.pipeline("text-classification", model=auto.from_pretrained(folder))


def _row(id: str, fault: str, run: Callable[[Path, str], Any], match: str) -> dict[str, Any]:
    return {
        "id": id,
        "fault": fault,
        "run": run,
        "expect": InputError,
        "match": match,
        "frameworks": FRAMEWORKS,
    }


CASES: list[dict[str, Any]] = [
    _row("pipeline-text-empty", 'classify("")', _call("text-classification", ""), "non-empty string"),
    _row("pipeline-text-not-a-string", "classify(42)", _call("text-classification", 42), "non-empty string"),
    _row(
        "pipeline-function-to-apply-unknown",
        'function_to_apply="banana"',
        _call("text-classification", "fine", function_to_apply="banana"),
        "function_to_apply must be",
    ),
    _row(
        "pipeline-zero-shot-no-labels",
        "candidate_labels=[]",
        _call("zero-shot-classification", "fine", candidate_labels=[]),
        "candidate_labels",
    ),
    _row(
        "pipeline-zero-shot-template-without-slot",
        'hypothesis_template="no slot"',
        _call("zero-shot-classification", "fine", candidate_labels=["a"], hypothesis_template="no slot"),
        "has no {}",
    ),
    _row("pipeline-no-model", 'pipeline("text-generation")', _no_model, "needs a model"),
    _row(
        "pipeline-object-without-tokenizer",
        "model object, no tokenizer",
        _object_without_tokenizer,
        "tokenizer=",
    ),
]
