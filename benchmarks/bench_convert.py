"""`rosetta convert` on a BERT-base-sized checkpoint: time, peak RSS and throughput against memory bandwidth.

Two conversions, each in a fresh `python -m rosetta convert` process (wall time includes the
interpreter start, measured separately on a tiny checkpoint): pytorch_model.bin -> canonical
safetensors, and safetensors -> flax_model.msgpack. Throughput is checkpoint bytes per second
of wall time, set against this machine's memory-copy rate (numpy copy of a 1 GB array) measured
in the same run. The peer is transformers 4.46.3's own path (from_pretrained, with from_pt for
Flax, then save_pretrained), run in the side environments of benchmarks/setup_peers.sh when
they exist.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import bert_base_checkpoint, print_setup, print_table

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
PEER_ENVS = {"pt": ["tf446", "flax446"], "flax": ["flax446", "tf446"]}


def memory_copy_rate(gigabytes: float = 1.0, repeats: int = 5) -> float:
    """GB/s of `np.copyto` between two 1 GB arrays (the payload rate, reads plus writes behind it)."""
    src = np.ones(int(gigabytes * 1e9) // 4, dtype=np.float32)
    dst = np.empty_like(src)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - start)
    return src.nbytes / 1e9 / statistics.median(times)


def bin_checkpoint(safetensors_folder: str) -> str:
    """The same BERT-base weights as a transformers 4.x `pytorch_model.bin` (torch.save of the state dict)."""
    folder = os.path.join(tempfile.gettempdir(), "rosetta-bench-bert-base-bin")
    if not os.path.exists(os.path.join(folder, "pytorch_model.bin")):
        import torch
        from safetensors.torch import load_file

        os.makedirs(folder, exist_ok=True)
        torch.save(
            load_file(os.path.join(safetensors_folder, "model.safetensors")),
            os.path.join(folder, "pytorch_model.bin"),
        )
        shutil.copyfile(os.path.join(safetensors_folder, "config.json"), os.path.join(folder, "config.json"))
    return folder


# ru_maxrss survives fork and exec, so a child of this (large) process would start at its size:
# a small launcher in between runs the command and reports the command's own peak RSS.
LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{wall} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_process(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of a command, from its own rusage."""
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result")
        run = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, result, *argv],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TOKENIZERS_PARALLELISM": "false"},
        )
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{run.stderr[-2000:]}")
        with open(result) as f:
            wall, maxrss = f.read().split()
    return float(wall), int(maxrss) * 1024


def median_run(make_argv, out: str) -> tuple[float, int]:
    """Median wall time and the largest peak RSS of REPEATS runs (the first one warms the page cache)."""
    runs = []
    for _ in range(REPEATS + 1):
        shutil.rmtree(out, ignore_errors=True)
        runs.append(timed_process(make_argv(out)))
    shutil.rmtree(out, ignore_errors=True)
    runs = runs[1:]
    return statistics.median(w for w, _ in runs), max(r for _, r in runs)


def rosetta_argv(src: str, *extra: str):
    return lambda out: [sys.executable, "-m", "rosetta", "convert", src, out, "--quiet", *extra]


PEER_CODE = {
    "pt": "import sys, transformers; transformers.BertModel.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])",
    "flax": "import sys, transformers; transformers.FlaxBertModel.from_pretrained(sys.argv[1], from_pt=True).save_pretrained(sys.argv[2])",
}


def peer_python(kind: str) -> str | None:
    for env in PEER_ENVS[kind]:
        for root in (ROOT / ".bench-envs", Path("/tmp")):
            python = root / env / "bin" / "python"
            if python.exists():
                probe = subprocess.run(
                    [str(python), "-c", "import transformers; print(transformers.__version__)"],
                    capture_output=True,
                    text=True,
                )
                if probe.stdout.strip() == "4.46.3":
                    return str(python)
    return None


def tiny_checkpoints(work: str) -> dict[str, str]:
    """A 2-layer BERT in both input formats, with its config: a conversion that pays every start-up
    cost (interpreter, torch import, the shape check's meta model) and moves almost no data."""
    import torch
    import transformers

    tiny = transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37
    )
    folders = {"safetensors": os.path.join(work, "tiny-st"), "bin": os.path.join(work, "tiny-bin")}
    transformers.BertModel(tiny).save_pretrained(folders["safetensors"])
    os.makedirs(folders["bin"])
    torch.save(transformers.BertModel(tiny).state_dict(), os.path.join(folders["bin"], "pytorch_model.bin"))
    shutil.copyfile(
        os.path.join(folders["safetensors"], "config.json"), os.path.join(folders["bin"], "config.json")
    )
    return folders


def bench_case(
    label: str, src: str, tiny: str, extra: tuple[str, ...], size: int, copy_rate: float, work: str
) -> tuple:
    wall, rss = median_run(rosetta_argv(src, *extra), os.path.join(work, "out"))
    startup, _ = median_run(rosetta_argv(tiny, *extra), os.path.join(work, "tiny-out"))
    rate = size / 1e9 / max(wall - startup, 1e-9)
    return (f"rosetta {label}", wall, startup, wall - startup, rss / 1e6, rate, rate / copy_rate)


def bench_peer(label: str, src: str, peer: str, size: int, work: str) -> tuple | None:
    python = peer_python(peer)
    if python is None:
        print(f"(peer for {label} skipped: no transformers 4.46.3 side env; run benchmarks/setup_peers.sh)")
        return None
    wall, rss = median_run(lambda out: [python, "-c", PEER_CODE[peer], src, out], os.path.join(work, "peer"))
    return (
        f"transformers 4.46 {label}",
        wall,
        float("nan"),
        float("nan"),
        rss / 1e6,
        float("nan"),
        float("nan"),
    )


def main() -> None:
    print_setup("rosetta convert")
    st_folder = bert_base_checkpoint()
    bin_folder = bin_checkpoint(st_folder)
    size = os.path.getsize(os.path.join(st_folder, "model.safetensors"))
    copy_rate = memory_copy_rate()
    work = tempfile.mkdtemp(prefix="rosetta-bench-convert-")
    try:
        tiny = tiny_checkpoints(work)
        rows = []
        for label, src, tiny_src, extra, peer in (
            (".bin -> safetensors", bin_folder, tiny["bin"], (), "pt"),
            ("safetensors -> flax msgpack", st_folder, tiny["safetensors"], ("--to", "flax"), "flax"),
        ):
            rows.append(bench_case(label, src, tiny_src, extra, size, copy_rate, work))
            peer_row = bench_peer(label, src, peer, size, work)
            if peer_row:
                rows.append(peer_row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\ncheckpoint: BERT-base, {size / 1e6:.0f} MB float32; memory copy (numpy, 1 GB): {copy_rate:.2f} GB/s. "
        "start-up = the same command on a 2-layer BERT (interpreter, imports, shape check)"
    )
    print_table(
        "rosetta convert, BERT-base (fresh process each, median of 3 warm runs)",
        rows,
        (
            "conversion",
            "wall s",
            "start-up s",
            "data path s",
            "peak RSS MB",
            "GB/s (data path)",
            "x memory copy",
        ),
    )


if __name__ == "__main__":
    main()
