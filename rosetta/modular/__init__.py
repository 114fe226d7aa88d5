"""The modular generator: `modular_<arch>.py` -> the standalone files of a model folder.

    generate(modular_path) -> {file name: source text}
    check(paths=None)      -> [Problem]   (empty when every generated file is up to date)
    write(paths=None)      -> [(path, status)]

The generator needs libcst (the `modular` extra); it is imported on first use only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check import Problem

__all__ = ["ModularError", "Problem", "check", "generate", "write"]


def generate(modular_path: str | Path) -> dict[str, str]:
    """The files `modular_path` generates, by name (`modeling_roberta.py`), as source text."""
    from .generator import generate as _generate

    return _generate(modular_path)


def check(paths: list[str | Path] | None = None) -> list[Problem]:
    """Problems of the modular sources under `paths` (default: every model of rosetta)."""
    from .check import check as _check

    return _check(paths)


def write(paths: list[str | Path] | None = None) -> list[tuple[Path, str]]:
    """Regenerate the files of the modular sources under `paths` (default: every model of rosetta)."""
    from .check import write as _write

    return _write(paths)


def __getattr__(name: str) -> Any:
    if name == "Problem":
        from .check import Problem

        return Problem
    if name == "ModularError":
        from .errors import ModularError

        return ModularError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
