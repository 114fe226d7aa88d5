"""Keras `fit` steps/s: rosetta's TFBertForSequenceClassification vs transformers 4.46's, same config and data.

Each fit runs `EPOCHS` epochs of `STEPS` steps in a fresh process, after a warm-up fit that builds and
compiles the step; the sides alternate for `rounds` rounds and the medians are compared.

Why several epochs and rounds: Keras drops each epoch's tf.data iterator at the next epoch (or when `fit`
returns), and dropping an autotuned iterator waits for tf.data's autotuning thread, whose period doubles
from 10 ms to 10 s: a fit of ~6 s sat idle until 10.23 s after its iterator was made in about half the runs,
on both sides. rosetta's fit turns autotuning off for a dataset that leaves it unset
(`without_autotune_stall` in backends/tf/modeling_tf_utils.py); the peer is measured twice: as users run it
(its default dataset, so with the stall) and with the same option set on its dataset (like for like).
"""

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
STEPS, BATCH, SEQ, EPOCHS = 30, 16, 64, 3

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
if {autotune_off}:
    options = tf.data.Options(); options.autotune.enabled = False; dataset = dataset.with_options(options)
model.compile(optimizer={optimizer})
model.fit(dataset.take(3), epochs=1, verbose=0)  # build and compile the step
start, cpu_start = time.perf_counter(), time.process_time()
model.fit(dataset, epochs={epochs}, verbose=0)
steps = {steps} * {epochs}
report(steps_per_second=steps / (time.perf_counter() - start), steps_per_cpu_second=steps / (time.process_time() - cpu_start))
"""
)


def _code(ours: bool, autotune_off: bool = False, epochs: int = EPOCHS) -> str:
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
        epochs=epochs,
        autotune_off=autotune_off,
    )


def main(rounds: int = 5, epochs: int = EPOCHS) -> None:
    print_setup("Keras fit", {"tf": PEER_PYTHON["tf"]})
    if not os.path.exists(PEER_PYTHON["tf"]):
        print("peer environment missing: run `bash benchmarks/setup_peers.sh` (make bench does)")
        return
    sides = {
        "rosetta": (_code(True, epochs=epochs), None),
        "4.46 as run": (_code(False, epochs=epochs), PEER_PYTHON["tf"]),
        "4.46 autotune off": (_code(False, autotune_off=True, epochs=epochs), PEER_PYTHON["tf"]),
    }
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, (code, python) in sides.items():
            runs[name].append(run_isolated(code) if python is None else run_isolated(code, python))
    rows = []
    for metric in ("steps_per_second", "steps_per_cpu_second"):
        median = {name: statistics.median(r[metric] for r in done) for name, done in runs.items()}
        spread = {
            name: f"{min(r[metric] for r in done):.3g}-{max(r[metric] for r in done):.3g}"
            for name, done in runs.items()
        }
        rows.append(
            (
                metric.replace("_", " "),
                median["rosetta"],
                median["4.46 as run"],
                median["4.46 autotune off"],
                median["rosetta"] / median["4.46 as run"],
                median["rosetta"] / median["4.46 autotune off"],
                " / ".join(spread.values()),
            )
        )
    print_table(
        f"Keras fit, BERT hidden 256 x 4 layers, batch {BATCH}x{SEQ}, {epochs} epochs of {STEPS} steps "
        f"(median of {rounds} fresh processes per side, sides alternating)",
        rows,
        (
            "metric",
            "rosetta",
            "transformers 4.46 as run",
            "4.46, autotune off",
            "ratio vs as run",
            "ratio like for like",
            "range (rosetta / as run / off)",
        ),
    )


if __name__ == "__main__":
    main()
