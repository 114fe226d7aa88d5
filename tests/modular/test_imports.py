"""Import blocks are written as ruff's isort writes them (checked against ruff itself)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rosetta.modular.imports import Binding, render_imports

REPO = Path(__file__).resolve().parents[2]


def _ruff() -> str | None:
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.is_file() else shutil.which("ruff")


def test_sections_order_and_wrapping(tmp_path: Path):
    folder = tmp_path / "pkg" / "models" / "roberta"
    bindings = [
        Binding(
            "PreTrainedModel", tmp_path / "pkg" / "backends" / "torch" / "modeling_utils", "PreTrainedModel"
        ),
        Binding("RobertaConfig", folder / "configuration_roberta", "RobertaConfig"),
        Binding("torch", "torch"),
        Binding("nn", "torch", "nn"),
        Binding("F", "torch.nn", "functional", True),
        Binding("CrossEntropyLoss", "torch.nn", "CrossEntropyLoss"),
        Binding("ACT2FN", "torch.nn", "ACT2FN"),
        Binding("math", "math"),
        Binding("Any", "typing", "Any"),
        Binding("jnp", "jax.numpy", None, True),
        Binding("annotations", "__future__", "annotations"),
        Binding("get_activation", "rosetta.backends.torch.activations", "get_activation"),
        *(
            Binding(f"ModelOutput{i}", tmp_path / "pkg" / "core" / "outputs", f"ModelOutput{i}")
            for i in (10, 9, 1, 2, 3, 4, 5)
        ),
    ]
    block = render_imports(bindings, folder, frozenset({"rosetta"}))
    assert block == (
        "from __future__ import annotations\n"
        "\n"
        "import math\n"
        "from typing import Any\n"
        "\n"
        "import jax.numpy as jnp\n"
        "import torch\n"
        "from torch import nn\n"
        "from torch.nn import ACT2FN, CrossEntropyLoss\n"
        "from torch.nn import functional as F\n"
        "\n"
        "from rosetta.backends.torch.activations import get_activation\n"
        "\n"
        "from ...backends.torch.modeling_utils import PreTrainedModel\n"
        "from ...core.outputs import (\n"
        "    ModelOutput1,\n"
        "    ModelOutput2,\n"
        "    ModelOutput3,\n"
        "    ModelOutput4,\n"
        "    ModelOutput5,\n"
        "    ModelOutput9,\n"
        "    ModelOutput10,\n"
        ")\n"
        "from .configuration_roberta import RobertaConfig"
    )


@pytest.mark.parametrize(
    "names",
    [
        ["Zeta", "alpha", "BETA", "gamma_2", "gamma_10", "Ab", "aB", "_private", "CONSTANT_X", "X"],
        ["nn", "functional", "Module", "MSELoss", "init"],
    ],
)
def test_member_order_matches_ruff(tmp_path: Path, names: list[str]):
    folder = REPO / "rosetta" / "models" / "roberta"
    bindings = [Binding(name, "some_module", name) for name in names]
    bindings += [Binding(name, REPO / "rosetta" / "core" / "outputs", name) for name in names]
    block = render_imports(bindings, folder, frozenset({"rosetta"}))
    text = block + "\n\nVALUE = (" + ", ".join(names) + ")\n"  # one blank line before a non-definition
    result = subprocess.run(
        [
            _ruff(),
            "check",
            "--no-cache",
            "--config",
            str(REPO / "pyproject.toml"),
            "--select",
            "I",
            "--stdin-filename",
            str(folder / "modeling_roberta.py"),
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
