"""The Trainer's checkpoint I/O: atomic `checkpoint-N` folders, their rotation, and loading them back.

A checkpoint folder holds the model as `save_pretrained` writes it (config.json + canonical
safetensors), the optimizer, scheduler and scaler states and every RNG (`torch.save`, read back
with `weights_only=True`: tensors and plain values only, nothing from the file is executed),
the trainer state and the training arguments (JSON).

Writing is atomic: everything goes to `tmp-checkpoint-N`, every file and the folder are
fsynced, and only then is it renamed to `checkpoint-N`. A crash leaves either no
`checkpoint-N` or a complete one, never a folder that looks whole but is not.

Model weights come back through the model class's own `from_pretrained` (the one loading
plan: names, shapes, tied weights), and are then copied into the model being trained, whose
parameters the optimizer holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...core.errors import CheckpointError, ConfigError, HubUnreachableError, MissingFileError
from ...core.hub import hub_unreachable_reason
from ...core.io import atomic_write_text
from .trainer_fsdp import model_class, own_class
from .trainer_utils import PREFIX_CHECKPOINT_DIR, checkpoint_step, sorted_checkpoints

logger = logging.getLogger(__name__)

TRAINER_STATE_NAME = "trainer_state.json"
TRAINING_ARGS_NAME = "training_args.json"
OPTIMIZER_NAME = "optimizer.pt"
SCHEDULER_NAME = "scheduler.pt"
SCALER_NAME = "scaler.pt"
# The files of a checkpoint that resume training; the rest (config, weights, tokenizer, training args) is the model.
_TRAINING_STATE_FILE = re.compile(
    r"(optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state(_\d+)?\.pth|trainer_state\.json)"
)
_TMP_PREFIX = "tmp-"
_OLD_PREFIX = "old-"


def checkpoint_paths(output_dir: str, step: int) -> tuple[str, str]:
    """(final, temporary) folder of the checkpoint of step `step`."""
    name = f"{PREFIX_CHECKPOINT_DIR}-{step}"
    return os.path.join(output_dir, name), os.path.join(output_dir, _TMP_PREFIX + name)


def rng_file_name(world_size: int, process_index: int) -> str:
    return "rng_state.pth" if world_size == 1 else f"rng_state_{process_index}.pth"


# -- writing -------------------------------------------------------------------------------------------
def start_checkpoint(tmp: str) -> None:
    """An empty temporary folder (a leftover of a crashed save is cleared first)."""
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)


def save_model_folder(
    model: nn.Module, processing_class: Any, folder: str, state_dict: dict[str, torch.Tensor] | None = None
) -> None:
    """The model as `save_pretrained` writes it (`state_dict`: the gathered weights of a sharded model),
    and the processing class beside it."""
    if not callable(getattr(model, "save_pretrained", None)):
        raise ConfigError(
            f"{type(model).__name__} has no save_pretrained, so the Trainer cannot save it: train a rosetta model "
            "(PreTrainedModel), or set save_strategy='no' and save the weights yourself."
        )
    os.makedirs(folder, exist_ok=True)
    with own_class(model) if state_dict is not None else contextlib.nullcontext(model) as plain:
        plain.save_pretrained(folder, state_dict=state_dict)
    if processing_class is not None and callable(getattr(processing_class, "save_pretrained", None)):
        processing_class.save_pretrained(folder)


def save_training_states(
    folder: str, optimizer: Any, scheduler: Any, scaler: Any | None, optimizer_state: dict | None = None
) -> None:
    """Optimizer (`optimizer_state`: the gathered state of a sharded model), scheduler and scaler states."""
    state = optimizer_state if optimizer_state is not None else optimizer.state_dict()
    torch.save(state, os.path.join(folder, OPTIMIZER_NAME))
    torch.save(scheduler.state_dict(), os.path.join(folder, SCHEDULER_NAME))
    if scaler is not None:
        torch.save(scaler.state_dict(), os.path.join(folder, SCALER_NAME))


def save_json(folder: str, name: str, text: str) -> None:
    atomic_write_text(os.path.join(folder, name), text)


def _fsync_path(path: str, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # a platform that cannot open folders (Windows): nothing to sync
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: str) -> None:
    """Every file and folder under `folder` on disk (files first, then the folders that name them)."""
    for root, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            _fsync_path(os.path.join(root, name))
        _fsync_path(root, directory=True)


def publish_checkpoint(tmp: str, final: str) -> None:
    """Rename the complete temporary folder to its final name; a checkpoint of the same name is replaced.

    The old folder is moved aside first (`old-checkpoint-N`, never taken for a checkpoint) and
    deleted once the new one is in place, so `checkpoint-N` is always one whole save.
    """
    fsync_tree(tmp)
    parent = os.path.dirname(os.path.abspath(final))
    aside = None
    if os.path.isdir(final):
        aside = os.path.join(parent, _OLD_PREFIX + os.path.basename(final))
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(final, aside)
    os.replace(tmp, final)
    _fsync_path(parent, directory=True)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


# -- reading -------------------------------------------------------------------------------------------
def require_checkpoint(folder: str) -> str:
    """The trainer state file of `folder`, or a clear error when it is not a Trainer checkpoint."""
    state_file = os.path.join(folder, TRAINER_STATE_NAME)
    if not os.path.isfile(state_file):
        raise MissingFileError(
            TRAINER_STATE_NAME, folder, hint="Is this a checkpoint folder written by Trainer?"
        )
    return state_file


def load_model_weights(model: nn.Module, folder: str) -> None:
    """Fill `model` in place with the weights of `folder`, read by the model class's own `from_pretrained`.

    The optimizer keeps the parameters it holds; every key must match (the same class and config
    as the run that wrote the checkpoint). A sharded model reads per rank instead
    (`trainer_fsdp.load_sharded_model_weights`).
    """
    cls = model_class(model)
    load = getattr(cls, "from_pretrained", None)
    if not callable(load):
        raise ConfigError(
            f"{cls.__name__} has no from_pretrained, so the Trainer cannot load its checkpoints: "
            "train a rosetta model (PreTrainedModel)."
        )
    check_architecture(model, folder)
    loaded, info = load(folder, config=model.config, output_loading_info=True)
    problems = {k: info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys") if info.get(k)}
    if problems:
        found = "; ".join(f"{k.replace('_', ' ')}: {', '.join(map(str, v))}" for k, v in problems.items())
        raise CheckpointError(
            f"The weights in {folder} do not fit {cls.__name__} ({found}). "
            "Resume with the model class and config the checkpoint was trained with."
        )
    with torch.no_grad():
        model.load_state_dict(loaded.state_dict(), strict=True)


def check_architecture(model: nn.Module, folder: str) -> None:
    """The class that wrote the checkpoint (config.json `architectures`) is the class being trained."""
    config_file = os.path.join(folder, "config.json")
    try:
        with open(config_file, encoding="utf-8") as f:
            written_by = json.load(f).get("architectures") or []
    except (OSError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{config_file} cannot be read as a model config: {error}.") from None
    name = model_class(model).__name__
    if written_by and name not in written_by:
        raise CheckpointError(
            f"The weights in {folder} do not fit {name}: they were written by {', '.join(written_by)}. "
            "Resume with the model class and config the checkpoint was trained with."
        )


def load_training_states(
    folder: str,
    optimizer: Any,
    scheduler: Any,
    scaler: Any | None,
    device: torch.device,
    load_optimizer: Callable[[dict[str, Any]], None] | None = None,
) -> bool:
    """Restore optimizer, scheduler (and scaler) states; False when the checkpoint has none (save_only_model)."""
    optimizer_file, scheduler_file = (
        os.path.join(folder, OPTIMIZER_NAME),
        os.path.join(folder, SCHEDULER_NAME),
    )
    if not (os.path.isfile(optimizer_file) and os.path.isfile(scheduler_file)):
        return False
    # weights_only=True: tensors and plain values only, nothing from the file is executed.
    # A sharded model's ranks each take their part of the gathered state: memory-mapped, it is not all read.
    mmap = load_optimizer is not None and device.type == "cpu"
    optimizer_state = torch.load(optimizer_file, map_location=device, weights_only=True, mmap=mmap)
    (load_optimizer or optimizer.load_state_dict)(optimizer_state)
    scheduler.load_state_dict(torch.load(scheduler_file, weights_only=True))
    scaler_file = os.path.join(folder, SCALER_NAME)
    if scaler is not None and os.path.isfile(scaler_file):
        scaler.load_state_dict(torch.load(scaler_file, weights_only=True))
    return True


def load_rng_file(folder: str, name: str) -> dict[str, Any] | None:
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return None
    return torch.load(path, weights_only=True)


# -- rotation ------------------------------------------------------------------------------------------
class CheckpointRotation:
    """`save_total_limit` over the checkpoints this run wrote; an earlier run's checkpoints are never deleted.

    A run started in an output_dir that already holds `checkpoint-N` folders (of an older run,
    possibly with higher step numbers) leaves them where they are and says so once.
    """

    def __init__(self, output_dir: str, limit: int | None):
        self.output_dir = output_dir
        self.limit = limit
        self.own: list[str] = []
        self.earlier = [os.path.normpath(p) for p in sorted_checkpoints(output_dir)]
        self._told = False

    def record(self, path: str) -> None:
        path = os.path.normpath(path)
        if path in self.own:
            self.own.remove(path)
        if path in self.earlier:
            self.earlier.remove(path)  # replaced by this run's save of the same step
        self.own.append(path)

    def adopt_up_to(self, step: int) -> None:
        """A resumed run continues the run that wrote its checkpoint: its checkpoints up to `step` are this run's."""
        for path in list(self.earlier):
            if checkpoint_step(path) is not None and checkpoint_step(path) <= step:
                self.earlier.remove(path)
                self.own.append(path)

    def _tell_once(self) -> None:
        if self.earlier and not self._told:
            self._told = True
            logger.warning(
                "%s holds %d checkpoint(s) of an earlier run (%s). save_total_limit=%d counts only this run's "
                "checkpoints; the earlier ones are kept as they are: delete them yourself if you no longer need them.",
                self.output_dir,
                len(self.earlier),
                ", ".join(os.path.basename(p) for p in self.earlier),
                self.limit,
            )

    def rotate(self, best: str | None) -> list[str]:
        """Delete this run's oldest checkpoints beyond the limit (the best one is kept besides the newest)."""
        if self.limit is None:
            return []
        self._tell_once()
        ordered = list(self.own)
        limit = self.limit
        best = os.path.normpath(best) if best else None
        if best in ordered and best != ordered[-1]:
            ordered.insert(len(ordered) - 1, ordered.pop(ordered.index(best)))  # just before the newest: kept
            limit = max(limit, 2)
        deleted = ordered[: max(0, len(ordered) - limit)]
        for old in deleted:
            logger.info("Deleting %s (save_total_limit=%d).", old, self.limit)
            shutil.rmtree(old, ignore_errors=True)
            self.own.remove(old)
        return deleted


# -- the Hub ------------------------------------------------------------------------------------------
def create_hub_repo(repo_id: str, token: str | None, private: bool | None) -> str:
    """Create `repo_id` on the Hub if needed (`private` applies only then); returns its full id."""
    from huggingface_hub import HfApi, constants

    unreachable = hub_unreachable_reason(constants.ENDPOINT)
    if unreachable is not None:
        raise HubUnreachableError(
            f"push_to_hub=True: the Hub ({constants.ENDPOINT}) could not be reached ({unreachable}), so the repo "
            f"{repo_id!r} cannot be created. Check the network or HF_ENDPOINT, or set push_to_hub=False."
        )
    return HfApi(token=token).create_repo(repo_id, private=private, exist_ok=True).repo_id


def _files(folder: str, prefix: str = "") -> list[tuple[str, str]]:
    """(path in the repo, local path) of every file under `folder`, in a stable order."""
    root = Path(folder)
    return [
        (prefix + path.relative_to(root).as_posix(), str(path))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def push_model_folder(
    model: nn.Module,
    repo_id: str,
    folder: str,
    token: str | None,
    commit_message: str,
    checkpoint_in_repo: str | None = None,
) -> Any:
    """One commit: the model files of `folder` (a saved model or a checkpoint) at the repo's root, a model
    card when the repo has none, and with `checkpoint_in_repo` the whole checkpoint (training state included,
    to resume from) under that folder of the repo. Returns the `CommitInfo`."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    files = [(name, path) for name, path in _files(folder) if not _TRAINING_STATE_FILE.fullmatch(name)]
    with tempfile.TemporaryDirectory() as staging:
        add_card = getattr(
            model, "_add_model_card", None
        )  # PushToHubMixin: never overwrites a card on the Hub
        if callable(add_card) and not any(name == "README.md" for name, _ in files):
            add_card(api, repo_id, None, Path(staging))
        files += _files(staging)
        if checkpoint_in_repo is not None:
            files += _files(folder, checkpoint_in_repo.rstrip("/") + "/")
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=path) for name, path in files]
        return api.create_commit(repo_id, operations=operations, commit_message=commit_message)
