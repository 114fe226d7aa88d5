"""Trainer with FSDP2 under torchrun: 2 CPU processes (gloo) x batch 4 train as 1 process x batch 8.

Runs tests/backends/scripts/train_fsdp.py as subprocesses; the sharded runs write canonical checkpoints.
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

from rosetta import TrainingArguments  # noqa: E402
from rosetta.convert.formats import load_checkpoint  # noqa: E402
from rosetta.core.errors import ConfigError  # noqa: E402
from tests.parity import rosetta_class, tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "backends" / "scripts" / "train_fsdp.py"


def launch(output_dir: Path, processes: int, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",  # all on CPU (gloo): a like-for-like comparison
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    script = [
        str(SCRIPT),
        "--output_dir",
        str(output_dir),
        "--per_device_train_batch_size",
        str(8 // processes),
    ]
    runner = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [sys.executable, *(runner if processes > 1 else []), *script, *extra]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)  # generous: the machine may be shared
    assert process.returncode == 0, output[-4000:]
    return output


def weights(folder: Path) -> dict[str, np.ndarray]:
    with load_checkpoint(folder) as reader:
        return {name: np.array(reader[name]) for name in reader}


def result(folder: Path) -> dict:
    return json.loads((folder / "result.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fsdp")
    first_load = root / "first_load_checkpoint"  # a 32 MiB word embedding, far past the kernel's mapping unit
    rosetta_class("torch", "BertModel")(
        tiny_config(vocab_size=32768, hidden_size=256, num_attention_heads=4, intermediate_size=64)
    ).save_pretrained(first_load)
    processes = {
        "single": launch(root / "single", 1),
        "full_shard": launch(
            root / "full_shard",
            2,
            "--fsdp",
            "full_shard",
            "--min_num_params",
            "5000",
            "--resume_check",
            "--first_load",
            str(first_load),
        ),
        "shard_grad_op": launch(
            root / "shard_grad_op",
            2,
            "--fsdp",
            "shard_grad_op",
            "--layer_cls",
            "BertLayer",
            "--gradient_checkpointing",
        ),
    }
    for name, process in processes.items():
        output = finish(process)
        print(name, [line for line in output.splitlines() if "per rank" in line])
    return {name: root / name for name in processes}


@pytest.mark.parametrize("strategy", ["full_shard", "shard_grad_op"])
def test_fsdp_equals_one_process_with_the_same_global_batch(runs, strategy):
    single, sharded = result(runs["single"]), result(runs[strategy])
    assert (single["world_size"], sharded["world_size"]) == (1, 2)
    assert len(single["losses"]) == 6
    np.testing.assert_allclose(sharded["losses"], single["losses"], rtol=0, atol=1e-5)
    a, b = weights(runs["single"] / "final"), weights(runs[strategy] / "final")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-5, err_msg=name)


def test_checkpoints_are_canonical_with_optimizer_and_every_rank_rng(runs):
    folder = runs["full_shard"] / "checkpoint-3"
    files = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "optimizer.pt", "scheduler.pt", "trainer_state.json"} <= files
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= files
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    full, single = weights(folder), weights(runs["single"] / "checkpoint-3")
    assert {k: v.shape for k, v in full.items()} == {
        k: v.shape for k, v in single.items()
    }  # gathered, not shards
    for name in single:
        np.testing.assert_allclose(full[name], single[name], rtol=0, atol=1e-5, err_msg=name)
    optimizer = torch.load(folder / "optimizer.pt", weights_only=True)
    state = optimizer["state"]["bert.embeddings.word_embeddings.weight"]
    assert state["exp_avg"].shape == full["bert.embeddings.word_embeddings.weight"].shape


def test_fsdp_resume_is_exact(runs):
    resumed, straight = (
        weights(runs["full_shard"] / "resumed" / "final"),
        weights(runs["full_shard"] / "final"),
    )
    for name in straight:
        np.testing.assert_allclose(resumed[name], straight[name], rtol=0, atol=1e-7, err_msg=name)
    assert result(runs["full_shard"] / "resumed")["losses"] == pytest.approx(
        result(runs["full_shard"])["losses"][3:], abs=1e-7
    )


def test_resume_reads_only_each_ranks_rows_of_the_checkpoint(runs):
    """Each rank copied from the memory-mapped checkpoint only the rows its shard of each parameter owns."""
    reads = result(runs["full_shard"] / "resumed")["checkpoint_reads_per_rank"]
    assert len(reads) == 2 and all(reads)
    shapes = {name: array.shape for name, array in weights(runs["full_shard"] / "checkpoint-3").items()}
    total = sum(int(np.prod(s)) * 4 for s in shapes.values())  # fp32
    for rank, read in enumerate(reads):
        assert set(read) == set(shapes)
        for name, (start, stop, nbytes) in read.items():
            rows = shapes[name][0]
            chunk = -(-rows // 2)  # FSDP2 shards dim 0 in torch.chunk pieces
            assert (start, stop) == (min(rank * chunk, rows), min(rank * chunk + chunk, rows)), name
            assert nbytes == (stop - start) * int(np.prod(shapes[name][1:])) * 4, name
        per_rank = sum(nbytes for _, _, nbytes in read.values())
        print(f"rank {rank} read {per_rank} of {total} checkpoint bytes")
        assert 0.45 * total < per_rank < 0.55 * total
    assert sum(n for read in reads for _, _, n in read.values()) == total  # together: each byte once


def test_first_load_maps_in_only_each_ranks_rows_of_the_checkpoint(runs):
    """Fresh from `from_pretrained`, the parameters are views of the memory-mapped checkpoint and nothing is read;
    sharding copies each rank's rows. A rank maps in all of its own rows of the 32 MiB word embedding and of
    the other rank's rows at most what the kernel maps around a fault at the boundary (it maps page-cache
    folios whole: up to one 2 MiB folio measured here; 4 MiB allowed), never the other half (16 MiB)."""
    reads = json.loads((runs["full_shard"] / "first_load.json").read_text())
    assert len(reads) == 2
    for rank, read in enumerate(reads):
        half = read["tensor_bytes"] // 2
        print(
            f"rank {rank} mapped {read['own_rows']} of its own {half} bytes, {read['other_rows']} of the other's"
        )
        assert read["before_sharding"] == 0
        assert read["own_rows"] >= half - 8192  # (a page at each end may be shared with a neighbour)
        assert read["other_rows"] <= 4 * 2**20


def test_each_rank_holds_about_half_of_the_parameters_and_optimizer_state(runs):
    (alone,) = result(runs["single"])["memory_per_rank"]
    for strategy in ("full_shard", "shard_grad_op"):
        per_rank = result(runs[strategy])["memory_per_rank"]
        print(f"{strategy}: {per_rank} bytes per rank vs {alone} in one process")
        assert len(per_rank) == 2 and sum(per_rank) == pytest.approx(alone, rel=0.01)
        assert all(0.45 * alone < m < 0.55 * alone for m in per_rank)


@pytest.mark.parametrize(
    ("fsdp", "config", "named"),
    [
        ("full_shard offload", None, "'offload'"),
        ("hybrid_shard", None, "'hybrid_shard'"),
        ("full_shard shard_grad_op", None, "choose one"),
        ("full_shard", {"min_num_param": 10}, "'min_num_param'"),
        ("full_shard", {"min_num_params": -1}, "min_num_params"),
        ("", {"min_num_params": 10}, "fsdp is not"),
    ],
)
def test_unknown_fsdp_options_are_refused_by_name(tmp_path, fsdp, config, named):
    with pytest.raises(ConfigError, match=named):
        TrainingArguments(output_dir=str(tmp_path), fsdp=fsdp, fsdp_config=config)


def test_fsdp_settings_are_kept(tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path),
        fsdp=["shard_grad_op"],
        fsdp_config={"transformer_layer_cls_to_wrap": "BertLayer"},
    )
    assert args.fsdp == "shard_grad_op" and args.fsdp_strategy == ""  # one process: nothing to shard over
    assert json.loads(args.to_json_string())["fsdp_config"] == {"transformer_layer_cls_to_wrap": "BertLayer"}
