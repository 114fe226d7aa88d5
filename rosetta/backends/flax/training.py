"""Training Flax models with optax: a `TrainState`, a compiled `train_step` and `eval_step`, and `fit`.

The loss is the model's own: the batch (inputs and labels, e.g. `{"input_ids", "attention_mask",
"labels"}`) goes to the model's linen module, whose head computes `outputs.loss` exactly as the
torch and TF twins do. So a Flax model trains on what its torch twin trains on, and the params
written back into the model (`model.params = state.params`) are saved by `save_pretrained` as the
canonical checkpoint every backend loads.

    state = create_train_state(model, learning_rate=3e-5, weight_decay=0.01, warmup_steps=100, total_steps=1000)
    for batch in batches:
        state, metrics = train_step(state, batch)
    model.params = state.params
    model.save_pretrained("out")

Choices, as transformers makes them:

- AdamW (b1 0.9, b2 0.999, eps 1e-8) with a linear warmup from 0 and a linear decay to 0 at
  `total_steps` (constant after warmup when `total_steps` is None), gradients clipped to a global
  norm of `max_grad_norm` first. Weight decay skips biases and LayerNorm scales (`decay_mask_fn`).
- Dropout is on in `train_step` (the module runs with `deterministic=False`) with a fresh key per
  step: the state carries `dropout_rng` and each step splits it. `eval_step` runs without dropout.
- Gradient accumulation is a `jax.lax.scan` over micro-batches inside the one compiled step, not
  `optax.MultiSteps`: `train_step` takes the whole batch of `gradient_accumulation_steps x micro`
  examples, splits it (examples `[0, micro)` are the first micro-batch, and so on), runs forward and
  backward one micro-batch at a time (activations of one micro-batch in memory), averages the
  gradients and applies one optimizer update. So `state.step` counts optimizer updates, the
  learning-rate schedule advances once per update, and for a loss that is a mean over examples
  the update equals that of one step on the whole batch.
- `train_step` compiles once per batch shapes and per state structure. The optimizer and the
  module are static parts of the state, so each `create_train_state` compiles anew; states made
  from one by `state.replace(...)` or returned by the step reuse its compilation.
- The state is not donated to the step: `create_train_state` shares the model's params, so the
  model stays usable while it trains.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from ...core.errors import ConfigError, InputError
from .modeling_flax_utils import FlaxPreTrainedModel, Params

logger = logging.getLogger(__name__)

Batch = Mapping[str, Any]
Metrics = dict[str, jax.Array]

# Leaves that never get weight decay: biases, and the scales of LayerNorm / RMSNorm.
_NO_DECAY_LEAVES = frozenset({"bias", "scale"})
# Normalisation modules by name (`LayerNorm`, `layer_norm`, `ln_f`, `norm`, `final_norm`, ...): none of their leaves decay.
_NORM_MODULE = re.compile(r"layer_?norm|rms_?norm|^norm$|_norm$|^ln(_|$)")
# Output fields eval_step leaves out: per-layer tensors, large and rarely wanted as metrics.
_PER_LAYER_OUTPUTS = ("hidden_states", "attentions")


class TrainState(train_state.TrainState):
    """flax's TrainState (step, apply_fn, params, tx, opt_state) plus what a transformer step needs.

    Attributes:
        dropout_rng: The key of the next step's dropout; each `train_step` splits it.
        gradient_accumulation_steps: Micro-batches per optimizer update (static: a change recompiles).
        learning_rate_fn: The schedule the optimizer follows, logged as `learning_rate`; None when
            `create_train_state` was given its own optimizer.
    """

    dropout_rng: jax.Array
    gradient_accumulation_steps: int = struct.field(pytree_node=False, default=1)
    learning_rate_fn: optax.Schedule | None = struct.field(pytree_node=False, default=None)


# -- optimizer --------------------------------------------------------------------------------------------
def decay_mask_fn(params: Params) -> Params:
    """True for the leaves that get weight decay: all but biases and normalisation weights."""

    def decays(path: tuple[Any, ...], _: Any) -> bool:
        names = [str(getattr(key, "key", key)) for key in path]
        return names[-1] not in _NO_DECAY_LEAVES and not any(
            _NORM_MODULE.search(name.lower()) for name in names[:-1]
        )

    return jax.tree_util.tree_map_with_path(decays, params)


def create_learning_rate_fn(
    learning_rate: float, warmup_steps: int = 0, total_steps: int | None = None
) -> optax.Schedule:
    """Linear warmup from 0 over `warmup_steps`, then linear decay to 0 at `total_steps` (constant if None).

    The same factors as the torch Trainer's `linear` and `constant_with_warmup` schedules, step for step.
    """
    if warmup_steps < 0 or (total_steps is not None and total_steps < 1):
        raise ConfigError(
            f"warmup_steps must be >= 0 and total_steps >= 1, got {warmup_steps} and {total_steps}."
        )

    def schedule(step: jax.Array | int) -> jax.Array:
        step = jnp.asarray(step, jnp.float32)
        warmup = step / max(1, warmup_steps)
        if total_steps is None:
            after = jnp.ones_like(step)
        else:
            after = jnp.maximum(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
        return learning_rate * jnp.where(step < warmup_steps, warmup, after)

    return schedule


def create_optimizer(
    learning_rate: float | optax.Schedule, weight_decay: float = 0.0, max_grad_norm: float | None = 1.0
) -> optax.GradientTransformation:
    """Gradient clipping to `max_grad_norm` (None or 0: none), then AdamW with `decay_mask_fn`."""
    adamw = optax.adamw(
        learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=weight_decay, mask=decay_mask_fn
    )
    return _with_clipping(adamw, max_grad_norm)


def _with_clipping(
    optimizer: optax.GradientTransformation, max_grad_norm: float | None
) -> optax.GradientTransformation:
    if not max_grad_norm:
        return optimizer
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optimizer)


def create_train_state(
    model: FlaxPreTrainedModel,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    total_steps: int | None = None,
    max_grad_norm: float | None = 1.0,
    seed: int = 0,
    gradient_accumulation_steps: int = 1,
) -> TrainState:
    """The state `train_step` starts from: the model's params, the optimizer and its state, a dropout key.

    Without `optimizer`, AdamW on the `create_learning_rate_fn` schedule, weight decay masked by
    `decay_mask_fn`. A given `optimizer` is used as it is, after clipping to `max_grad_norm`
    (pass None to leave gradients unclipped); `learning_rate`, `weight_decay` and the schedule
    arguments are then unused.
    """
    if gradient_accumulation_steps < 1:
        raise ConfigError(f"gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}.")
    learning_rate_fn = None
    if optimizer is None:
        learning_rate_fn = create_learning_rate_fn(learning_rate, warmup_steps, total_steps)
        tx = create_optimizer(learning_rate_fn, weight_decay, max_grad_norm)
    else:
        tx = _with_clipping(optimizer, max_grad_norm)
    return TrainState.create(
        apply_fn=model.module.apply,
        params=model.params,
        tx=tx,
        dropout_rng=jax.random.PRNGKey(seed),
        gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate_fn=learning_rate_fn,
    )


def shard_batch(batch: Batch, mesh: jax.sharding.Mesh, axis: str = "data") -> dict[str, jax.Array]:
    """`batch` placed on `mesh`, split along its first (batch) axis over the mesh axis `axis` and
    replicated over the others: data parallelism for `train_step` / `eval_step` under a sharded model.
    The batch size must be a multiple of that axis's size."""
    if axis not in mesh.shape:
        raise InputError(
            f"The mesh has no axis {axis!r} to split the batch over; its axes are {list(mesh.shape)}."
        )
    ways = mesh.shape[axis]
    placed = {}
    for key, value in batch.items():
        size = jnp.shape(value)[0] if jnp.ndim(value) else 0
        if size % ways:
            raise InputError(
                f"Batch entry {key!r} has {size} rows, which the mesh axis {axis!r} cannot split {ways} ways; "
                f"use a batch size that is a multiple of {ways}."
            )
        spec = jax.sharding.PartitionSpec(axis)
        placed[key] = jax.device_put(value, jax.sharding.NamedSharding(mesh, spec))
    return placed


# -- steps ------------------------------------------------------------------------------------------------
def _model_outputs(apply_fn: Callable, params: Params, batch: Batch, dropout_rng: jax.Array | None) -> Any:
    """The module run on `batch` (dropout on when a key is given), with a clear error for a wrong batch."""
    module = getattr(apply_fn, "__self__", None)
    if module is not None:
        accepted = set(list(inspect.signature(type(module).__call__).parameters)[1:])
        unknown = sorted(set(batch) - accepted)
        if unknown:
            raise InputError(
                f"The batch has keys {unknown} that {type(module).__name__} does not take; it takes {sorted(accepted)}."
            )
    return apply_fn(
        {"params": params},
        **batch,
        deterministic=dropout_rng is None,
        return_dict=True,
        rngs={} if dropout_rng is None else {"dropout": dropout_rng},
    )


def _loss(params: Params, apply_fn: Callable, batch: Batch, dropout_rng: jax.Array | None) -> jax.Array:
    outputs = _model_outputs(apply_fn, params, batch, dropout_rng)
    if outputs.get("loss") is None:
        raise InputError(
            f"The model computed no loss: the batch (keys {sorted(batch)}) needs its head's labels, "
            "e.g. `labels` (or `start_positions`/`end_positions`, `next_sentence_label`)."
        )
    return outputs.loss.astype(jnp.float32)


def _micro_batches(batch: Batch, count: int) -> dict[str, jax.Array]:
    """Every array [B, ...] of the batch as [count, B // count, ...]: micro-batch i is examples [i*m, (i+1)*m)."""
    sizes = {key: jnp.shape(value)[0] for key, value in batch.items()}
    if any(size % count for size in sizes.values()):
        raise InputError(
            f"Batch sizes {sizes} do not split into gradient_accumulation_steps={count} equal micro-batches."
        )
    return {key: jnp.reshape(value, (count, -1, *jnp.shape(value)[1:])) for key, value in batch.items()}


def _accumulated_grads(state: TrainState, batch: Batch, dropout_rng: jax.Array) -> tuple[jax.Array, Params]:
    """Mean loss and gradients over the micro-batches, one forward and backward at a time (`lax.scan`)."""
    count = state.gradient_accumulation_steps
    grad_fn = jax.value_and_grad(_loss)
    if count == 1:
        return grad_fn(state.params, state.apply_fn, batch, dropout_rng)

    def accumulate(
        carry: tuple[jax.Array, Params], inputs: tuple[Batch, jax.Array]
    ) -> tuple[tuple[jax.Array, Params], None]:
        loss_sum, grad_sum = carry
        micro_batch, rng = inputs
        loss, grads = grad_fn(state.params, state.apply_fn, micro_batch, rng)
        return (loss_sum + loss, jax.tree.map(jnp.add, grad_sum, grads)), None

    init = (jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, state.params))
    xs = (_micro_batches(batch, count), jax.random.split(dropout_rng, count))
    (loss_sum, grad_sum), _ = jax.lax.scan(accumulate, init, xs)
    return loss_sum / count, jax.tree.map(lambda g: g / count, grad_sum)


def _global_norm(tree: Params) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf.astype(jnp.float32))) for leaf in jax.tree.leaves(tree)))


@jax.jit
def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
    """One optimizer update on `batch`, with dropout; metrics `loss`, `grad_norm` (before clipping), `learning_rate`.

    Compiled once per batch shapes (and per state structure); `batch` holds the module's inputs
    and labels. With gradient accumulation it holds all the micro-batches of the update.
    """
    dropout_rng, next_dropout_rng = jax.random.split(state.dropout_rng)
    loss, grads = _accumulated_grads(state, batch, dropout_rng)
    metrics = {"loss": loss, "grad_norm": _global_norm(grads)}
    if state.learning_rate_fn is not None:
        metrics["learning_rate"] = state.learning_rate_fn(state.step)
    return state.apply_gradients(grads=grads, dropout_rng=next_dropout_rng), metrics


@jax.jit
def eval_step(state: TrainState, batch: Batch) -> Metrics:
    """The model on `batch` without dropout: `loss` (when the batch has labels), `logits` and the head's other outputs."""
    outputs = _model_outputs(state.apply_fn, state.params, batch, None)
    return {key: value for key, value in outputs.items() if key not in _PER_LAYER_OUTPUTS}


# -- the loop ---------------------------------------------------------------------------------------------
class TrainOutput(NamedTuple):
    """What `fit` returns: optimizer steps taken, mean training loss, the logged records, the final state."""

    global_step: int
    training_loss: float
    log_history: list[dict[str, float]]
    state: TrainState


def fit(
    model: FlaxPreTrainedModel,
    train_batches: Iterable[Batch],
    epochs: int = 1,
    max_steps: int | None = None,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    max_grad_norm: float | None = 1.0,
    gradient_accumulation_steps: int = 1,
    seed: int = 0,
    logging_steps: int = 10,
    eval_batches: Iterable[Batch] | None = None,
) -> TrainOutput:
    """Train `model` on `train_batches` for `epochs` passes (or `max_steps` updates), then set `model.params`.

    Each batch is one optimizer update (with accumulation, all its micro-batches). `max_steps`
    overrides `epochs`, passing over the batches as often as needed (a generator gives one
    pass); more than one epoch needs re-iterable `train_batches` (a list, a data loader). The
    schedule decays to 0 at `max_steps`, or at `epochs * len(train_batches)` when it has a
    length. Every `logging_steps` updates the mean loss is logged (to this module's logger and
    `log_history`); `eval_batches`, if given, are evaluated after each epoch. Afterwards
    `model.save_pretrained` writes the trained weights.
    """
    if epochs > 1 and max_steps is None and iter(train_batches) is train_batches:
        raise InputError(
            f"train_batches is a one-pass iterator, but epochs={epochs}; pass a list or a data loader."
        )
    total_steps = max_steps if max_steps is not None else _num_steps(train_batches, epochs)
    state = create_train_state(
        model,
        optimizer,
        learning_rate,
        weight_decay,
        warmup_steps,
        total_steps,
        max_grad_norm,
        seed,
        gradient_accumulation_steps,
    )
    tracker = _LossTracker(logging_steps)
    for epoch in itertools.count() if max_steps is not None else range(epochs):
        steps_before = tracker.step
        state = _train_epoch(state, train_batches, tracker, epoch, max_steps)
        if eval_batches is not None:
            tracker.flush()
            tracker.log({"eval_loss": evaluate(state, eval_batches)}, epoch)
        if tracker.step == steps_before or (max_steps is not None and tracker.step >= max_steps):
            break
    tracker.flush()
    model.params = state.params
    return TrainOutput(tracker.step, tracker.mean_loss(), tracker.log_history, state)


def _train_epoch(
    state: TrainState, batches: Iterable[Batch], tracker: _LossTracker, epoch: int, max_steps: int | None
) -> TrainState:
    for batch in batches:
        if max_steps is not None and tracker.step >= max_steps:
            break
        state, metrics = train_step(state, batch)
        tracker.add(metrics, epoch)
    return state


@dataclasses.dataclass
class _LossTracker:
    """Sums the step losses on the device; reads them back only when logging (no sync per step)."""

    logging_steps: int
    log_history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    step: int = 0
    total: jax.Array | float = 0.0
    window: jax.Array | float = 0.0
    window_steps: int = 0
    epoch: int = 0
    last_metrics: Metrics = dataclasses.field(default_factory=dict)

    def add(self, metrics: Metrics, epoch: int) -> None:
        self.step, self.epoch, self.last_metrics = self.step + 1, epoch, metrics
        self.total = self.total + metrics["loss"]
        self.window = self.window + metrics["loss"]
        self.window_steps += 1
        if self.step % self.logging_steps == 0:
            self.flush()

    def flush(self) -> None:
        """Log the mean loss of the steps since the last record (and the last step's learning rate, grad norm)."""
        if not self.window_steps:
            return
        extra = {
            name: float(self.last_metrics[name])
            for name in ("learning_rate", "grad_norm")
            if name in self.last_metrics
        }
        self.log({"loss": float(self.window) / self.window_steps, **extra}, self.epoch)
        self.window, self.window_steps = 0.0, 0

    def log(self, record: dict[str, float], epoch: int) -> None:
        record = {**record, "epoch": epoch, "step": self.step}
        self.log_history.append(record)
        logger.info(
            " ".join(
                f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}"
                for key, value in record.items()
            )
        )

    def mean_loss(self) -> float:
        return float(self.total) / max(self.step, 1)


def evaluate(state: TrainState, batches: Iterable[Batch]) -> float:
    """Mean of `eval_step`'s loss over `batches` (each batch weighted equally)."""
    losses = [eval_step(state, batch)["loss"] for batch in batches]
    if not losses:
        raise InputError("evaluate got no batches.")
    return float(jnp.mean(jnp.stack(losses)))


def _num_steps(batches: Iterable[Batch], epochs: int) -> int | None:
    try:
        return epochs * len(batches)  # type: ignore[arg-type]
    except TypeError:
        return None
