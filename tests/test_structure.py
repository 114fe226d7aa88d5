"""The shape of rosetta/: no import cycle, floors imported only downwards, models that declare
themselves, and core/ and convert/ that name no model. Read from the source files (ast), so a
failure names the file and the import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "rosetta"

# Floor of each part of rosetta/: a module-level import may point down or sideways, never up.
FLOORS = {
    "core": 0,
    "logging": 0,
    "convert": 1,
    "backends": 2,
    "models": 3,
    "verify": 4,
    "pipelines": 4,
    "data": 1,  # neutral collators (numpy + core), used by the Trainer: beside convert
    "demo": 4,
    "modular": 4,
    "commands": 4,
    "cli": 4,
    "__main__": 4,
}


def _modules() -> dict[str, Path]:
    modules = {}
    for file in ROOT.rglob("*.py"):
        name = ".".join(file.relative_to(ROOT.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = file
    return modules


MODULES = _modules()


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test)


def _imports(tree: ast.AST, module_level: bool) -> list[ast.Import | ast.ImportFrom]:
    """Import statements of `tree`: all of them, or only those run at import time (not in functions)."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            if module_level and (
                isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                or _is_type_checking(child)
            ):
                continue
            stack.append(child)
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The rosetta modules an import statement names (a package's own names included)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in names if name in MODULES and name != module]


def _edges(module_level: bool, skip_package_faces: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, file in MODULES.items():
        if skip_package_faces and file.name == "__init__.py":
            continue
        for node in _imports(ast.parse(file.read_text(encoding="utf-8")), module_level):
            for target in _targets(module, node):
                # A package face (__init__.py) only hands names on: its arrows are not cycles of files.
                if not (skip_package_faces and MODULES[target].name == "__init__.py"):
                    edges[module].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _floor(module: str) -> int | None:
    parts = module.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


def test_no_import_cycle_between_files():
    cycles = _cycles(_edges(module_level=False, skip_package_faces=True))
    assert not cycles, "import cycles (module- and function-level imports):\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_every_part_of_rosetta_has_a_floor():
    unplaced = sorted({m.split(".")[1] for m in MODULES if "." in m} - set(FLOORS))
    assert not unplaced, (
        f"rosetta/{unplaced}: add each to FLOORS in {Path(__file__).name} (and docs/architecture.md)"
    )


def test_module_level_imports_never_point_up_a_floor():
    upward = []
    for module, targets in _edges(module_level=True, skip_package_faces=False).items():
        floor = _floor(module)
        for target in sorted(targets):
            target_floor = _floor(target)
            if floor is not None and target_floor is not None and target_floor > floor:
                upward.append(f"{MODULES[module].relative_to(ROOT.parent)} imports {target}")
    assert not upward, (
        "imports up a floor (core <- convert <- backends <- models <- the rest):\n" + "\n".join(upward)
    )


def model_folders() -> list[Path]:
    return sorted(p for p in (ROOT / "models").iterdir() if p.is_dir() and p.name != "__pycache__")


def _declared(folder: Path) -> dict[str, ast.expr]:
    init = folder / "__init__.py"
    if not init.is_file():
        return {}
    tree = ast.parse(init.read_text(encoding="utf-8"))
    return {
        t.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_every_model_folder_declares_its_model_type():
    missing = [f.name for f in model_folders() if not {"MODEL_TYPE", "MODEL_TYPES"} & set(_declared(f))]
    assert not missing, f"rosetta/models/{missing}: each needs an __init__.py declaring MODEL_TYPE"
    assert len(model_folders()) >= 8


def model_names() -> list[str]:
    """Every model folder's name and every model_type the folders declare."""
    names = {f.name for f in model_folders()}
    for folder in model_folders():
        for key in ("MODEL_TYPE", "MODEL_TYPES"):
            value = _declared(folder).get(key)
            if value is not None:
                literal = ast.literal_eval(value)
                names.update([literal] if isinstance(literal, str) else literal)
    return sorted(names, key=len, reverse=True)


def naming_pattern(names: list[str]) -> re.Pattern[str]:
    """A model name as a word, any case: `bert/`, `BertConfig`, `TFBert`, `RoBERTa`, not `Robert` or `alberta`."""
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rf"(?<![a-z0-9])(?i:{alternatives})(?![a-z0-9])")


def test_the_naming_pattern():
    pattern = naming_pattern(["bert", "roberta", "vit", "wav2vec2"])
    hits = [
        "bert/pooler",
        "BertConfig",
        "TFBertModel",
        "RoBERTa",
        "modeling_bert",
        "ViT",
        "Wav2Vec2Processor",
    ]
    misses = ["Robert", "alberta", "activity", "inverted", "Bertie"]
    assert all(pattern.search(text) for text in hits)
    assert not any(pattern.search(text) for text in misses)


def test_core_and_convert_name_no_model():
    pattern = naming_pattern(model_names())
    found = []
    for part in ("core", "convert"):
        for file in sorted((ROOT / part).rglob("*.py")):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                # "llama.cpp" names a tool and its GGUF format, not a model; a line marked "# format values"
                # lists values a file format itself defines (GGUF's tokenizer.ggml.pre), not rosetta knowledge.
                line = line.replace("llama.cpp", "")
                if line.rstrip().endswith("# format values"):
                    continue
                if match := pattern.search(line):
                    found.append(
                        f"{file.relative_to(ROOT.parent)}:{number}: {match.group(0)!r}: {line.strip()}"
                    )
    assert not found, "core/ and convert/ must name no model:\n" + "\n".join(found)


FAKE_ARCH = {
    "__init__.py": """
        MODEL_TYPE = "fakearch"
        CONFIG = "FakeArchConfig"
        MODELS = {"torch": {"base": "FakeArchModel"}}
        IMPORT_STRUCTURE = {"configuration_fakearch": ["FakeArchConfig"], "modeling_fakearch": ["FakeArchModel"]}
    """,
    "configuration_fakearch.py": """
        from rosetta.core.configuration import PretrainedConfig


        class FakeArchConfig(PretrainedConfig):
            model_type = "fakearch"
    """,
    "modeling_fakearch.py": """
        class FakeArchModel:
            def __init__(self, config):
                self.config = config
    """,
}


def test_adding_an_architecture_is_adding_a_folder(tmp_path):
    """A model folder anywhere on rosetta.models' path is found: config, Auto classes, public names."""
    folder = tmp_path / "fakearch"
    folder.mkdir()
    for name, text in FAKE_ARCH.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    code = textwrap.dedent(f"""
        import rosetta.models
        rosetta.models.__path__.append({str(tmp_path)!r})
        import rosetta
        from rosetta import AutoConfig, AutoModel
        from rosetta.core import registry
        config = AutoConfig.for_model("fakearch")
        model = AutoModel.from_config(config)
        print(type(config).__name__, type(model).__name__, rosetta.FakeArchModel.__name__,
              "fakearch" in registry.available_model_types(), registry.model_class("fakearch", "pt").__name__)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["FakeArchConfig", "FakeArchModel", "FakeArchModel", "True", "FakeArchModel"]


def test_the_verifier_reaches_models_only_through_the_registry():
    """verify/ sits above the backends but imports none of them: a backend's base class uses its model card."""
    reached = [
        f"{MODULES[m].relative_to(ROOT.parent)} imports {t}"
        for m, targets in _edges(module_level=False, skip_package_faces=False).items()
        if m.startswith("rosetta.verify")
        for t in targets
        if t.startswith(("rosetta.backends", "rosetta.models", "rosetta.convert"))
    ]
    assert not reached, "\n".join(reached)
