"""Shared benchmark helpers: medians of repeated runs, subprocess memory, a BERT-base checkpoint, and the
like-for-like rules every benchmark states and follows:

- imports: both sides' model classes are imported before any timed region (the peer's
  `transformers.models.bert.modeling_bert` as much as our `rosetta.models.bert.modeling_bert`);
  import cost is measured only in the cold-start rows, from process start, for both sides;
- threads: THREADS (2) for both sides, in torch, TensorFlow and XLA alike (`thread_env()`);
- versions: `print_setup` prints ours and every peer's versions (and says when jax differs);
- cold start: `cold_start_seconds` times a fresh process from its start to its first output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

THREADS = 2


def thread_env(threads: int = THREADS) -> dict[str, str]:
    """Environment variables that give torch, TensorFlow and XLA `threads` compute threads."""
    return {
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}",
        "TOKENIZERS_PARALLELISM": "false",
    }


# The same, as a line of Python for code run in another interpreter before any framework import.
THREADS_PRELUDE = f"import os; os.environ.update({thread_env()!r})\n"

_VERSIONED = (
    "rosetta-models",
    "rosetta",
    "transformers",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "jax",
    "flax",
    "numpy",
)
_VERSIONS_CODE = """
import json
from importlib import metadata
found = {}
for name in NAMES:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(found))
"""


def versions(python: str = sys.executable) -> dict[str, str]:
    """Installed versions of the libraries that matter, in the interpreter `python` (no import of them)."""
    out = subprocess.run(
        [python, "-c", f"NAMES = {_VERSIONED!r}\n" + _VERSIONS_CODE], capture_output=True, text=True
    )
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}


def print_setup(title: str, peers: dict[str, str] | None = None, threads: int = THREADS) -> None:
    """What a benchmark compares: threads, the import rule, and every side's versions (jax mismatches said)."""
    print(f"\n## {title}: setup\n")
    print(f"- threads: {threads} on both sides (torch, TensorFlow, XLA)")
    print(
        "- imports: both sides' model classes imported before any timed region; cold-start rows include them"
    )
    ours = versions()
    print(f"- ours ({sys.executable}): " + ", ".join(f"{k} {v}" for k, v in ours.items()))
    for name, python in (peers or {}).items():
        theirs = versions(python) if os.path.exists(python) else {}
        if not theirs:
            print(f"- peer {name}: not installed at {python}")
            continue
        print(f"- peer {name} ({python}): " + ", ".join(f"{k} {v}" for k, v in theirs.items()))
        if "jax" in theirs and "jax" in ours and theirs["jax"] != ours["jax"]:
            print(
                f"  NOTE: the {name} peer runs jax {theirs['jax']}, ours jax {ours['jax']}: transformers 4.46's Flax "
                "models do not run on our jax, so Flax timings compare two jax versions as well as two libraries."
            )


def cold_start_seconds(code: str, python: str = sys.executable, repeats: int = 5) -> float:
    """Median wall time from starting a fresh `python -c code` to the first line it prints (imports included)."""
    env = {**os.environ, **thread_env()}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        first = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        _, err = proc.communicate()
        if proc.returncode != 0 or not first:
            raise RuntimeError(f"cold-start subprocess failed:\n{err[-3000:]}")
        times.append(elapsed)
    return statistics.median(times)


BERT_BASE = dict(
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
    type_vocab_size=2,
)


def median_time(fn: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_median_times(
    fns: dict[str, Callable[[], object]], repeats: int = 10, warmup: int = 2
) -> dict[str, float]:
    """Median time of each function, measured in alternation so background load hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bert_base_checkpoint() -> str:
    """A randomly initialised BERT-base saved by transformers (cached between runs)."""
    folder = os.path.join(tempfile.gettempdir(), "rosetta-bench-bert-base")
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        import torch
        import transformers

        torch.manual_seed(0)
        transformers.BertModel(transformers.BertConfig(**BERT_BASE)).save_pretrained(folder)
    return folder


def run_isolated(code: str, python: str = sys.executable) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line, returned as a dict.

    The code can call `mark_baseline()` after its imports and `report(**values)` at the end;
    `report` adds `peak_rss_above_baseline` (VmHWM minus the RSS at the baseline, bytes).
    """
    prelude = """
import json, time
def _status(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
_baseline = [0]
def mark_baseline():
    _baseline[0] = _status('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:  # reset VmHWM to the current RSS
        f.write('5')
def report(**values):
    values['peak_rss_above_baseline'] = _status('VmHWM') - _baseline[0]
    print(json.dumps(values))
"""
    out = subprocess.run(
        [python, "-c", prelude + code], capture_output=True, text=True, env={**os.environ, **thread_env()}
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(title: str, rows: list[tuple], header: tuple) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")


# transformers 4.46.3 (the last line with TF and Flax models) in side environments (benchmarks/setup_peers.sh).
PEER_ENVS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".bench-envs")
PEER_PYTHON = {
    "tf": os.path.join(PEER_ENVS, "tf446", "bin", "python"),
    "flax": os.path.join(PEER_ENVS, "flax446", "bin", "python"),
}

# A timed case for `compare_isolated`: `{setup}` defines `step()` (which blocks until its result is
# computed) after its imports and may fill `extra` (values reported beside the time, e.g. tokens made).
TIMED_CASE = """
import statistics
extra = {{}}
{setup}
for _ in range({warmup}):
    step()
times = []
for _ in range({repeats}):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
report(seconds=statistics.median(times), **extra)
"""


def compare_isolated(
    cases: dict[str, tuple[str, str]], rounds: int = 3, repeats: int = 5, warmup: int = 2
) -> dict[str, dict | str]:
    """Time each case ({name: (python, setup code defining step())}) in fresh processes of its interpreter,
    the cases in alternation for `rounds` rounds; per case the run with the median time (its `seconds` the
    median of `repeats` timed steps after `warmup` untimed ones), or the failure's last line as a string."""
    runs: dict[str, list[dict]] = {name: [] for name in cases}
    failed: dict[str, str] = {}
    for _ in range(rounds):
        for name, (python, setup) in cases.items():
            if name in failed:
                continue
            if not os.path.exists(python):
                failed[name] = f"not run: no interpreter at {python} (bash benchmarks/setup_peers.sh)"
                continue
            code = THREADS_PRELUDE + TIMED_CASE.format(setup=setup, warmup=warmup, repeats=repeats)
            try:
                runs[name].append(run_isolated(code, python))
            except RuntimeError as error:
                lines = [line for line in str(error).splitlines() if line.strip()]
                failed[name] = "failed: " + (lines[-1] if lines else "no output")[:200]
    results: dict[str, dict | str] = dict(failed)
    for name, done in runs.items():
        if name not in failed:
            done.sort(key=lambda r: r["seconds"])
            results[name] = done[len(done) // 2]
    return results


MATMUL_CODE = """
import numpy as np, torch, jax
torch.set_num_threads({threads})
a = np.random.default_rng(0).standard_normal(({n}, {n})).astype("float32")
def best(fn):
    for _ in range(2):
        fn()
    times = []
    for _ in range({repeats}):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return 2 * {n} ** 3 / min(times) / 1e9
t, j = torch.from_numpy(a), jax.device_put(a)
matmul = jax.jit(lambda x: x @ x)
report(torch=best(lambda: t @ t), jax=best(lambda: matmul(j).block_until_ready()))
"""


def matmul_peak_gflops(threads: int = THREADS, n: int = 4096, repeats: int = 5) -> tuple[float, str]:
    """This machine's fp32 matmul peak (GFLOP/s) with `threads` threads: the best of `repeats` n x n @ n x n
    products in torch (MKL) and in jax (XLA), and which of the two gave it."""
    code = THREADS_PRELUDE + MATMUL_CODE.format(threads=threads, n=n, repeats=repeats)
    rates = run_isolated(code)
    library = max(("torch", "jax"), key=lambda name: rates[name])
    return rates[library], library


def encoder_flops(tokens: int, hidden: int, intermediate: int, layers: int) -> float:
    """Multiply-adds x 2 of a transformer encoder over one sequence: q/k/v/o and the MLP, plus scores and mixing."""
    linear = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 4 * tokens * tokens * hidden
    return float(layers * (linear + attention))


def cached_folder(name: str, build: Callable[[str], None]) -> str:
    """A folder under the temp dir made once by `build(folder)` and reused between runs (`done` marks it whole)."""
    folder = os.path.join(tempfile.gettempdir(), f"rosetta-bench-{name}")
    if not os.path.exists(os.path.join(folder, ".done")):
        os.makedirs(folder, exist_ok=True)
        build(folder)
        open(os.path.join(folder, ".done"), "w").close()
    return folder
