"""The one table of frameworks: every other place that names a framework reads it from here.

A framework has one key (`torch`, `tf`, `flax`) used everywhere in rosetta's own code, and the
spellings the field uses around it: the class prefix (`TF...`, `Flax...`), the `return_tensors`
value (`pt`), the name people read (`PyTorch`), the extra that installs it, the modules it
needs and its Hub tag. `framework_key` accepts any of those spellings.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .errors import ConfigError

# The distribution on the package index (`rosetta` there is another project); the import name is `rosetta`.
DISTRIBUTION_NAME = "rosetta-models"


@dataclass(frozen=True)
class Framework:
    key: str  # "torch" | "tf" | "flax"
    class_prefix: str  # "", "TF", "Flax"
    tensor_type: str  # return_tensors value: "pt", "tf", "jax"
    display_name: str  # "PyTorch", ...
    extra: str  # pip extra that installs it
    modules: tuple[str, ...]  # top-level modules it needs
    hub_tag: str  # model card tag
    aliases: tuple[str, ...] = ()

    def is_available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.modules)


FRAMEWORKS: dict[str, Framework] = {
    "torch": Framework("torch", "", "pt", "PyTorch", "torch", ("torch",), "pytorch", ("pt", "pytorch")),
    "tf": Framework(
        "tf", "TF", "tf", "TensorFlow", "tf", ("tensorflow", "keras"), "tf", ("tensorflow", "keras")
    ),
    "flax": Framework("flax", "Flax", "jax", "JAX/Flax", "flax", ("jax", "flax"), "jax", ("jax",)),
}

_SPELLINGS = {
    spelling.lower(): fw.key
    for fw in FRAMEWORKS.values()
    for spelling in (fw.key, fw.tensor_type, fw.display_name, *fw.aliases)
}


def framework_key(name: str) -> str:
    """'pt', 'PyTorch', 'torch' -> 'torch'; 'tensorflow' -> 'tf'; 'jax' -> 'flax'."""
    key = _SPELLINGS.get(str(name).lower())
    if key is None:
        raise ConfigError(f"Unknown framework {name!r}; use one of {', '.join(FRAMEWORKS)}.")
    return key


def get_framework(name: str) -> Framework:
    return FRAMEWORKS[framework_key(name)]


def available_frameworks() -> list[str]:
    """Keys of the frameworks installed here, in the table's order."""
    return [key for key, fw in FRAMEWORKS.items() if fw.is_available()]


def framework_of_class_name(class_name: str) -> str:
    """'TFAutoModel' -> 'tf', 'FlaxAutoModel' -> 'flax', 'AutoModel' -> 'torch'."""
    for key in ("tf", "flax"):
        prefix = FRAMEWORKS[key].class_prefix
        if class_name.startswith(prefix) and class_name[len(prefix) : len(prefix) + 1].isupper():
            return key
    return "torch"


def missing_framework_message(key: str, distribution: str = DISTRIBUTION_NAME) -> str:
    fw = FRAMEWORKS[key]
    return (
        f"{fw.display_name} is not installed, and this needs it. "
        f"Install it with: pip install '{distribution}[{fw.extra}]'"
    )
