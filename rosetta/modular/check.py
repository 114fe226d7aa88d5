"""Comparing and writing generated files: what `rosetta modular [--check]` does."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.io import atomic_write_text
from . import paths as paths_module
from .errors import ModularError
from .generator import Session
from .paths import (
    KINDS,
    cli_path,
    display_path,
    find_modular_files,
    is_generated,
    model_file,
    modular_file,
    split_model_file,
)


@dataclass
class Problem:
    """One way the committed files of a model folder differ from what its modular source generates."""

    modular: Path
    file: str | None  # the generated file's name; None when the generator itself failed
    reason: str  # "differs", "missing", "stale", "orphaned" or "error"
    message: str
    diff: str = ""

    @property
    def fix(self) -> str | None:
        """The command that regenerates the folder, or None when regenerating cannot fix it."""
        if self.reason in ("error", "orphaned"):
            return None
        return f"python -m rosetta modular {cli_path(self.modular.parent)}"

    def __str__(self) -> str:
        return self.message + (f"\n{self.diff}" if self.diff else "")


def _sources(paths: Iterable[str | Path] | None) -> list[Path]:
    return find_modular_files([Path(p) for p in paths] if paths else [paths_module.default_models_folder()])


def _stale(modular: Path, outputs: dict[str, str]) -> list[Path]:
    """Generated files of this model folder that its modular source no longer generates."""
    files = (model_file(modular.parent, kind) for kind in KINDS)
    return [f for f in files if f.name not in outputs and is_generated(f)]


def _orphaned(paths: Iterable[str | Path] | None) -> list[Problem]:
    """Generated files under the searched folders whose modular source no longer exists."""
    roots = [Path(p).resolve() for p in paths] if paths else [paths_module.default_models_folder()]
    found = {
        f
        for root in roots
        if root.is_dir()
        for f in root.rglob("*.py")
        if split_model_file(f) and not modular_file(f.parent).is_file() and is_generated(f)
    }
    return [
        Problem(
            modular_file(f.parent),
            f.name,
            "orphaned",
            f"{display_path(f)} is generated from {modular_file(f.parent).name}, which does not exist: restore the "
            "source, or delete the file (or remove its banner to keep it as written by hand).",
        )
        for f in sorted(found)
    ]


def _generate(session: Session, modular: Path) -> dict[str, str]:
    try:
        return session.generate(modular)
    except ModularError:
        raise
    except Exception as err:  # a bug of the generator still names the source it failed on
        raise ModularError(
            f"{display_path(modular)}: the generator failed: {type(err).__name__}: {err}"
        ) from err


def _compare(modular: Path, name: str, text: str) -> Problem | None:
    path = modular.parent / name
    shown = display_path(path)
    if not path.is_file():
        return Problem(modular, name, "missing", f"{shown} is missing: {modular.name} generates it.")
    committed = path.read_text(encoding="utf-8")
    if committed == text:
        return None
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{shown} (committed)",
            tofile=f"{shown} (generated from {modular.name})",
        )
    )
    return Problem(modular, name, "differs", f"{shown} differs from what {modular.name} generates:", diff)


def check_sources(paths: Iterable[str | Path] | None = None) -> tuple[int, list[Problem]]:
    """(number of modular sources checked, problems found) for the sources under `paths`."""
    paths = list(paths) if paths is not None else None
    sources = _sources(paths)
    session = Session()
    problems: list[Problem] = []
    for modular in sources:
        try:
            outputs = _generate(session, modular)
        except ModularError as err:
            problems.append(Problem(modular, None, "error", f"error: {err}"))
            continue
        problems += [p for name, text in outputs.items() if (p := _compare(modular, name, text))]
        problems += [
            Problem(
                modular,
                f.name,
                "stale",
                f"{display_path(f)} is generated but {modular.name} no longer generates it.",
            )
            for f in _stale(modular, outputs)
        ]
    return len(sources), problems + _orphaned(paths)


def check(paths: Iterable[str | Path] | None = None) -> list[Problem]:
    """Every difference between the committed generated files and what their modular sources generate."""
    return check_sources(paths)[1]


def write(paths: Iterable[str | Path] | None = None) -> list[tuple[Path, str]]:
    """Regenerate the files of every modular source under `paths`: [(file, "written" | "unchanged" | "removed")]."""
    session = Session()
    report: list[tuple[Path, str]] = []
    for modular in _sources(paths):
        outputs = _generate(session, modular)
        for name, text in outputs.items():
            path = modular.parent / name
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                report.append((path, "unchanged"))
            else:
                atomic_write_text(path, text)
                report.append((path, "written"))
        for path in _stale(modular, outputs):
            path.unlink()
            report.append((path, "removed"))
    return report
