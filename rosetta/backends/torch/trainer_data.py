"""The Trainer's data plumbing: which columns a model takes, samplers, and the DataLoaders it trains on.

Training order depends only on the seed and the epoch: every loader draws from a private
generator (never the global torch RNG), and each epoch's shuffle is seeded with `seed + epoch`,
so a resumed run sees the same batches as the run that was never interrupted.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    Sampler,
    SequentialSampler,
)

from ...core.errors import InputError
from .trainer_utils import concat_padded

logger = logging.getLogger(__name__)


def has_length(dataset: Any) -> bool:
    try:
        return len(dataset) is not None
    except (TypeError, NotImplementedError):
        return False


def is_hf_dataset(dataset: Any) -> bool:
    """A `datasets.Dataset` (recognised without importing the library)."""
    return type(dataset).__module__.startswith("datasets.") and hasattr(dataset, "remove_columns")


def find_labels(model: nn.Module) -> list[str]:
    """The label arguments of the model's forward: `labels`, or start/end positions for question answering."""
    params = inspect.signature(type(model).forward).parameters
    if "QuestionAnswering" in type(model).__name__:
        return [p for p in params if "label" in p or p in ("start_positions", "end_positions")]
    return [p for p in params if "label" in p]


def batch_size_of(inputs: Any) -> int:
    """The number of examples in a collated batch (1 when it cannot be told)."""
    if isinstance(inputs, Mapping):
        for value in inputs.values():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                return value.shape[0]
    return 1


class RemoveColumnsCollator:
    """Drop the fields the model's forward does not take, then collate (for datasets that are not `datasets.Dataset`)."""

    def __init__(self, data_collator: Callable, signature_columns: list[str]):
        self.data_collator = data_collator
        self.signature_columns = set(signature_columns)

    def __call__(self, features: list[Any]) -> Any:
        if features and isinstance(features[0], Mapping):
            features = [{k: v for k, v in f.items() if k in self.signature_columns} for f in features]
        return self.data_collator(features)


class SkipBatchSampler(Sampler):
    """The batches of `batch_sampler` after the first `skip`; skipped batches are never loaded or collated."""

    def __init__(self, batch_sampler: Sampler, skip: int):
        self.batch_sampler = batch_sampler
        self.skip = skip

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(iter(self.batch_sampler), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.batch_sampler) - self.skip)


class ShardSampler(Sampler):
    """Rank r of W evaluates examples r, r + W, r + 2W, ...: every example exactly once, none repeated.

    (DistributedSampler repeats examples to even out the shards, which would bias the loss.)
    """

    def __init__(self, num_examples: int, num_replicas: int, rank: int):
        self.indices = range(rank, num_examples, num_replicas)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def interleave(per_rank: list[Any], world: int) -> Any:
    """Undo ShardSampler's round-robin split: each rank's examples back in dataset order.

    `per_rank` leaves out ranks that had no example (always the last ones).
    """
    if isinstance(per_rank[0], (tuple, list)):
        return type(per_rank[0])(interleave([r[i] for r in per_rank], world) for i in range(len(per_rank[0])))
    total = sum(len(r) for r in per_rank)
    positions = np.concatenate([np.arange(rank, total, world) for rank in range(len(per_rank))])
    stacked = concat_padded(per_rank)  # rank-major, padded to one width
    ordered = np.empty_like(stacked)
    ordered[positions] = stacked
    return ordered


@dataclass
class LoaderSettings:
    """What every DataLoader of one Trainer shares (read from its TrainingArguments)."""

    world_size: int
    process_index: int
    num_workers: int
    pin_memory: bool
    drop_last: bool


def _common(settings: LoaderSettings, collate_fn: Callable, seed: int) -> dict[str, Any]:
    return {
        "collate_fn": collate_fn,
        "num_workers": settings.num_workers,
        "pin_memory": settings.pin_memory,
        # A private generator: iterating a DataLoader never draws from the global torch RNG.
        "generator": torch.Generator().manual_seed(seed),
    }


def train_dataloader(
    dataset: Any,
    settings: LoaderSettings,
    collate_fn: Callable,
    batch_size: int,
    seed: int,
    epoch: int,
    skip_batches: int = 0,
) -> DataLoader:
    """Epoch `epoch`'s loader: this rank's shard, shuffled by `seed + epoch`, the first `skip_batches` left out."""
    kwargs = _common(settings, collate_fn, seed + epoch)
    if isinstance(dataset, IterableDataset):
        return DataLoader(dataset, batch_size=batch_size, drop_last=settings.drop_last, **kwargs)
    sampler = DistributedSampler(
        dataset,
        num_replicas=settings.world_size,
        rank=settings.process_index,
        shuffle=True,
        seed=seed,
        drop_last=settings.drop_last,
    )
    sampler.set_epoch(epoch)
    batches: Sampler = BatchSampler(sampler, batch_size, drop_last=settings.drop_last)
    if skip_batches:
        batches = SkipBatchSampler(batches, skip_batches)
    return DataLoader(dataset, batch_sampler=batches, **kwargs)


def inference_dataloader(
    dataset: Any, settings: LoaderSettings, collate_fn: Callable, batch_size: int, seed: int
) -> DataLoader:
    """In dataset order; under torchrun each rank takes every world_size-th example (see ShardSampler)."""
    kwargs = _common(settings, collate_fn, seed)
    if isinstance(dataset, IterableDataset):
        return DataLoader(dataset, batch_size=batch_size, **kwargs)
    if settings.world_size > 1:
        sampler: Sampler = ShardSampler(len(dataset), settings.world_size, settings.process_index)
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, sampler=sampler, batch_size=batch_size, drop_last=settings.drop_last, **kwargs)


def signature_columns(model: nn.Module, label_names: list[str]) -> list[str]:
    """The fields a batch may carry: the forward's arguments and the label names."""
    params = inspect.signature(model.forward).parameters
    return list(dict.fromkeys([*params, "label", "label_ids", *label_names]))


def remove_unused_columns(dataset: Any, model: nn.Module, columns: list[str], description: str) -> Any:
    """A `datasets.Dataset` without the columns `model.forward` does not take (other datasets unchanged)."""
    if not is_hf_dataset(dataset):
        return dataset
    ignored = [c for c in dataset.column_names if c not in columns]
    name = type(model).__name__
    if ignored:
        logger.info(
            "Columns of the %s set not taken by %s.forward, dropped: %s.",
            description,
            name,
            ", ".join(ignored),
        )
        dataset = dataset.remove_columns(ignored)
    if not dataset.column_names:
        raise InputError(
            f"No column of the {description} set is an argument of {name}.forward "
            f"(it takes {', '.join(columns)}). Rename the columns, or set remove_unused_columns=False."
        )
    return dataset
