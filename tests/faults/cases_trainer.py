"""Fault-injection rows: Trainer checkpoints under crashes, stale folders and foreign checkpoints.

Each row: `id`, `fault`, `run(tmp_path, monkeypatch)` (trains a tiny BERT classifier on CPU into
`tmp_path / "out"` with the fault injected), and either an error class `expect` with a substring
`match` of its message, or `expect=None` and `check(tmp_path)`: an assertion on what is left on disk.
torch only (the Trainer is PyTorch's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rosetta.core.errors import CheckpointError, ConfigError, MissingFileError, WeightsMismatchError


def _data(n: int = 8) -> list[dict[str, Any]]:
    return [{"input_ids": [5 + (i + j) % 90 for j in range(6)], "labels": i % 2} for i in range(n)]


def _train(out: Path, resume: Any = None, model: Any = None, **overrides: Any) -> Any:
    from rosetta import Trainer, TrainingArguments
    from tests.parity import tiny_model

    settings = dict(output_dir=str(out), per_device_train_batch_size=4, max_steps=4, save_strategy="steps",
                    save_steps=2, disable_tqdm=True, report_to="none", use_cpu=True)  # fmt: skip
    args = TrainingArguments(**{**settings, **overrides})
    model = model if model is not None else tiny_model("torch", "sequence-classification")
    trainer = Trainer(model, args, train_dataset=_data())
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def _crash_while_saving(tmp_path: Path, monkeypatch: Any) -> None:
    import torch

    real = torch.save

    def failing(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).endswith("scheduler.pt"):
            raise OSError("No space left on device")
        real(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", failing)
    _train(tmp_path / "out")


def _no_checkpoint_left(tmp_path: Path) -> None:
    from rosetta.backends.torch.trainer_utils import get_last_checkpoint

    assert get_last_checkpoint(tmp_path / "out") is None, "a half-written checkpoint looks complete"


def _older_run_left_behind(tmp_path: Path, monkeypatch: Any) -> None:
    old = tmp_path / "out" / "checkpoint-100"
    old.mkdir(parents=True)
    (old / "trainer_state.json").write_text("{}")
    _train(tmp_path / "out", max_steps=6, save_total_limit=1)


def _rotation_kept_own_newest(tmp_path: Path) -> None:
    assert sorted(os.listdir(tmp_path / "out")) == ["checkpoint-100", "checkpoint-6"]


def _foreign_checkpoint(tmp_path: Path, monkeypatch: Any) -> None:
    from tests.parity import tiny_model

    _train(tmp_path / "out", max_steps=2)
    token_model = tiny_model("torch", "token-classification")
    _train(tmp_path / "other", resume=tmp_path / "out" / "checkpoint-2", model=token_model)


def _other_config(tmp_path: Path, monkeypatch: Any) -> None:
    from tests.parity import tiny_model

    _train(tmp_path / "out", max_steps=2, model=tiny_model("torch", "sequence-classification", num_labels=3))
    _train(tmp_path / "out", resume=True)


def _not_a_checkpoint(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "plain").mkdir()
    _train(tmp_path / "out", resume=tmp_path / "plain")


def _plain_module(tmp_path: Path, monkeypatch: Any) -> None:
    import torch

    class Plain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(6, 2)

        def forward(self, input_ids: Any, labels: Any = None) -> dict[str, Any]:
            return {"loss": torch.nn.functional.cross_entropy(self.linear(input_ids.float()), labels)}

    _train(tmp_path / "out", model=Plain())


Row = dict[str, Any]


def _row(id: str, fault: str, run: Callable[[Path, Any], Any], expect: type | None, match: str = "",
         check: Callable[[Path], None] | None = None) -> Row:  # fmt: skip
    return {"id": id, "fault": fault, "run": run, "expect": expect, "match": match, "check": check}


CASES: list[Row] = [
    _row(
        "trainer-disk-full-mid-checkpoint",
        "OSError while writing scheduler.pt",
        _crash_while_saving,
        OSError,
        "No space left",
        check=_no_checkpoint_left,
    ),  # fmt: skip
    _row(
        "trainer-older-run-higher-checkpoint",
        "output_dir holds checkpoint-100 of an earlier run, limit 1",
        _older_run_left_behind,
        None,
        check=_rotation_kept_own_newest,
    ),  # fmt: skip
    _row(
        "trainer-resume-other-class",
        "resume a token classifier from a sequence classifier's checkpoint",
        _foreign_checkpoint,
        CheckpointError,
        "do not fit",
    ),  # fmt: skip
    _row(
        "trainer-resume-other-config",
        "resume with num_labels 2 from a num_labels 3 checkpoint",
        _other_config,
        WeightsMismatchError,
        "classifier.weight",
    ),  # fmt: skip
    _row(
        "trainer-resume-not-a-checkpoint",
        "resume_from_checkpoint names a folder without trainer_state.json",
        _not_a_checkpoint,
        MissingFileError,
        "trainer_state.json",
    ),  # fmt: skip
    _row(
        "trainer-save-plain-module",
        "checkpointing an nn.Module without save_pretrained",
        _plain_module,
        ConfigError,
        "save_pretrained",
    ),  # fmt: skip
]
