"""Trainer under torchrun: 2 processes x batch 4 train the same weights as 1 process x batch 8.

Runs tests/backends/scripts/train_ddp.py as subprocesses (gloo on CPU, nccl where CUDA is).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)

from rosetta.convert.formats import load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "backends" / "scripts" / "train_ddp.py"


def launch(output_dir: Path, processes: int, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    if (
        torch.cuda.device_count() < 2
    ):  # one process per GPU (nccl), or all on CPU (gloo) for a like-for-like comparison
        env["CUDA_VISIBLE_DEVICES"] = ""
    batch = str(8 // processes)
    command = [
        sys.executable,
        str(SCRIPT),
        "--output_dir",
        str(output_dir),
        "--per_device_train_batch_size",
        batch,
        *extra,
    ]
    if processes > 1:
        command[1:2] = [
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            str(SCRIPT),
        ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)  # generous: it shares 2 cores with another test worker
    assert process.returncode == 0, output[-4000:]


def weights(folder: Path) -> dict[str, np.ndarray]:
    with load_checkpoint(folder) as reader:
        return {name: np.array(reader[name]) for name in reader}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ddp")
    single, ddp = launch(root / "single", 1), launch(root / "ddp", 2, "--resume_check")
    finish(single)
    finish(ddp)
    return {"single": root / "single", "ddp": root / "ddp", "resumed": root / "ddp" / "resumed"}


def test_ddp_equals_one_process_with_the_same_global_batch(runs):
    single, ddp = weights(runs["single"] / "final"), weights(runs["ddp"] / "final")
    assert single.keys() == ddp.keys()
    for name in single:
        np.testing.assert_allclose(ddp[name], single[name], rtol=0, atol=1e-6, err_msg=name)
    initial = weights(runs["ddp"] / "checkpoint-3")
    assert any(not np.array_equal(initial[name], ddp[name]) for name in ddp)  # training went on after step 3
    a = json.loads((runs["single"] / "result.json").read_text())
    b = json.loads((runs["ddp"] / "result.json").read_text())
    assert (a["world_size"], b["world_size"]) == (1, 2)
    losses_a = [e["loss"] for e in a["log_history"] if "loss" in e]
    losses_b = [e["loss"] for e in b["log_history"] if "loss" in e]
    assert len(losses_a) == 6 and losses_a == pytest.approx(losses_b, abs=1e-4)


def test_ddp_evaluation_gathers_every_example_once_in_order(runs):
    a = json.loads((runs["single"] / "result.json").read_text())
    b = json.loads((runs["ddp"] / "result.json").read_text())
    assert len(b["predictions"]) == 11 and b["label_ids"] == a["label_ids"]
    np.testing.assert_allclose(b["predictions"], a["predictions"], atol=1e-5)
    evals_a = [e["eval_loss"] for e in a["log_history"] if "eval_loss" in e]
    evals_b = [e["eval_loss"] for e in b["log_history"] if "eval_loss" in e]
    assert len(evals_a) == 2 and evals_b == pytest.approx(evals_a, abs=1e-6)
    assert b["test_metrics"]["test_accuracy"] == a["test_metrics"]["test_accuracy"]


def test_only_rank_zero_saves_and_each_rank_keeps_its_rng(runs):
    out = runs["ddp"]
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-3",
        "checkpoint-6",
        "final",
        "result.json",
        "resumed",
    ]
    files = {p.name for p in (out / "checkpoint-6").iterdir()}
    assert {
        "model.safetensors",
        "optimizer.pt",
        "scheduler.pt",
        "trainer_state.json",
        "rng_state_0.pth",
        "rng_state_1.pth",
    } <= files
    assert "rng_state.pth" not in files


def test_ddp_resume_is_exact(runs):
    resumed, straight = weights(runs["resumed"] / "final"), weights(runs["ddp"] / "final")
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


LEAVE_AT_EXIT = """
import atexit, torch.distributed as dist
from pathlib import Path
from rosetta.backends.torch.training_args import TrainingArguments
args = TrainingArguments(output_dir="unused", use_cpu=True)
assert args.device.type == "cpu" and dist.is_initialized() and dist.get_world_size() == 2
rank = dist.get_rank()
atexit._run_exitfuncs()  # what interpreter exit runs, while the process still has its threads
Path(f"rank{rank}.txt").write_text(f"initialized after exit hooks: {dist.is_initialized()}")
"""


def test_ranks_leave_the_process_group_they_joined_at_exit(tmp_path):
    """Left to the C++ destructors at interpreter exit, the group could abort a finished rank (gloo:
    'terminate called without an active exception', exit -6); TrainingArguments destroys the group it made."""
    script = tmp_path / "leave.py"
    script.write_text(LEAVE_AT_EXIT)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    # one file per rank: the two ranks' prints would interleave on the shared stdout
    for rank in (0, 1):
        assert (tmp_path / f"rank{rank}.txt").read_text() == "initialized after exit hooks: False"
