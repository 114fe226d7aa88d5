"""Google-style class docstrings: the `Args:` section of a flattened class, merged entry by entry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters):\s*$")
_ENTRY = re.compile(r"^\s*\**(\w+)\s*(\([^)]*\))?\s*:")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


@dataclass
class Docstring:
    """A triple-quoted docstring split around its `Args:` section."""

    prefix: str  # quote and string prefix, e.g. '"""' or 'r"""'
    head: list[str]
    header: str | None = None  # the `Args:` line, None when there is no such section
    entries: list[tuple[str, list[str]]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)  # lines after the section, closing indentation included

    @property
    def entry_indent(self) -> str | None:
        for _, lines in self.entries:
            return lines[0][: _indent(lines[0])]
        return None


def parse(node: cst.SimpleString) -> Docstring | None:
    quote = node.quote
    if len(quote) != 3:
        return None
    inner = node.value[len(node.prefix) + 3 : -3]
    lines = inner.split("\n")
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        return Docstring(node.prefix + quote, lines)
    header_indent = _indent(lines[start])
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > header_indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    entries: list[tuple[str, list[str]]] = []
    body = lines[start + 1 : end]
    entry_indent = min((_indent(line) for line in body if line.strip()), default=0)
    for line in body:
        match = _ENTRY.match(line)
        if match and _indent(line) == entry_indent:
            entries.append((match.group(1), [line]))
        elif entries:
            entries[-1][1].append(line)
    return Docstring(node.prefix + quote, lines[:start], lines[start], entries, lines[end:])


def render(doc: Docstring) -> cst.SimpleString:
    lines = list(doc.head)
    if doc.header is not None and doc.entries:
        lines.append(doc.header)
        lines.extend(line for _, entry in doc.entries for line in entry)
    lines.extend(doc.tail)
    return cst.SimpleString(doc.prefix + "\n".join(lines) + doc.prefix[-3:])


def _reindent(lines: list[str], indent: str) -> list[str]:
    shift = _indent(lines[0])
    return [indent + line[shift:] if line.strip() else line for line in lines]


def _with_section(doc: Docstring, header: str, indent: str) -> Docstring:
    """`doc` given an empty Args section (its closing indentation kept as the tail)."""
    if doc.header is not None:
        return doc
    head, tail = list(doc.head), []
    if len(head) > 1 and not head[-1].strip():
        tail = [head.pop()]
    elif len(head) == 1:
        tail = [indent[: len(indent) - 4] if len(indent) >= 4 else ""]
    return Docstring(doc.prefix, [*head, ""], header, [], tail)


def merge_args(
    parent: Docstring | None,
    child: Docstring | None,
    params: list[str],
    parent_params: list[str],
    owner: str,
) -> Docstring | None:
    """The docstring of a flattened class: the child's text, the Args entries of both.

    Entries follow `params` (the final `__init__` signature): the child's entry wins over the
    parent's; parameters of the parent no longer in the signature lose theirs; a parameter the
    parent does not have must be documented in the child's docstring. Entries that are not
    parameters (`**kwargs: ...`) are kept after them.
    """
    base = child if child is not None else parent
    if base is None or all(d is None or d.header is None for d in (parent, child)):
        return base
    parent_entries = dict(parent.entries) if parent else {}
    child_entries = dict(child.entries) if child else {}
    missing = [p for p in params if p not in parent_params and p not in child_entries]
    if missing:
        names = ", ".join(f"`{p}`" for p in missing)
        raise ValueError(
            f"`{owner}` adds the argument(s) {names} to `__init__`; document them in the Args section of "
            f"its docstring (one `name: description` line each)."
        )
    header = next(d.header for d in (parent, child) if d is not None and d.header is not None)
    indent = next((d.entry_indent for d in (parent, child) if d is not None and d.entry_indent), "        ")
    merged = _with_section(base, header, indent)
    removed = set(parent_params) - set(params)
    entries = [
        (p, child_entries.get(p) or parent_entries[p])
        for p in params
        if p in child_entries or p in parent_entries
    ]
    entries += (
        [(n, lines) for n, lines in parent.entries if n not in params and n not in removed] if parent else []
    )
    entries += [(n, lines) for n, lines in child.entries if n not in params] if child else []
    unique = dict(entries)  # a name listed twice keeps its first place and its last (the child's) text
    merged.entries = [(n, _reindent(unique[n], indent)) for n in dict.fromkeys(n for n, _ in entries)]
    return merged
