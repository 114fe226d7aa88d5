"""`Trainer`: a complete PyTorch training and evaluation loop for rosetta (and plain torch) models.

One process trains on one device. Under `torchrun` every process runs the same script: the
Trainer joins the process group (gloo on CPU, nccl on GPU), wraps the model in
DistributedDataParallel and gives each rank its shard of every batch, and only rank 0 logs
and writes checkpoints. With `fsdp="full_shard"` (or `"shard_grad_op"`) the model is sharded
in place with FSDP2 instead (`trainer_fsdp`): each rank holds its shard of every parameter and
of the optimizer state, and checkpoints gather them back into the canonical files; resuming
reads per rank, each rank copying only its shards' rows from the memory-mapped checkpoint.

`torch_compile=True` trains `torch.compile` of the (wrapped) model while `self.model` stays the
plain module, so checkpoints keep the canonical names. `push_to_hub=True` creates the Hub repo
when the Trainer is built, pushes the model at the end of training, and at every save too
as `hub_strategy` says (one commit each, from rank 0).

Resuming is exact. The training order depends only on `seed` and the epoch (each epoch's
shuffle is drawn from a generator seeded with `seed + epoch`), data loading never touches
the global RNGs, and a checkpoint holds the model (canonical safetensors), the optimizer,
the scheduler, the trainer state and every global RNG. A resumed run skips the batches
already seen without collating them, restores the RNGs and continues with the same
batches, dropout masks and updates as the run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import operator
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ...core.errors import ConfigError, InputError, MissingFileError
from ...data.data_collator import DataCollatorWithPadding, default_data_collator
from . import trainer_checkpoint as ckpt
from . import trainer_fsdp as fsdp
from .trainer_callback import (
    REPORT_CALLBACKS,
    CallbackHandler,
    DefaultFlowCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from .trainer_checkpoint import TRAINER_STATE_NAME, TRAINING_ARGS_NAME, CheckpointRotation
from .trainer_data import (
    LoaderSettings,
    RemoveColumnsCollator,
    batch_size_of,
    find_labels,
    has_length,
    inference_dataloader,
    interleave,
    is_hf_dataset,
    remove_unused_columns,
    signature_columns,
    train_dataloader,
)
from .trainer_utils import (
    PREFIX_CHECKPOINT_DIR,
    EvalLoopOutput,
    EvalPrediction,
    IntervalStrategy,
    PredictionOutput,
    TrainOutput,
    checkpoint_step,
    concat_padded,
    denumpify,
    get_last_checkpoint,
    get_rng_state,
    get_scheduler,
    set_rng_state,
    set_seed,
    speed_metrics,
    to_numpy,
)
from .training_args import TrainingArguments

logger = logging.getLogger(__name__)

# Parameter names that never get weight decay (as in transformers): biases and normalisation weights.
_NO_DECAY = re.compile(r"bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)")


class Trainer:
    """Train, evaluate and predict with a PyTorch model, as transformers' `Trainer` does.

    Args:
        model: a rosetta `PreTrainedModel` (or any `nn.Module` whose forward returns a loss
            when given labels).
        args: the `TrainingArguments`; defaults write to `trainer_output/`.
        data_collator: builds a batch from a list of examples. Defaults to
            `DataCollatorWithPadding(processing_class)` when a tokenizer is given, else
            `default_data_collator`.
        train_dataset / eval_dataset: a torch `Dataset`, a list of dicts, or a `datasets.Dataset`.
            `eval_dataset` may also be a dict of them (metrics are then prefixed by each name).
        processing_class: the tokenizer (or processor); saved next to the model.
        compute_metrics: `EvalPrediction -> dict` of metrics, on the whole evaluation set.
        callbacks: `TrainerCallback` instances or classes, added after the default ones.
        optimizers: an (optimizer, scheduler) pair replacing the default AdamW and schedule.
        preprocess_logits_for_metrics: `(logits, labels) -> tensor`, applied per batch before
            predictions are kept (e.g. an argmax, to keep memory small).
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        args: TrainingArguments | None = None,
        data_collator: Callable | None = None,
        train_dataset: Dataset | IterableDataset | Any | None = None,
        eval_dataset: Dataset | dict[str, Dataset] | Any | None = None,
        processing_class: Any = None,
        compute_metrics: Callable[[EvalPrediction], dict[str, float]] | None = None,
        callbacks: list[TrainerCallback | type[TrainerCallback]] | None = None,
        optimizers: tuple[torch.optim.Optimizer | None, torch.optim.lr_scheduler.LRScheduler | None] = (
            None,
            None,
        ),
        preprocess_logits_for_metrics: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ):
        if model is None:
            raise InputError("Trainer needs a model.")
        self.args = args if args is not None else TrainingArguments()
        set_seed(self.args.seed)
        self.model = model.to(self.args.device)  # reading args.device joins the process group under torchrun
        self.model_wrapped: nn.Module = self.model
        self.processing_class = processing_class
        if data_collator is None:
            data_collator = (
                DataCollatorWithPadding(processing_class)
                if hasattr(processing_class, "pad")
                else default_data_collator
            )
        self.data_collator = data_collator
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.compute_metrics = compute_metrics
        self.preprocess_logits_for_metrics = preprocess_logits_for_metrics
        self.optimizer, self.lr_scheduler = optimizers
        self._created_lr_scheduler = False
        self.label_names = (
            self.args.label_names if self.args.label_names is not None else find_labels(self.model)
        )
        self.scaler = torch.amp.GradScaler(self.args.device.type) if self.args.fp16 else None
        if self.args.eval_strategy is not IntervalStrategy.NO and eval_dataset is None:
            raise ConfigError(
                f"eval_strategy={self.args.eval_strategy.value!r} needs an eval_dataset; pass one to the Trainer "
                "or set eval_strategy='no'."
            )
        reporters = [REPORT_CALLBACKS[name] for name in self.args.report_to]
        self.callback_handler = CallbackHandler(
            [DefaultFlowCallback, *reporters, *(callbacks or [])],
            self.model,
            processing_class,
            self.optimizer,
            self.lr_scheduler,
        )
        self.add_callback(PrinterCallback if self.args.disable_tqdm else ProgressCallback)
        self.state = self._new_state()
        self._checkpoint_rotation: CheckpointRotation | None = None
        self.hub_model_id: str | None = None
        if self.args.push_to_hub:
            self.init_hf_repo()
        self.control = TrainerControl()
        self.current_gradient_accumulation_steps = 1
        self.control = self.callback_handler.on_init_end(self.args, self.state, self.control)

    # -- callbacks ------------------------------------------------------------------------------------
    def add_callback(self, callback: TrainerCallback | type[TrainerCallback]) -> None:
        self.callback_handler.add_callback(callback)

    def pop_callback(self, callback: TrainerCallback | type[TrainerCallback]) -> TrainerCallback | None:
        return self.callback_handler.pop_callback(callback)

    def remove_callback(self, callback: TrainerCallback | type[TrainerCallback]) -> None:
        self.callback_handler.remove_callback(callback)

    # -- processes --------------------------------------------------------------------------------------
    def is_world_process_zero(self) -> bool:
        return self.args.process_index == 0

    def is_local_process_zero(self) -> bool:
        return self.args.local_process_index == 0

    def _new_state(self) -> TrainerState:
        return TrainerState(
            is_local_process_zero=self.is_local_process_zero(),
            is_world_process_zero=self.is_world_process_zero(),
        )

    def _barrier(self) -> None:
        if self.args.world_size > 1:
            torch.distributed.barrier()

    def _mean_across_processes(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.args.world_size == 1:
            return tensor
        tensor = tensor.detach().clone()
        torch.distributed.all_reduce(tensor)
        return tensor / self.args.world_size

    def _wrap_model(self) -> nn.Module:
        """Shard the model in place (FSDP2, `args.fsdp`) or wrap it in DDP when several processes train."""
        if self.args.fsdp and self.args.world_size == 1:
            logger.warning("fsdp=%r needs several processes (torchrun); training unsharded.", self.args.fsdp)
        if self.args.fsdp_strategy:
            if not fsdp.is_sharded(self.model):
                fsdp.shard_model(self.model, self.args.fsdp_strategy, self.args.fsdp_config, self.args.bf16)
            return self._compile(self.model)
        if self.args.world_size > 1 and not isinstance(self.model_wrapped, DistributedDataParallel):
            device = self.args.device
            ids = (
                {"device_ids": [device.index], "output_device": device.index} if device.type == "cuda" else {}
            )
            self.model_wrapped = DistributedDataParallel(
                self.model, find_unused_parameters=bool(self.args.ddp_find_unused_parameters), **ids
            )
        return self._compile(self.model_wrapped)

    def _compile(self, model: nn.Module) -> nn.Module:
        """`torch.compile(model)` when `args.torch_compile` (built once per wrapped model), else `model`.

        Only the training forward and backward run compiled: `self.model` stays the plain module, so
        checkpoints carry the canonical names (no `_orig_mod.` prefix) and evaluation runs eagerly.
        """
        if not self.args.torch_compile:
            return model
        compiled = getattr(self, "_compiled_model", None)
        if compiled is None or compiled._orig_mod is not model:
            compiled = torch.compile(
                model, backend=self.args.torch_compile_backend, mode=self.args.torch_compile_mode
            )
            self._compiled_model = compiled
        return compiled

    # -- data ----------------------------------------------------------------------------------------------
    def _signature_columns(self) -> list[str]:
        return signature_columns(self.model, self.label_names)

    def _remove_unused_columns(self, dataset: Any, description: str) -> Any:
        if not self.args.remove_unused_columns:
            return dataset
        return remove_unused_columns(dataset, self.model, self._signature_columns(), description)

    def _collator(self, dataset: Any) -> Callable:
        if self.args.remove_unused_columns and not is_hf_dataset(dataset):
            return RemoveColumnsCollator(self.data_collator, self._signature_columns())
        return self.data_collator

    def _loader_settings(self) -> LoaderSettings:
        args = self.args
        return LoaderSettings(
            world_size=args.world_size,
            process_index=args.process_index,
            num_workers=args.dataloader_num_workers,
            pin_memory=args.dataloader_pin_memory and args.device.type == "cuda",
            drop_last=args.dataloader_drop_last,
        )

    def _train_dataloader(self, dataset: Any, epoch: int, skip_batches: int = 0) -> DataLoader:
        args = self.args
        seed = args.data_seed if args.data_seed is not None else args.seed
        return train_dataloader(
            dataset,
            self._loader_settings(),
            self._collator(dataset),
            args.train_batch_size,
            seed,
            epoch,
            skip_batches,
        )

    def get_train_dataloader(self) -> DataLoader:
        """The training DataLoader of the first epoch (each rank's shard under torchrun)."""
        if self.train_dataset is None:
            raise InputError("Trainer needs a train_dataset to train.")
        return self._train_dataloader(self._remove_unused_columns(self.train_dataset, "training"), epoch=0)

    def _inference_dataloader(self, dataset: Any, description: str) -> DataLoader:
        dataset = self._remove_unused_columns(dataset, description)
        settings = self._loader_settings()
        return inference_dataloader(
            dataset, settings, self._collator(dataset), self.args.eval_batch_size, self.args.seed
        )

    def get_eval_dataloader(self, eval_dataset: Any = None) -> DataLoader:
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise InputError("Evaluation needs an eval_dataset, passed to the Trainer or to evaluate().")
        return self._inference_dataloader(dataset, "evaluation")

    def get_test_dataloader(self, test_dataset: Any) -> DataLoader:
        return self._inference_dataloader(test_dataset, "test")

    # -- optimizer and schedule -------------------------------------------------------------------------
    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        """Names of the parameters that get weight decay: all but biases and normalisation weights."""
        norm_modules = {name for name, module in model.named_modules() if isinstance(module, nn.LayerNorm)}
        return [
            name
            for name, _ in model.named_parameters()
            if name.rpartition(".")[0] not in norm_modules and not _NO_DECAY.search(name.lower())
        ]

    def create_optimizer(self) -> torch.optim.Optimizer:
        """AdamW, with weight decay on every weight except biases and LayerNorm weights."""
        if self.optimizer is None:
            args = self.args
            decay = set(self.get_decay_parameter_names(self.model))
            params = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
            groups = [
                {"params": [p for n, p in params if n in decay], "weight_decay": args.weight_decay},
                {"params": [p for n, p in params if n not in decay], "weight_decay": 0.0},
            ]
            extra = {"fused": True} if args.optim == "adamw_torch_fused" else {}
            self.optimizer = torch.optim.AdamW(
                groups,
                lr=args.learning_rate,
                betas=(args.adam_beta1, args.adam_beta2),
                eps=args.adam_epsilon,
                **extra,
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            self._created_lr_scheduler = True
            self.lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type,
                optimizer or self.optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
            )
        return self.lr_scheduler

    def create_optimizer_and_scheduler(self, num_training_steps: int) -> None:
        self.create_optimizer()
        self.create_scheduler(num_training_steps, self.optimizer)
        self.callback_handler.optimizer = self.optimizer
        self.callback_handler.lr_scheduler = self.lr_scheduler

    def _get_learning_rate(self) -> float:
        return float(self.lr_scheduler.get_last_lr()[0])

    # -- one step -------------------------------------------------------------------------------------------
    def _prepare_inputs(self, inputs: Any) -> Any:
        """Move every tensor in the batch to this process's device."""
        if isinstance(inputs, Mapping):
            return {k: self._prepare_inputs(v) for k, v in inputs.items()}
        if isinstance(inputs, (tuple, list)):
            return type(inputs)(self._prepare_inputs(v) for v in inputs)
        if isinstance(inputs, torch.Tensor):
            return inputs.to(self.args.device, non_blocking=True)
        return inputs

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.args.bf16:
            return torch.autocast(self.args.device.type, dtype=torch.bfloat16)
        if self.args.fp16:
            return torch.autocast(self.args.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """The model's own loss on the batch (override to train with another one)."""
        outputs = model(**inputs)
        if isinstance(outputs, Mapping):
            if outputs.get("loss") is None:
                raise InputError(
                    f"The model returned no loss, only {', '.join(outputs)}; it received {', '.join(inputs)}. "
                    f"Give the batches labels ({', '.join(self.label_names) or 'labels'}), or override compute_loss."
                )
            loss = outputs["loss"]
        else:
            loss = outputs[0]
        return (loss, outputs) if return_outputs else loss

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        """Forward and backward on one micro-batch; returns the loss share it adds to this update."""
        model.train()
        inputs = self._prepare_inputs(inputs)
        with self._autocast():
            loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        loss = loss / self.current_gradient_accumulation_steps
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        return loss.detach()

    def _optimizer_step(self, model: nn.Module) -> None:
        args = self.args
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        self._grad_norm = None
        if args.max_grad_norm:
            self._grad_norm = fsdp.full_tensor(
                nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            )
        self.control = self.callback_handler.on_pre_optimizer_step(args, self.state, self.control)
        skipped = False
        if self.scaler is not None:
            scale = self.scaler.get_scale()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            skipped = self.scaler.get_scale() < scale  # inf/nan gradients: the step was skipped
        else:
            self.optimizer.step()
        self.control = self.callback_handler.on_optimizer_step(args, self.state, self.control)
        self._learning_rate = self._get_learning_rate()
        if not skipped:
            self.lr_scheduler.step()
        model.zero_grad(set_to_none=True)

    # -- training ------------------------------------------------------------------------------------------
    def _training_lengths(self, loader: DataLoader) -> tuple[int, int, int, int]:
        """(optimizer steps per epoch, max_steps, epochs, batches per epoch)."""
        args = self.args
        gas = args.gradient_accumulation_steps
        if has_length(loader):
            batches = len(loader)
            if batches == 0:
                raise InputError(
                    "The training set gives no batch (it is empty, or smaller than one batch with dataloader_drop_last=True)."
                )
            per_epoch = max(batches // gas + int(batches % gas > 0), 1)
            if args.max_steps > 0:
                return per_epoch, args.max_steps, math.ceil(args.max_steps / per_epoch), batches
            return (
                per_epoch,
                math.ceil(args.num_train_epochs * per_epoch),
                math.ceil(args.num_train_epochs),
                batches,
            )
        if args.max_steps > 0:
            return args.max_steps, args.max_steps, sys.maxsize, args.max_steps * gas
        raise InputError(
            "The training set has no length (an iterable dataset): set max_steps to say how long to train."
        )

    def _resolve_checkpoint(self, resume_from_checkpoint: str | os.PathLike | bool | None) -> str | None:
        if resume_from_checkpoint is None or resume_from_checkpoint is False:
            return None
        if resume_from_checkpoint is True:
            found = get_last_checkpoint(self.args.output_dir)
            if found is None:
                raise MissingFileError(
                    f"{PREFIX_CHECKPOINT_DIR}-* folder",
                    f"the output directory {os.path.abspath(self.args.output_dir)}",
                    hint="Train once with a save_strategy to write checkpoints, or pass the path of one.",
                )
            return found
        path = os.fspath(resume_from_checkpoint)
        if not os.path.isdir(path):
            raise MissingFileError(
                os.path.basename(path) or path,
                os.path.abspath(os.path.dirname(path) or "."),
                hint="resume_from_checkpoint takes a checkpoint folder, or True for the newest one in output_dir.",
            )
        return path

    def train(
        self, resume_from_checkpoint: str | os.PathLike | bool | None = None, **kwargs: Any
    ) -> TrainOutput:
        """Train on `train_dataset`; `resume_from_checkpoint` is a checkpoint folder or True (the newest in output_dir)."""
        if kwargs:
            raise InputError(f"train() got unexpected arguments: {', '.join(sorted(kwargs))}.")
        args = self.args
        checkpoint = self._resolve_checkpoint(resume_from_checkpoint)
        if self.train_dataset is None:
            raise InputError("Trainer needs a train_dataset to train.")
        dataset = self._remove_unused_columns(self.train_dataset, "training")
        if isinstance(dataset, IterableDataset) and args.world_size > 1:
            raise ConfigError(
                "Distributed training needs a map-style dataset (with __len__ and __getitem__) to shard it."
            )
        per_epoch, max_steps, num_epochs, batches_per_epoch = self._training_lengths(
            self._train_dataloader(dataset, 0)
        )
        if (
            self._created_lr_scheduler
        ):  # a second train() gets a fresh schedule (the optimizer keeps its state)
            self.lr_scheduler, self._created_lr_scheduler = None, False
        if self.args.fsdp_strategy and self.optimizer is not None and not fsdp.is_sharded(self.model):
            raise ConfigError(
                "fsdp replaces the model's parameters by their shards, so an optimizer built beforehand would "
                "update nothing: pass optimizers=(None, scheduler) or leave fsdp unset."
            )
        self._enable_gradient_checkpointing()
        model = self._wrap_model()  # before the optimizer: FSDP2 replaces the parameters by their shards
        self.create_optimizer_and_scheduler(max_steps)
        self.state = self._new_state()
        self._checkpoint_rotation = CheckpointRotation(args.output_dir, args.save_total_limit)
        self.state.max_steps, self.state.num_train_epochs = max_steps, num_epochs
        self.state.train_batch_size = args.train_batch_size
        self.state.compute_steps(args, max_steps)

        epochs_trained, skip = 0, 0
        if checkpoint is not None:
            self._load_checkpoint(checkpoint)
            epochs_trained = self.state.global_step // per_epoch
            skip = (self.state.global_step % per_epoch) * args.gradient_accumulation_steps
        self.callback_handler.model = self.model
        logger.info(
            "Training: %s examples, %d epochs, batch %d per device x %d processes x %d accumulation, %d steps.",
            len(dataset) if has_length(dataset) else "?",
            num_epochs,
            args.train_batch_size,
            args.world_size,
            args.gradient_accumulation_steps,
            max_steps,
        )
        self._tr_loss = torch.zeros((), device=args.device)
        self._total_loss_scalar = 0.0
        self._globalstep_last_logged = self.state.global_step
        self._samples_seen = 0
        self._grad_norm, self._learning_rate = None, self._get_learning_rate()
        start_step, start_time = self.state.global_step, time.time()
        self.control = self.callback_handler.on_train_begin(args, self.state, self.control)

        for epoch in range(epochs_trained, num_epochs):
            if self.state.global_step >= max_steps or self.control.should_training_stop:
                break
            skipped = skip if epoch == epochs_trained else 0
            loader = self._train_dataloader(dataset, epoch, skipped)
            self.callback_handler.train_dataloader = loader
            self.control = self.callback_handler.on_epoch_begin(args, self.state, self.control)
            resume_rng = checkpoint if epoch == epochs_trained else None
            steps = self._train_epoch(model, loader, epoch, per_epoch, batches_per_epoch, skipped, resume_rng)
            if steps == 0 and skipped == 0:
                logger.warning(
                    "The training set gave no batch in epoch %d; stopping at step %d.",
                    epoch,
                    self.state.global_step,
                )
                self.control.should_training_stop = True
            self.control = self.callback_handler.on_epoch_end(args, self.state, self.control)
            self._maybe_log_save_evaluate(model)
        output = self._finish_training(start_step, start_time)
        if args.push_to_hub:
            self.push_to_hub(commit_message="End of training")
        return output

    def _train_epoch(
        self,
        model: nn.Module,
        loader: DataLoader,
        epoch: int,
        per_epoch: int,
        batches_per_epoch: int,
        skipped: int,
        resume_rng: str | None,
    ) -> int:
        """One pass over the loader, grouped into optimizer steps; returns the number of steps taken."""
        args = self.args
        gas = args.gradient_accumulation_steps
        iterator = iter(loader)
        if skipped and isinstance(loader.dataset, IterableDataset):  # no sampler to skip with: read past them
            for _ in itertools.islice(iterator, skipped):
                pass
        if resume_rng is not None:
            self._load_rng_state(resume_rng)
        last_group = batches_per_epoch % gas or gas
        update_step = first = skipped // gas
        while update_step < per_epoch:
            batches = list(itertools.islice(iterator, gas if update_step != per_epoch - 1 else last_group))
            if not batches:
                break
            self.current_gradient_accumulation_steps = len(batches)
            self.control = self.callback_handler.on_step_begin(args, self.state, self.control)
            ddp = self.model_wrapped if isinstance(self.model_wrapped, DistributedDataParallel) else None
            for i, inputs in enumerate(batches):
                last = i == len(batches) - 1
                if fsdp.is_sharded(self.model):  # reduce-scatter the gradients on the last micro-batch only
                    self.model.set_requires_gradient_sync(last)
                with ddp.no_sync() if ddp is not None and not last else contextlib.nullcontext():
                    self._tr_loss += self.training_step(model, inputs)
                self._samples_seen += batch_size_of(inputs)
                if not last:
                    self.control = self.callback_handler.on_substep_end(args, self.state, self.control)
            self._optimizer_step(model)
            update_step += 1
            self.state.global_step += 1
            self.state.epoch = epoch + update_step / per_epoch
            self.control = self.callback_handler.on_step_end(args, self.state, self.control)
            self._maybe_log_save_evaluate(model)
            if self.control.should_epoch_stop or self.control.should_training_stop:
                break
        return update_step - first

    def _finish_training(self, start_step: int, start_time: float) -> TrainOutput:
        runtime = time.time() - start_time
        self._total_loss_scalar += self._mean_across_processes(self._tr_loss).item()
        self._tr_loss.zero_()
        steps = self.state.global_step - start_step
        train_loss = self._total_loss_scalar / max(steps, 1)
        if self.args.load_best_model_at_end and self.state.best_model_checkpoint is not None:
            if os.path.isdir(self.state.best_model_checkpoint):
                logger.info(
                    "Loading the best model, from %s (%s = %s).",
                    self.state.best_model_checkpoint,
                    self.args.metric_for_best_model,
                    self.state.best_metric,
                )
                self._load_model_weights(self.state.best_model_checkpoint)
            else:
                logger.warning(
                    "The best checkpoint %s is gone; keeping the last weights.",
                    self.state.best_model_checkpoint,
                )
        metrics = speed_metrics("train", runtime, self._samples_seen * self.args.world_size, steps)
        metrics["train_loss"] = train_loss
        self.log(metrics)
        self.control = self.callback_handler.on_train_end(self.args, self.state, self.control)
        return TrainOutput(self.state.global_step, train_loss, metrics)

    def _maybe_log_save_evaluate(self, model: nn.Module) -> None:
        state = self.state
        if self.control.should_log and state.global_step > self._globalstep_last_logged:
            loss = self._mean_across_processes(self._tr_loss).item()
            self._tr_loss.zero_()
            logs: dict[str, float] = {
                "loss": round(loss / (state.global_step - self._globalstep_last_logged), 4)
            }
            if self._grad_norm is not None:
                logs["grad_norm"] = float(self._grad_norm)
            logs["learning_rate"] = self._learning_rate
            self._total_loss_scalar += loss
            self._globalstep_last_logged = state.global_step
            self.log(logs)
        if self.control.should_evaluate:
            metrics = self.evaluate()
            self._update_best_metric(metrics)
        if self.control.should_save:
            self._save_checkpoint()
            self.control = self.callback_handler.on_save(self.args, self.state, self.control)

    def _update_best_metric(self, metrics: dict[str, float]) -> None:
        name = self.args.metric_for_best_model
        if name is None:
            return
        key = name if name.startswith("eval_") else f"eval_{name}"
        if key not in metrics:
            raise ConfigError(
                f"metric_for_best_model={name!r} is not among the evaluation metrics ({', '.join(sorted(metrics))}). "
                "Use one of them (with or without the 'eval_' prefix), or return it from compute_metrics."
            )
        better = operator.gt if self.args.greater_is_better else operator.lt
        if self.state.best_metric is None or better(metrics[key], self.state.best_metric):
            self.state.best_metric = metrics[key]
            self.state.best_global_step = self.state.global_step

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Record `logs` (with the epoch and step) in `state.log_history` and hand them to the callbacks."""
        if self.state.epoch is not None:
            logs = {**logs, "epoch": self.state.epoch}
        self.state.log_history.append({**logs, "step": self.state.global_step})
        self.control = self.callback_handler.on_log(self.args, self.state, self.control, logs)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def _save(self, output_dir: str, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """Write the model (`save_pretrained`) and the processing class to `output_dir`."""
        ckpt.save_model_folder(self.model, self.processing_class, output_dir, state_dict)

    def _full_state_dict(self) -> dict[str, torch.Tensor] | None:
        """The gathered weights of a sharded model (every rank must call this), None when not sharded."""
        return fsdp.full_model_state_dict(self.model) if fsdp.is_sharded(self.model) else None

    def save_model(self, output_dir: str | os.PathLike | None = None) -> None:
        """Save the model and processing class for `from_pretrained` (rank 0 writes; call it on every rank,
        which FSDP needs: the weights are gathered from all of them)."""
        output_dir = os.fspath(output_dir) if output_dir is not None else self.args.output_dir
        state_dict = self._full_state_dict()
        if self.is_world_process_zero():
            self._save(output_dir, state_dict)

    # -- the Hub ---------------------------------------------------------------------------------------------
    def init_hf_repo(self, token: str | None = None) -> str:
        """Create the Hub repo `args.hub_model_id` (default: the name of output_dir) if needed; returns its id."""
        if self.hub_model_id is None:
            repo_id = self.args.hub_model_id or os.path.basename(os.path.abspath(self.args.output_dir))
            if self.is_world_process_zero():
                repo_id = ckpt.create_hub_repo(
                    repo_id, token or self.args.hub_token, self.args.hub_private_repo
                )
            self.hub_model_id = repo_id
        return self.hub_model_id

    def push_to_hub(self, commit_message: str = "End of training", token: str | None = None) -> Any:
        """Save the model (and processing class) and upload them, with a model card, as one commit.

        Call it on every rank under torchrun (FSDP gathers the weights from all of them); rank 0 uploads and
        returns the `CommitInfo`, the other ranks None. `train()` calls it at the end when `args.push_to_hub`.
        """
        repo_id = self.init_hf_repo(token)
        state_dict = self._full_state_dict()
        if not self.is_world_process_zero():
            return None
        with tempfile.TemporaryDirectory() as folder:
            self._save(folder, state_dict)
            ckpt.save_json(folder, TRAINING_ARGS_NAME, self.args.to_json_string())
            return ckpt.push_model_folder(
                self.model, repo_id, folder, token or self.args.hub_token, commit_message
            )

    def _push_from_checkpoint(self, folder: str) -> None:
        """`hub_strategy` "every_save" / "checkpoint" / "all_checkpoints": one commit per save (rank 0)."""
        args = self.args
        if not args.push_to_hub or args.hub_strategy == "end" or not self.is_world_process_zero():
            return
        if args.save_strategy is IntervalStrategy.EPOCH:
            message = f"Training in progress, epoch {int(self.state.epoch or 0)}"
        else:
            message = f"Training in progress, step {self.state.global_step}"
        in_repo = {"checkpoint": "last-checkpoint", "all_checkpoints": os.path.basename(folder)}
        ckpt.push_model_folder(
            self.model,
            self.init_hf_repo(),
            folder,
            args.hub_token,
            message,
            checkpoint_in_repo=in_repo.get(args.hub_strategy),
        )

    def save_state(self) -> None:
        if self.is_world_process_zero():
            os.makedirs(self.args.output_dir, exist_ok=True)
            self.state.save_to_json(os.path.join(self.args.output_dir, TRAINER_STATE_NAME))

    def _callback_states(self) -> dict[str, list[dict[str, Any]]]:
        states: dict[str, list[dict[str, Any]]] = {}
        for callback in self.callback_handler.callbacks:
            if callable(getattr(callback, "state", None)):
                states.setdefault(type(callback).__name__, []).append(callback.state())
        return states

    def _restore_callback_states(self) -> None:
        for name, saved in self.state.stateful_callbacks.items():
            saved = saved if isinstance(saved, list) else [saved]
            matching = [cb for cb in self.callback_handler.callbacks if type(cb).__name__ == name]
            for callback, state in zip(matching, saved):
                for attribute, value in state.get("attributes", {}).items():
                    setattr(callback, attribute, value)

    def _save_checkpoint(self) -> str:
        """Write `checkpoint-N` atomically: everything goes to `tmp-checkpoint-N`, fsynced, renamed once complete."""
        args, state = self.args, self.state
        final, tmp = ckpt.checkpoint_paths(args.output_dir, state.global_step)
        if state.best_global_step == state.global_step:
            state.best_model_checkpoint = final
        state.stateful_callbacks = self._callback_states()
        main = self.is_world_process_zero()
        model_state = self._full_state_dict()
        optimizer_state = None
        if fsdp.is_sharded(self.model) and not args.save_only_model:
            optimizer_state = fsdp.full_optimizer_state_dict(self.model, self.optimizer)
        if main:
            ckpt.start_checkpoint(tmp)
        self._barrier()
        if not args.save_only_model:
            torch.save(
                get_rng_state(), os.path.join(tmp, ckpt.rng_file_name(args.world_size, args.process_index))
            )
        if main:
            self._save(tmp, model_state)
            if not args.save_only_model:
                ckpt.save_training_states(
                    tmp, self.optimizer, self.lr_scheduler, self.scaler, optimizer_state=optimizer_state
                )
            ckpt.save_json(tmp, TRAINING_ARGS_NAME, args.to_json_string())
            state.save_to_json(os.path.join(tmp, TRAINER_STATE_NAME))
        self._barrier()
        if main:
            ckpt.publish_checkpoint(tmp, final)
            self._rotation().record(final)
            self._push_from_checkpoint(final)
            self._rotate_checkpoints()
        self._barrier()
        return final

    def _rotation(self) -> CheckpointRotation:
        if self._checkpoint_rotation is None:
            self._checkpoint_rotation = CheckpointRotation(self.args.output_dir, self.args.save_total_limit)
        return self._checkpoint_rotation

    def _rotate_checkpoints(self) -> None:
        """Keep this run's newest `save_total_limit` checkpoints, and the best one besides the newest.

        Checkpoints an earlier run left in output_dir are not this run's to delete (logged once).
        """
        self._rotation().rotate(self.state.best_model_checkpoint)

    def _load_checkpoint(self, folder: str) -> None:
        state_file = ckpt.require_checkpoint(folder)
        self._load_model_weights(folder)
        device = self.args.device
        load_optimizer = None
        if fsdp.is_sharded(self.model):

            def load_optimizer(state: dict[str, Any]) -> None:
                fsdp.load_full_optimizer_state_dict(self.model, self.optimizer, state)

        loaded = ckpt.load_training_states(
            folder, self.optimizer, self.lr_scheduler, self.scaler, device, load_optimizer=load_optimizer
        )
        if not loaded:
            logger.warning(
                "%s has no optimizer/scheduler state (save_only_model?); they start afresh.", folder
            )
        saved = TrainerState.load_from_json(state_file)
        saved.is_local_process_zero = self.state.is_local_process_zero
        saved.is_world_process_zero = self.state.is_world_process_zero
        saved.max_steps, saved.num_train_epochs = self.state.max_steps, self.state.num_train_epochs
        saved.logging_steps, saved.eval_steps = self.state.logging_steps, self.state.eval_steps
        saved.save_steps = self.state.save_steps
        if saved.train_batch_size not in (None, self.args.train_batch_size):
            logger.warning(
                "The checkpoint was trained with batch size %s, this run uses %s.",
                saved.train_batch_size,
                self.args.train_batch_size,
            )
        if saved.best_model_checkpoint is not None and not os.path.isdir(saved.best_model_checkpoint):
            saved.best_model_checkpoint = None
        self.state = saved
        self._restore_callback_states()
        if os.path.normpath(os.path.dirname(os.path.abspath(folder))) == os.path.normpath(
            os.path.abspath(self.args.output_dir)
        ):
            self._rotation().adopt_up_to(checkpoint_step(folder) or 0)

    def _load_model_weights(self, folder: str) -> dict[str, fsdp.SliceRead] | None:
        """The checkpoint's weights into the model. A sharded model (FSDP) reads per rank: each rank copies
        only the rows its shards own from the memory-mapped checkpoint; what it read is returned."""
        if fsdp.is_sharded(self.model):
            ckpt.check_architecture(self.model, folder)
            return fsdp.load_sharded_model_weights(self.model, folder)
        ckpt.load_model_weights(self.model, folder)
        return None

    def _enable_gradient_checkpointing(self) -> None:
        if not self.args.gradient_checkpointing:
            return
        enable = getattr(self.model, "gradient_checkpointing_enable", None)
        if not callable(enable):
            raise ConfigError(
                f"gradient_checkpointing=True needs a model with gradient_checkpointing_enable(); "
                f"{type(self.model).__name__} has none. Train a rosetta model or set gradient_checkpointing=False."
            )
        enable()

    def _load_rng_state(self, folder: str) -> None:
        name = ckpt.rng_file_name(self.args.world_size, self.args.process_index)
        state = ckpt.load_rng_file(folder, name)
        if state is None:
            logger.warning(
                "%s has no %s: the resumed run will not repeat the random draws of the original.",
                folder,
                name,
            )
            return
        set_rng_state(state)

    # -- evaluation and prediction -----------------------------------------------------------------------
    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        """Loss and `compute_metrics` on the evaluation set, as `{prefix}_loss`, `{prefix}_<metric>`, ..."""
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if isinstance(dataset, dict):
            metrics: dict[str, float] = {}
            for name, part in dataset.items():
                metrics.update(self.evaluate(part, ignore_keys, f"{metric_key_prefix}_{name}"))
            return metrics
        loader = self.get_eval_dataloader(dataset)
        start = time.time()
        output = self.evaluation_loop(
            loader, "Evaluation", ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix
        )
        batch = self.args.eval_batch_size * self.args.world_size
        output.metrics.update(
            speed_metrics(
                metric_key_prefix,
                time.time() - start,
                output.num_samples,
                math.ceil(output.num_samples / batch),
            )
        )
        self.log(output.metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, output.metrics)
        return output.metrics

    def predict(
        self, test_dataset: Any, ignore_keys: list[str] | None = None, metric_key_prefix: str = "test"
    ) -> PredictionOutput:
        """Predictions (logits) and labels for every example, in order, with metrics when labels are given."""
        loader = self.get_test_dataloader(test_dataset)
        start = time.time()
        output = self.evaluation_loop(
            loader, "Prediction", ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix
        )
        batch = self.args.eval_batch_size * self.args.world_size
        output.metrics.update(
            speed_metrics(
                metric_key_prefix,
                time.time() - start,
                output.num_samples,
                math.ceil(output.num_samples / batch),
            )
        )
        self.control = self.callback_handler.on_predict(self.args, self.state, self.control, output.metrics)
        return PredictionOutput(
            predictions=output.predictions, label_ids=output.label_ids, metrics=output.metrics
        )

    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor | None, Any, Any]:
        """(loss, logits, labels) of one batch; logits are every output but the loss and `ignore_keys`."""
        has_labels = bool(self.label_names) and all(inputs.get(k) is not None for k in self.label_names)
        inputs = self._prepare_inputs(inputs)
        if ignore_keys is None:
            ignore_keys = list(
                getattr(getattr(self.model, "config", None), "keys_to_ignore_at_inference", None) or []
            )
        labels = None
        if has_labels:
            labels = tuple(inputs[k].detach() for k in self.label_names)
            labels = labels[0] if len(labels) == 1 else labels
        loss = None
        with torch.no_grad(), self._autocast():
            if has_labels:
                loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
                loss = loss.detach().mean()
            else:
                outputs = model(**inputs)
        if prediction_loss_only:
            return loss, None, None
        if isinstance(outputs, Mapping):
            logits = tuple(v for k, v in outputs.items() if k not in {"loss", *ignore_keys})
        else:
            logits = tuple(outputs[1:] if has_labels else outputs)
        return loss, (logits[0] if len(logits) == 1 else logits), labels

    def evaluation_loop(
        self,
        dataloader: DataLoader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """Run `prediction_step` over the loader, gather every rank's share, and compute the metrics."""
        args = self.args
        if prediction_loss_only is None:
            prediction_loss_only = args.prediction_loss_only
        model = self.model
        model.eval()
        self.callback_handler.eval_dataloader = dataloader
        logger.debug(
            "%s: %s batches of %d.",
            description,
            len(dataloader) if has_length(dataloader) else "?",
            args.eval_batch_size,
        )
        losses, predictions, labels, seen = [], [], [], 0
        for inputs in dataloader:
            size = batch_size_of(inputs)
            seen += size
            loss, logits, label = self.prediction_step(model, inputs, prediction_loss_only, ignore_keys)
            if loss is not None:
                losses.append(np.full(size, loss.item(), dtype=np.float64))
            if logits is not None:
                if self.preprocess_logits_for_metrics is not None:
                    logits = self.preprocess_logits_for_metrics(logits, label)
                predictions.append(to_numpy(logits))
            if label is not None:
                labels.append(to_numpy(label))
            self.control = self.callback_handler.on_prediction_step(args, self.state, self.control)
        all_losses, all_preds, all_labels = (
            concat_padded(losses),
            concat_padded(predictions),
            concat_padded(labels),
        )
        num_samples = seen
        if args.world_size > 1:
            all_losses, all_preds, all_labels, num_samples = self._gather(
                (all_losses, all_preds, all_labels, seen)
            )
        metrics: dict[str, Any] = {}
        if self.compute_metrics is not None and all_preds is not None and all_labels is not None:
            metrics = denumpify(
                self.compute_metrics(EvalPrediction(predictions=all_preds, label_ids=all_labels))
            )
        if all_losses is not None:
            metrics["loss"] = float(all_losses.mean())
        prefix = f"{metric_key_prefix}_"
        metrics = {k if k.startswith(prefix) else prefix + k: v for k, v in metrics.items()}
        return EvalLoopOutput(
            predictions=all_preds, label_ids=all_labels, metrics=metrics, num_samples=num_samples
        )

    def _gather(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Every rank's (losses, predictions, labels, count), merged back into dataset order."""
        gathered: list[Any] = [None] * self.args.world_size
        torch.distributed.all_gather_object(gathered, values)
        filled = [rank for rank in gathered if rank[-1] > 0]
        merged = []
        for i in range(len(values) - 1):
            parts = [rank[i] for rank in filled]
            merged.append(
                interleave(parts, len(gathered)) if parts and all(p is not None for p in parts) else None
            )
        return (*merged, sum(rank[-1] for rank in gathered))
