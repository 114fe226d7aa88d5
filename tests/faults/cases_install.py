"""Fault-injection rows: a framework that is not installed (issue 12, "Broken for every user today").

Each row: `id`, `fault`, `entry_points`, the error class `expect` (by name: it is raised in a
fresh interpreter) and a substring `match` of its message, and `run(tmp_path) -> (error class
name, message)`: runs the entry point in a subprocess where importing the framework's modules
fails as if it were not installed (`sys.modules[name] = None`) and reports what was raised
(("", "") when nothing was). The same error whichever way the class is reached.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

# framework key -> (modules to block, a class of it, the extra its message names)
FRAMEWORKS = {
    "torch": (("torch",), "BertModel", "torch"),
    "tf": (("tensorflow", "keras"), "TFBertModel", "tf"),
    "flax": (("jax", "flax"), "FlaxBertModel", "flax"),
}

_REPORT = """
try:
{body}
except Exception as err:
    print("RAISED", type(err).__name__, str(err).splitlines()[0] if str(err) else "")
else:
    print("RAISED", "", "")
"""


def _run(blocked: tuple[str, ...], body: str) -> tuple[str, str]:
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    code = prelude + _REPORT.format(body=textwrap.indent(textwrap.dedent(body).strip(), "    "))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    line = next((x for x in reversed(out.stdout.splitlines()) if x.startswith("RAISED")), None)
    if line is None:
        return "crashed", (out.stderr.strip().splitlines() or [""])[-1]
    _, name, message = (line.split(" ", 2) + ["", ""])[:3]
    return name, message


def _import(key: str) -> Callable[[Path], tuple[str, str]]:
    blocked, name, _ = FRAMEWORKS[key]
    return lambda tmp_path: _run(blocked, f"from rosetta import {name}")


def _auto(key: str) -> Callable[[Path], tuple[str, str]]:
    blocked, _, _ = FRAMEWORKS[key]
    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}[key]
    body = f"""
        from rosetta import BertConfig, {prefix}AutoModel
        {prefix}AutoModel.from_config(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                                 intermediate_size=37, vocab_size=99))
    """
    return lambda tmp_path: _run(blocked, body)


def _verify_asks_for(key: str) -> Callable[[Path], tuple[str, str]]:
    blocked, _, _ = FRAMEWORKS[key]
    fixture = Path(__file__).resolve().parents[1] / "convert" / "fixtures" / "hf446" / "pt"
    body = f"""
        from rosetta.cli import main
        import contextlib, io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["verify", {str(fixture)!r}, "--frameworks", "torch,tf,flax"])
        if code != 2:
            raise SystemExit(f"exit code {{code}}")
        raise RuntimeError(err.getvalue().strip())
    """
    return lambda tmp_path: _run(blocked, body)


def _row(
    id: str, fault: str, entry_point: str, run: Callable[[Path], tuple[str, str]], expect: str, match: str
):
    return {
        "id": id,
        "fault": fault,
        "entry_points": (entry_point,),
        "run": run,
        "expect": expect,
        "match": match,
    }


CASES: list[dict[str, Any]] = [
    *(
        _row(
            f"install-no-{key}-import",
            f"{key} not installed: `from rosetta import {name}`",
            "import",
            _import(key),
            "MissingFrameworkError",
            f"[{extra}]'",
        )
        for key, (_, name, extra) in FRAMEWORKS.items()
    ),
    *(
        _row(
            f"install-no-{key}-auto",
            f"{key} not installed: an Auto class of it",
            "auto",
            _auto(key),
            "MissingFrameworkError",
            f"[{extra}]'",
        )
        for key, (_, _, extra) in FRAMEWORKS.items()
    ),
    *(
        _row(
            f"install-no-{key}-verify",
            f"{key} not installed: `rosetta verify --frameworks torch,tf,flax`",
            "verify",
            _verify_asks_for(key),
            "RuntimeError",  # the CLI's one-line error, exit code 2
            "is not installed, and this needs it",
        )
        for key in ("tf", "flax")
    ),
]


def check(case: dict[str, Any], tmp_path: Path) -> None:
    """Run one row and assert its outcome (for a collector that does not know this row format)."""
    name, message = case["run"](tmp_path)
    assert name == case["expect"] and case["match"] in message, (case["id"], name, message)
