"""Flattening `class RobertaModel(BertModel)` into one standalone class.

The result is the parent's class body with the child's members replacing the parent's ones of
the same name (new members added), the parent's bases, and every `super()` of the child
resolved: a call of the overridden method itself is inlined (the parent's statements, with its
parameters bound to the call's arguments); anything that cannot be inlined safely calls a copy
of the parent's method kept as `_parent_<name>`. See docs/modular.md for the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from . import docstrings
from .cst_tools import (
    assigned_self_attribute,
    bound_names,
    code,
    is_docstring,
    names_used,
    self_attribute,
    self_attributes,
    simple_statement,
    substitute,
)

Statement = cst.BaseStatement
LINE_LENGTH = 110


# -- what a class member is ----------------------------------------------------------------------
def member_key(statement: cst.CSTNode) -> str | None:
    """The name a class-body statement defines (`name.setter` for a property setter), else None."""
    if isinstance(statement, cst.FunctionDef):
        for decorator in statement.decorators:
            dec = decorator.decorator
            if isinstance(dec, cst.Attribute) and dec.attr.value in ("setter", "deleter"):
                return f"{statement.name.value}.{dec.attr.value}"
        return statement.name.value
    small = simple_statement(statement)
    if (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
    ):
        return small.targets[0].target.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
        return small.target.value
    return None


def _is_filler(statement: Statement) -> bool:
    small = simple_statement(statement)
    return isinstance(small, cst.Pass) or (
        isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis)
    )


def _body(fn: cst.FunctionDef) -> list[Statement]:
    if isinstance(fn.body, cst.IndentedBlock):
        return list(fn.body.body)
    return [cst.SimpleStatementLine(body=list(fn.body.body))]


def _with_body(fn: cst.FunctionDef, body: Sequence[Statement]) -> cst.FunctionDef:
    block = fn.body if isinstance(fn.body, cst.IndentedBlock) else cst.IndentedBlock(body=[])
    return fn.with_changes(
        body=block.with_changes(body=list(body) or [cst.SimpleStatementLine([cst.Pass()])])
    )


def removed_by_property(statement: Statement) -> str | None:
    """`x` for `@property def x(self): raise AttributeError(...)`: the child removes `x`."""
    if not isinstance(statement, cst.FunctionDef):
        return None
    if not any(
        isinstance(d.decorator, cst.Name) and d.decorator.value == "property" for d in statement.decorators
    ):
        return None
    body = [s for s in _body(statement) if not is_docstring(s)]
    small = simple_statement(body[0]) if len(body) == 1 else None
    if isinstance(small, cst.Raise) and small.exc is not None:
        exc = small.exc.func if isinstance(small.exc, cst.Call) else small.exc
        if isinstance(exc, cst.Name) and exc.value == "AttributeError":
            return statement.name.value
    return None


def _first_param(fn: cst.FunctionDef) -> str | None:
    params = [*fn.params.posonly_params, *fn.params.params]
    return params[0].name.value if params else None


def _positional(fn: cst.FunctionDef) -> list[cst.Param]:
    return [*fn.params.posonly_params, *fn.params.params][1:]


def param_names(fn: cst.FunctionDef) -> list[str]:
    """Names of the named parameters (not self, *args or **kwargs)."""
    return [p.name.value for p in (*_positional(fn), *fn.params.kwonly_params)]


def parent_alias(name: str) -> str:
    """The name under which a flattened class keeps a parent method its child overrides."""
    return f"_parent_{name.strip('_')}"


# -- super() -----------------------------------------------------------------------------------
def super_member(node: cst.CSTNode) -> str | None:
    """`m` for `super().m` (or `super(Cls, self).m`), else None."""
    if not isinstance(node, cst.Attribute) or not isinstance(node.value, cst.Call):
        return None
    func = node.value.func
    if isinstance(func, cst.Name) and func.value == "super" and len(node.value.args) in (0, 2):
        return node.attr.value
    return None


class _SuperRewriter(cst.CSTTransformer):
    """`super().m` -> `self.m` (m not overridden), `self._parent_m` (overridden), or kept (m above the parent)."""

    def __init__(self, owner: str, parent_members: set[str], overridden: set[str]) -> None:
        self.owner = owner
        self.parent_members = parent_members
        self.overridden = overridden
        self.needs_parent: set[str] = set()

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        member = super_member(original_node)
        if member is None or member not in self.parent_members:
            return updated_node
        if member in self.overridden:
            self.needs_parent.add(member)
            member = parent_alias(member)
        return cst.Attribute(value=cst.Name(self.owner), attr=cst.Name(member))


class _Returns(cst.CSTVisitor):
    def __init__(self) -> None:
        self.count = 0
        self.yields = False

    def visit_Return(self, node: cst.Return) -> None:
        self.count += 1

    def visit_Yield(self, node: cst.Yield) -> None:
        self.yields = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


def _returns(statements: Sequence[Statement]) -> _Returns:
    counter = _Returns()
    for statement in statements:
        statement.visit(counter)
    return counter


@dataclass
class _SuperCall:
    index: int
    form: str  # "expr", "return" or "assign"
    call: cst.Call
    statement: Statement


def _own_super_call(fn: cst.FunctionDef) -> _SuperCall | None:
    """The one top-level statement calling `super().<fn's name>(...)`, if that is the only such use."""
    name = fn.name.value
    uses = [0]

    class _Count(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if super_member(node) == name:
                uses[0] += 1

    fn.body.visit(_Count())
    if uses[0] != 1:
        return None
    for index, statement in enumerate(_body(fn)):
        small = simple_statement(statement)
        value = getattr(small, "value", None)
        if not isinstance(value, cst.Call) or super_member(value.func) != name:
            continue
        form = {cst.Expr: "expr", cst.Return: "return", cst.Assign: "assign"}.get(type(small))
        if form == "return" and index != len(_body(fn)) - 1:
            return None
        return _SuperCall(index, form, value, statement) if form else None
    return None


# -- binding a call to the parent's parameters -----------------------------------------------------
@dataclass
class _Bound:
    substitutions: dict[str, cst.BaseExpression]
    preamble: list[Statement]
    lifted: list[cst.Param]
    kwargs_name: str | None
    kwargs_args: list[cst.Arg] | None  # what `**kwargs` of the parent's body becomes; None: unchanged
    passthrough: str | None


def _is_dotted(expr: cst.BaseExpression) -> bool:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def _assign(name: str, value: cst.BaseExpression) -> Statement:
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(name))], value)])


def _bind_arguments(call: cst.Call, parent: cst.FunctionDef, child: cst.FunctionDef):
    positional = _positional(parent)
    named = {p.name.value for p in (*positional, *parent.params.kwonly_params)}
    child_kwargs = (
        child.params.star_kwarg.name.value if isinstance(child.params.star_kwarg, cst.Param) else None
    )
    child_args = child.params.star_arg.name.value if isinstance(child.params.star_arg, cst.Param) else None
    bound: dict[str, cst.BaseExpression] = {}
    extras: list[cst.Arg] = []
    passthrough = None
    count = 0
    for arg in call.args:
        if arg.star == "*":
            # `*args` passed on to the parent's `*args`, once its positional parameters are all bound
            is_own = isinstance(arg.value, cst.Name) and arg.value.value == child_args
            if not (is_own and isinstance(parent.params.star_arg, cst.Param) and count == len(positional)):
                return None
            bound[parent.params.star_arg.name.value] = arg.value
        elif arg.star == "**":
            if not (isinstance(arg.value, cst.Name) and arg.value.value == child_kwargs):
                return None
            passthrough = child_kwargs
        elif arg.keyword is None:
            if count >= len(positional):
                return None
            bound[positional[count].name.value] = arg.value
            count += 1
        elif arg.keyword.value in named:
            bound[arg.keyword.value] = arg.value
        elif isinstance(parent.params.star_kwarg, cst.Param):
            extras.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        else:
            return None
    return bound, extras, passthrough


class _KwargsUses(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.starred = 0

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.star == "**" and isinstance(node.value, cst.Name) and node.value.value == self.name:
            self.starred += 1


def _count_name(statements: Sequence[Statement], name: str) -> int:
    return sum(_occurrences(s, name) for s in statements)


def _occurrences(node: cst.CSTNode, name: str) -> int:
    count = [0]

    class _Count(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            if n.value == name:
                count[0] += 1

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            n.value.visit(self)
            return False

        def visit_Arg(self, n: cst.Arg) -> bool:
            n.value.visit(self)
            return False

    node.visit(_Count())
    return count[0]


def _bind(
    call: cst.Call, parent: cst.FunctionDef, child: cst.FunctionDef, body: list[Statement]
) -> _Bound | None:
    result = _bind_arguments(call, parent, child)
    if result is None:
        return None
    bound, extras, passthrough = result
    parent_locals = set().union(set(), *(bound_names(s) for s in _body(parent)))
    substitutions: dict[str, cst.BaseExpression] = {}
    preamble: list[Statement] = []
    lifted: list[cst.Param] = []
    if _first_param(parent) != _first_param(child):
        substitutions[_first_param(parent)] = cst.Name(_first_param(child))
    for param in (*_positional(parent), *parent.params.kwonly_params):
        name = param.name.value
        if name in bound:
            value = bound[name]
            if isinstance(value, cst.Name) and value.value == name:
                continue
            if _is_dotted(value) and not ({name} | names_used(value)) & parent_locals:
                substitutions[name] = value
            else:
                preamble.append(_assign(name, value))
        elif passthrough:
            lifted.append(param)
        elif param.default is not None:
            preamble.append(_assign(name, param.default))
        else:
            return None
    star = parent.params.star_arg
    if isinstance(star, cst.Param) and star.name.value in bound:
        value = bound[star.name.value]
        if value.value != star.name.value:
            if star.name.value in parent_locals:
                return None
            substitutions[star.name.value] = value
    elif isinstance(star, cst.Param) and _count_name(body, star.name.value):
        return None
    kwargs_name, kwargs_args = None, None
    if isinstance(parent.params.star_kwarg, cst.Param):
        kwargs_name = parent.params.star_kwarg.name.value
        kwargs_args = extras + ([cst.Arg(cst.Name(passthrough), star="**")] if passthrough else [])
        uses = _KwargsUses(kwargs_name)
        for statement in body:
            statement.visit(uses)
        identity = not extras and passthrough == kwargs_name
        if _count_name(body, kwargs_name) != uses.starred and not identity:
            return None
        if identity:
            kwargs_args = None
    return _Bound(substitutions, preamble, lifted, kwargs_name, kwargs_args, passthrough)


class _ExpandKwargs(cst.CSTTransformer):
    def __init__(self, name: str, args: list[cst.Arg]) -> None:
        self.name = name
        self.args = args

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        new_args: list[cst.Arg] = []
        for arg in updated_node.args:
            if arg.star == "**" and isinstance(arg.value, cst.Name) and arg.value.value == self.name:
                new_args.extend(self.args)
            else:
                new_args.append(arg)
        if len(new_args) == len(updated_node.args) and all(
            a is b for a, b in zip(new_args, updated_node.args)
        ):
            return updated_node
        return updated_node.with_changes(args=_recomma(new_args, updated_node.args))


def _recomma(args: list[cst.Arg], template: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Args with the comma style of `template` (the last keeps the template's last comma)."""
    middle = next(
        (a.comma for a in template[:-1] if isinstance(a.comma, cst.Comma)), cst.MaybeSentinel.DEFAULT
    )
    last = template[-1].comma if template else cst.MaybeSentinel.DEFAULT
    return [a.with_changes(comma=middle if i < len(args) - 1 else last) for i, a in enumerate(args)]


# -- the merged signature -----------------------------------------------------------------------
def _merge_params(child: cst.FunctionDef, parent: cst.FunctionDef, bound: _Bound) -> cst.Parameters:
    """The child's signature plus the parent parameters its `**kwargs` passed through, in the parent's order."""
    child_positional = [*child.params.posonly_params, *child.params.params]
    first, child_rest = child_positional[0], child_positional[1:]
    parent_params = {p.name.value: p for p in _all_params(parent) if isinstance(p, cst.Param)}
    child_rest = [_annotated(p, parent_params.get(p.name.value)) for p in child_rest]
    by_name = {p.name.value: p for p in child_rest}
    lifted = {p.name.value for p in bound.lifted}
    positional = [
        by_name.get(p.name.value, p) for p in _positional(parent) if p.name.value in by_name.keys() | lifted
    ]
    parent_names = {p.name.value for p in _positional(parent)}
    positional += [p for p in child_rest if p.name.value not in parent_names]
    positional = [p for p in positional if p.default is None] + [
        p for p in positional if p.default is not None
    ]
    child_kwonly = {p.name.value for p in child.params.kwonly_params}
    kwonly = [p for p in parent.params.kwonly_params if p.name.value in lifted - child_kwonly]
    kwonly += list(child.params.kwonly_params)
    star_arg = child.params.star_arg
    if not isinstance(star_arg, (cst.Param, cst.ParamStar)):
        star_arg = cst.ParamStar() if kwonly else None
    star_kwarg = child.params.star_kwarg if isinstance(child.params.star_kwarg, cst.Param) else None
    if star_kwarg is not None and bound.kwargs_name and bound.passthrough == star_kwarg.name.value:
        star_kwarg = _annotated(star_kwarg, parent.params.star_kwarg).with_changes(
            name=cst.Name(bound.kwargs_name)
        )
    groups = [
        [first, *positional],
        [star_arg] if star_arg else [],
        kwonly,
        [star_kwarg] if star_kwarg else [],
    ]
    styled = _restyle([e for g in groups for e in g], parent)
    sizes = [len(g) for g in groups]
    cut = [sum(sizes[:i]) for i in range(5)]
    parts = [styled[cut[i] : cut[i + 1]] for i in range(4)]
    return cst.Parameters(
        params=parts[0],
        star_arg=parts[1][0] if parts[1] else cst.MaybeSentinel.DEFAULT,
        kwonly_params=parts[2],
        star_kwarg=parts[3][0] if parts[3] else None,
    )


def _annotated(param: cst.Param, parent: cst.Param | None) -> cst.Param:
    """A child parameter given the parent's annotation when it has none of its own."""
    if param.annotation is None and parent is not None and parent.annotation is not None:
        equal = cst.AssignEqual() if param.default is not None else cst.MaybeSentinel.DEFAULT
        return param.with_changes(annotation=parent.annotation, equal=equal)
    return param


def _map_params(params: cst.Parameters, change) -> cst.Parameters:
    """`params` with `change` applied to each of its parameters (`*` and `**` ones included)."""
    return params.with_changes(
        posonly_params=[change(x) for x in params.posonly_params],
        params=[change(x) for x in params.params],
        star_arg=change(params.star_arg)
        if isinstance(params.star_arg, (cst.Param, cst.ParamStar))
        else params.star_arg,
        kwonly_params=[change(x) for x in params.kwonly_params],
        star_kwarg=change(params.star_kwarg) if params.star_kwarg is not None else None,
    )


def _inherit_annotations(child: cst.FunctionDef, parent: cst.FunctionDef) -> cst.Parameters:
    """The child's parameters, those without an annotation given the parent's for the same name."""
    parents = {p.name.value: p for p in _all_params(parent) if isinstance(p, cst.Param)}
    return _map_params(
        child.params, lambda p: _annotated(p, parents.get(p.name.value)) if isinstance(p, cst.Param) else p
    )


def _fit(fn: cst.FunctionDef, template: cst.FunctionDef) -> cst.FunctionDef:
    """`fn` with its parameters one per line, as the template has them, when its `def` line is too long."""
    header = code(
        fn.with_changes(body=cst.SimpleStatementSuite([cst.Pass()]), decorators=[], leading_lines=[])
    )
    multiline = "\n" in code(template.params) + code(template.whitespace_before_params)
    if len(header.splitlines()[0]) <= LINE_LENGTH or not multiline:
        return fn
    params = _all_params(fn)
    styled = {id(p): s for p, s in zip(params, _restyle(params, template))}
    return fn.with_changes(
        whitespace_before_params=template.whitespace_before_params,
        params=_map_params(fn.params, lambda p: styled.get(id(p), p)),
    )


def _all_params(fn: cst.FunctionDef) -> list:
    p = fn.params
    out: list = [*p.posonly_params, *p.params]
    if isinstance(p.star_arg, (cst.Param, cst.ParamStar)):
        out.append(p.star_arg)
    out += list(p.kwonly_params)
    if isinstance(p.star_kwarg, cst.Param):
        out.append(p.star_kwarg)
    return out


def _restyle(elements: list, template: cst.FunctionDef) -> list:
    """Parameters laid out as the template's are (one per line if it has them one per line)."""
    reference = _all_params(template)
    if not reference:
        return elements
    middle = next((e for e in reference[:-1] if isinstance(e.comma, cst.Comma)), reference[0])
    last = reference[-1]

    def styled(element, like):
        changes = {"comma": like.comma}
        if isinstance(element, cst.Param) and isinstance(like, cst.Param):
            changes["whitespace_after_param"] = like.whitespace_after_param
        return element.with_changes(**changes)

    return [styled(e, middle if i < len(elements) - 1 else last) for i, e in enumerate(elements)]


# -- inlining ------------------------------------------------------------------------------------
@dataclass
class Inlined:
    function: cst.FunctionDef
    start: int  # the parent's statements are function body[start:end]
    end: int


def _names_in(statements: Sequence[Statement], used: bool = True, bound: bool = True) -> set[str]:
    names: set[str] = set()
    for statement in statements:
        names |= (names_used(statement) if used else set()) | (bound_names(statement) if bound else set())
    return names


def _safe_to_inline(
    child: cst.FunctionDef, parent: cst.FunctionDef, found: _SuperCall, bound: _Bound
) -> bool:
    """Whether the parent's statements may run in the child's scope without a name meaning something else.

    The child must not bind a name the parent reads from outside (a global, a builtin); the names
    the parent binds must not be used by the child's statements that run after them; a parameter
    lifted into the signature must be new to the child.
    """
    parent_body = [s for s in _body(parent) if not is_docstring(s)]
    parent_params = {p.name.value for p in _all_params(parent) if isinstance(p, cst.Param)}
    lifted = {p.name.value for p in bound.lifted}
    parent_bound = _names_in(parent_body, used=False) | lifted
    parent_bound |= {simple_statement(s).targets[0].target.value for s in bound.preamble}
    parent_free = _names_in(parent_body, bound=False) - parent_bound - parent_params
    statements = _body(child)
    others = [s for i, s in enumerate(statements) if i != found.index]
    child_params = {p.name.value for p in _all_params(child) if isinstance(p, cst.Param)}
    child_bound = _names_in(others, used=False) | child_params
    after = _names_in(statements[found.index + 1 :])
    return not (
        parent_free & child_bound or parent_bound & after or lifted & (child_bound | _names_in(others))
    )


def _parent_statements(parent: cst.FunctionDef, found: _SuperCall) -> list[Statement] | None:
    """The parent's body shaped for the call's place: None when its returns do not fit there."""
    body = [s for s in _body(parent) if not is_docstring(s)]
    counter = _returns(body)
    if counter.yields:
        return None
    if found.form == "return":
        return body
    last = simple_statement(body[-1]) if body else None
    if found.form == "expr":
        if isinstance(last, cst.Return) and last.value is None:
            body = body[:-1]
        return None if _returns(body).count else body
    if counter.count != 1 or not isinstance(last, cst.Return) or last.value is None:
        return None
    targets = simple_statement(found.statement).targets
    return [*body[:-1], body[-1].with_changes(body=[cst.Assign(targets, last.value)])]


def inline_super(child: cst.FunctionDef, parent: cst.FunctionDef) -> Inlined | None:
    """`child` with its `super().<name>(...)` replaced by `parent`'s body, or None when unsafe."""
    found = _own_super_call(child)
    body = _parent_statements(parent, found) if found else None
    bound = _bind(found.call, parent, child, body) if body is not None else None
    if bound is None:
        return None
    if not _safe_to_inline(child, parent, found, bound):
        return None
    inlined = [*bound.preamble, *body]
    if bound.kwargs_args is not None:
        inlined = [s.visit(_ExpandKwargs(bound.kwargs_name, bound.kwargs_args)) for s in inlined]
    inlined = [substitute(s, bound.substitutions) for s in inlined]
    if inlined:
        inlined[0] = inlined[0].with_changes(leading_lines=found.statement.leading_lines)
    child_body = _body(child)
    new_body = [*child_body[: found.index], *inlined, *child_body[found.index + 1 :]]
    function = _with_body(child, new_body).with_changes(params=_inherit_annotations(child, parent))
    if found.form == "return" and child.returns is None:
        function = function.with_changes(returns=parent.returns)
    function = _fit(function, parent)
    if bound.passthrough:
        params = _merge_params(child, parent, bound)
        function = function.with_changes(
            params=params, whitespace_before_params=parent.whitespace_before_params
        )
        if bound.kwargs_name and bound.passthrough != bound.kwargs_name:
            renamed = {bound.passthrough: cst.Name(bound.kwargs_name)}
            function = _with_body(function, [substitute(s, renamed) for s in _body(function)])
    return Inlined(function, found.index, found.index + len(inlined))


# -- after inlining: the child's assignments replace the parent's, `del self.x` removes ------------
def _assigned_attributes(statements: Sequence[Statement], owner: str) -> set[str]:
    return {a for a in (assigned_self_attribute(s, owner) for s in statements) if a}


def _can_move(body: list[Statement], index: int, target: int, start: int, owner: str) -> bool:
    """Whether child statement `body[index]` may take the place of `body[target]` (inside the inlined part).

    Every local it reads must already hold, at the target, the value it holds at the child's
    statement; every `self.y` it reads must not be set at or after the target.
    """
    statement = body[index]
    function_locals = set().union(set(), *(bound_names(s) for s in body))
    before = set().union(set(), *(bound_names(s) for s in body[start:target]))
    after = set().union(set(), *(bound_names(s) for s in body[target:]))
    for name in names_used(statement) - {owner}:
        if name in function_locals and not (name in before and name not in after):
            return False
    attributes = self_attributes(statement, owner) - {assigned_self_attribute(statement, owner)}
    return not attributes & _assigned_attributes(body[target:], owner)


def _reads_attribute(statements: Sequence[Statement], name: str, owner: str) -> bool:
    for statement in statements:
        reads = self_attributes(statement, owner)
        if assigned_self_attribute(statement, owner) == name:
            small = simple_statement(statement)
            reads = (
                self_attributes(small.value, owner) if getattr(small, "value", None) is not None else set()
            )
        if name in reads:
            return True
    return False


def _bare(statement: Statement) -> str:
    return code(statement.with_changes(leading_lines=[]))


def apply_overrides(fn: cst.FunctionDef, start: int, end: int) -> tuple[cst.FunctionDef, int, int]:
    """Child assignments `self.x = ...` after the inlined part replace the parent's `self.x = ...` in it.

    The child's statement moves to the parent's place when everything it reads exists there;
    otherwise the parent's assignment is dropped when nothing reads it before the child's; if
    something does, both stay. A child expression statement the parent's part has too (say
    `self.post_init()`) runs once, where the child has it.
    """
    owner = _first_param(fn) or "self"
    body = _body(fn)
    index = end
    while index < len(body):
        if isinstance(simple_statement(body[index]), cst.Expr):
            same = [i for i in range(start, end) if _bare(body[i]) == _bare(body[index])]
            if same:
                body.pop(same[-1])
                end -= 1
                continue
        name = assigned_self_attribute(body[index], owner)
        targets = [i for i in range(start, end) if name and assigned_self_attribute(body[i], owner) == name]
        if not isinstance(simple_statement(body[index]), cst.Assign) or len(targets) != 1:
            index += 1
            continue
        target = targets[0]
        if _can_move(body, index, target, start, owner):
            moved = body.pop(index)
            comments = [line for line in moved.leading_lines if line.comment is not None]
            body[target] = moved.with_changes(
                leading_lines=body[target].leading_lines if not comments else moved.leading_lines
            )
            continue
        if not _reads_attribute(body[target + 1 : index], name, owner):
            body.pop(target)
            end -= 1
            continue
        index += 1
    return _with_body(fn, body), start, end


def _deleted_attributes(statement: Statement, owner: str) -> list[str] | None:
    small = simple_statement(statement)
    if not isinstance(small, cst.Del):
        return None
    targets = small.target.elements if isinstance(small.target, cst.Tuple) else None
    names = [self_attribute(t.value if targets else t, owner) for t in (targets or [small.target])]
    return names if all(names) else None


def deletions(fn: cst.FunctionDef, after: int) -> tuple[cst.FunctionDef, list[str]]:
    """`fn` without its top-level `del self.x` statements after `after`, and the deleted names."""
    owner = _first_param(fn) or "self"
    kept, deleted = [], []
    for i, statement in enumerate(_body(fn)):
        names = _deleted_attributes(statement, owner) if i >= after else None
        if names:
            deleted += names
        else:
            kept.append(statement)
    return _with_body(fn, kept), deleted


class _DropKeyword(cst.CSTTransformer):
    def __init__(self, name: str) -> None:
        self.name = name

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        args = [
            a
            for a in updated_node.args
            if not (
                a.keyword
                and a.keyword.value == self.name
                and isinstance(a.value, cst.Name)
                and a.value.value == self.name
            )
        ]
        if len(args) == len(updated_node.args):
            return updated_node
        return updated_node.with_changes(args=_recomma(args, updated_node.args) if args else [])


class _HasCall(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        self.found = True


def _pure(node: cst.CSTNode) -> bool:
    visitor = _HasCall()
    node.visit(visitor)
    return not visitor.found


def drop_dead_locals(fn: cst.FunctionDef, start: int, end: int) -> tuple[cst.FunctionDef, int]:
    """`fn` without the assignments `name = <no calls>` in body[start:end] whose name nothing reads any more.

    Removing the parent's `self.dropout = nn.Dropout(p)` leaves `p = ...` unused; this removes it.
    Returns the function and the new end of the range.
    """
    body = _body(fn)
    changed = True
    while changed:
        changed = False
        for i in range(start, end):
            small = simple_statement(body[i])
            if not (
                isinstance(small, cst.Assign)
                and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
            ):
                continue
            name = small.targets[0].target.value
            if _pure(small.value) and not _count_name([s for j, s in enumerate(body) if j != i], name):
                body.pop(i)
                end -= 1
                changed = True
                break
    return _with_body(fn, body), end


def remove_attribute(
    fn: cst.FunctionDef, name: str, start: int, end: int, owner_class: str
) -> tuple[cst.FunctionDef, int]:
    """`fn` without `self.<name> = ...` in body[start:end], and without the argument `name` if it has one.

    Returns the function and how many statements were removed from the range.
    """
    owner = _first_param(fn) or "self"
    body = _body(fn)
    keep = [
        i
        for i in range(len(body))
        if not (start <= i < end and assigned_self_attribute(body[i], owner) == name)
    ]
    removed = len(body) - len(keep)
    body = [body[i] for i in keep]
    params = param_names(fn)
    if name in params:
        body = [s.visit(_DropKeyword(name)) for s in body]
        if _count_name(body, name):
            raise ValueError(
                f"`{owner_class}` removes `{name}`, but `__init__` still uses the argument `{name}` beyond "
                f"`self.{name} = {name}` and `{name}={name}`; override `__init__` without it instead."
            )
        fn = fn.with_changes(params=_without_param(fn, name))
    elif not removed:
        raise ValueError(
            f"`{owner_class}` removes `{name}`, but the parent's `__init__` neither takes an argument "
            f"`{name}` nor sets `self.{name}` at its top level."
        )
    return _with_body(fn, body), removed


def _without_param(fn: cst.FunctionDef, name: str) -> cst.Parameters:
    """`fn`'s parameters without `name`, laid out as before."""
    keep = [e for e in _all_params(fn) if not (isinstance(e, cst.Param) and e.name.value == name)]
    styled = {id(e): s for e, s in zip(keep, _restyle(keep, fn))}
    params = fn.params
    without = params.with_changes(
        posonly_params=[p for p in params.posonly_params if id(p) in styled],
        params=[p for p in params.params if id(p) in styled],
        kwonly_params=[p for p in params.kwonly_params if id(p) in styled],
    )
    return _map_params(without, lambda p: styled.get(id(p), p))


# -- the class -------------------------------------------------------------------------------------
def _class_body(node: cst.ClassDef) -> list[Statement]:
    return (
        list(node.body.body)
        if isinstance(node.body, cst.IndentedBlock)
        else [cst.SimpleStatementLine(list(node.body.body))]
    )


def _docstring(body: Sequence[Statement]) -> Statement | None:
    return body[0] if body and is_docstring(body[0]) else None


def _doc_node(statement: Statement | None) -> docstrings.Docstring | None:
    if statement is None:
        return None
    value = simple_statement(statement).value
    return docstrings.parse(value) if isinstance(value, cst.SimpleString) else None


def _find(body: Sequence[Statement], key: str) -> int | None:
    return next((i for i, s in enumerate(body) if member_key(s) == key), None)


def _rewrite_method(
    fn: cst.FunctionDef, parent_members: dict[str, Statement], overridden: set[str]
) -> tuple[cst.FunctionDef, set[str], tuple[int, int] | None]:
    """A child method with its `super()` resolved: (method, parent methods it needs kept, inlined range).

    Only the child's own statements are rewritten: the inlined parent statements keep their
    `super()`, which in the flattened class (with the parent's bases) means what it meant there.
    """
    span = None
    parent = parent_members.get(fn.name.value)
    if isinstance(parent, cst.FunctionDef) and not fn.decorators and not parent.decorators:
        inlined = inline_super(fn, parent)
        if inlined is not None:
            fn, start, end = apply_overrides(inlined.function, inlined.start, inlined.end)
            fn, end = drop_dead_locals(fn, start, end)
            span = (start, end)
    rewriter = _SuperRewriter(_first_param(fn) or "self", set(parent_members), overridden)
    body = _body(fn)
    start, end = span or (0, 0)
    body = [s if start <= i < end else s.visit(rewriter) for i, s in enumerate(body)]
    return _with_body(fn, body), rewriter.needs_parent, span


def _kept_parent_method(parent_members: dict[str, Statement], name: str, owner: str) -> cst.FunctionDef:
    method = parent_members.get(name)
    if not isinstance(method, cst.FunctionDef):
        raise ValueError(f"`{owner}` calls `super().{name}`, which the parent defines but not as a method.")
    return method.with_changes(name=cst.Name(parent_alias(name)))


def _merge_members(
    parent_body: list[Statement], members: list[Statement], kept: dict[str, cst.FunctionDef]
) -> list[Statement]:
    body = list(parent_body)
    for statement in members:
        key = member_key(statement)
        place = _find(body, key) if key else None
        if place is not None:
            body[place] = statement
        elif isinstance(statement, cst.FunctionDef):
            body.append(statement)
        else:
            first_method = next((i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef)), len(body))
            body.insert(first_method, statement)
    for name, method in kept.items():
        place = _find(body, name)
        body.insert(len(body) if place is None else place, method)
    return body


def _spaced(body: list[Statement]) -> list[Statement]:
    """One blank line before and after each method, none at the top, comments kept."""
    out = []
    for i, statement in enumerate(body):
        comments = [line for line in statement.leading_lines if line.comment is not None]
        blank = i > 0 and (
            isinstance(statement, cst.FunctionDef)
            or isinstance(body[i - 1], cst.FunctionDef)
            or is_docstring(body[i - 1])
            or any(line.comment is None for line in statement.leading_lines)
        )
        out.append(statement.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * blank + comments))
    return out


def _remove_member(
    body: list[Statement], name: str, span: tuple[int, int] | None, owner: str
) -> list[Statement]:
    """The class body without member `name`, and `__init__` without `self.<name>` / the argument `name`."""
    keys = {name, f"{name}.setter", f"{name}.deleter"}
    kept = [s for s in body if member_key(s) not in keys]
    found = len(kept) != len(body)
    init = _find(kept, "__init__")
    if init is not None:
        fn = kept[init]
        start, end = span or (0, len(_body(fn)))
        try:
            fn, removed = remove_attribute(fn, name, start, end, owner)
            kept[init], _ = drop_dead_locals(fn, start, end - removed)
        except ValueError:
            if not found:
                raise
    elif not found:
        raise ValueError(f"`{owner}` removes `{name}`, which its parent does not define.")
    return kept


def _check_unused(body: list[Statement], name: str, owner: str) -> None:
    """A removed attribute must not be read by what is left of the class."""
    for statement in body:
        if isinstance(statement, cst.FunctionDef) and name in self_attributes(
            statement, _first_param(statement) or "self"
        ):
            raise ValueError(
                f"`{owner}` removes `{name}`, but its method `{statement.name.value}` (from the parent unless "
                f"overridden) still uses `self.{name}`; override `{statement.name.value}` too."
            )


def _init_params(body: Sequence[Statement]) -> list[str]:
    init = _find(body, "__init__")
    return param_names(body[init]) if init is not None else []


def _merged_docstring(parent_body, child_body, body, owner: str) -> Statement | None:
    parent_doc, child_doc = _docstring(parent_body), _docstring(child_body)
    merged = docstrings.merge_args(
        _doc_node(parent_doc), _doc_node(child_doc), _init_params(body), _init_params(parent_body), owner
    )
    template = child_doc or parent_doc
    if merged is None or template is None:
        return template
    small = simple_statement(template)
    return template.with_changes(body=[small.with_changes(value=docstrings.render(merged))])


def _bases(child: cst.ClassDef, parent: cst.ClassDef, parent_base: int) -> list[cst.Arg]:
    bases = [*parent.bases, *(b for i, b in enumerate(child.bases) if i != parent_base)]
    unique = list({code(b.value): b for b in reversed(bases)}.values())[::-1]
    return [b.with_changes(comma=cst.MaybeSentinel.DEFAULT) for b in unique]


def flatten_class(child: cst.ClassDef, parent: cst.ClassDef, parent_base: int) -> cst.ClassDef:
    """`child(parent)` as one class: see the module docstring."""
    owner = child.name.value
    parent_body, child_body = _class_body(parent), _class_body(child)
    parent_members = {member_key(s): s for s in parent_body if member_key(s)}
    removed = [name for name in map(removed_by_property, child_body) if name]
    members = [s for s in child_body if not (is_docstring(s) or _is_filler(s) or removed_by_property(s))]
    overridden = {member_key(s) for s in members if member_key(s)}
    rewritten, kept, span = [], {}, None
    for statement in members:
        if isinstance(statement, cst.FunctionDef):
            statement, needs, inlined = _rewrite_method(statement, parent_members, overridden)
            if statement.name.value == "__init__":
                span = inlined
                statement, deleted = deletions(statement, inlined[1] if inlined else len(_body(statement)))
                removed += deleted
            for name in sorted(needs):
                kept[name] = _kept_parent_method(parent_members, name, owner)
        rewritten.append(statement)
    body = _merge_members([s for s in parent_body if not is_docstring(s)], rewritten, kept)
    for name in dict.fromkeys(removed):
        body = _remove_member(body, name, span, owner)
        _check_unused(body, name, owner)
    docstring = _merged_docstring(parent_body, child_body, body, owner)
    body = _spaced([docstring, *body] if docstring else body) or [cst.SimpleStatementLine([cst.Pass()])]
    decorators = [
        *parent.decorators,
        *(d for d in child.decorators if code(d) not in {code(p) for p in parent.decorators}),
    ]
    return child.with_changes(
        bases=_bases(child, parent, parent_base),
        keywords=parent.keywords or child.keywords,
        decorators=decorators,
        body=parent.body.with_changes(body=body),
        lpar=cst.LeftParen() if parent.bases or parent.keywords else cst.MaybeSentinel.DEFAULT,
        rpar=cst.RightParen() if parent.bases or parent.keywords else cst.MaybeSentinel.DEFAULT,
    )
