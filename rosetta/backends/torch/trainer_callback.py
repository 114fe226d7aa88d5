"""Callbacks: the hooks of the training loop, the state it shares with them and the flags they set."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from ...core.errors import ConfigError
from ...core.io import atomic_write_text
from .trainer_utils import IntervalStrategy

if TYPE_CHECKING:
    from .training_args import TrainingArguments

logger = logging.getLogger(__name__)


@dataclass
class TrainerState:
    """What the loop knows about the run; saved as `trainer_state.json` in every checkpoint.

    `log_history` holds every dict logged (losses, learning rates, evaluation metrics), in order.
    """

    epoch: float | None = None
    global_step: int = 0
    max_steps: int = 0
    logging_steps: int = 500
    eval_steps: int = 500
    save_steps: int = 500
    train_batch_size: int | None = None
    num_train_epochs: int = 0
    num_input_tokens_seen: int = 0
    total_flos: float = 0
    log_history: list[dict[str, float]] = field(default_factory=list)
    best_metric: float | None = None
    best_global_step: int | None = None
    best_model_checkpoint: str | None = None
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    stateful_callbacks: dict[str, Any] = field(default_factory=dict)

    def save_to_json(self, json_path: str) -> None:
        atomic_write_text(json_path, json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load_from_json(cls, json_path: str) -> TrainerState:
        with open(json_path, encoding="utf-8") as f:
            data = json.load(f)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def compute_steps(self, args: TrainingArguments, max_steps: int) -> None:
        """Turn ratio `*_steps` (below 1) into step counts now that the total is known."""
        for name in ("logging", "eval", "save"):
            value = getattr(args, f"{name}_steps")
            if value is not None:
                setattr(
                    self, f"{name}_steps", max(1, int(value) if value >= 1 else math.ceil(max_steps * value))
                )


@dataclass
class TrainerControl:
    """Flags callbacks set to steer the loop; the loop resets each one once it has acted on it."""

    should_training_stop: bool = False
    should_epoch_stop: bool = False
    should_save: bool = False
    should_evaluate: bool = False
    should_log: bool = False

    def _new_training(self) -> None:
        self.should_training_stop = False

    def _new_epoch(self) -> None:
        self.should_epoch_stop = False

    def _new_step(self) -> None:
        self.should_save = False
        self.should_evaluate = False
        self.should_log = False


class TrainerCallback:
    """Subclass and override the events you need; each gets (args, state, control, **kwargs).

    kwargs hold `model`, `processing_class`, `optimizer`, `lr_scheduler`, `train_dataloader`,
    `eval_dataloader`, and `logs` (on_log) or `metrics` (on_evaluate, on_predict). Return the
    control (or nothing) after setting its flags.
    """

    def on_init_end(self, args, state, control, **kwargs): ...
    def on_train_begin(self, args, state, control, **kwargs): ...
    def on_train_end(self, args, state, control, **kwargs): ...
    def on_epoch_begin(self, args, state, control, **kwargs): ...
    def on_epoch_end(self, args, state, control, **kwargs): ...
    def on_step_begin(self, args, state, control, **kwargs): ...
    def on_pre_optimizer_step(self, args, state, control, **kwargs): ...
    def on_optimizer_step(self, args, state, control, **kwargs): ...
    def on_substep_end(self, args, state, control, **kwargs): ...
    def on_step_end(self, args, state, control, **kwargs): ...
    def on_evaluate(self, args, state, control, **kwargs): ...
    def on_predict(self, args, state, control, metrics, **kwargs): ...
    def on_save(self, args, state, control, **kwargs): ...
    def on_log(self, args, state, control, logs=None, **kwargs): ...
    def on_prediction_step(self, args, state, control, **kwargs): ...


class CallbackHandler(TrainerCallback):
    """Calls every callback in order for each event, passing the shared objects along."""

    def __init__(self, callbacks: list, model: Any, processing_class: Any, optimizer: Any, lr_scheduler: Any):
        self.callbacks: list[TrainerCallback] = []
        for cb in callbacks:
            self.add_callback(cb)
        self.model = model
        self.processing_class = processing_class
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.train_dataloader = None
        self.eval_dataloader = None

    def add_callback(self, callback: TrainerCallback | type[TrainerCallback]) -> None:
        cb = callback() if isinstance(callback, type) else callback
        if type(cb) in {type(c) for c in self.callbacks}:
            logger.warning("A %s is already among the callbacks; adding another one.", type(cb).__name__)
        self.callbacks.append(cb)

    def pop_callback(self, callback: TrainerCallback | type[TrainerCallback]) -> TrainerCallback | None:
        for cb in self.callbacks:
            if cb is callback or (isinstance(callback, type) and isinstance(cb, callback)):
                self.callbacks.remove(cb)
                return cb
        return None

    def remove_callback(self, callback: TrainerCallback | type[TrainerCallback]) -> None:
        self.pop_callback(callback)

    def on_init_end(self, args, state, control):
        return self.call_event("on_init_end", args, state, control)

    def on_train_begin(self, args, state, control):
        control._new_training()
        return self.call_event("on_train_begin", args, state, control)

    def on_train_end(self, args, state, control):
        return self.call_event("on_train_end", args, state, control)

    def on_epoch_begin(self, args, state, control):
        control._new_epoch()
        return self.call_event("on_epoch_begin", args, state, control)

    def on_epoch_end(self, args, state, control):
        return self.call_event("on_epoch_end", args, state, control)

    def on_step_begin(self, args, state, control):
        control._new_step()
        return self.call_event("on_step_begin", args, state, control)

    def on_pre_optimizer_step(self, args, state, control):
        return self.call_event("on_pre_optimizer_step", args, state, control)

    def on_optimizer_step(self, args, state, control):
        return self.call_event("on_optimizer_step", args, state, control)

    def on_substep_end(self, args, state, control):
        return self.call_event("on_substep_end", args, state, control)

    def on_step_end(self, args, state, control):
        return self.call_event("on_step_end", args, state, control)

    def on_evaluate(self, args, state, control, metrics):
        control.should_evaluate = False
        return self.call_event("on_evaluate", args, state, control, metrics=metrics)

    def on_predict(self, args, state, control, metrics):
        return self.call_event("on_predict", args, state, control, metrics=metrics)

    def on_save(self, args, state, control):
        control.should_save = False
        return self.call_event("on_save", args, state, control)

    def on_log(self, args, state, control, logs):
        control.should_log = False
        return self.call_event("on_log", args, state, control, logs=logs)

    def on_prediction_step(self, args, state, control):
        return self.call_event("on_prediction_step", args, state, control)

    def call_event(self, event: str, args, state, control, **kwargs) -> TrainerControl:
        for callback in self.callbacks:
            result = getattr(callback, event)(
                args,
                state,
                control,
                model=self.model,
                processing_class=self.processing_class,
                optimizer=self.optimizer,
                lr_scheduler=self.lr_scheduler,
                train_dataloader=self.train_dataloader,
                eval_dataloader=self.eval_dataloader,
                **kwargs,
            )
            if result is not None:
                control = result
        return control


class DefaultFlowCallback(TrainerCallback):
    """Sets should_log / should_evaluate / should_save from the strategies, and stops at max_steps."""

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step == 1 and args.logging_first_step:
            control.should_log = True
        if args.logging_strategy is IntervalStrategy.STEPS and step % state.logging_steps == 0:
            control.should_log = True
        if (
            args.eval_strategy is IntervalStrategy.STEPS
            and step % state.eval_steps == 0
            and args.eval_delay <= step
        ):
            control.should_evaluate = True
        if args.save_strategy is IntervalStrategy.STEPS and step % state.save_steps == 0:
            control.should_save = True
        if step >= state.max_steps:
            control.should_training_stop = True
            if (
                args.eval_strategy is IntervalStrategy.STEPS
                and step % state.eval_steps != 0
                and args.eval_delay <= step
            ):
                control.should_evaluate = True
            if args.save_strategy is IntervalStrategy.STEPS:
                control.should_save = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if args.logging_strategy is IntervalStrategy.EPOCH:
            control.should_log = True
        if args.eval_strategy is IntervalStrategy.EPOCH and args.eval_delay <= state.epoch:
            control.should_evaluate = True
        if args.save_strategy is IntervalStrategy.EPOCH:
            control.should_save = True
        return control


def _format_logs(logs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in logs.items() if k != "total_flos"
    }


class ProgressCallback(TrainerCallback):
    """A tqdm bar over the optimizer steps (and one per evaluation); logs are written under it."""

    def __init__(self) -> None:
        self.training_bar = None
        self.prediction_bar = None
        self.current_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.training_bar = tqdm(total=state.max_steps, initial=state.global_step, dynamic_ncols=True)
        self.current_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if self.training_bar is not None:
            self.training_bar.update(state.global_step - self.current_step)
        self.current_step = state.global_step

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if (
            not state.is_world_process_zero
            or eval_dataloader is None
            or not hasattr(eval_dataloader, "__len__")
        ):
            return
        if self.prediction_bar is None:
            self.prediction_bar = tqdm(
                total=len(eval_dataloader), leave=self.training_bar is None, dynamic_ncols=True
            )
        self.prediction_bar.update(1)

    def _close_prediction_bar(self) -> None:
        if self.prediction_bar is not None:
            self.prediction_bar.close()
        self.prediction_bar = None

    def on_evaluate(self, args, state, control, **kwargs):
        self._close_prediction_bar()

    def on_predict(self, args, state, control, **kwargs):
        self._close_prediction_bar()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs:
            self.training_bar.write(str(_format_logs(logs)))

    def on_train_end(self, args, state, control, **kwargs):
        if self.training_bar is not None:
            self.training_bar.close()
        self.training_bar = None


class PrinterCallback(TrainerCallback):
    """Prints each log dict (used instead of the progress bar when disable_tqdm=True)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            print(_format_logs(logs))


class EarlyStoppingCallback(TrainerCallback):
    """Stop when `metric_for_best_model` has not improved for `early_stopping_patience` evaluations.

    An evaluation counts as an improvement only when it beats the best so far by more than
    `early_stopping_threshold`. Its counter is saved with the checkpoints, so a resumed run
    stops where the uninterrupted one would.
    """

    def __init__(self, early_stopping_patience: int = 1, early_stopping_threshold: float = 0.0):
        if early_stopping_patience < 1:
            raise ConfigError(f"early_stopping_patience must be >= 1, got {early_stopping_patience}.")
        if early_stopping_threshold < 0:
            raise ConfigError(f"early_stopping_threshold must be >= 0, got {early_stopping_threshold}.")
        self.early_stopping_patience = early_stopping_patience
        self.early_stopping_threshold = early_stopping_threshold
        self.early_stopping_patience_counter = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if args.metric_for_best_model is None:
            raise ConfigError(
                "EarlyStoppingCallback needs metric_for_best_model (or load_best_model_at_end=True)."
            )
        if args.eval_strategy is IntervalStrategy.NO:
            raise ConfigError(
                "EarlyStoppingCallback needs evaluation: set eval_strategy to 'steps' or 'epoch'."
            )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        name = args.metric_for_best_model
        key = name if name.startswith("eval_") else f"eval_{name}"
        value = (metrics or {}).get(key)
        if value is None:
            logger.warning(
                "Early stopping needs %r among the evaluation metrics, which has %s.",
                key,
                sorted(metrics or {}),
            )
            return
        better = np.greater if args.greater_is_better else np.less
        if state.best_metric is None or (
            better(value, state.best_metric)
            and abs(value - state.best_metric) > self.early_stopping_threshold
        ):
            self.early_stopping_patience_counter = 0
        else:
            self.early_stopping_patience_counter += 1
        if self.early_stopping_patience_counter >= self.early_stopping_patience:
            control.should_training_stop = True

    def state(self) -> dict[str, Any]:
        return {
            "args": {
                "early_stopping_patience": self.early_stopping_patience,
                "early_stopping_threshold": self.early_stopping_threshold,
            },
            "attributes": {"early_stopping_patience_counter": self.early_stopping_patience_counter},
        }


class TensorBoardCallback(TrainerCallback):
    """Writes every numeric log value to TensorBoard under `args.logging_dir` (rank 0 only)."""

    def __init__(self) -> None:
        self.writer = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=args.logging_dir)
            self.writer.add_text("args", args.to_json_string())

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.writer is None:
            return
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                tag = (
                    key
                    if "/" in key
                    else key.replace("eval_", "eval/", 1)
                    if key.startswith("eval_")
                    else f"train/{key}"
                )
                self.writer.add_scalar(tag, value, state.global_step)
        self.writer.flush()

    def on_train_end(self, args, state, control, **kwargs):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


REPORT_CALLBACKS: dict[str, type[TrainerCallback]] = {"tensorboard": TensorBoardCallback}
