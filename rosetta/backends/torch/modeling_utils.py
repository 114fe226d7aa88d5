"""`PreTrainedModel`: the torch base class every rosetta PyTorch model derives from."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...convert.checkpoint import BFLOAT16, CheckpointReader
from ...convert.loading import (
    LoadingInfo,
    open_canonical,
    plan_loading,
    report,
    requested_dtype_name,
    resolve_config,
    write_pretrained,
)
from ...convert.model_card import ModelCardMixin
from ...core.configuration import PretrainedConfig
from ...core.errors import ConfigError, InputError
from ...core.hub import HubOptions, PushToHubMixin
from ...core.weights import new_embedding_rows

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def resolve_torch_dtype(dtype: Any) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ConfigError(f"Unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)} or 'auto'.")
    return _DTYPES[name]


def numpy_to_torch(array: np.ndarray) -> torch.Tensor:
    """A torch tensor sharing the numpy array's memory (bfloat16 included)."""
    if BFLOAT16 is not None and array.dtype == BFLOAT16 or array.dtype == np.uint16:
        return torch.from_numpy(np.ascontiguousarray(array).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(array))


def torch_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        raw = tensor.view(torch.int16).numpy()
        return raw.view(BFLOAT16) if BFLOAT16 is not None else raw.view(np.uint16)
    return tensor.numpy()


_INITIALISE_WEIGHTS = True


@contextlib.contextmanager
def init_empty_weights() -> Iterator[None]:
    """Build modules with parameters on the meta device: shapes only, no memory, no init.

    Buffers stay real (they are small, and non-persistent ones such as position ids are
    never in a checkpoint to be filled from).
    """
    global _INITIALISE_WEIGHTS
    register = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta
    _INITIALISE_WEIGHTS = False
    try:
        yield
    finally:
        nn.Module.register_parameter = register
        _INITIALISE_WEIGHTS = True


class PreTrainedModel(nn.Module, ModelCardMixin, PushToHubMixin):
    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    main_input_name: ClassVar[str] = "input_ids"
    # Canonical names that share storage with another weight (dropped on save, never "missing").
    _tied_weights_keys: ClassVar[list[str]] = []
    # Canonical names that always alias another weight of the model (e.g. an LM decoder's bias).
    _shared_weights_keys: ClassVar[list[str]] = []
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = []
    _keys_to_ignore_on_load_missing: ClassVar[list[str]] = []
    framework: ClassVar[str] = "pt"

    def __init__(self, config: PretrainedConfig, *args: Any, **kwargs: Any):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise ConfigError(
                f"{type(self).__name__} expects a PretrainedConfig, got {type(config).__name__}. "
                f"Build one with {self.config_class.__name__}(...) or load it with .from_pretrained(...)."
            )
        self.config = config

    # -- construction ----------------------------------------------------------------------
    def post_init(self) -> None:
        """Called at the end of every model's __init__: initialise weights, prune, tie."""
        if _INITIALISE_WEIGHTS:
            self.apply(self._init_weights)
        if self.config.pruned_heads:
            self.prune_heads(self.config.pruned_heads)
        self.tie_weights()

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range) for linear and embedding weights, as BERT-family models do."""
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(p.dtype for p in self.parameters() if p.is_floating_point())

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        skip = set()
        if exclude_embeddings:
            skip = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        return sum(p.numel() for p in self.parameters() if id(p) not in skip and (p.requires_grad or not only_trainable))

    # -- embeddings ------------------------------------------------------------------------
    def get_input_embeddings(self) -> nn.Embedding:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must define get_input_embeddings")
        return base.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must define set_input_embeddings")
        base.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear | None:
        return None

    def tie_weights(self) -> None:
        """Point the output embeddings at the input embeddings; let modules re-tie their own aliases."""
        output = self.get_output_embeddings()
        if output is not None and getattr(self.config, "tie_word_embeddings", True):
            output.weight = self.get_input_embeddings().weight
        for module in self.modules():
            if hasattr(module, "_tie_weights"):
                module._tie_weights()

    def resize_token_embeddings(
        self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None, mean_resizing: bool = True
    ) -> nn.Embedding:
        """Grow or shrink the vocabulary; old rows kept, new rows drawn around the old rows' mean."""
        old = self.get_input_embeddings()
        if new_num_tokens is None and pad_to_multiple_of is None:
            return old
        new_num_tokens = old.num_embeddings if new_num_tokens is None else new_num_tokens
        if pad_to_multiple_of is not None:
            new_num_tokens = math.ceil(new_num_tokens / pad_to_multiple_of) * pad_to_multiple_of
        if new_num_tokens < 1:
            raise InputError(f"new_num_tokens must be positive, got {new_num_tokens}.")
        new = nn.Embedding(new_num_tokens, old.embedding_dim, padding_idx=old.padding_idx, device=old.weight.device, dtype=old.weight.dtype)
        keep = min(old.num_embeddings, new_num_tokens)
        with torch.no_grad():
            new.weight[:keep] = old.weight[:keep]
            if new_num_tokens > keep:
                new.weight[keep:] = _new_rows(old.weight, new_num_tokens - keep, mean_resizing, self.config)
        self.set_input_embeddings(new)
        output = self.get_output_embeddings()
        if output is not None and getattr(output, "bias", None) is not None:
            bias = torch.zeros(new_num_tokens, dtype=output.bias.dtype, device=output.bias.device)
            bias[:keep] = output.bias.data[:keep]
            self._replace_parameter(output.bias, nn.Parameter(bias))
        if output is not None and not getattr(self.config, "tie_word_embeddings", True):
            new_output = nn.Linear(old.embedding_dim, new_num_tokens, bias=output.bias is not None, device=output.weight.device, dtype=output.weight.dtype)
            with torch.no_grad():
                new_output.weight[:keep] = output.weight[:keep]
                if new_num_tokens > keep:
                    new_output.weight[keep:] = _new_rows(output.weight, new_num_tokens - keep, mean_resizing, self.config)
            output.weight = new_output.weight
        self.config.vocab_size = new_num_tokens
        self.tie_weights()
        return self.get_input_embeddings()

    def _replace_parameter(self, old: nn.Parameter, new: nn.Parameter) -> None:
        """Swap every reference to `old` in the module tree (aliases included) for `new`."""
        for module in self.modules():
            for name, param in module._parameters.items():
                if param is old:
                    module._parameters[name] = new

    # -- pruning -----------------------------------------------------------------------------
    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        for layer, heads in heads_to_prune.items():
            union = sorted(set(self.config.pruned_heads.get(int(layer), [])) | set(heads))
            self.config.pruned_heads[int(layer)] = union
        self.base_model._prune_heads({int(k): list(v) for k, v in heads_to_prune.items()})

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any) -> PreTrainedModel:
        dtype = resolve_torch_dtype(kwargs.pop("torch_dtype", None))
        model = cls(config, **kwargs)
        return model.to(dtype) if dtype is not None else model

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: PretrainedConfig | str | os.PathLike | None = None,
        torch_dtype: Any = None,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        **kwargs: Any,
    ) -> PreTrainedModel | tuple[PreTrainedModel, dict[str, list]]:
        """Build the model without initialising its weights, then fill them from the checkpoint.

        Weights come from the memory-mapped file without a copy when their dtype is kept;
        only weights the checkpoint lacks are initialised (and reported).
        """
        torch_dtype = kwargs.pop("dtype", torch_dtype)
        options = HubOptions.pop_from(kwargs)
        config = resolve_config(cls.config_class, pretrained_model_name_or_path, config, options, kwargs)
        with open_canonical(pretrained_model_name_or_path, options) as reader:
            dtype = _choose_dtype(torch_dtype, config, reader)
            with init_empty_weights():
                model = cls(config, *model_args)
            info = model._load_from_reader(reader, dtype, ignore_mismatched_sizes, os.fspath(pretrained_model_name_or_path))
        model.eval()
        if output_loading_info:
            return model, info.as_dict()
        return model

    def _load_from_reader(self, reader: CheckpointReader, dtype: torch.dtype, ignore_mismatched_sizes: bool, source: str) -> LoadingInfo:
        state = self.state_dict(keep_vars=True)
        expected = {k: tuple(v.shape) for k, v in state.items()}
        plan = plan_loading(
            expected,
            {k: reader.shape(k) for k in reader},
            base_model_prefix=self.base_model_prefix,
            tied_keys=self._tied_keys_in_use(),
            ignore_unexpected=self._keys_to_ignore_on_load_unexpected,
            ignore_missing=self._keys_to_ignore_on_load_missing,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
            model_name=type(self).__name__,
            source=source,
        )
        aliases = set(self._tied_keys_in_use())
        for key, ckpt_key in plan.sources.items():
            if key in aliases:  # re-tied below, never loaded twice
                continue
            tensor = numpy_to_torch(reader[ckpt_key])
            if tensor.is_floating_point() and tensor.dtype != dtype:
                tensor = tensor.to(dtype)
            self._set_tensor(key, tensor)
        self.tie_weights()
        self._materialise_missing(dtype)
        self.tie_weights()
        report(plan.info, type(self).__name__, source)
        return plan.info

    def _tied_keys_in_use(self) -> list[str]:
        tied = self._tied_weights_keys if getattr(self.config, "tie_word_embeddings", True) else []
        return [*tied, *self._shared_weights_keys]

    def _set_tensor(self, key: str, tensor: torch.Tensor) -> None:
        module_path, _, name = key.rpartition(".")
        module = self.get_submodule(module_path)
        if name in module._parameters:
            module._parameters[name] = nn.Parameter(tensor, requires_grad=module._parameters[name].requires_grad)
        else:
            module._buffers[name] = tensor

    def _materialise_missing(self, dtype: torch.dtype) -> None:
        """Give every parameter still on the meta device real memory and its initial values."""
        for module in self.modules():
            empty = [n for n, p in module._parameters.items() if p is not None and p.device.type == "meta"]
            if not empty:
                continue
            loaded = {n: p for n, p in module._parameters.items() if p is not None and n not in empty}
            for name in empty:
                meta = module._parameters[name]
                # zeros, not empty: a parameter `_init_weights` does not know (a head's own bias) starts at 0
                module._parameters[name] = nn.Parameter(
                    torch.zeros(meta.shape, dtype=dtype if meta.is_floating_point() else meta.dtype), requires_grad=meta.requires_grad
                )
            with torch.no_grad():
                self._init_weights(module)
                for name, param in loaded.items():
                    module._parameters[name] = param
        # Tied outputs point at a meta tensor until re-tied.
        self.tie_weights()

    # -- saving ------------------------------------------------------------------------------------
    def canonical_state_dict(self) -> dict[str, np.ndarray]:
        """The weights under canonical names as numpy arrays, tied duplicates left out."""
        tied = set(self._tied_keys_in_use())
        return {k: torch_to_numpy(v) for k, v in self.state_dict().items() if k not in tied}

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        max_shard_size: int | str = "5GB",
        is_main_process: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        safe_serialization: bool = True,
        **kwargs: Any,
    ) -> None:
        if state_dict is None:
            tensors = self.canonical_state_dict()
        else:
            tied = set(self._tied_keys_in_use())
            tensors = {k: torch_to_numpy(v) for k, v in state_dict.items() if k not in tied}
        write_pretrained(
            save_directory, self.config, type(self).__name__, str(self.dtype).removeprefix("torch."), tensors,
            max_shard_size=max_shard_size, is_main_process=is_main_process, safe_serialization=safe_serialization,
        )



def _new_rows(weight: torch.Tensor, count: int, mean_resizing: bool, config: PretrainedConfig) -> torch.Tensor:
    """`new_embedding_rows` drawn from a generator seeded by torch's RNG, so torch.manual_seed governs it."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
    rows = new_embedding_rows(
        weight.detach().float().cpu().numpy(), count, mean_resizing, getattr(config, "initializer_range", 0.02), rng
    )
    return torch.from_numpy(rows).to(device=weight.device, dtype=weight.dtype)


def _choose_dtype(requested: Any, config: PretrainedConfig, reader: CheckpointReader) -> torch.dtype:
    return resolve_torch_dtype(requested_dtype_name(requested, config, reader)) or torch.float32
