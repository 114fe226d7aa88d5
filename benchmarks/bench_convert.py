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

from benchmarks.common import bert_base_checkpoint, print_table

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
        torch.save(load_file(os.path.join(safetensors_folder, "model.safetensors")), os.path.join(folder, "pytorch_model.bin"))
        shutil.copyfile(os.path.join(safetensors_folder, "config.json"), os.path.join(folder, "config.json"))
    return folder


def timed_process(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of a command, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TOKENIZERS_PARALLELISM": "false"})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return wall, usage.ru_maxrss * 1024


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
                probe = subprocess.run([str(python), "-c", "import transformers; print(transformers.__version__)"],
                                       capture_output=True, text=True)
                if probe.stdout.strip() == "4.46.3":
                    return str(python)
    return None


def tiny_checkpoint(work: str) -> str:
    from safetensors.numpy import save_file

    folder = os.path.join(work, "tiny")
    os.makedirs(folder, exist_ok=True)
    save_file({"w": np.zeros((2, 2), np.float32)}, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return folder


def main() -> None:
    st_folder = bert_base_checkpoint()
    bin_folder = bin_checkpoint(st_folder)
    size = os.path.getsize(os.path.join(st_folder, "model.safetensors"))
    copy_rate = memory_copy_rate()
    work = tempfile.mkdtemp(prefix="rosetta-bench-convert-")
    try:
        start_wall, start_rss = median_run(rosetta_argv(tiny_checkpoint(work)), os.path.join(work, "tiny-out"))
        cases = [
            (".bin -> safetensors", bin_folder, (), "pt"),
            ("safetensors -> flax msgpack", st_folder, ("--to", "flax"), "flax"),
        ]
        rows = []
        for label, src, extra, peer in cases:
            wall, rss = median_run(rosetta_argv(src, *extra), os.path.join(work, "out"))
            rate = size / 1e9 / wall
            rows.append((f"rosetta {label}", wall, (wall - start_wall), rss / 1e6, rate, rate / copy_rate))
            python = peer_python(peer)
            if python is None:
                print(f"(peer for {label} skipped: no transformers 4.46.3 side env; run benchmarks/setup_peers.sh)")
                continue
            pwall, prss = median_run(lambda out, p=python, s=src, c=PEER_CODE[peer]: [p, "-c", c, s, out], os.path.join(work, "peer"))
            prate = size / 1e9 / pwall
            rows.append((f"transformers 4.46 {label}", pwall, float("nan"), prss / 1e6, prate, prate / copy_rate))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ncheckpoint: BERT-base, {size / 1e6:.0f} MB float32; memory copy: {copy_rate:.2f} GB/s (numpy, 1 GB); "
          f"`rosetta convert` start-up on a tiny checkpoint: {start_wall:.2f} s, {start_rss / 1e6:.0f} MB")
    print_table(
        "rosetta convert, BERT-base (fresh process each, median of 3 warm runs)",
        rows,
        ("conversion", "wall s", "wall - start-up s", "peak RSS MB", "GB/s (wall)", "x memory copy"),
    )


if __name__ == "__main__":
    main()
