"""The strongest check, optional: transformers 4.46.3 itself loads what `rosetta convert` writes.

Needs a side environment with transformers==4.46.3 (TF via tf-keras, and Flax), found at
$ROSETTA_HF446_PYTHON, .bench-envs/tf446 (benchmarks/setup_peers.sh) or /tmp/tf446; skipped otherwise.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import pytest

from .helpers import FIXTURES, convert

ROOT = Path(__file__).resolve().parents[2]
ENVS = ROOT / ".bench-envs"
CANDIDATES = [os.environ.get("ROSETTA_HF446_PYTHON", ""), str(ENVS / "tf446" / "bin" / "python"),
              str(ENVS / "flax446" / "bin" / "python"), "/tmp/tf446/bin/python"]
MODULES = {"tf": "tensorflow", "flax": "flax", "pt": "torch"}


@functools.cache
def hf446_python(framework: str) -> str | None:
    """A Python with transformers 4.46.3 and the framework's library."""
    probe = f"import transformers, {MODULES[framework]}; print(transformers.__version__)"
    for python in filter(None, CANDIDATES):
        if os.path.exists(python):
            run = subprocess.run([python, "-c", probe], capture_output=True, text=True)
            if run.stdout.strip().endswith("4.46.3"):
                return python
    return None


CASES = [  # (source fixture, --to, extra args, framework, transformers class)
    ("pt", "tf", [], "tf", "TFBertForPreTraining"),
    ("flax", "tf", ["--max-shard-size", "8KB"], "tf", "TFBertForPreTraining"),
    ("pt_base", "tf", [], "tf", "TFBertModel"),
    ("tf", "flax", [], "flax", "FlaxBertForPreTraining"),
    ("tf_safetensors", "flax", ["--max-shard-size", "8KB"], "flax", "FlaxBertForPreTraining"),
    ("tf_base", "flax", [], "flax", "FlaxBertModel"),
    ("flax", "pt", [], "pt", "BertForPreTraining"),
    ("tf_sharded", "safetensors", [], "pt", "BertForPreTraining"),
]


@pytest.mark.parametrize(("source", "target", "extra", "framework", "class_name"), CASES)
def test_transformers_446_loads_our_output_exactly(tmp_path, source, target, extra, framework, class_name):
    python = hf446_python(framework)
    if python is None:
        pytest.skip(f"no transformers 4.46.3 side environment with {MODULES[framework]}")
    out = convert(FIXTURES / source, tmp_path / "out", "--to", target, *extra)
    reference = FIXTURES / ("pt_base" if source.endswith("_base") else "pt") / "model.safetensors"
    run = subprocess.run([python, str(Path(__file__).parent / "hf446_check.py"), framework, class_name, str(out), str(reference)],
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["missing_keys"] == [] and result["unexpected_keys"] == [] and result.get("mismatched_keys", []) == []
    assert result["compared"] == (39 if "Model" in class_name and "Pre" not in class_name else 46)
    assert result["max_abs_diff"] == 0.0
