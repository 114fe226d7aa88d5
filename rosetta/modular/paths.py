"""Where things are: model folders, their file kinds, modular sources, relative imports as paths."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# The kinds of file a model folder holds, `<kind>_<arch>.py`, in the order they are generated.
KINDS = (
    "configuration",
    "tokenization",
    "image_processing",
    "feature_extraction",
    "processing",
    "modeling",
    "modeling_tf",
    "modeling_flax",
)
BANNER_MARK = "# This file was generated from "


def split_model_file(path: Path) -> tuple[str, str] | None:
    """`(kind, arch)` when `path` is `<arch>/<kind>_<arch>.py`, else None."""
    arch = path.parent.name
    if path.suffix != ".py" or not path.stem.endswith(f"_{arch}"):
        return None
    kind = path.stem[: -len(arch) - 1]
    return (kind, arch) if kind in KINDS else None


def model_file(folder: Path, kind: str) -> Path:
    return folder / f"{kind}_{folder.name}.py"


def modular_file(folder: Path) -> Path:
    return folder / f"modular_{folder.name}.py"


def is_modular_file(path: Path) -> bool:
    return path.name == f"modular_{path.parent.name}.py"


def package_root(folder: Path) -> Path:
    """The top-most folder above `folder` (itself included) that is a Python package."""
    if not (folder / "__init__.py").is_file() and (folder.parent / "__init__.py").is_file():
        folder = folder.parent  # a model folder not made a package yet
    root = folder
    current = folder
    while (current / "__init__.py").is_file():
        root = current
        if current.parent == current:
            break
        current = current.parent
    return root


def display_path(path: Path) -> str:
    """`path` relative to the folder holding its top-level package: the same on every machine."""
    base = package_root(path.parent).parent
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def cli_path(path: Path) -> str:
    """`path` as a user would type it from the current directory."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def resolve_relative(file: Path, level: int, module: str | None) -> Path:
    """The path (no suffix) that `from <level dots><module> import ...` in `file` refers to."""
    base = file.parent
    for _ in range(level - 1):
        base = base.parent
    return base.joinpath(*module.split(".")) if module else base


def resolve_absolute(file: Path, module: str) -> Path | None:
    """The path of an absolute import of `file`'s own top-level package, else None."""
    root = package_root(file.parent)
    parts = module.split(".")
    if parts[0] != root.name or not (root / "__init__.py").is_file():
        return None
    return root.parent.joinpath(*parts)


def relative_import(target: Path, folder: Path) -> str:
    """The dotted relative module (`...core.configuration`) by which a file in `folder` imports `target`."""
    common = Path(os.path.commonpath([target, folder]))
    level = len(folder.relative_to(common).parts) + 1
    return "." * level + ".".join(target.relative_to(common).parts)


def dotted_name(target: Path) -> str:
    """A path inside a package as a dotted module name (`rosetta.core.configuration`)."""
    base = package_root(target.parent if target.parent.exists() else target).parent
    try:
        return ".".join(target.relative_to(base).parts)
    except ValueError:
        return target.name


def find_modular_files(paths: Iterable[Path]) -> list[Path]:
    """Every modular source named by `paths` (files, model folders or trees to search), sorted."""
    found: set[Path] = set()
    for path in paths:
        path = Path(path).resolve()
        if path.is_file():
            if not is_modular_file(path):
                raise FileNotFoundError(
                    f"{path} is not a modular source (expected <arch>/modular_<arch>.py)."
                )
            found.add(path)
        elif path.is_dir():
            found.update(p for p in path.rglob("modular_*.py") if is_modular_file(p))
        else:
            raise FileNotFoundError(f"{path} does not exist.")
    return sorted(found)


def default_models_folder() -> Path:
    from .. import models

    return Path(models.__file__).resolve().parent


def is_generated(path: Path) -> bool:
    """Whether `path` is a file this generator wrote (it opens with the banner)."""
    try:
        with path.open(encoding="utf-8") as f:
            return f.readline().startswith(BANNER_MARK)
    except OSError:
        return False
