"""From one modular source to the standalone files of its model folder.

1. Read the modular file; rename, in its code, the names it imports from other models.
2. Flatten each class that subclasses another model's class (see flatten.py); it goes to the
   file of the kind its parent's file has (`configuration`, `modeling`, `modeling_tf`, ...).
3. Pull in, file by file, every definition the code uses: the modular file's own first, then
   the parent files' (renamed), then imports. A definition of another kind is imported from
   that generated file (`from .configuration_roberta import RobertaConfig`).
4. Order each file as its parent file is ordered, new classes just before their first user,
   and write it: banner, docstring, sorted imports, definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from .cst_tools import code, free_names, load_time_names, rename, strip_blank_lines
from .errors import ModularError
from .flatten import flatten_class
from .imports import Binding, render_imports
from .naming import ModelNames, Renamer, infer_camel
from .paths import (
    BANNER_MARK,
    KINDS,
    display_path,
    dotted_name,
    is_generated,
    is_modular_file,
    model_file,
    modular_file,
    package_root,
    split_model_file,
)
from .sources import Definition, ModularClass, Source, load_modular, load_parent, rename_modular

_FRAMEWORKS = {
    "torch": "modeling",
    "tensorflow": "modeling_tf",
    "keras": "modeling_tf",
    "tf_keras": "modeling_tf",
    "flax": "modeling_flax",
    "jax": "modeling_flax",
    "optax": "modeling_flax",
}
_BACKENDS = {"torch": "modeling", "tf": "modeling_tf", "flax": "modeling_flax"}
_UTILS = re.compile(r"^(modeling(?:_tf|_flax)?)_utils$")


def banner(modular_path: Path) -> str:
    return (
        f"{BANNER_MARK}{display_path(modular_path)} by `python -m rosetta modular`.\n"
        "# Do not edit it: edit the modular source and run that command again.\n"
    )


@dataclass(frozen=True)
class SiblingImport:
    """A name the new model's file of another kind defines (a hand-written file)."""

    kind: str
    name: str


@dataclass(eq=False)
class Emitted:
    definition: Definition
    node: cst.BaseStatement
    aliases: dict[str, Binding]  # names the node was re-aliased to, and what they mean


def framework_kind(binding: Binding) -> str | None:
    """The file kind a class deriving from what `binding` imports belongs to, if it tells."""
    module = dotted_name(binding.module) if isinstance(binding.module, Path) else binding.module
    parts = [*module.split("."), *([binding.member] if binding.member else [])]
    if parts[0] in _FRAMEWORKS:
        return _FRAMEWORKS[parts[0]]
    for here, after in zip(parts, parts[1:]):
        if here == "backends" and after in _BACKENDS:
            return _BACKENDS[after]
        if here == "core" and after in KINDS:
            return after
    for part in parts:
        match = _UTILS.match(part)
        if match:
            return match.group(1)
    return None


class Session:
    """One run of the generator: generated texts are reused when a parent is itself modular."""

    def __init__(self) -> None:
        self._generated: dict[Path, dict[str, str]] = {}
        self._active: list[Path] = []

    def generate(self, modular_path: Path) -> dict[str, str]:
        modular_path = Path(modular_path).resolve()
        if not is_modular_file(modular_path) or not modular_path.is_file():
            raise ModularError(
                f"{modular_path} is not a modular source (expected an existing <arch>/modular_<arch>.py)."
            )
        if modular_path in self._generated:
            return self._generated[modular_path]
        if modular_path in self._active:
            chain = " -> ".join(p.name for p in [*self._active, modular_path])
            raise ModularError(f"Modular sources inherit from each other in a cycle: {chain}.")
        self._active.append(modular_path)
        try:
            result = _Builder(self, modular_path).build()
        finally:
            self._active.pop()
        self._generated[modular_path] = result
        return result

    def parent_text(self, file: Path) -> str:
        """A parent file's text: what its own modular source generates, when it has one."""
        source = modular_file(file.parent)
        if source.is_file():
            generated = self.generate(source)
            if file.name in generated:
                return generated[file.name]
        return file.read_text(encoding="utf-8")


class _Builder:
    def __init__(self, session: Session, path: Path) -> None:
        self.session = session
        self.path = path
        self.folder = path.parent
        self.arch = self.folder.name
        self.parent_sources: dict[Path, Source] = {}
        self.renamers: dict[str, Renamer] = {}
        self.emitted: dict[str, dict[str, Emitted]] = {kind: {} for kind in KINDS}
        self.bindings: dict[str, dict[Binding, None]] = {kind: {} for kind in KINDS}
        self.targets: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}

    # -- entry -----------------------------------------------------------------------------------
    def build(self) -> dict[str, str]:
        try:
            self._load()
            self._flatten()
            self._assign_kinds()
            self._close()
            self._check_replacements()
            return {
                model_file(self.folder, kind).name: self._render(kind) for kind in KINDS if self.emitted[kind]
            }
        except (ValueError, SyntaxError, OSError, cst.ParserSyntaxError) as err:
            if isinstance(err, ModularError):
                raise
            raise ModularError(f"{display_path(self.path)}: {err}") from err

    # -- reading -----------------------------------------------------------------------------------
    def _load(self) -> None:
        self.modular, self.flattened, arches = load_modular(self.path)
        pairs: dict[str, list[tuple[str, str]]] = {}
        for name, info in self.flattened.items():
            pairs.setdefault(split_model_file(info.parent_file)[1], []).append((name, info.parent_name))
        new_camel, old_camels = None, {}
        for arch in sorted(set(arches.values())):
            new, old_camels[arch] = infer_camel(pairs.get(arch, []), self.arch, arch)
            new_camel = new_camel or new
        new_names = ModelNames.from_folder(self.arch, new_camel, declared_display_name(self.path.parent))
        for arch, old in old_camels.items():
            self.renamers[arch] = Renamer(ModelNames.from_folder(arch, old), new_names)
        rename_modular(self.modular, self.renamers, arches)
        for file, _ in self.modular.parents.values():
            self.parent_source(file)

    def parent_source(self, file: Path) -> Source:
        if file not in self.parent_sources:
            kind, arch = split_model_file(file)
            if arch not in self.renamers:
                raise ValueError(f"no renaming known for model `{arch}` ({file}).")
            text = self.session.parent_text(file)
            self.parent_sources[file] = load_parent(file, text, kind, self.renamers[arch])
        return self.parent_sources[file]

    def kind_parents(self, kind: str) -> list[Source]:
        return [s for s in self.parent_sources.values() if s.kind == kind]

    # -- looking names up ------------------------------------------------------------------------
    def parent_lookup(self, file: Path, name: str):
        source = self.parent_source(file)
        if name in source.definitions:
            return source.definitions[name]
        if name in source.siblings:
            kind, member = source.siblings[name]
            return self.sibling_lookup(kind, member, file.parent)
        return source.bindings.get(name)

    def sibling_lookup(self, kind: str, name: str, parent_folder: Path):
        """`name` of the new model's `kind` file: the modular file's, a hand-written file's, or the parent's."""
        if name in self.modular.definitions:
            return self.modular.definitions[name]
        if self._hand_written(kind):
            return SiblingImport(kind, name)
        parent_file = model_file(parent_folder, kind)
        if parent_file.is_file() or modular_file(parent_folder).is_file():
            try:
                return self.parent_lookup(parent_file, name)
            except FileNotFoundError:
                return None
        return None

    def _hand_written(self, kind: str) -> bool:
        path = model_file(self.folder, kind)
        return path.is_file() and not is_generated(path)

    def lookup(self, name: str, user: Definition):
        if name in self.modular.definitions:
            return self.modular.definitions[name]
        for scope in user.scopes:
            if scope is self.modular:
                if name in scope.bindings:
                    return scope.bindings[name]
                if name in scope.parents:
                    return self.parent_lookup(*scope.parents[name])
            else:
                found = self.parent_lookup(scope.path, name)
                if found is not None:
                    return found
        for source in list(self.parent_sources.values()):
            if name in source.definitions:
                return source.definitions[name]
        return None

    # -- flattening and kinds --------------------------------------------------------------------
    def _flatten(self) -> None:
        for definition in self.modular.order:
            info: ModularClass | None = self.flattened.get(definition.name)
            if info is None or not isinstance(definition.node, cst.ClassDef):
                continue
            arch = split_model_file(info.parent_file)[1]
            parent_name = self.renamers[arch].name(info.parent_name)
            parent = self.parent_lookup(info.parent_file, parent_name)
            if not isinstance(parent, Definition) or not isinstance(parent.node, cst.ClassDef):
                raise ValueError(
                    f"`{info.parent_name}` (from {info.parent_file.name}) is not a class that can be flattened."
                )
            try:
                definition.node = flatten_class(definition.node, parent.node, info.base_index)
            except ValueError as err:
                raise ValueError(f"class `{definition.name}`: {err}") from err
            definition.kind = parent.source.kind
            definition.scopes = (parent.source, self.modular)
            definition.parent = parent
            definition.written_as = info.parent_name

    def _assign_kinds(self) -> None:
        for definition in self.modular.order:
            if definition.kind is None and isinstance(definition.node, cst.ClassDef):
                definition.kind = self._class_kind(definition)
            if definition.kind is not None and self._hand_written(definition.kind):
                path = model_file(self.folder, definition.kind)
                raise ValueError(
                    f"`{definition.name}` belongs in {path.name}, which is hand-written (it has no generated "
                    f"banner); move that file's code into {self.path.name} or the class out of it."
                )

    def _class_kind(self, definition: Definition) -> str | None:
        for base in definition.node.bases:
            head = base.value
            while isinstance(head, (cst.Attribute, cst.Subscript)):
                head = head.value
            if not isinstance(head, cst.Name):
                continue
            found = self.lookup(head.value, definition)
            if isinstance(found, Definition) and found.kind:
                return found.kind
            if isinstance(found, Binding) and framework_kind(found):
                return framework_kind(found)
        for prefix, kind in (("TF", "modeling_tf"), ("Flax", "modeling_flax")):
            if (
                definition.name.startswith(prefix)
                and definition.name[len(prefix) : len(prefix) + 1].isupper()
            ):
                return kind
        return None

    # -- pulling dependencies in -------------------------------------------------------------------
    def _close(self) -> None:
        for definition in self.modular.order:
            if definition.kind:
                self._emit(definition.kind, definition)
        for definition in self.modular.order:
            if definition.kind is None and not any(definition.name in e for e in self.emitted.values()):
                kind = self._unused_kind(definition)
                self._emit(kind, definition)

    def _unused_kind(self, definition: Definition) -> str:
        kinds = {
            framework_kind(found)
            for name in free_names(definition.node)
            if isinstance(found := self.lookup(name, definition), Binding)
        } - {None}
        if len(kinds) == 1:
            return kinds.pop()
        raise ValueError(
            f"`{definition.name}` is used by no generated class and does not tell which file it belongs to; "
            f"use it from a class, or remove it."
        )

    def _emit(self, kind: str, definition: Definition) -> None:
        table = self.emitted[kind]
        if definition.name in table:
            if table[definition.name].definition is not definition:
                other = table[definition.name].definition
                raise ValueError(
                    f"`{definition.name}` is defined both in {definition.source.path.name} and "
                    f"{other.source.path.name} for {model_file(self.folder, kind).name}; define it in {self.path.name}."
                )
            return
        node, aliases = self._aliased(kind, definition)
        emitted = Emitted(definition, node, aliases)
        table[definition.name] = emitted
        for name in sorted(free_names(node) - set(definition.names)):
            self._resolve(kind, name, emitted)

    def _resolve(self, kind: str, name: str, user: Emitted) -> None:
        found = user.aliases.get(name) or self.lookup(name, user.definition)
        if isinstance(found, Definition):
            target = found.kind or kind
            if target != kind:
                self._bind(kind, self._sibling_binding(target, name, found.name))
            self._emit(target, found)
        elif isinstance(found, SiblingImport):
            self._bind(kind, self._sibling_binding(found.kind, name, found.name))
        elif isinstance(found, Binding):
            self._bind(kind, found)

    def _sibling_binding(self, kind: str, name: str, member: str) -> Binding:
        return Binding(name, model_file(self.folder, kind).with_suffix(""), member, name != member)

    def _bind(self, kind: str, binding: Binding) -> None:
        target = self.targets[kind].setdefault(binding.name, binding.target)
        if target != binding.target:
            raise ValueError(
                f"`{binding.name}` would mean both `{target}` and `{binding.target}` in "
                f"{model_file(self.folder, kind).name}; import one of them under another name."
            )
        self.bindings[kind][binding] = None

    def _aliased(self, kind: str, definition: Definition) -> tuple[cst.BaseStatement, dict[str, Binding]]:
        """A modular definition with its imports named as the parent file of `kind` names them.

        `import flax.linen as fnn` in the modular file (where `nn` is torch's) becomes `nn` in
        the Flax file, when the Flax parent file imports flax.linen as `nn`.
        """
        if definition.source is not self.modular:
            return definition.node, {}
        canonical: dict[str, tuple[str, Binding]] = {}
        for source in self.kind_parents(kind):
            for name, binding in source.bindings.items():
                canonical.setdefault(binding.target, (name, binding))
        used = free_names(definition.node)
        renames, aliases = {}, {}
        for name in sorted(used):
            found = self.lookup(name, definition)
            if not isinstance(found, Binding) or found not in self.modular.bindings.values():
                continue
            new, binding = canonical.get(found.target, (name, None))
            if (
                new == name
                or new in used
                and getattr(self.lookup(new, definition), "target", None) != found.target
            ):
                continue
            renames[name], aliases[new] = new, binding
        return (rename(definition.node, renames) if renames else definition.node), aliases

    # -- the unused-replacement rule ---------------------------------------------------------------
    def _check_replacements(self) -> None:
        """A class defined to replace a parent's class must be used where that class was.

        When the modular file defines `C(P)` under a name that is not P's renamed name R, and R is
        not defined in the modular file either, then a modular class D whose code still uses R
        (pulled in from the parent) and not C is an error: C was meant to replace R in D.
        """
        for replacement in self.modular.order:
            parent = replacement.parent
            if parent is None or parent.name == replacement.name or parent.name in self.modular.definitions:
                continue
            for kind in KINDS:
                for emitted in self.emitted[kind].values():
                    user = emitted.definition
                    if user.source is not self.modular or user is replacement:
                        continue
                    used = free_names(emitted.node)
                    if parent.name in used and replacement.name not in used:
                        written = f" (from `{user.written_as}`)" if user.written_as else ""
                        raise ValueError(
                            f"You defined `{replacement.name}` in {self.path.name}; it should be used when you "
                            f"define `{user.name}`{written}, as it is one of its direct dependencies: "
                            f"`{user.name}` still uses `{parent.name}`, pulled in from {parent.source.path.name}. "
                            f"Make sure you use it in the `__init__` function (or define `{parent.name}` in "
                            f"{self.path.name} too, if both are meant to exist)."
                        )

    # -- writing -----------------------------------------------------------------------------------
    def _ordered(self, kind: str) -> list[Emitted]:
        items = list(self.emitted[kind].values())
        parents = self.kind_parents(kind)

        def position(name: str) -> tuple[int, int] | None:
            for i, source in enumerate(parents):
                if name in source.definitions:
                    return (i, source.definitions[name].index)
            return None

        placed = sorted(
            (e for e in items if position(e.definition.name)), key=lambda e: position(e.definition.name)
        )
        keys = [position(e.definition.name) for e in placed]
        pending = [e for e in items if e not in placed]
        for e in list(pending):
            anchor = position(e.definition.parent.name) if e.definition.parent else None
            if anchor:
                at = sum(1 for k in keys if k <= anchor)
                placed.insert(at, e)
                keys.insert(at, anchor)
                pending.remove(e)
        changed = True
        while pending and changed:
            changed = False
            for e in list(pending):
                users = [i for i, u in enumerate(placed) if set(e.definition.names) & free_names(u.node)]
                if users:
                    placed.insert(users[0], e)
                    keys.insert(users[0], keys[users[0]])
                    pending.remove(e)
                    changed = True
        return _load_order(placed + pending)

    def _render(self, kind: str) -> str:
        items = self._ordered(kind)
        parents = self.kind_parents(kind)
        parts = [banner(self.path)]
        docstring = next((s.docstring for s in parents if s.docstring is not None), None)
        if docstring is not None:
            parts.append(code(strip_blank_lines(docstring)))
        bindings = list(self.bindings[kind])
        if self.modular.future or any(s.future for s in parents):
            bindings.append(Binding("annotations", "__future__", "annotations"))
        first_party = frozenset({"rosetta", package_root(self.folder).name})
        text = "".join(parts)
        if bindings:
            text += "\n" + render_imports(bindings, self.folder, first_party) + "\n"
        body = _join([strip_blank_lines(e.node) for e in items])
        gap = "\n\n" if items and isinstance(items[0].node, (cst.ClassDef, cst.FunctionDef)) else "\n"
        text += gap + body
        exported = self._exported(kind, items, parents)
        if exported is not None:
            text += "\n\n__all__ = [\n" + "".join(f'    "{name}",\n' for name in exported) + "]\n"
        return text

    def _exported(self, kind: str, items: list[Emitted], parents: list[Source]) -> list[str] | None:
        lists = [s.all_names for s in parents if s.all_names is not None]
        if not lists:
            return None
        names = {e.definition.name for e in items}
        listed = [n for names_ in lists for n in names_ if n in names]
        new = [
            e.definition.name
            for e in items
            if e.definition.source is self.modular
            and isinstance(e.node, cst.ClassDef)
            and not e.definition.name.startswith("_")
        ]
        return list(dict.fromkeys(listed + new))


def _join(statements: list[cst.BaseStatement]) -> str:
    """Top-level statements: two blank lines around classes and functions, one between the rest."""
    out = ""
    for i, statement in enumerate(statements):
        text = code(statement).rstrip("\n") + "\n"
        if i:
            compound = isinstance(statement, cst.BaseCompoundStatement) or isinstance(
                statements[i - 1], cst.BaseCompoundStatement
            )
            out += "\n\n" if compound else "\n"
        out += text
    return out


def _load_order(items: list[Emitted]) -> list[Emitted]:
    """`items` in their order, except that nothing comes before what it needs at import time."""
    owner = {name: e for e in items for name in e.definition.names}
    placed: list[Emitted] = []
    done: set[int] = set()
    remaining = list(items)

    def ready(e: Emitted) -> bool:
        return {id(owner[n]) for n in load_time_names(e.node) if n in owner and owner[n] is not e} <= done

    while remaining:
        e = remaining.pop(next((i for i, e in enumerate(remaining) if ready(e)), 0))
        placed.append(e)
        done.add(id(e))
    return placed


def generate(modular_path: str | Path, session: Session | None = None) -> dict[str, str]:
    """The standalone files a modular source generates: file name -> source text."""
    return (session or Session()).generate(Path(modular_path))


def declared_display_name(folder: Path) -> str | None:
    """`DISPLAY_NAME = "RoBERTa"` in the model folder's __init__.py: how prose names the model."""
    init = folder / "__init__.py"
    if not init.exists():
        return None
    match = re.search(r'^DISPLAY_NAME\s*=\s*"([^"]+)"', init.read_text(encoding="utf-8"), re.MULTILINE)
    return match.group(1) if match else None
