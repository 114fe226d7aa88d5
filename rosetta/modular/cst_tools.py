"""Small libcst helpers: which names a node uses or binds, renaming and substituting names."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

_EMPTY = cst.Module(body=[])


def code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


class _NameCollector(cst.CSTVisitor):
    """Every name read or written by a node, except attribute names, keywords and definition names."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        for part in (node.annotation, node.default):
            if part is not None:
                part.visit(self)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        for part in (*node.decorators, node.params, node.returns, node.body):
            if part is not None:
                part.visit(self)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        for part in (*node.decorators, *node.bases, *node.keywords, node.body):
            part.visit(self)
        return False

    def visit_ImportAlias(self, node: cst.ImportAlias) -> bool:
        return False


def names_used(node: cst.CSTNode) -> set[str]:
    """Names a node refers to (an over-approximation: locals are included)."""
    collector = _NameCollector()
    node.visit(collector)
    return collector.names


class _FreeNameCollector(_NameCollector):
    """Like _NameCollector, but the names a function binds (its locals) are not free in it."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        for part in (*node.decorators, node.returns):
            if part is not None:
                part.visit(self)
        params = node.params
        for param in (
            *params.posonly_params,
            *params.params,
            *params.kwonly_params,
            params.star_arg,
            params.star_kwarg,
        ):
            if isinstance(param, cst.Param):
                param.visit(self)
        inner = _FreeNameCollector()
        node.body.visit(inner)
        local = bound_names(node.body) | {
            p.name.value
            for p in (
                *params.posonly_params,
                *params.params,
                *params.kwonly_params,
                params.star_arg,
                params.star_kwarg,
            )
            if isinstance(p, cst.Param)
        }
        self.names |= inner.names - local
        return False


def free_names(node: cst.CSTNode) -> set[str]:
    """Names a top-level statement takes from the module (or builtins): `names_used` less function locals."""
    collector = _FreeNameCollector()
    node.visit(collector)
    return collector.names


def load_time_names(node: cst.CSTNode) -> set[str]:
    """Names a top-level statement needs when the module is imported (not inside function bodies)."""
    if isinstance(node, cst.FunctionDef):
        parts = [*node.decorators, node.params, node.returns]
        return set().union(*(names_used(p) for p in parts if p is not None))
    if isinstance(node, cst.ClassDef):
        names = set().union(set(), *(names_used(p) for p in (*node.decorators, *node.bases, *node.keywords)))
        for statement in node.body.body:
            names |= load_time_names(statement)
        return names
    return names_used(node)


def target_names(target: cst.BaseExpression) -> set[str]:
    """Names bound by an assignment target (`a`, `a, b`, not `self.a` or `a[0]`)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(set(), *(target_names(e.value) for e in target.elements))
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    return set()


class _BindingCollector(cst.CSTVisitor):
    def __init__(self, nested: bool) -> None:
        self.names: set[str] = set()
        self.nested = nested
        self.depth = 0

    def _scope(self, name: cst.Name) -> bool:
        if self.depth == 0:
            self.names.add(name.value)
        self.depth += 1
        return self.nested

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._scope(node.name)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._scope(node.name)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._add(target_names(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._add(target_names(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._add(target_names(node.target))

    def visit_For(self, node: cst.For) -> None:
        self._add(target_names(node.target))

    def visit_AsName(self, node: cst.AsName) -> None:
        self._add(target_names(node.name))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add(target_names(node.target))

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            self._add({code(node.name).split(".")[0]})

    def _add(self, names: set[str]) -> None:
        if self.depth == 0:
            self.names |= names


def bound_names(node: cst.CSTNode) -> set[str]:
    """Names a statement (or a function body) binds in its own scope, nested scopes excluded."""
    collector = _BindingCollector(nested=False)
    node.visit(collector)
    return collector.names


class _Renamer(cst.CSTTransformer):
    def __init__(self, mapping: Mapping[str, cst.BaseExpression]) -> None:
        self.mapping = mapping

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.mapping.get(original_node.value, updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.Attribute:
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        return updated_node.with_changes(keyword=original_node.keyword)

    def leave_Param(self, original_node: cst.Param, updated_node: cst.Param) -> cst.Param:
        return updated_node.with_changes(name=original_node.name)

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        return updated_node.with_changes(name=original_node.name)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        return updated_node.with_changes(name=original_node.name)

    def leave_ImportAlias(
        self, original_node: cst.ImportAlias, updated_node: cst.ImportAlias
    ) -> cst.ImportAlias:
        return original_node


def substitute(node: cst.CSTNode, mapping: Mapping[str, cst.BaseExpression]) -> cst.CSTNode:
    """`node` with every reference to a name in `mapping` replaced by its expression."""
    if not mapping:
        return node
    return node.visit(_Renamer(mapping))


def rename(node: cst.CSTNode, mapping: Mapping[str, str]) -> cst.CSTNode:
    return substitute(node, {old: cst.Name(new) for old, new in mapping.items() if old != new})


def is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def simple_statement(statement: cst.CSTNode) -> cst.BaseSmallStatement | None:
    """The one small statement of a simple statement line, else None."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def self_attribute(node: cst.CSTNode, owner: str = "self") -> str | None:
    """`x` for the expression `self.x`, else None."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == owner:
        return node.attr.value
    return None


def assigned_self_attribute(statement: cst.CSTNode, owner: str = "self") -> str | None:
    """`x` for a statement `self.x = ...` (or `self.x: T = ...`), else None."""
    small = simple_statement(statement)
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        return self_attribute(small.targets[0].target, owner)
    if isinstance(small, cst.AnnAssign):
        return self_attribute(small.target, owner)
    return None


class _SelfAttributes(cst.CSTVisitor):
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.names: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = self_attribute(node, self.owner)
        if name:
            self.names.add(name)


def self_attributes(node: cst.CSTNode, owner: str = "self") -> set[str]:
    """Every `x` of `self.x` a node mentions."""
    collector = _SelfAttributes(owner)
    node.visit(collector)
    return collector.names


def strip_blank_lines(statement: cst.BaseStatement) -> cst.BaseStatement:
    """The statement with blank lines above it removed (comments above it kept)."""
    lines = [line for line in statement.leading_lines if line.comment is not None]
    return statement.with_changes(leading_lines=lines)
