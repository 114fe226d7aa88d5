"""FSDP2 for the Trainer: `TrainingArguments(fsdp=..., fsdp_config=...)` checked, applied and checkpointed.

The model is sharded in place with `torch.distributed.fsdp.fully_shard` (FSDP2: every parameter
becomes a DTensor sharded over the ranks on dim 0), first on the submodules the wrap policy picks
(a layer class, or any submodule holding at least `min_num_params` parameters not yet sharded),
then on the root. Checkpoints stay canonical: the full state dict is gathered (a collective every
rank joins) and rank 0 writes it; the optimizer state is gathered the same way, keyed by
parameter name, and scattered back to the shards on resume.

Loading a checkpoint into a sharded model (resume, the best model at the end) reads per rank: each
rank memory-maps the canonical safetensors and copies into each parameter's local shard only the
rows that shard owns (`load_sharded_model_weights`), never the whole model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...core.errors import CheckpointError, ConfigError

SHARDING_STRATEGIES = ("full_shard", "shard_grad_op")
FSDP_CONFIG_KEYS = ("min_num_params", "transformer_layer_cls_to_wrap")


def parse_fsdp(fsdp: str | list[str] | None, fsdp_config: dict[str, Any] | None) -> str:
    """The sharding strategy named by `fsdp` ('' when off); unknown options and config keys are refused by name."""
    tokens = fsdp.split() if isinstance(fsdp, str) else list(fsdp or [])
    unknown = [t for t in tokens if t not in SHARDING_STRATEGIES]
    if unknown:
        raise ConfigError(
            f"fsdp option(s) {', '.join(map(repr, unknown))} are not supported; use one of "
            f"{', '.join(map(repr, SHARDING_STRATEGIES))}."
        )
    if len(tokens) > 1:
        raise ConfigError(f"fsdp={fsdp!r} names {len(tokens)} sharding strategies; choose one.")
    config = fsdp_config or {}
    if config and not tokens:
        raise ConfigError("fsdp_config is set but fsdp is not: set fsdp='full_shard' or 'shard_grad_op'.")
    bad = [k for k in config if k not in FSDP_CONFIG_KEYS]
    if bad:
        raise ConfigError(
            f"fsdp_config key(s) {', '.join(map(repr, bad))} are not supported; use "
            f"{', '.join(map(repr, FSDP_CONFIG_KEYS))}."
        )
    minimum = config.get("min_num_params", 0)
    if not isinstance(minimum, int) or minimum < 0:
        raise ConfigError(f"fsdp_config['min_num_params'] must be an integer >= 0, got {minimum!r}.")
    return tokens[0] if tokens else ""


def layer_classes(fsdp_config: dict[str, Any] | None) -> set[str]:
    names = (fsdp_config or {}).get("transformer_layer_cls_to_wrap") or []
    return {names} if isinstance(names, str) else set(names)


def _own_unsharded_params(module: nn.Module, done: set[int]) -> int:
    return sum(p.numel() for p in module.parameters() if id(p) not in done)


def shard_model(model: nn.Module, strategy: str, fsdp_config: dict[str, Any] | None, bf16: bool) -> nn.Module:
    """`fully_shard` the policy's submodules (children first), then the root; returns `model`, now sharded."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    options: dict[str, Any] = {"reshard_after_forward": strategy == "full_shard"}
    if bf16:
        options["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    classes = layer_classes(fsdp_config)
    minimum = (fsdp_config or {}).get("min_num_params", 0)
    found = {type(m).__name__ for m in model.modules()}
    missing = classes - found
    if missing:
        raise ConfigError(
            f"fsdp_config['transformer_layer_cls_to_wrap'] names {', '.join(sorted(missing))}, which "
            f"{type(model).__name__} does not contain; use a layer class of the model (e.g. its *Layer class)."
        )
    done: set[int] = set()
    for module in _post_order(model):
        if module is model:
            continue
        by_class = type(module).__name__ in classes
        by_size = minimum > 0 and _own_unsharded_params(module, done) >= minimum
        if by_class or by_size:
            fully_shard(module, **options)
            done.update(id(p) for p in module.parameters())
    fully_shard(model, **options)
    return model


def _post_order(module: nn.Module) -> Iterable[nn.Module]:
    for child in module.children():
        yield from _post_order(child)
    yield module


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def _options(**extra: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **extra)


def full_model_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole model on CPU on every rank (a collective: every rank calls it)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_options(cpu_offload=True))


@dataclass(frozen=True)
class SliceRead:
    """What one rank read of one checkpoint tensor: rows [start, stop) of its first axis, `nbytes` bytes."""

    start: int
    stop: int
    nbytes: int


def load_sharded_model_weights(model: nn.Module, folder: str) -> dict[str, SliceRead]:
    """Fill a sharded model from the checkpoint in `folder`, each rank reading only the rows it owns.

    The weights files are memory-mapped; for every parameter (a DTensor sharded on dim 0) the rank's
    row range comes from the DTensor's own layout, and only that slice of the mapping is copied into the
    local shard. Buffers (small, replicated) are read whole. Every key must match, with the same shape.
    Returns what was read per tensor name (the proof that a rank read its part only).
    """
    from torch.distributed.tensor import DTensor
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    from ...convert.formats import load_checkpoint
    from .modeling_utils import numpy_to_torch

    tensors = dict(model.state_dict(keep_vars=True))
    tied = set(getattr(model, "_tied_keys_in_use", lambda: [])())
    reads: dict[str, SliceRead] = {}
    with contextlib.closing(load_checkpoint(folder)) as reader:
        names = set(reader)
        missing = sorted(k for k in tensors if k not in names and k not in tied)
        unexpected = sorted(names - set(tensors))
        mismatched = sorted(
            f"{k} (checkpoint {tuple(reader.shape(k))}, model {tuple(tensors[k].shape)})"
            for k in names & set(tensors)
            if tuple(reader.shape(k)) != tuple(tensors[k].shape)
        )
        problems = [
            (w, v)
            for w, v in (("missing", missing), ("unexpected", unexpected), ("mismatched", mismatched))
            if v
        ]
        if problems:
            found = "; ".join(f"{what} keys: {', '.join(keys)}" for what, keys in problems)
            raise CheckpointError(
                f"The weights in {folder} do not fit {model_class(model).__name__} ({found}). "
                "Resume with the model class and config the checkpoint was trained with."
            )
        with torch.no_grad():
            for name, tensor in tensors.items():
                if name not in names:
                    continue  # a tied duplicate: filled through the weight it shares
                source = reader[name]  # a view of the mapping: nothing read yet
                if isinstance(tensor, DTensor):
                    local = tensor.to_local()
                    shape, offset = compute_local_shape_and_global_offset(
                        tensor.shape, tensor.device_mesh, tensor.placements
                    )
                    index = tuple(slice(o, o + n) for o, n in zip(offset, shape))
                    part = source[index] if source.ndim else source
                    start = offset[0] if shape else 0
                    reads[name] = SliceRead(start, start + (shape[0] if shape else 1), part.nbytes)
                    if local.numel():
                        local.copy_(numpy_to_torch(part))
                else:
                    reads[name] = SliceRead(0, source.shape[0] if source.ndim else 1, source.nbytes)
                    tensor.copy_(numpy_to_torch(source))
    return reads


def full_optimizer_state_dict(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer state gathered to full tensors on CPU, keyed by parameter name (a collective)."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=_options(cpu_offload=True))


def load_full_optimizer_state_dict(
    model: nn.Module, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]
) -> None:
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    set_optimizer_state_dict(model, optimizer, state_dict, options=_options())


def full_tensor(value: Any) -> Any:
    """A DTensor's full value (a gradient norm of sharded gradients); anything else as it is."""
    from torch.distributed.tensor import DTensor

    return value.full_tensor() if isinstance(value, DTensor) else value


def _local_bytes(tensor: torch.Tensor) -> int:
    from torch.distributed.tensor import DTensor

    local = tensor.to_local() if isinstance(tensor, DTensor) else tensor
    return local.numel() * local.element_size()


def parameter_and_optimizer_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> int:
    """Bytes this rank holds for parameters and optimizer state (its shards only, under FSDP)."""
    total = sum(_local_bytes(p) for p in model.parameters())
    if optimizer is not None:
        for state in optimizer.state.values():
            total += sum(
                _local_bytes(v) for v in state.values() if isinstance(v, torch.Tensor) and v.dim() > 0
            )
    return total


def model_class(model: nn.Module) -> type:
    """The model's own class: `fully_shard` swaps in a subclass named `FSDP<class>`, which no checkpoint names."""
    from torch.distributed.fsdp import FSDPModule

    return next(c for c in type(model).__mro__ if not issubclass(c, FSDPModule))


@contextlib.contextmanager
def own_class(model: nn.Module) -> Iterator[nn.Module]:
    """The sharded model seen as its own class while it saves (config.json's `architectures` names that)."""
    sharded_class = type(model)
    model.__class__ = model_class(model)
    try:
        yield model
    finally:
        model.__class__ = sharded_class
