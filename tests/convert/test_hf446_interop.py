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

from tests.xla_flags import without_test_xla_flags

from .helpers import FIXTURES, convert

ROOT = Path(__file__).resolve().parents[2]
ENVS = ROOT / ".bench-envs"
CANDIDATES = [
    os.environ.get("ROSETTA_HF446_PYTHON", ""),
    str(ENVS / "tf446" / "bin" / "python"),
    str(ENVS / "flax446" / "bin" / "python"),
    "/tmp/tf446/bin/python",
]
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


CASES = {  # framework -> (source fixture, --to, extra args, transformers class)
    "tf": [
        ("pt", "tf", [], "TFBertForPreTraining"),
        ("flax", "tf", ["--max-shard-size", "8KB"], "TFBertForPreTraining"),
        ("pt_base", "tf", [], "TFBertModel"),
    ],
    "flax": [
        ("tf", "flax", [], "FlaxBertForPreTraining"),
        ("tf_safetensors", "flax", ["--max-shard-size", "8KB"], "FlaxBertForPreTraining"),
        ("tf_base", "flax", [], "FlaxBertModel"),
    ],
    "pt": [
        ("flax", "pt", [], "BertForPreTraining"),
        ("tf_sharded", "safetensors", [], "BertForPreTraining"),
        ("flax_base", "pt", ["--max-shard-size", "8KB"], "BertModel"),
    ],
}


@pytest.mark.parametrize("framework", list(CASES))
def test_transformers_446_loads_our_output_exactly(tmp_path, framework):
    python = hf446_python(framework)
    if python is None:
        pytest.skip(f"no transformers 4.46.3 side environment with {MODULES[framework]}")
    jobs = []
    for i, (source, target, extra, class_name) in enumerate(CASES[framework]):
        out = convert(FIXTURES / source, tmp_path / f"out{i}", "--to", target, *extra)
        reference = FIXTURES / ("pt_base" if source.endswith("_base") else "pt") / "model.safetensors"
        jobs += [class_name, str(out), str(reference)]
    run = subprocess.run(
        [python, str(Path(__file__).parent / "hf446_check.py"), framework, *jobs],
        capture_output=True,
        text=True,
        env={**without_test_xla_flags(), "TF_CPP_MIN_LOG_LEVEL": "3"},  # its older jax knows fewer flags
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(CASES[framework])
    for (source, _, _, class_name), result in zip(CASES[framework], results):
        assert result["version"] == "4.46.3"
        assert result["missing_keys"] == [] and result["unexpected_keys"] == [], (source, class_name, result)
        assert result.get("mismatched_keys", []) == []
        assert result["compared"] == (39 if class_name.endswith("BertModel") else 46), (
            source,
            class_name,
            result,
        )
        assert result["max_abs_diff"] == 0.0, (source, class_name, result)
