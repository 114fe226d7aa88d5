"""Helpers of the Trainer that hold no training state: strategies, schedules, seeds, RNG snapshots.

Everything a checkpoint stores here is made of tensors and plain Python values, so it loads
back with `torch.load(..., weights_only=True)`: no pickled objects are ever read.
"""

from __future__ import annotations

import functools
import math
import os
import random
import re
from enum import Enum
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from ...core.errors import ConfigError

PREFIX_CHECKPOINT_DIR = "checkpoint"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


class IntervalStrategy(str, Enum):
    """When to log, evaluate or save: never, every `*_steps` optimizer steps, or at each epoch's end."""

    NO = "no"
    STEPS = "steps"
    EPOCH = "epoch"


class SchedulerType(str, Enum):
    LINEAR = "linear"
    COSINE = "cosine"
    CONSTANT = "constant"
    CONSTANT_WITH_WARMUP = "constant_with_warmup"


class EvalPrediction(NamedTuple):
    """What `compute_metrics` receives: numpy predictions (logits) and labels of the whole dataset."""

    predictions: np.ndarray | tuple[np.ndarray, ...]
    label_ids: np.ndarray | tuple[np.ndarray, ...] | None


class EvalLoopOutput(NamedTuple):
    predictions: np.ndarray | tuple[np.ndarray, ...] | None
    label_ids: np.ndarray | tuple[np.ndarray, ...] | None
    metrics: dict[str, float]
    num_samples: int


class PredictionOutput(NamedTuple):
    predictions: np.ndarray | tuple[np.ndarray, ...] | None
    label_ids: np.ndarray | tuple[np.ndarray, ...] | None
    metrics: dict[str, float]


class TrainOutput(NamedTuple):
    global_step: int
    training_loss: float
    metrics: dict[str, float]


# -- seeds and RNG snapshots ---------------------------------------------------------------------
def set_seed(seed: int) -> None:
    """Seed Python's `random`, numpy's global RNG and torch (every CUDA device included)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def get_rng_state() -> dict[str, Any]:
    """The state of every global RNG as tensors and plain values (loadable with weights_only=True)."""
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- learning-rate schedules ------------------------------------------------------------------------
# Module-level functions bound with functools.partial: the scheduler's state_dict then holds
# plain values only, and the schedule survives a checkpoint round trip.
def _constant(step: int) -> float:
    return 1.0


def _constant_with_warmup(step: int, *, num_warmup_steps: int) -> float:
    return step / max(1, num_warmup_steps) if step < num_warmup_steps else 1.0


def _linear(step: int, *, num_warmup_steps: int, num_training_steps: int) -> float:
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


def _cosine(step: int, *, num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5) -> float:
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)))


def get_scheduler(
    name: str | SchedulerType,
    optimizer: Optimizer,
    num_warmup_steps: int = 0,
    num_training_steps: int | None = None,
) -> LambdaLR:
    """The learning-rate schedule `name` (linear, cosine, constant, constant_with_warmup), as transformers builds it."""
    try:
        kind = SchedulerType(name)
    except ValueError:
        raise ConfigError(
            f"Unknown lr_scheduler_type {name!r}; use one of {', '.join(s.value for s in SchedulerType)}."
        ) from None
    if kind is SchedulerType.CONSTANT:
        return LambdaLR(optimizer, _constant)
    if kind is SchedulerType.CONSTANT_WITH_WARMUP:
        return LambdaLR(
            optimizer, functools.partial(_constant_with_warmup, num_warmup_steps=num_warmup_steps)
        )
    if num_training_steps is None:
        raise ConfigError(f"The {kind.value} schedule needs num_training_steps.")
    schedule = _linear if kind is SchedulerType.LINEAR else _cosine
    return LambdaLR(
        optimizer,
        functools.partial(schedule, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps),
    )


# -- checkpoints ---------------------------------------------------------------------------------------
def checkpoint_step(path: str | os.PathLike) -> int | None:
    match = _CHECKPOINT_RE.match(os.path.basename(os.path.normpath(os.fspath(path))))
    return int(match.group(1)) if match else None


def sorted_checkpoints(folder: str | os.PathLike) -> list[str]:
    """The `checkpoint-N` folders of `folder`, oldest (smallest N) first; temporary folders are skipped."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    found = [(checkpoint_step(name), os.path.join(folder, name)) for name in os.listdir(folder)]
    return [path for step, path in sorted((s, p) for s, p in found if s is not None) if os.path.isdir(path)]


def get_last_checkpoint(folder: str | os.PathLike) -> str | None:
    """The newest complete `checkpoint-N` folder in `folder`, or None."""
    checkpoints = sorted_checkpoints(folder)
    return checkpoints[-1] if checkpoints else None


# -- predictions ---------------------------------------------------------------------------------------
def to_numpy(value: Any) -> Any:
    """Tensors (nested in tuples/lists) -> numpy arrays; bfloat16/float16 become float32."""
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(v) for v in value)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        return value.numpy()
    return value


def concat_padded(arrays: list[Any], padding_index: int = -100) -> Any:
    """Concatenate batches along dim 0, padding dim 1 with `padding_index` when lengths differ.

    Batches of token-level logits or labels have the sequence length of their own batch; the
    whole dataset's array needs one length, and -100 is the value every loss ignores.
    """
    if not arrays:
        return None
    if isinstance(arrays[0], (tuple, list)):
        return type(arrays[0])(
            concat_padded([a[i] for a in arrays], padding_index) for i in range(len(arrays[0]))
        )
    arrays = [np.asarray(a) for a in arrays]
    if arrays[0].ndim < 2 or all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    width = max(a.shape[1] for a in arrays)
    padded = []
    for a in arrays:
        pad = [(0, 0)] * a.ndim
        pad[1] = (0, width - a.shape[1])
        padded.append(np.pad(a, pad, constant_values=padding_index))
    return np.concatenate(padded, axis=0)


def speed_metrics(
    prefix: str, runtime: float, num_samples: int | None = None, num_steps: int | None = None
) -> dict[str, float]:
    """{prefix}_runtime, and samples/s and steps/s when the counts are known."""
    metrics = {f"{prefix}_runtime": round(runtime, 4)}
    if runtime > 0 and num_samples is not None:
        metrics[f"{prefix}_samples_per_second"] = round(num_samples / runtime, 3)
    if runtime > 0 and num_steps is not None:
        metrics[f"{prefix}_steps_per_second"] = round(num_steps / runtime, 3)
    return metrics


def denumpify(metrics: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars -> Python numbers, so metrics serialise to JSON."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        out[key] = value
    return out
