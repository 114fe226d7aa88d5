"""Import bindings: what a top-level import binds, and an import block written as ruff's isort would.

A relative import is held as the path it resolves to, so it can be re-rooted in the folder of
the generated file (`from ...core.configuration import X` stays right wherever the parent was).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from .cst_tools import code
from .paths import relative_import, resolve_relative

LINE_LENGTH = 110
_SECTIONS = ("future", "stdlib", "thirdparty", "firstparty", "local")


@dataclass(frozen=True)
class Binding:
    """One name bound by an import: `import module [as name]` or `from module import member [as name]`."""

    name: str
    module: str | Path  # a dotted name, or the path (without suffix) a relative import resolves to
    member: str | None = None
    is_alias: bool = False

    @property
    def target(self) -> str:
        """What the name refers to, whatever it is called: `torch.nn` for `from torch import nn`."""
        module = self.module.as_posix() if isinstance(self.module, Path) else self.module
        if self.member is not None:
            return f"{module}.{self.member}"
        return module if self.is_alias else self.name


def _dotted(node: cst.BaseExpression) -> str:
    return code(node)


def bindings_of(statement: cst.BaseSmallStatement, file: Path) -> list[Binding]:
    """The bindings of an `import` or `from ... import` statement found in `file`."""
    if isinstance(statement, cst.Import):
        out = []
        for alias in statement.names:
            module = _dotted(alias.name)
            name = alias.asname.name.value if alias.asname else module.split(".")[0]
            out.append(Binding(name, module, None, alias.asname is not None))
        return out
    if isinstance(statement.names, cst.ImportStar):
        raise ValueError(f"`{code(statement)}` in {file}: star imports are not supported; import names.")
    level = len(statement.relative)
    module_name = _dotted(statement.module) if statement.module else None
    if level:
        module: str | Path = resolve_relative(file, level, module_name)
    else:
        module = module_name or ""
    out = []
    for alias in statement.names:
        member = _dotted(alias.name)
        name = alias.asname.name.value if alias.asname else member
        out.append(Binding(name, module, member, alias.asname is not None))
    return out


def is_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
    )


# -- ordering, as ruff's isort does it (default settings) -------------------------------------
def _natural(text: str) -> tuple:
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part
    )


def _member_key(name: str) -> tuple:
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, _natural(name.lower()), _natural(name))


def _module_key(module: str) -> tuple:
    return (_natural(module.lower()), _natural(module))


def _section(binding: Binding, first_party: frozenset[str]) -> str:
    if isinstance(binding.module, Path):
        return "local"
    top = binding.module.split(".")[0]
    if top == "__future__":
        return "future"
    if top in sys.stdlib_module_names:
        return "stdlib"
    return "firstparty" if top in first_party else "thirdparty"


def _straight_line(binding: Binding) -> str:
    module = str(binding.module)
    return f"import {module} as {binding.name}" if binding.is_alias else f"import {module}"


def _from_line(module: str, members: list[str]) -> str:
    line = f"from {module} import {', '.join(members)}"
    if len(line) <= LINE_LENGTH:
        return line
    inner = "".join(f"    {member},\n" for member in members)
    return f"from {module} import (\n{inner})"


def _section_lines(bindings: list[Binding], folder: Path) -> list[str]:
    straight = sorted(
        {_straight_line(b) for b in bindings if b.member is None}, key=lambda s: _module_key(s[7:])
    )
    grouped: dict[str, set[str]] = {}
    aliased: set[tuple[str, str]] = set()
    for b in bindings:
        if b.member is None:
            continue
        module = relative_import(b.module, folder) if isinstance(b.module, Path) else b.module
        if b.is_alias:
            aliased.add((module, f"{b.member} as {b.name}"))
        else:
            grouped.setdefault(module, set()).add(b.member)
    entries = [(m, sorted(names, key=_member_key)) for m, names in grouped.items()]
    entries += [(m, [alias]) for m, alias in aliased]

    def key(entry: tuple[str, list[str]]) -> tuple:
        module, members = entry
        dots = len(module) - len(module.lstrip("."))
        return (-dots, _module_key(module.lstrip(".")), _member_key(members[0]))

    return straight + [_from_line(m, members) for m, members in sorted(entries, key=key)]


def render_imports(bindings: list[Binding], folder: Path, first_party: frozenset[str]) -> str:
    """An import block for a file in `folder`, sections split by one blank line."""
    sections: dict[str, list[Binding]] = {}
    for binding in bindings:
        sections.setdefault(_section(binding, first_party), []).append(binding)
    blocks = ["\n".join(_section_lines(sections[s], folder)) for s in _SECTIONS if s in sections]
    return "\n\n".join(blocks)
