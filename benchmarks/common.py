"""Shared benchmark helpers: medians of repeated runs, subprocess memory, a BERT-base checkpoint."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

BERT_BASE = dict(
    vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    max_position_embeddings=512, type_vocab_size=2,
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


def paired_median_times(fns: dict[str, Callable[[], object]], repeats: int = 10, warmup: int = 2) -> dict[str, float]:
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
    out = subprocess.run([python, "-c", prelude + code], capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(title: str, rows: list[tuple], header: tuple) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
