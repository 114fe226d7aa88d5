"""Keras `fit` steps/s: rosetta's TFBertForSequenceClassification vs transformers 4.46's, same config and data."""

from __future__ import annotations

import os
import statistics

from benchmarks.bench_frameworks import PEER_PYTHON, THREADS_ENV
from benchmarks.common import print_setup, print_table, run_isolated

CONFIG = dict(
    vocab_size=30522,
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=1024,
    num_labels=2,
)
STEPS, BATCH, SEQ = 30, 16, 64

FIT = (
    THREADS_ENV
    + """
import numpy as np, tensorflow as tf
{imports}
config = {config_cls}(**{config!r})
model = {model_cls}(config)
rng = np.random.default_rng(0)
data = {{"input_ids": rng.integers(1000, 2000, ({n}, {seq})).astype("int32"), "attention_mask": np.ones(({n}, {seq}), "int32"),
        "labels": rng.integers(0, 2, ({n},)).astype("int32")}}
dataset = tf.data.Dataset.from_tensor_slices(data).batch({batch})
model.compile(optimizer={optimizer})
model.fit(dataset.take(3), epochs=1, verbose=0)  # build and compile the step
start, cpu_start = time.perf_counter(), time.process_time()
model.fit(dataset, epochs=1, verbose=0)
report(steps_per_second={steps} / (time.perf_counter() - start), steps_per_cpu_second={steps} / (time.process_time() - cpu_start))
"""
)


def _code(ours: bool) -> str:
    if ours:
        imports, config_cls, model_cls, optimizer = (
            "import keras, rosetta",
            "rosetta.BertConfig",
            "rosetta.TFBertForSequenceClassification",
            "keras.optimizers.Adam(3e-5)",
        )
    else:
        imports, config_cls, model_cls, optimizer = (
            "import transformers, tf_keras",
            "transformers.BertConfig",
            "transformers.TFBertForSequenceClassification",
            "tf_keras.optimizers.Adam(3e-5)",
        )
    return FIT.format(
        imports=imports,
        config_cls=config_cls,
        model_cls=model_cls,
        config=CONFIG,
        n=STEPS * BATCH,
        seq=SEQ,
        batch=BATCH,
        optimizer=optimizer,
        steps=STEPS,
    )


def main(rounds: int = 3) -> None:
    print_setup("Keras fit", {"tf": PEER_PYTHON["tf"]})
    if not os.path.exists(PEER_PYTHON["tf"]):
        print("peer environment missing: run `bash benchmarks/setup_peers.sh` (make bench does)")
        return
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(run_isolated(_code(True)))
        theirs.append(run_isolated(_code(False), PEER_PYTHON["tf"]))
    rows = []
    # Wall time swings with the machine's CPU quota; CPU time per step is the steadier figure.
    for metric in ("steps_per_second", "steps_per_cpu_second"):
        o, t = statistics.median(r[metric] for r in ours), statistics.median(r[metric] for r in theirs)
        rows.append((metric.replace("_", " "), o, t, o / t))
    print_table(
        f"Keras fit, BERT hidden 256 x 4 layers, batch {BATCH}x{SEQ} (median of {rounds})",
        rows,
        ("metric", "rosetta", "transformers 4.46", "ratio (higher is better)"),
    )


if __name__ == "__main__":
    main()
