"""The fault-injection suite: every case of every `tests/faults/cases_*.py` module, in every entry point
it names.

A module's `CASES` holds rows of either shape:

* `FaultCase` objects (tests/faults/base.py): the row checks itself, `case.check(target, tmp_path)`,
  for each of `case.targets`;
* dicts `{"id", "fault", "expect", "match", ...}`, run by the first rule that fits:
  the module's `run_row(case, target, tmp_path, monkeypatch)`; the module's `check(case, tmp_path)`;
  `run(folder, framework)` over the module's `prepare_checkpoint(folder)` for each of `frameworks`;
  `run(tmp_path, monkeypatch)` (then `check(tmp_path)` when `expect` is None); or
  `prepare(folder, monkeypatch) -> src`, after which this file runs each of `entry_points` on `src`:
  "config" (AutoConfig.from_pretrained),
  "torch" / "tf" / "flax" (AutoModel / TFAutoModel / FlaxAutoModel .from_pretrained), "convert" and
  "verify" (the CLI's `main`, in this process, so the row's monkeypatching holds). `expect` is the error
  class (or its name), `match` a fragment of its message, `max_seconds` an optional time limit.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import pkgutil
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .base import FaultCase

FRAMEWORK_MODULES = {"torch": "torch", "tf": "tensorflow", "flax": "flax"}
AUTO_CLASSES = {"torch": "AutoModel", "tf": "TFAutoModel", "flax": "FlaxAutoModel"}


def case_modules() -> list[ModuleType]:
    names = [
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("cases_")
    ]
    return [importlib.import_module(f"{__package__}.{name}") for name in sorted(names)]


def collect() -> list[tuple[ModuleType, Any, str]]:
    rows = []
    for module in case_modules():
        for case in module.CASES:
            rows.extend((module, case, target) for target in _targets(case))
    ids = [f"{_id(case)}-{target}" for _, case, target in rows]
    assert len(ids) == len(set(ids)), f"fault case ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}"
    return rows


def _targets(case: Any) -> tuple[str, ...]:
    if isinstance(case, FaultCase):
        return case.targets
    return tuple(case.get("entry_points") or case.get("frameworks") or ("run",))


def _id(case: Any) -> str:
    return case.id if isinstance(case, FaultCase) else case["id"]


ROWS = [pytest.param(module, case, target, id=f"{_id(case)}-{target}") for module, case, target in collect()]


@pytest.mark.parametrize("module, case, target", ROWS)
def test_fault(
    module: ModuleType, case: Any, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(case, FaultCase):
        case.check(target, tmp_path)
    elif hasattr(module, "run_row"):
        module.run_row(case, target, tmp_path, monkeypatch)
    elif callable(getattr(module, "check", None)):
        module.check(case, tmp_path)
    elif "prepare" in case:
        check_row(case, target, tmp_path, monkeypatch)
    elif "frameworks" in case:
        pytest.importorskip(FRAMEWORK_MODULES[target])
        folder = module.prepare_checkpoint(tmp_path / "model")
        _expect(case, lambda: case["run"](folder, target))
    else:
        _expect(case, lambda: case["run"](tmp_path, monkeypatch))
        if case["expect"] is None:
            case["check"](tmp_path)


def _expect(case: dict[str, Any], call: Any) -> None:
    """Run `call`; it must raise case["expect"] with case["match"] in its message (or succeed when None)."""
    if case["expect"] is None:
        call()
        return
    with pytest.raises(Exception) as err:  # noqa: PT011 - the class is checked just below
        call()
    assert _is_expected(err.value, case["expect"]), f"{type(err.value).__name__}: {err.value}"
    assert case.get("match", "") in str(err.value), str(err.value)


# --------------------------------------------------------------------------------------
# The generic runner of dict rows


def check_row(case: dict[str, Any], target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if target in FRAMEWORK_MODULES:
        pytest.importorskip(FRAMEWORK_MODULES[target])
    folder = tmp_path / "model"
    folder.mkdir()
    src = case["prepare"](folder, monkeypatch)
    start = time.monotonic()
    if target in ("convert", "verify"):
        code, output = _cli(target, src, tmp_path / "out")
        assert code != 0 and "PASS" not in output, (code, output)
        assert case["match"] in output, output
    else:
        _expect(case, lambda: _load(target, src))
    elapsed = time.monotonic() - start
    assert elapsed <= case.get("max_seconds", float("inf")), f"{target} took {elapsed:.1f} s"


def _load(target: str, src: str) -> Any:
    import rosetta

    if target == "config":
        return rosetta.AutoConfig.from_pretrained(src)
    return getattr(rosetta, AUTO_CLASSES[target]).from_pretrained(src)


def _is_expected(error: BaseException, expect: type | str) -> bool:
    if isinstance(expect, str):
        return expect in {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, expect)


def _cli(command: str, src: str, out: Path) -> tuple[int, str]:
    from rosetta.cli import main

    argv = [command, src, str(out), "--quiet"] if command == "convert" else [command, src]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, stdout.getvalue() + stderr.getvalue()
