"""`rosetta convert` streams: its peak RSS stays under the largest input shard plus the largest tensor,
above what the same command needs for a trivial checkpoint (the interpreter and its imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

SHARDS = 4
TENSORS_PER_SHARD = 2
SHAPE = (2560, 2560)  # float32: 26.2 MB a tensor, 52.4 MB a shard, 210 MB in all


def write_checkpoint(folder: Path, shape: tuple[int, int]) -> tuple[int, int]:
    """A sharded float32 checkpoint of random tensors; returns (largest shard, largest tensor) in bytes."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    weight_map, shard_bytes = {}, 0
    for shard in range(SHARDS):
        name = f"model-{shard + 1:05d}-of-{SHARDS:05d}.safetensors"
        tensors = {
            f"layers.{shard * TENSORS_PER_SHARD + i}.dense.weight": rng.random(shape, dtype=np.float32)
            for i in range(TENSORS_PER_SHARD)
        }
        save_file(tensors, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
        shard_bytes = max(shard_bytes, os.path.getsize(folder / name))
        del tensors
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    return shard_bytes, shape[0] * shape[1] * 4


# ru_maxrss survives fork and exec: a child of a large process (a pytest worker that imported
# TensorFlow) starts at its parent's size. A small launcher process in between keeps it honest.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(proc.returncode)
"""


def peak_rss(*args: str) -> int:
    """Peak RSS in bytes of `python -m rosetta ARGS` (the child's own rusage, via wait4)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "maxrss")
        run = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, result, sys.executable, "-m", "rosetta", *args],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        with open(result) as f:
            return int(f.read()) * 1024


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("memory")
    shard, tensor = write_checkpoint(root / "big", SHAPE)
    write_checkpoint(root / "tiny", (4, 4))
    return {"root": root, "shard": shard, "tensor": tensor}


@pytest.mark.parametrize(
    "args",
    [[], ["--to", "flax"], ["--to", "pt", "--dtype", "float16"], ["--to", "tf"]],
    ids=["safetensors", "flax-transposed", "pt-float16", "tf-h5"],
)
def test_peak_memory_is_one_shard_plus_one_tensor(checkpoints, args):
    if "tf" in args:
        pytest.importorskip("h5py")
    if "pt" in args:
        pytest.importorskip("torch")
    root = checkpoints["root"]
    name = "-".join(args) or "default"
    baseline = peak_rss("convert", str(root / "tiny"), str(root / f"tiny-{name}"), "--quiet", *args)
    peak = peak_rss("convert", str(root / "big"), str(root / f"big-{name}"), "--quiet", *args)
    bound = baseline + checkpoints["shard"] + checkpoints["tensor"]
    total = SHARDS * checkpoints["shard"]
    assert peak < bound, (
        f"peak {peak / 1e6:.0f} MB >= bound {bound / 1e6:.0f} MB (baseline {baseline / 1e6:.0f} MB, input {total / 1e6:.0f} MB)"
    )
