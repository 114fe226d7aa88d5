"""Trainer throughput: rosetta's Trainer vs transformers' Trainer, samples/s on the same job.

A small BERT (hidden 256, 4 layers) for sequence classification, the same random weights
loaded into both libraries' models, the same data and the same TrainingArguments. Each
repeat builds a fresh model and Trainer per run and times `trainer.train()` as a whole and
step by step in CPU time (the median step's CPU time is robust to a busy machine); the runs alternate so background
load hits all alike, and the medians are compared. A third run
drives transformers' model with rosetta's Trainer, to tell the loop's overhead from the model's speed.
transformers' Trainer needs `accelerate`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from typing import Any

from benchmarks.common import THREADS, print_setup, print_table

SMALL_BERT = dict(
    vocab_size=30522,
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=1024,
    max_position_embeddings=512,
    num_labels=2,
)


def make_checkpoint(folder: str) -> str:
    import torch

    import rosetta

    torch.manual_seed(0)
    rosetta.BertForSequenceClassification(rosetta.BertConfig(**SMALL_BERT)).save_pretrained(folder)
    return folder


def make_data(count: int, seq: int) -> list[dict]:
    import numpy as np

    rng = np.random.default_rng(0)
    return [
        {
            "input_ids": rng.integers(1000, 29000, seq).tolist(),
            "attention_mask": [1] * seq,
            "labels": int(rng.integers(0, 2)),
        }
        for _ in range(count)
    ]


def step_timer(base: type) -> Any:
    """A callback (of either library) that notes the CPU time at which each optimizer step ends.

    CPU time of this process counts the work done and not the time spent
    descheduled by other processes, so it stays meaningful on a busy machine.
    """

    class StepTimer(base):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.process_time())

    return StepTimer()


def train_once(
    trainer_library: str,
    model_library: str,
    folder: str,
    data: list[dict],
    options: argparse.Namespace,
    output_dir: str,
) -> tuple[float, float]:
    """(samples per wall-clock second over the whole `trainer.train()`, samples per CPU-second of the median step)."""
    import transformers

    import rosetta

    lib = rosetta if trainer_library == "rosetta" else transformers
    model = (
        rosetta if model_library == "rosetta" else transformers
    ).BertForSequenceClassification.from_pretrained(folder)
    args = lib.TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=options.batch,
        max_steps=options.steps,
        learning_rate=5e-5,
        weight_decay=0.01,
        warmup_steps=2,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        seed=42,
    )
    timer = step_timer(lib.TrainerCallback)
    trainer = lib.Trainer(
        model, args, train_dataset=data, data_collator=lib.default_data_collator, callbacks=[timer]
    )
    with contextlib.redirect_stdout(io.StringIO()):  # both print their logs when tqdm is off
        start = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - start
    step = statistics.median(b - a for a, b in zip(timer.ends, timer.ends[1:]))
    return options.steps * options.batch / elapsed, options.batch / step


# (trainer, model) pairs: end to end, and both Trainers driving the same transformers model.
RUNS = {
    "rosetta Trainer + rosetta model": ("rosetta", "rosetta"),
    "transformers Trainer + transformers model": ("transformers", "transformers"),
    "rosetta Trainer + transformers model": ("rosetta", "transformers"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="the same count for both Trainers (default %(default)s)"
    )
    options = parser.parse_args(argv)

    import torch
    import transformers
    import transformers.models.bert.modeling_bert  # noqa: F401  both sides' model classes, imported before timing

    import rosetta.models.bert.modeling_bert  # noqa: F401

    print_setup("Trainer throughput", threads=options.threads)
    torch.set_num_threads(options.threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_checkpoint(os.path.join(tmp, "small-bert"))
        data = make_data(options.steps * options.batch, options.seq)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in RUNS}
        for repeat in range(options.repeats + 1):  # the first round warms everything up and is not counted
            for name, (trainer_library, model_library) in RUNS.items():
                speeds = train_once(
                    trainer_library, model_library, folder, data, options, os.path.join(tmp, trainer_library)
                )
                if repeat:
                    results[name].append(speeds)
    whole = {name: statistics.median(s[0] for s in runs) for name, runs in results.items()}
    steady = {name: statistics.median(s[1] for s in runs) for name, runs in results.items()}
    reference = "transformers Trainer + transformers model"
    print_table(
        f"Trainer, BERT hidden 256 x 4 layers, batch {options.batch} x seq {options.seq}, {options.steps} steps, "
        f"CPU {options.threads} thread(s), median of {options.repeats}",
        [
            (
                name,
                whole[name],
                whole[name] / whole[reference],
                steady[name],
                steady[name] / steady[reference],
            )
            for name in RUNS
        ],
        (
            "trainer + model",
            "samples/s (wall, whole train())",
            "ratio",
            "samples per CPU-second (median step)",
            "ratio",
        ),
    )
    for name, runs in results.items():
        print(f"{name}: whole {[round(s[0], 2) for s in runs]}, median step {[round(s[1], 2) for s in runs]}")


if __name__ == "__main__":
    main()
