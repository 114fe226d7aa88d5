"""Trainer throughput: rosetta's Trainer vs transformers' Trainer, samples/s on the same job.

A small BERT (hidden 256, 4 layers) for sequence classification, the same random weights
loaded into both libraries' models, the same data and the same TrainingArguments. Each
repeat builds a fresh model and Trainer per run and times `trainer.train()`; the runs
alternate so background load hits all alike, and the medians are compared. A third run
drives transformers' model with rosetta's Trainer, to tell the loop's overhead from the model's speed.
transformers' Trainer needs `accelerate`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from benchmarks.common import print_table

SMALL_BERT = dict(
    vocab_size=30522, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
    max_position_embeddings=512, num_labels=2,
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
        {"input_ids": rng.integers(1000, 29000, seq).tolist(), "attention_mask": [1] * seq, "labels": int(rng.integers(0, 2))}
        for _ in range(count)
    ]


def train_once(trainer_library: str, model_library: str, folder: str, data: list[dict], options: argparse.Namespace, output_dir: str) -> float:
    """Samples per second of one `trainer.train()`, with a freshly loaded model."""
    import transformers

    import rosetta

    lib = rosetta if trainer_library == "rosetta" else transformers
    model = (rosetta if model_library == "rosetta" else transformers).BertForSequenceClassification.from_pretrained(folder)
    args = lib.TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=options.batch, max_steps=options.steps, learning_rate=5e-5,
        weight_decay=0.01, warmup_steps=2, logging_steps=10, save_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=True, seed=42,
    )
    trainer = lib.Trainer(model, args, train_dataset=data, data_collator=lib.default_data_collator)
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    return options.steps * options.batch / elapsed


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
    parser.add_argument("--threads", type=int, default=1, help="1 is fastest on a small, shared CPU")
    options = parser.parse_args(argv)

    import torch
    import transformers

    torch.set_num_threads(options.threads)
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_checkpoint(os.path.join(tmp, "small-bert"))
        data = make_data(options.steps * options.batch, options.seq)
        results: dict[str, list[float]] = {name: [] for name in RUNS}
        for repeat in range(options.repeats + 1):  # the first round warms everything up and is not counted
            for name, (trainer_library, model_library) in RUNS.items():
                speed = train_once(trainer_library, model_library, folder, data, options, os.path.join(tmp, trainer_library))
                if repeat:
                    results[name].append(speed)
    median = {name: statistics.median(speeds) for name, speeds in results.items()}
    theirs = median["transformers Trainer + transformers model"]
    print_table(
        f"Trainer, BERT hidden 256 x 4 layers, batch {options.batch} x seq {options.seq}, {options.steps} steps, "
        f"CPU {options.threads} thread(s), median of {options.repeats}",
        [(name, median[name], median[name] / theirs) for name in RUNS],
        ("trainer + model", "train samples/s", "ratio vs transformers"),
    )
    for name, speeds in results.items():
        print(f"{name}: {[round(x, 2) for x in speeds]}")


if __name__ == "__main__":
    main()
