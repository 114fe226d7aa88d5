"""BERT-base in TF and Flax: forward latency and cross-framework loading, rosetta vs transformers 4.46.

transformers 4.46.3 (the last line with TFBertModel and FlaxBertModel) lives in side
environments made by benchmarks/setup_peers.sh, so each measurement runs in a fresh process
of its environment; rosetta and the peer are run in alternation and the medians compared.
"""

from __future__ import annotations

import os
import statistics
import sys

from benchmarks.common import (
    PEER_PYTHON,
    THREADS_PRELUDE,
    bert_base_checkpoint,
    cold_start_seconds,
    print_setup,
    print_table,
    run_isolated,
)

# 2 threads, set before TensorFlow or jax is imported; braces doubled, the templates below go through .format
THREADS_ENV = THREADS_PRELUDE.replace("{", "{{").replace("}", "}}")

FORWARD_TF = (
    THREADS_ENV
    + """
import statistics, numpy as np, tensorflow as tf
{imports}
model = {loader}
ids = tf.constant(np.random.default_rng(0).integers(1000, 2000, ({batch}, {seq})), dtype=tf.int32)
mask = tf.ones_like(ids)
step = tf.function(lambda i, m: model(input_ids=i, attention_mask=m, training=False).last_hidden_state, jit_compile=True)
for _ in range(3): step(ids, mask).numpy()
times = []
for _ in range({repeats}):
    start = time.perf_counter(); step(ids, mask).numpy(); times.append(time.perf_counter() - start)
report(ms=statistics.median(times) * 1e3)
"""
)

FORWARD_FLAX = (
    THREADS_ENV
    + """
import statistics, numpy as np, jax
{imports}
model = {loader}
ids = np.random.default_rng(0).integers(1000, 2000, ({batch}, {seq})).astype("int32")
mask = np.ones_like(ids)
{step}
for _ in range(3): jax.block_until_ready(step(ids, mask))
times = []
for _ in range({repeats}):
    start = time.perf_counter(); jax.block_until_ready(step(ids, mask)); times.append(time.perf_counter() - start)
report(ms=statistics.median(times) * 1e3)
"""
)

OURS = {
    "tf": ("import rosetta", "rosetta.TFBertModel.from_pretrained({folder!r})"),
    "flax": ("import rosetta", "rosetta.FlaxBertModel.from_pretrained({folder!r})"),
}
PEERS = {
    "tf": ("import transformers", "transformers.TFBertModel.from_pretrained({folder!r}, from_pt=True)"),
    "flax": ("import transformers", "transformers.FlaxBertModel.from_pretrained({folder!r}, from_pt=True)"),
}
FLAX_STEP_OURS = (
    "step = lambda i, m: model(i, attention_mask=m).last_hidden_state  # rosetta jits and caches __call__"
)
FLAX_STEP_PEER = "step = jax.jit(lambda i, m: model(i, attention_mask=m).last_hidden_state)"


def _forward_code(framework: str, ours: bool, folder: str, batch: int, seq: int, repeats: int) -> str:
    imports, loader = (OURS if ours else PEERS)[framework]
    loader = loader.format(folder=folder)
    if framework == "tf":
        return FORWARD_TF.format(imports=imports, loader=loader, batch=batch, seq=seq, repeats=repeats)
    step = FLAX_STEP_OURS if ours else FLAX_STEP_PEER
    return FORWARD_FLAX.format(
        imports=imports, loader=loader, batch=batch, seq=seq, repeats=repeats, step=step
    )


def bench_forward(folder: str, rounds: int = 3) -> list[tuple]:
    rows = []
    for framework in ("tf", "flax"):
        for batch, seq in ((1, 128), (8, 128)):
            repeats = 10 if batch == 1 else 5
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(run_isolated(_forward_code(framework, True, folder, batch, seq, repeats))["ms"])
                theirs.append(
                    run_isolated(
                        _forward_code(framework, False, folder, batch, seq, repeats), PEER_PYTHON[framework]
                    )["ms"]
                )
            o, t = statistics.median(ours), statistics.median(theirs)
            rows.append((f"{framework} fp32 {batch}x{seq}", o, t, o / t))
    return rows


LOAD = """
{imports}
mark_baseline()
start = time.perf_counter()
model = {loader}
report(seconds=time.perf_counter() - start)
"""


def bench_load(folder: str, rounds: int = 3) -> list[tuple]:
    size = os.path.getsize(os.path.join(folder, "model.safetensors"))
    cases = {
        "torch (same framework)": (
            sys.executable,
            "import torch, rosetta.models.bert.modeling_bert as m",
            f"m.BertModel.from_pretrained({folder!r})",
        ),
        "tf": (
            sys.executable,
            "import tensorflow, rosetta.models.bert.modeling_tf_bert as m",
            f"m.TFBertModel.from_pretrained({folder!r})",
        ),
        "flax": (
            sys.executable,
            "import jax, rosetta.models.bert.modeling_flax_bert as m",
            f"m.FlaxBertModel.from_pretrained({folder!r})",
        ),
        "peer tf from_pt": (
            PEER_PYTHON["tf"],
            "import tensorflow, torch, transformers",
            f"transformers.TFBertModel.from_pretrained({folder!r}, from_pt=True)",
        ),
        "peer flax from_pt": (
            PEER_PYTHON["flax"],
            "import jax, torch, transformers",
            f"transformers.FlaxBertModel.from_pretrained({folder!r}, from_pt=True)",
        ),
    }
    results = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (python, imports, loader) in cases.items():
            results[name].append(run_isolated(LOAD.format(imports=imports, loader=loader), python))
    med = {
        name: (
            statistics.median(r["seconds"] for r in runs),
            statistics.median(r["peak_rss_above_baseline"] for r in runs),
        )
        for name, runs in results.items()
    }
    torch_seconds = med["torch (same framework)"][0]
    rows = []
    for framework in ("tf", "flax"):
        seconds, rss = med[framework]
        peer_seconds, peer_rss = med[f"peer {framework} from_pt"]
        rows.append(
            (
                f"{framework} load s",
                seconds,
                f"{seconds / torch_seconds:.3g}x torch load",
                f"{seconds / peer_seconds:.3g}x peer from_pt ({peer_seconds:.3g}s)",
            )
        )
        rows.append((f"{framework} peak RSS / ckpt size", rss / size, "", f"peer {peer_rss / size:.3g}"))
    rows.append(
        ("torch load s", torch_seconds, "", f"peak RSS / ckpt {med['torch (same framework)'][1] / size:.3g}")
    )
    return rows


COLD_START = (
    THREADS_ENV
    + """
import numpy as np
{imports}
model = {loader}
out = np.asarray({call})
print(out.shape)
"""
)
IDS = "np.arange(1000, 1128, dtype=np.int32)[None]"
COLD_CASES = {
    "tf": (
        (
            "import rosetta; from rosetta.pipelines._numpy import numpy_call",
            "rosetta.TFBertModel.from_pretrained({folder!r})",
            f"numpy_call(model, {{'input_ids': {IDS}}})['last_hidden_state']",
        ),
        (
            "import transformers",
            "transformers.TFBertModel.from_pretrained({folder!r}, from_pt=True)",
            f"model(input_ids={IDS}).last_hidden_state",
        ),
    ),
    "flax": (
        (
            "import rosetta; from rosetta.pipelines._numpy import numpy_call",
            "rosetta.FlaxBertModel.from_pretrained({folder!r})",
            f"numpy_call(model, {{'input_ids': {IDS}}})['last_hidden_state']",
        ),
        (
            "import transformers",
            "transformers.FlaxBertModel.from_pretrained({folder!r}, from_pt=True)",
            f"model(input_ids={IDS}).last_hidden_state",
        ),
    ),
}


def bench_cold_start(folder: str) -> list[tuple]:
    """Process start -> imports -> load -> first forward -> first output, median of 5 fresh processes each side."""
    rows = []
    for framework, (ours, theirs) in COLD_CASES.items():
        code = {
            side: COLD_START.format(imports=imports, loader=loader.format(folder=folder), call=call)
            for side, (imports, loader, call) in (("ours", ours), ("theirs", theirs))
        }
        t_ours = cold_start_seconds(code["ours"])
        t_theirs = cold_start_seconds(code["theirs"], PEER_PYTHON[framework])
        rows.append((f"{framework} cold start to first output (s)", t_ours, t_theirs, t_ours / t_theirs))
    return rows


def main() -> None:
    print_setup("BERT-base, TF and Flax", PEER_PYTHON)
    if not all(os.path.exists(p) for p in PEER_PYTHON.values()):
        print("peer environments missing: run `bash benchmarks/setup_peers.sh` (make bench does)")
        return
    folder = bert_base_checkpoint()
    print_table(
        "BERT-base forward, TF (jit_compile) and Flax (jit), ms median",
        bench_forward(folder),
        ("case", "rosetta", "transformers 4.46", "ratio"),
    )
    print_table(
        "BERT-base cross-framework load (median of 3 fresh processes)",
        bench_load(folder),
        ("metric", "rosetta", "vs torch", "vs peer"),
    )
    print_table(
        "BERT-base cold start (median of 5 fresh processes)",
        bench_cold_start(folder),
        ("metric", "rosetta", "transformers 4.46", "ratio"),
    )


if __name__ == "__main__":
    main()
