"""`PreTrainedModel`: the torch base class every rosetta PyTorch model derives from."""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
import torch.utils.checkpoint
from torch import nn

from ...convert.formats.base import bfloat16_dtype
from ...convert.pretrained import PretrainedModelBase, constructor_keywords
from ...core.configuration import PretrainedConfig
from ...core.errors import ConfigError, InputError
from ...core.inputs import CHECKED_INPUTS, InputView, check_model_inputs
from ...core.weights import new_embedding_rows, record_pruned_heads, resized_vocab_size
from .pytorch_utils import is_compiling, place_on_devices

_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}


def resolve_torch_dtype(dtype: Any) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ConfigError(f"Unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)} or 'auto'.")
    return _DTYPES[name]


def numpy_to_torch(array: np.ndarray) -> torch.Tensor:
    """A torch tensor sharing the numpy array's memory (bfloat16 included)."""
    contiguous = np.ascontiguousarray(array).reshape(array.shape)  # ascontiguousarray makes a 0-d array 1-d
    if array.dtype == np.uint16 or array.dtype.name == "bfloat16":
        contiguous = contiguous.view(np.int16)
    with warnings.catch_warnings():
        # A read-only memory-mapped checkpoint: torch warns that writing would be undefined; the
        # map is copy-on-write, so a write stays private to this process.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.from_numpy(contiguous)
    return tensor.view(torch.bfloat16) if contiguous.dtype == np.int16 and array.dtype != np.int16 else tensor


def torch_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        raw = tensor.view(torch.int16).numpy()
        bfloat16 = bfloat16_dtype()
        return raw.view(bfloat16) if bfloat16 is not None else raw.view(np.uint16)
    return tensor.numpy()


_INITIALISE_WEIGHTS = True
_IN_MODEL_CALL = threading.local()  # set while the outermost model's call runs: inner models skip the check


def _skip_input_checks() -> bool:
    """Compiling, tracing or CUDA-graph capturing: the checks would break or be baked into the graph."""
    capturing = torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing()
    nested = getattr(_IN_MODEL_CALL, "on", False)
    return is_compiling() or torch.jit.is_tracing() or capturing or nested


def torch_input_view(tensor: torch.Tensor) -> InputView:
    """Shape, dtype kind and (for integer tensors) a one-sync (min, max) on the tensor's own device."""
    if tensor.dtype == torch.bool:
        kind = "b"
    elif tensor.is_floating_point() or tensor.is_complex():
        kind = "c" if tensor.is_complex() else "f"
    else:
        kind = "i"

    def bounds() -> tuple[float, float]:
        low, high = torch.stack([tensor.min(), tensor.max()]).tolist()
        return low, high

    has_values = kind == "i" and tensor.numel() > 0 and tensor.device.type != "meta"
    return InputView(tuple(tensor.shape), kind, bounds if has_values else None)


@functools.cache
def _forward_names(cls: type) -> tuple[str, ...]:
    return tuple(list(inspect.signature(cls.forward).parameters)[1:])


@contextlib.contextmanager
def init_empty_weights() -> Iterator[None]:
    """Build modules with parameters on the meta device: shapes only, no memory, no init.

    Buffers stay real (they are small, and non-persistent ones such as position ids are
    never in a checkpoint to be filled from). The layers' own `reset_parameters` initialisers
    are skipped: on meta tensors they would only cost time (and import torch._dynamo, ~1 s).
    """
    global _INITIALISE_WEIGHTS
    register = nn.Module.register_parameter
    initialisers = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS}

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta
    for name in initialisers:
        setattr(nn.init, name, _skip_init)
    _INITIALISE_WEIGHTS = False
    try:
        yield
    finally:
        nn.Module.register_parameter = register
        for name, function in initialisers.items():
            setattr(nn.init, name, function)
        _INITIALISE_WEIGHTS = True


_INIT_FUNCTIONS = (
    "normal_",
    "uniform_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "trunc_normal_",
    "zeros_",
    "ones_",
    "constant_",
    "orthogonal_",
)


def _skip_init(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor


class PreTrainedModel(PretrainedModelBase, nn.Module):
    framework: ClassVar[str] = "torch"
    _attn_implementations: ClassVar[tuple[str, ...]] = ("sdpa", "eager")

    def __init__(self, config: PretrainedConfig, *args: Any, **kwargs: Any):
        super().__init__()
        self.config = self._check_config(config)
        if getattr(config, "_attn_implementation", None) is None:
            self._set_attn_implementation(config, None)

    # -- calling -----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Check the inputs (`rosetta.core.inputs`) outside any compiled graph, then run `forward`."""
        if _skip_input_checks():
            return super().__call__(*args, **kwargs)
        self._check_inputs(args, kwargs)
        _IN_MODEL_CALL.on = True
        try:
            return super().__call__(*args, **kwargs)
        finally:
            _IN_MODEL_CALL.on = False

    def _check_inputs(self, args: tuple, kwargs: dict[str, Any]) -> None:
        inputs = {**dict(zip(_forward_names(type(self)), args)), **kwargs}
        views = {
            name: torch_input_view(value) if isinstance(value, torch.Tensor) else value
            for name, value in inputs.items()
            if name in CHECKED_INPUTS
        }
        views.update((name, inputs[name]) for name in ("past_key_values", "cache") if name in inputs)
        check_model_inputs(self.config, type(self).__name__, views, max_length=self._max_input_length())

    def _max_input_length(self) -> int | None:
        """The longest sequence this model takes; None: `config.max_position_embeddings`. A model whose
        position ids start at an offset (RoBERTa: `pad_token_id + 1`) overrides this."""
        return None

    # -- construction ----------------------------------------------------------------------
    def post_init(self) -> None:
        """Called at the end of every model's __init__: initialise weights, prune, tie."""
        if _INITIALISE_WEIGHTS:
            self.apply(self._init_weights)
        if self.config.pruned_heads:
            self.prune_heads(self.config.pruned_heads)
        self.tie_weights()
        if getattr(
            self.config, "gradient_checkpointing", False
        ):  # the config switch, as transformers reads it
            self.gradient_checkpointing_enable()

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range) for linear and embedding weights, as BERT-family models do."""
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
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

    @property
    def weights_dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        skip = set()
        if exclude_embeddings:
            skip = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        return sum(
            p.numel()
            for p in self.parameters()
            if id(p) not in skip and (p.requires_grad or not only_trainable)
        )

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
        self,
        new_num_tokens: int | None = None,
        pad_to_multiple_of: int | None = None,
        mean_resizing: bool = True,
    ) -> nn.Embedding:
        """Grow or shrink the vocabulary; old rows kept, new rows drawn around the old rows' mean."""
        old = self.get_input_embeddings()
        new_num_tokens = resized_vocab_size(old.num_embeddings, new_num_tokens, pad_to_multiple_of)
        if new_num_tokens is None:
            return old
        new = nn.Embedding(
            new_num_tokens,
            old.embedding_dim,
            padding_idx=old.padding_idx,
            device=old.weight.device,
            dtype=old.weight.dtype,
        )
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
            new_output = type(output)(
                old.embedding_dim,
                new_num_tokens,
                bias=output.bias is not None,
                device=output.weight.device,
                dtype=output.weight.dtype,
            )
            with torch.no_grad():
                new_output.weight[:keep] = output.weight[:keep]
                if new_num_tokens > keep:
                    new_output.weight[keep:] = _new_rows(
                        output.weight, new_num_tokens - keep, mean_resizing, self.config
                    )
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
        record_pruned_heads(self.config, heads_to_prune)
        self.base_model._prune_heads({int(k): list(v) for k, v in heads_to_prune.items()})

    # -- the hooks of PretrainedModelBase -----------------------------------------------------------
    @classmethod
    def _resolve_dtype(cls, dtype: Any) -> torch.dtype | None:
        return resolve_torch_dtype(dtype)

    @classmethod
    def _constructor_keywords(cls) -> set[str]:
        return constructor_keywords(cls.__init__)

    @classmethod
    def _build_empty(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ) -> PreTrainedModel:
        with init_empty_weights():
            return cls(config, *model_args, **model_kwargs)

    @classmethod
    def _build_initialised(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ) -> PreTrainedModel:
        model = cls(config, *model_args, **model_kwargs)
        return model.to(dtype) if dtype is not None else model

    def _weight_layouts(self) -> dict[str, tuple[tuple[int, ...], str]]:
        kinds = {}
        for prefix, module in self.named_modules():
            kind = next((_MODULE_LAYOUTS[c] for c in type(module).__mro__ if c in _MODULE_LAYOUTS), None)
            if kind is not None:
                kinds[f"{prefix}.weight" if prefix else "weight"] = kind
        return {
            name: (tuple(tensor.shape), self.layout_of(name, kinds.get(name, "identity")))
            for name, tensor in self.state_dict(keep_vars=True).items()
        }

    def _assign(self, name: str, array: np.ndarray, layout: str, dtype: torch.dtype | None) -> None:
        tensor = numpy_to_torch(array)  # canonical layout is torch's own: no transpose
        dtype = dtype or torch.float32
        if tensor.is_floating_point() and tensor.dtype != dtype:
            tensor = tensor.to(dtype)
        self._set_tensor(name, tensor)

    def _initialise_missing(self, names: Any, dtype: torch.dtype | None) -> None:
        self.tie_weights()
        self._materialise_missing(dtype or torch.float32)
        self.tie_weights()
        self.eval()

    def _to_native(self, value: Any) -> torch.Tensor:
        return numpy_to_torch(np.asarray(value)).to(self.device)

    def _to_numpy(self, value: Any) -> Any:
        return torch_to_numpy(value) if isinstance(value, torch.Tensor) else value

    def _call_for_numpy(self, native: dict[str, Any], **kwargs: Any) -> Any:
        with torch.no_grad():
            return self(**native, **kwargs)

    def _place(self, device_map: Any) -> None:
        place_on_devices(self, device_map)

    def _set_tensor(self, key: str, tensor: torch.Tensor) -> None:
        module_path, _, name = key.rpartition(".")
        module = self.get_submodule(module_path)
        if name in module._parameters:
            module._parameters[name] = nn.Parameter(
                tensor, requires_grad=module._parameters[name].requires_grad
            )
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
                    torch.zeros(meta.shape, dtype=dtype if meta.is_floating_point() else meta.dtype),
                    requires_grad=meta.requires_grad,
                )
            with torch.no_grad():
                self._init_weights(module)
                for name, param in loaded.items():
                    module._parameters[name] = param
        # Tied outputs point at a meta tensor until re-tied.
        self.tie_weights()

    # -- memory ------------------------------------------------------------------------------------
    def _set_gradient_checkpointing(self, enabled: bool) -> None:
        """Sets `gradient_checkpointing` on every submodule: the layer loops read it (`checkpointed_call`)."""
        for module in self.modules():
            module.gradient_checkpointing = enabled

    # -- saving ------------------------------------------------------------------------------------
    def canonical_state_dict(self) -> dict[str, np.ndarray]:
        """The weights under canonical names as numpy arrays, tied duplicates left out."""
        tied = set(self._tied_keys_in_use())
        return {k: torch_to_numpy(v) for k, v in self.state_dict().items() if k not in tied}


def checkpointed_call(owner: nn.Module, layer: Callable[..., Any], *args: Any, cache: Any = None) -> Any:
    """`layer(*args)`, its activations recomputed in the backward pass when `owner` (the layer loop) has
    gradient checkpointing on and trains with gradients enabled (`torch.utils.checkpoint`, RNG state kept).

    A KV cache written in place cannot be recomputed: training with one and checkpointing is refused, as
    transformers refuses `use_cache=True` there.
    """
    if not (getattr(owner, "gradient_checkpointing", False) and owner.training and torch.is_grad_enabled()):
        return layer(*args)
    if cache is not None:
        raise InputError(
            "A KV cache (past_key_values) cannot be used while training with gradient checkpointing: the "
            "recomputed layers would write it twice. Call model.eval() or model.gradient_checkpointing_disable() "
            "to decode with a cache, or train without past_key_values."
        )
    return torch.utils.checkpoint.checkpoint(layer, *args, use_reentrant=False)


_MODULE_LAYOUTS = {nn.Linear: "linear", nn.Conv1d: "conv1d", nn.Conv2d: "conv2d", nn.Conv3d: "conv3d"}


def _new_rows(
    weight: torch.Tensor, count: int, mean_resizing: bool, config: PretrainedConfig
) -> torch.Tensor:
    """`new_embedding_rows` drawn from a generator seeded by torch's RNG, so torch.manual_seed governs it."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
    rows = new_embedding_rows(
        weight.detach().float().cpu().numpy(),
        count,
        mean_resizing,
        getattr(config, "initializer_range", 0.02),
        rng,
    )
    return torch.from_numpy(rows).to(device=weight.device, dtype=weight.dtype)
