"""Train a tiny BERT with Trainer, alone or under torchrun; used by tests/backends/test_trainer_distributed.py.

    python tests/backends/scripts/train_ddp.py --output_dir A --per_device_train_batch_size 8
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/backends/scripts/train_ddp.py \
        --output_dir B --per_device_train_batch_size 4

Both see the same global batch of 8. Rank 0 writes `result.json` (logs, evaluation metrics,
predictions) and the final model to `<output_dir>/final`; with --resume_check a second, freshly
built Trainer resumes from `checkpoint-3` into `<output_dir>/resumed`.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from rosetta import BertForSequenceClassification, Trainer, TrainingArguments
from tests.parity import tiny_config  # the repository root is on PYTHONPATH (see test_trainer_distributed.py)


def accuracy(prediction) -> dict[str, float]:
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def train(
    output_dir: str, batch_size: int, max_steps: int, init_seed: int = 0, resume: str | None = None
) -> None:
    torch.manual_seed(init_seed)
    model = BertForSequenceClassification(
        tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    )
    rng = np.random.default_rng(0)
    data = [
        {"input_ids": rng.integers(5, 99, 8).tolist(), "labels": int(rng.integers(0, 2))} for _ in range(32)
    ]
    args = TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=4,
        max_steps=max_steps,
        learning_rate=1e-3,
        weight_decay=0.01,
        warmup_steps=1,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="steps",
        save_steps=3,
        disable_tqdm=True,
    )
    # 11 evaluation examples: the two ranks get 6 and 5, and the gathered result keeps dataset order.
    trainer = Trainer(model, args, train_dataset=data, eval_dataset=data[:11], compute_metrics=accuracy)
    trainer.train(resume_from_checkpoint=resume)
    prediction = trainer.predict(data[:11])
    trainer.save_model(os.path.join(output_dir, "final"))
    if trainer.is_world_process_zero():
        result = {
            "world_size": args.world_size,
            "log_history": trainer.state.log_history,
            "predictions": prediction.predictions.tolist(),
            "label_ids": prediction.label_ids.tolist(),
            "test_metrics": prediction.metrics,
        }
        with open(os.path.join(output_dir, "result.json"), "w") as f:
            json.dump(result, f)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--per_device_train_batch_size", type=int, default=8)
    parser.add_argument("--max_steps", type=int, default=6)
    parser.add_argument(
        "--resume_check", action="store_true", help="then resume a fresh Trainer from checkpoint-3"
    )
    cli = parser.parse_args()
    torch.set_num_threads(1)
    train(cli.output_dir, cli.per_device_train_batch_size, cli.max_steps)
    if cli.resume_check:
        # Other initial weights: everything must come from the checkpoint.
        resumed = os.path.join(cli.output_dir, "resumed")
        checkpoint = os.path.join(cli.output_dir, "checkpoint-3")
        train(resumed, cli.per_device_train_batch_size, cli.max_steps, init_seed=1, resume=checkpoint)


if __name__ == "__main__":
    main()
