"""Train a tiny BERT with Trainer under FSDP2 (or alone); used by tests/backends/test_trainer_fsdp.py.

    python tests/backends/scripts/train_fsdp.py --output_dir A --per_device_train_batch_size 8
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/backends/scripts/train_fsdp.py \
        --output_dir B --per_device_train_batch_size 4 --fsdp full_shard --min_num_params 1000

Both see the same global batch of 8. Rank 0 writes `result.json` (the global loss of every step,
unrounded, the bytes of parameters + optimizer state each rank holds and, when it resumed, the rows
and bytes each rank read of each checkpoint tensor) and the final model to `<output_dir>/final`; with
--resume_check a freshly built Trainer resumes from `checkpoint-3` into `<output_dir>/resumed`; with
--first_load FOLDER each rank loads that BertModel checkpoint and shards it, and rank 0 writes what each rank
mapped in of its word embedding to `<output_dir>/first_load.json`.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from rosetta import BertForSequenceClassification, Trainer, TrainingArguments
from rosetta.backends.torch.trainer_fsdp import parameter_and_optimizer_bytes
from tests.parity import tiny_config  # the repository root is on PYTHONPATH (see test_trainer_fsdp.py)


class RecordingTrainer(Trainer):
    """Keeps the global (all ranks) loss of every micro-batch, unrounded, and what loading a checkpoint read."""

    losses: list[float]
    reads: dict | None = None

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.losses.append(self._mean_across_processes(loss).item())
        return loss

    def _load_model_weights(self, folder):
        reads = super()._load_model_weights(folder)
        if reads is not None:
            self.reads = {name: [r.start, r.stop, r.nbytes] for name, r in reads.items()}
        return reads


def train(cli: argparse.Namespace, output_dir: str, init_seed: int = 0, resume: str | None = None) -> None:
    torch.manual_seed(init_seed)
    model = BertForSequenceClassification(
        tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, intermediate_size=64)
    )
    rng = np.random.default_rng(0)
    data = [
        {"input_ids": rng.integers(5, 99, 8).tolist(), "labels": int(rng.integers(0, 2))} for _ in range(32)
    ]
    fsdp_config = {}
    if cli.min_num_params:
        fsdp_config["min_num_params"] = cli.min_num_params
    if cli.layer_cls:
        fsdp_config["transformer_layer_cls_to_wrap"] = [cli.layer_cls]
    args = TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=cli.per_device_train_batch_size,
        max_steps=6,
        learning_rate=1e-3,
        weight_decay=0.01,
        warmup_steps=1,
        logging_steps=1,
        save_strategy="steps",
        save_steps=3,
        disable_tqdm=True,
        fsdp=cli.fsdp,
        fsdp_config=fsdp_config or None,
        gradient_checkpointing=cli.gradient_checkpointing,
    )
    trainer = RecordingTrainer(model, args, train_dataset=data)
    trainer.losses = []
    trainer.train(resume_from_checkpoint=resume)
    memory = parameter_and_optimizer_bytes(trainer.model, trainer.optimizer)
    per_rank, reads = [None] * args.world_size, [None] * args.world_size
    if args.world_size > 1:
        torch.distributed.all_gather_object(per_rank, memory)
        torch.distributed.all_gather_object(reads, trainer.reads)
    else:
        per_rank, reads = [memory], [trainer.reads]
    trainer.save_model(os.path.join(output_dir, "final"))
    if trainer.is_world_process_zero():
        print(f"parameters + optimizer state per rank: {per_rank} bytes ({args.fsdp or 'no fsdp'})")
        result = {"world_size": args.world_size, "losses": trainer.losses, "memory_per_rank": per_rank}
        result["checkpoint_reads_per_rank"] = reads  # resumed runs: what each rank read of the weights
        with open(os.path.join(output_dir, "result.json"), "w") as f:
            json.dump(result, f)


def resident_bytes(tensor: torch.Tensor, start_row: int, stop_row: int) -> int:
    """Bytes of rows [start_row, stop_row) of `tensor` that this process has mapped in (/proc/self/pagemap)."""
    page = os.sysconf("SC_PAGE_SIZE")
    row_bytes = tensor[0].numel() * tensor.element_size()
    start = tensor.data_ptr() + start_row * row_bytes
    stop = tensor.data_ptr() + stop_row * row_bytes
    first, last = start // page, (stop + page - 1) // page
    with open("/proc/self/pagemap", "rb") as pagemap:
        pagemap.seek(first * 8)
        entries = np.frombuffer(pagemap.read((last - first) * 8), dtype=np.uint64)
    return int(((entries >> np.uint64(63)) & np.uint64(1)).sum()) * page


def first_load_reads(folder: str) -> dict[str, int]:
    """From a fresh `from_pretrained` (parameters are views of the memory-mapped checkpoint) through FSDP:
    the bytes of the word embedding this rank mapped in, within its own rows and within the other ranks'."""
    from rosetta import BertModel
    from rosetta.backends.torch.trainer_fsdp import shard_model

    model = BertModel.from_pretrained(folder)
    words = model.embeddings.word_embeddings.weight.detach()
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    rows = -(-words.shape[0] // world)
    own = (rank * rows, min((rank + 1) * rows, words.shape[0]))
    before = resident_bytes(words, 0, words.shape[0])
    shard_model(model, "full_shard", None, bf16=False)
    mapped_own = resident_bytes(words, *own)
    mapped_all = resident_bytes(words, 0, words.shape[0])
    return {
        "tensor_bytes": words.numel() * words.element_size(),
        "before_sharding": before,
        "own_rows": mapped_own,
        "other_rows": mapped_all - mapped_own,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--per_device_train_batch_size", type=int, default=8)
    parser.add_argument("--fsdp", default="")
    parser.add_argument("--min_num_params", type=int, default=0)
    parser.add_argument("--layer_cls", default="")
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument(
        "--resume_check", action="store_true", help="then resume a fresh Trainer from checkpoint-3"
    )
    parser.add_argument("--first_load", default="", help="a checkpoint folder: measure what FSDP reads of it")
    cli = parser.parse_args()
    torch.set_num_threads(1)
    train(cli, cli.output_dir)
    if cli.first_load:
        reads = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(reads, first_load_reads(cli.first_load))
        if torch.distributed.get_rank() == 0:
            with open(os.path.join(cli.output_dir, "first_load.json"), "w") as f:
                json.dump(reads, f)
    if cli.resume_check:  # other initial weights: everything must come from the checkpoint
        resumed = os.path.join(cli.output_dir, "resumed")
        train(cli, resumed, init_seed=1, resume=os.path.join(cli.output_dir, "checkpoint-3"))


if __name__ == "__main__":
    main()
