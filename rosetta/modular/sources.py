"""Reading the files the generator works from: the modular source and the parent model files.

A parent file is read renamed (`Bert` -> `Roberta` in every name, string and comment, except
names it imports from outside its own model); its imports are kept apart, as bindings, and its
imports of its own model's other files (`from .configuration_bert import BertConfig`) as
siblings: in the generated model they mean the new model's files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .cst_tools import bound_names, is_docstring, rename
from .imports import Binding, bindings_of, is_import
from .naming import Renamer
from .paths import modular_file, resolve_absolute, split_model_file

Statement = cst.BaseStatement


@dataclass(eq=False)
class Definition:
    """A top-level statement that defines names (class, function, constant, other)."""

    names: tuple[str, ...]
    node: Statement
    source: Source
    index: int
    kind: str | None = None  # the file kind it belongs to; None: it goes wherever it is used
    scopes: tuple[Source, ...] = ()  # where the names it uses are looked up
    parent: Definition | None = None  # for a flattened class: the parent class it was flattened from
    written_as: str | None = None  # for a flattened class: its parent as the modular file names it

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass(eq=False)
class Source:
    path: Path
    kind: str | None = None
    docstring: Statement | None = None
    future: bool = False
    definitions: dict[str, Definition] = field(default_factory=dict)
    order: list[Definition] = field(default_factory=list)
    bindings: dict[str, Binding] = field(default_factory=dict)
    siblings: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, name in that file)
    parents: dict[str, tuple[Path, str]] = field(
        default_factory=dict
    )  # modular: name -> (parent file, name there)
    all_names: list[str] | None = None

    def add(self, definition: Definition) -> None:
        self.order.append(definition)
        for name in definition.names:
            self.definitions.setdefault(name, definition)


def model_file_of(binding: Binding, file: Path) -> tuple[Path, str, str] | None:
    """(file, kind, arch) when a binding imports from a model file (`..bert.modeling_bert`)."""
    module = binding.module
    if not isinstance(module, Path):
        module = resolve_absolute(file, module)
    if module is None:
        return None
    target = module.with_name(module.name + ".py")
    split = split_model_file(target) if _exists(target) else None
    if split is None and binding.member is not None:
        module_file = module / f"{binding.member}.py"
        if _exists(module_file) and split_model_file(module_file):
            raise ValueError(
                f"{file.name} imports the model file `{binding.member}` as a module; import the names "
                f"you need from it instead (`from ..{module.name}.{binding.member} import ...`)."
            )
    return (target, *split) if split else None


def _exists(file: Path) -> bool:
    """Whether a model file exists, or will: its folder has a modular source that may generate it."""
    return file.is_file() or split_model_file(file) is not None and modular_file(file.parent).is_file()


def _names(statement: Statement) -> tuple[str, ...]:
    if isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
        return (statement.name.value,)
    return tuple(sorted(bound_names(statement)))


def _all_names(statement: Statement) -> list[str] | None:
    if _names(statement) != ("__all__",):
        return None
    value = statement.body[0].value if isinstance(statement, cst.SimpleStatementLine) else None
    if isinstance(value, (cst.List, cst.Tuple)):
        return [e.value.evaluated_value for e in value.elements if isinstance(e.value, cst.SimpleString)]
    return []


def _split_imports(module: cst.Module, path: Path) -> tuple[list[Binding], bool]:
    bindings, future = [], False
    for statement in module.body:
        if not is_import(statement):
            continue
        for small in statement.body:
            for binding in bindings_of(small, path):
                if binding.module == "__future__":
                    future = True
                else:
                    bindings.append(binding)
    return bindings, future


def load_parent(path: Path, text: str, kind: str, renamer: Renamer) -> Source:
    """A parent model file, renamed to the new model."""
    original = cst.parse_module(text)
    bindings, future = _split_imports(original, path)
    source = Source(path=path, kind=kind, future=future)
    for binding in bindings:
        model = model_file_of(binding, path)
        if model and model[0].parent == path.parent and binding.member is not None:
            source.siblings[renamer.name(binding.name)] = (model[1], renamer.name(binding.member))
        else:
            source.bindings[binding.name] = binding
    renamed = cst.parse_module(renamer.text(text, protected=source.bindings))
    for index, (before, after) in enumerate(zip(original.body, renamed.body)):
        if is_import(before):
            continue
        if index == 0 and is_docstring(after):
            source.docstring = after
            continue
        all_names = _all_names(after)
        if all_names is not None:
            source.all_names = all_names
            continue
        names = _names(after)
        if names:
            source.add(Definition(names, after, source, index, kind, (source,)))
    return source


@dataclass
class ModularClass:
    """What the modular file says about one class that subclasses another model's class."""

    base_index: int
    parent_file: Path
    parent_name: str  # as imported, e.g. `BertModel`


def load_modular(path: Path) -> tuple[Source, dict[str, ModularClass], dict[str, str]]:
    """The modular source, unrenamed: (source, classes to flatten, parent-import name -> arch).

    The definitions' nodes are still written with the parent's names; `rename_modular` renames them
    once the renamers are known.
    """
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    bindings, future = _split_imports(module, path)
    source = Source(path=path, future=future)
    arches: dict[str, str] = {}
    for binding in bindings:
        model = model_file_of(binding, path)
        if model is None or model[2] == path.parent.name:
            source.bindings[binding.name] = binding
        elif binding.member is None:
            raise ValueError(
                f"{path.name} imports the module {binding.module}; import the names you need from it."
            )
        else:
            source.parents[binding.name] = (model[0], binding.member)
            arches[binding.name] = model[2]
    flattened: dict[str, ModularClass] = {}
    for index, statement in enumerate(module.body):
        if (
            is_import(statement)
            or (index == 0 and is_docstring(statement))
            or _all_names(statement) is not None
        ):
            continue
        names = _names(statement)
        if not names:
            continue
        source.add(Definition(names, statement, source, index, None, (source,)))
        if isinstance(statement, cst.ClassDef):
            found = _flatten_base(statement, source)
            if found:
                flattened[statement.name.value] = found
    return source, flattened, arches


def _flatten_base(node: cst.ClassDef, source: Source) -> ModularClass | None:
    hits = [
        (i, base.value.value)
        for i, base in enumerate(node.bases)
        if isinstance(base.value, cst.Name) and base.value.value in source.parents
    ]
    if len(hits) > 1:
        names = ", ".join(f"`{name}`" for _, name in hits)
        raise ValueError(f"class `{node.name.value}` subclasses several models' classes ({names}); use one.")
    if not hits:
        return None
    index, name = hits[0]
    return ModularClass(index, source.parents[name][0], source.parents[name][1])


def rename_modular(source: Source, renamers: dict[str, Renamer], arches: dict[str, str]) -> None:
    """Rename, in the modular definitions, every name imported from a parent model."""
    mapping = {name: renamers[arches[name]].name(member) for name, (_, member) in source.parents.items()}
    source.parents = {mapping[n]: (file, mapping[n]) for n, (file, _) in source.parents.items()}
    for definition in source.order:
        definition.node = rename(definition.node, mapping)
