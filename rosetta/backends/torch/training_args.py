"""`TrainingArguments`: every knob of the Trainer, checked once when the object is built."""

from __future__ import annotations

import atexit
import dataclasses
import gc
import importlib.util
import json
import logging
import math
import os
import socket
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import torch
from packaging.version import Version

from ...core.errors import ConfigError
from .trainer_fsdp import parse_fsdp
from .trainer_utils import IntervalStrategy, SchedulerType

logger = logging.getLogger(__name__)

_REPORT_TARGETS = ("none", "tensorboard", "all")
HUB_STRATEGIES = ("end", "every_save", "checkpoint", "all_checkpoints")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_REDACTED = "<HUB_TOKEN>"
# As transformers: the fused AdamW kernel (one kernel for all parameters, CPU and GPU) where torch has it.
_DEFAULT_OPTIM = (
    "adamw_torch_fused" if Version(torch.__version__.split("+")[0]) >= Version("2.8") else "adamw_torch"
)


def _default_logging_dir(output_dir: str) -> str:
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join(output_dir, "runs", f"{stamp}_{socket.gethostname()}")


def _strategy(name: str, value: Any) -> IntervalStrategy:
    try:
        return IntervalStrategy(value)
    except ValueError:
        choices = ", ".join(repr(s.value) for s in IntervalStrategy)
        raise ConfigError(f"{name}={value!r} is not a strategy; use one of {choices}.") from None


def fp16_autocast_available(device_type: str) -> bool:
    """Whether this torch has float16 autocast and a GradScaler for `device_type` (CUDA; CPU from torch 2.3)."""
    if not hasattr(torch.amp, "GradScaler"):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unsupported dtype only warns, and leaves autocast off
        try:
            with torch.autocast(device_type, dtype=torch.float16):
                try:
                    return torch.is_autocast_enabled(device_type)
                except TypeError:  # torch < 2.4 asks per device
                    return (
                        torch.is_autocast_cpu_enabled()
                        if device_type == "cpu"
                        else torch.is_autocast_enabled()
                    )
        except RuntimeError:
            return False


@dataclass
class TrainingArguments:
    """The arguments of a training run, with the names and defaults of transformers' `TrainingArguments`.

    Bad values and combinations raise `ConfigError` here, before any work is done.
    `*_steps` values below 1 are ratios of the total number of training steps.
    """

    output_dir: str = "trainer_output"
    eval_strategy: str = "no"
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = 1.0
    num_train_epochs: float = 3.0
    max_steps: int = -1
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    warmup_steps: int = 0
    logging_dir: str | None = None
    logging_strategy: str = "steps"
    logging_first_step: bool = False
    logging_steps: float = 500
    save_strategy: str = "steps"
    save_steps: float = 500
    save_total_limit: int | None = None
    save_only_model: bool = False
    use_cpu: bool = False
    seed: int = 42
    data_seed: int | None = None
    bf16: bool = False
    fp16: bool = False
    eval_steps: float | None = None
    eval_delay: float = 0
    dataloader_num_workers: int = 0
    dataloader_drop_last: bool = False
    dataloader_pin_memory: bool = True
    disable_tqdm: bool = False
    remove_unused_columns: bool = True
    label_names: list[str] | None = None
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = None
    greater_is_better: bool | None = None
    prediction_loss_only: bool = False
    report_to: str | list[str] = "none"
    run_name: str | None = None
    ddp_backend: str | None = None
    ddp_find_unused_parameters: bool | None = None
    ddp_timeout: int = 1800
    optim: str = _DEFAULT_OPTIM
    gradient_checkpointing: bool = False
    fsdp: str | list[str] = ""
    fsdp_config: dict[str, Any] | None = None
    torch_compile: bool = False
    torch_compile_backend: str | None = None
    torch_compile_mode: str | None = None
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_strategy: str = "every_save"
    hub_token: str | None = None
    hub_private_repo: bool | None = None

    def __post_init__(self) -> None:
        self.output_dir = os.fspath(self.output_dir)
        if self.logging_dir is None:
            self.logging_dir = _default_logging_dir(self.output_dir)
        self.eval_strategy = _strategy("eval_strategy", self.eval_strategy)
        self.logging_strategy = _strategy("logging_strategy", self.logging_strategy)
        self.save_strategy = _strategy("save_strategy", self.save_strategy)
        try:
            self.lr_scheduler_type = SchedulerType(self.lr_scheduler_type)
        except ValueError:
            choices = ", ".join(s.value for s in SchedulerType)
            raise ConfigError(
                f"Unknown lr_scheduler_type {self.lr_scheduler_type!r}; use one of {choices}."
            ) from None
        if self.eval_strategy is IntervalStrategy.STEPS and self.eval_steps is None:
            self.eval_steps = self.logging_steps
        self._check_numbers()
        self._check_precision()
        self._check_fsdp()
        self._check_compile()
        self._check_hub()
        self._check_best_model()
        self.report_to = self._resolve_report_to(self.report_to)

    # -- validation -----------------------------------------------------------------------------
    def _check_numbers(self) -> None:
        if self.learning_rate < 0:
            raise ConfigError(f"learning_rate must be >= 0, got {self.learning_rate}.")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}.")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}.")
        if self.adam_epsilon < 0:
            raise ConfigError(f"adam_epsilon must be >= 0, got {self.adam_epsilon}.")
        if not 0.0 <= self.warmup_ratio <= 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1], got {self.warmup_ratio}.")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0, got {self.warmup_steps}.")
        for name in (
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise ConfigError(
                "Set num_train_epochs > 0 or max_steps > 0: as given, training would do nothing."
            )
        if self.max_grad_norm is not None and self.max_grad_norm < 0:
            raise ConfigError(
                f"max_grad_norm must be >= 0 (0 or None turns clipping off), got {self.max_grad_norm}."
            )
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ConfigError(
                f"save_total_limit must be >= 1 or None (keep all), got {self.save_total_limit}."
            )
        if self.dataloader_num_workers < 0:
            raise ConfigError(f"dataloader_num_workers must be >= 0, got {self.dataloader_num_workers}.")
        for name, strategy in (
            ("logging", self.logging_strategy),
            ("save", self.save_strategy),
            ("eval", self.eval_strategy),
        ):
            steps = getattr(self, f"{name}_steps")
            if strategy is IntervalStrategy.STEPS and not (
                steps > 0 and (steps < 1 or float(steps).is_integer())
            ):
                raise ConfigError(
                    f"{name}_steps must be a positive whole number (or a ratio of the training steps in (0, 1)) "
                    f"when {name}_strategy='steps', got {steps}."
                )
        if self.optim not in ("adamw_torch", "adamw_torch_fused"):
            raise ConfigError(
                f"optim={self.optim!r} is not supported; use 'adamw_torch' or 'adamw_torch_fused'."
            )

    def _check_precision(self) -> None:
        if self.fp16 and self.bf16:
            raise ConfigError("Choose one of fp16=True and bf16=True, not both.")
        device_type = "cpu" if self.use_cpu or not torch.cuda.is_available() else "cuda"
        if self.fp16 and not fp16_autocast_available(device_type):
            raise ConfigError(
                f"fp16=True needs float16 autocast with loss scaling on {device_type!r}, which torch "
                f"{torch.__version__} does not have there (CPU has it from torch 2.3). Use bf16=True, or train in fp32."
            )
        if (
            self.bf16
            and not self.use_cpu
            and torch.cuda.is_available()
            and not torch.cuda.is_bf16_supported()
        ):
            raise ConfigError(
                "bf16=True needs a GPU with bfloat16 support (Ampere or newer); use fp16=True instead."
            )

    def _check_fsdp(self) -> None:
        """`fsdp` is 'full_shard' or 'shard_grad_op' (FSDP2 under torchrun); unknown options are refused by name."""
        self.fsdp = parse_fsdp(self.fsdp, self.fsdp_config)
        if self.fsdp and self.fp16:
            raise ConfigError(
                "fsdp does not support fp16=True (loss scaling of sharded gradients); use bf16=True."
            )

    def _check_compile(self) -> None:
        """`torch_compile` (set too by a backend or mode, as in transformers): checked against this torch."""
        if self.torch_compile_backend is not None or self.torch_compile_mode is not None:
            self.torch_compile = True
        if not self.torch_compile:
            return
        if self.torch_compile_mode is not None and self.torch_compile_mode not in COMPILE_MODES:
            raise ConfigError(
                f"torch_compile_mode={self.torch_compile_mode!r} is not a torch.compile mode; use one of "
                f"{', '.join(map(repr, COMPILE_MODES))}."
            )
        reason = compile_unavailable_reason()
        if reason is not None:
            raise ConfigError(
                f"torch_compile=True needs torch.compile, which is unavailable here ({reason}). "
                "Set torch_compile=False to train eagerly."
            )
        if self.torch_compile_backend is None:
            self.torch_compile_backend = "inductor"
        backends = importlib.import_module("torch._dynamo").list_backends(exclude_tags=())
        if self.torch_compile_backend not in backends:
            raise ConfigError(
                f"torch_compile_backend={self.torch_compile_backend!r} is not a torch.compile backend here; "
                f"use one of {', '.join(map(repr, sorted(backends)))}."
            )

    def _check_hub(self) -> None:
        """`push_to_hub` and its `hub_*` options; an unknown `hub_strategy` is refused by name."""
        if self.hub_strategy not in HUB_STRATEGIES:
            raise ConfigError(
                f"hub_strategy={self.hub_strategy!r} is not supported; use one of "
                f"{', '.join(map(repr, HUB_STRATEGIES))}."
            )
        if self.push_to_hub and self.hub_model_id is None:
            self.hub_model_id = os.path.basename(os.path.abspath(self.output_dir))
        if self.push_to_hub and self.hub_strategy != "end" and self.save_strategy is IntervalStrategy.NO:
            logger.warning(
                "hub_strategy=%r pushes at every save, but save_strategy='no': only the end of training is pushed.",
                self.hub_strategy,
            )

    @property
    def fsdp_strategy(self) -> str:
        """The FSDP sharding strategy this run uses: '' unless `fsdp` is set and several processes train."""
        return self.fsdp if self.world_size > 1 else ""

    def _check_best_model(self) -> None:
        if self.load_best_model_at_end:
            if self.eval_strategy is IntervalStrategy.NO:
                raise ConfigError(
                    "load_best_model_at_end=True needs evaluation: set eval_strategy to 'steps' or 'epoch'."
                )
            if self.eval_strategy is not self.save_strategy:
                raise ConfigError(
                    "load_best_model_at_end=True requires the save and eval strategies to match, but found "
                    f"eval_strategy={self.eval_strategy.value!r} and save_strategy={self.save_strategy.value!r}."
                )
            if self.eval_strategy is IntervalStrategy.STEPS and not _is_multiple(
                self.save_steps, self.eval_steps
            ):
                raise ConfigError(
                    "load_best_model_at_end=True requires save_steps to be a round multiple of eval_steps, "
                    f"but save_steps={self.save_steps} and eval_steps={self.eval_steps}."
                )
            if self.metric_for_best_model is None:
                self.metric_for_best_model = "loss"
        if self.metric_for_best_model is not None and self.greater_is_better is None:
            self.greater_is_better = not self.metric_for_best_model.endswith("loss")

    @staticmethod
    def _resolve_report_to(report_to: str | list[str] | None) -> list[str]:
        targets = (
            ["none"] if report_to is None else [report_to] if isinstance(report_to, str) else list(report_to)
        )
        unknown = [t for t in targets if t not in _REPORT_TARGETS]
        if unknown:
            raise ConfigError(f"report_to={unknown} is not supported; use 'none', 'tensorboard' or 'all'.")
        has_tensorboard = importlib.util.find_spec("tensorboard") is not None
        if "tensorboard" in targets and not has_tensorboard:
            raise ConfigError(
                "report_to='tensorboard' needs the tensorboard package (read by torch.utils.tensorboard). "
                "Install it with `pip install tensorboard`, or set report_to='none'."
            )
        if "all" in targets:
            return ["tensorboard"] if has_tensorboard else []
        return [t for t in targets if t != "none"]

    # -- devices and processes ----------------------------------------------------------------------
    @cached_property
    def _setup_devices(self) -> torch.device:
        """Pick this process's device; under torchrun, join the process group (nccl on GPU, gloo on CPU)."""
        cuda = torch.cuda.is_available() and not self.use_cpu
        if self.world_size > 1:
            import torch.distributed as dist

            local_rank = self.local_process_index
            if cuda:
                torch.cuda.set_device(local_rank)
            if not dist.is_initialized():
                backend = self.ddp_backend or ("nccl" if cuda else "gloo")
                dist.init_process_group(backend=backend, timeout=timedelta(seconds=self.ddp_timeout))
                atexit.register(_leave_process_group)
            return torch.device("cuda", local_rank) if cuda else torch.device("cpu")
        return torch.device("cuda", 0) if cuda else torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._setup_devices

    @property
    def world_size(self) -> int:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_world_size()
        return int(os.environ.get("WORLD_SIZE", 1))

    @property
    def process_index(self) -> int:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
        return int(os.environ.get("RANK", 0))

    @property
    def local_process_index(self) -> int:
        return int(os.environ.get("LOCAL_RANK", 0))

    @property
    def parallel_mode(self) -> str:
        return "distributed" if self.world_size > 1 else "not_distributed"

    @property
    def n_gpu(self) -> int:
        return 1 if self.device.type == "cuda" else 0

    @property
    def should_log(self) -> bool:
        return self.process_index == 0

    @property
    def should_save(self) -> bool:
        return self.process_index == 0

    @property
    def train_batch_size(self) -> int:
        return self.per_device_train_batch_size

    @property
    def eval_batch_size(self) -> int:
        return self.per_device_eval_batch_size

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """warmup_steps when set, else warmup_ratio of the training steps (rounded up)."""
        return (
            self.warmup_steps if self.warmup_steps > 0 else math.ceil(num_training_steps * self.warmup_ratio)
        )

    # -- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, (IntervalStrategy, SchedulerType)) else value
        if out.get("hub_token") is not None:  # a secret: never written to training_args.json
            out["hub_token"] = _REDACTED
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def compile_unavailable_reason() -> str | None:
    """Why `torch.compile` cannot run in this process (None when it can)."""
    if not callable(getattr(torch, "compile", None)):
        return f"torch {torch.__version__} has no torch.compile; it needs torch >= 2.0"
    try:
        dynamo = importlib.import_module("torch._dynamo")
    except ImportError as error:  # pragma: no cover - a torch build without dynamo
        return f"torch._dynamo cannot be imported: {error}"
    if not dynamo.is_dynamo_supported():
        return f"TorchDynamo does not support Python {sys.version.split()[0]} on this torch build"
    return None


def _is_multiple(save_steps: float, eval_steps: float | None) -> bool:
    if eval_steps is None or eval_steps <= 0:
        return False
    ratio = save_steps / eval_steps
    return abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1


def _leave_process_group() -> None:
    """At exit, while the interpreter still runs: collect the finished Trainers' DDP models (reference cycles
    keep them, and with them the process group, alive until finalisation) and destroy the group this process
    joined. Left to the C++ destructors during finalisation, a finished rank could abort ("terminate called
    without an active exception", exit code -6) and fail the whole torchrun."""
    import torch.distributed as dist

    gc.collect()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
