"""The framework-free base of every model class: `from_pretrained`, `from_config`, `save_pretrained`,
`push_to_hub` and every keyword they take, once, for the three backends.

A backend base class (`PreTrainedModel`, `TFPreTrainedModel`, `FlaxPreTrainedModel`) derives from
`PretrainedModelBase` and answers a few small questions; the skeleton of a load is here:

    config (given, or read) -> open the checkpoint under canonical names -> choose the dtype
    -> build the model without initialising its weights (`_build_empty`)
    -> plan which checkpoint tensor fills which weight (`_expected_shapes`, `plan_loading`)
    -> assign each tensor (`_assign`), initialise the rest (`_initialise_missing`) -> report.

Keywords a user of the field writes are either honoured or refused by name: nothing unknown is
written into the next `config.json`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ..core.configuration import PretrainedConfig
from ..core.errors import ConfigError, InputError
from ..core.frameworks import FRAMEWORKS
from ..core.generation_config import GENERATION_CONFIG_NAME, GenerationConfig
from ..core.hub import HubOptions, PushToHubMixin, resolve_file
from ..core.model_card import render_model_card
from ..core.outputs import ModelOutput
from .formats.journal import reading
from .loading import (
    LoadingInfo,
    check_config_fits,
    open_canonical,
    plan_loading,
    report,
    requested_dtype_name,
    write_pretrained,
)

# Keywords of transformers' from_pretrained that rosetta does not do, and why (refused by name).
_REFUSED_KEYWORDS = {
    "load_in_8bit": "rosetta does not quantise weights; load in float16 or bfloat16 with dtype=",
    "load_in_4bit": "rosetta does not quantise weights; load in float16 or bfloat16 with dtype=",
    "quantization_config": "rosetta does not quantise weights; load in float16 or bfloat16 with dtype=",
    "trust_remote_code": "rosetta never runs code from a checkpoint; its architectures are its own",
    "use_safetensors": "rosetta always prefers safetensors and reads other formats only without executing code",
    "variant": "checkpoint variants (model.<variant>.safetensors) are not supported",
    "offload_folder": "weight offloading is not supported",
    "max_memory": "device_map='auto' places the whole model on one device; max_memory is not supported",
}
# Accepted for compatibility: rosetta reads every format without being told which.
_FORMAT_FLAGS = ("from_pt", "from_tf", "from_flax")
_DTYPE_KEYWORDS = ("dtype", "torch_dtype")


def pop_dtype(kwargs: dict[str, Any]) -> Any:
    """`dtype=` or its older spelling `torch_dtype=` (both accepted everywhere; refused if they disagree)."""
    given = {k: kwargs.pop(k) for k in _DTYPE_KEYWORDS if k in kwargs}
    values = {str(v) for v in given.values() if v is not None}
    if len(values) > 1:
        raise InputError(
            f"dtype={given['dtype']!r} and torch_dtype={given['torch_dtype']!r} disagree; pass one of them."
        )
    return next((v for v in given.values() if v is not None), None)


class PretrainedModelBase(PushToHubMixin):
    """What every rosetta model has, whatever its framework."""

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    main_input_name: ClassVar[str] = "input_ids"
    framework: ClassVar[str] = "torch"  # a key of rosetta.core.frameworks.FRAMEWORKS
    # Canonical names that share storage with another weight (left out on save, never "missing").
    _tied_weights_keys: ClassVar[list[str]] = []
    # Canonical names that always alias another weight of the model (e.g. an LM decoder's bias).
    _shared_weights_keys: ClassVar[list[str]] = []
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = []
    _keys_to_ignore_on_load_missing: ClassVar[list[str]] = []
    # Canonical name -> canonical name, applied after the generic rules of rosetta.convert.mapping.
    _canonical_renames: ClassVar[dict[str, str]] = {}
    # Canonical-name regex -> layout ("identity", "linear", "conv1d", ...), overriding the layout the
    # generic rules give (e.g. GPT-2's Conv1D stores [in, out], the identity of a Dense kernel).
    _layout_overrides: ClassVar[dict[str, str]] = {}
    # attn_implementation values this backend honours (the first is the default).
    _attn_implementations: ClassVar[tuple[str, ...]] = ("eager",)
    # Whether the model's layer loop recomputes its layers when gradient checkpointing is on (each
    # backend's loop helper: torch/TF `checkpointed_call`, Flax `FlaxModuleList`).
    supports_gradient_checkpointing: ClassVar[bool] = False

    # -- gradient checkpointing ----------------------------------------------------------------
    def gradient_checkpointing_enable(self) -> None:
        """Recompute each layer's activations in the backward pass instead of keeping them, while training.

        Gradients are unchanged; activation memory drops to one layer's worth plus each layer's input. The
        backend's `_set_gradient_checkpointing` switches the layer loop (torch: `torch.utils.checkpoint`; TF:
        `tf.recompute_grad`, in calls with `training=True`; Flax: `nn.remat`, compiled anew).
        """
        self._check_gradient_checkpointing()
        self._set_gradient_checkpointing(True)

    def gradient_checkpointing_disable(self) -> None:
        """Keep every activation again (the default)."""
        self._set_gradient_checkpointing(False)

    @property
    def is_gradient_checkpointing(self) -> bool:
        return bool(getattr(self, "gradient_checkpointing", False))

    def _check_gradient_checkpointing(self) -> None:
        if not self.supports_gradient_checkpointing:
            raise ConfigError(
                f"{type(self).__name__} does not support gradient checkpointing: its layer loop does not "
                "recompute. Train it without gradient checkpointing (and config.gradient_checkpointing False)."
            )

    # -- hooks a backend implements -----------------------------------------------------------
    def _set_gradient_checkpointing(self, enabled: bool) -> None:
        """Switch the layer loop's recomputation on or off (torch, TF and Flax each implement it)."""
        raise NotImplementedError

    @classmethod
    def _resolve_dtype(cls, dtype: Any) -> Any:
        """The backend's dtype for a name or dtype object (None: the default); unknown names refused."""
        raise NotImplementedError

    @classmethod
    def _build_empty(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ):
        """The model with its weights' shapes but none of their values (filled by `_assign`)."""
        raise NotImplementedError

    @classmethod
    def _build_initialised(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ):
        raise NotImplementedError

    def _weight_layouts(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Canonical name -> (canonical shape, layout) of every weight, tied duplicates included."""
        raise NotImplementedError

    def _assign(self, name: str, array: np.ndarray, layout: str, dtype: Any) -> None:
        """Fill weight `name` from `array` (canonical layout, possibly a memory-mapped view)."""
        raise NotImplementedError

    def _initialise_missing(self, names: Sequence[str], dtype: Any) -> None:
        """Give the weights the checkpoint lacked their initial values; then tie what is tied."""
        raise NotImplementedError

    def canonical_state_dict(self) -> dict[str, np.ndarray]:
        """The weights under canonical names, in PyTorch layouts, as numpy; tied duplicates left out."""
        raise NotImplementedError

    @property
    def weights_dtype_name(self) -> str:
        """'float32', 'float16' or 'bfloat16': the dtype of the floating weights."""
        raise NotImplementedError

    def _to_native(self, value: Any) -> Any:
        """An input array as this framework's tensor."""
        raise NotImplementedError

    def _to_numpy(self, value: Any) -> Any:
        raise NotImplementedError

    def _set_placement(self, mesh: Any, partition_rules: Any, fsdp: bool) -> None:
        """Place the weights on a device mesh as they load (`from_pretrained(mesh=...)`); JAX/Flax only."""
        raise InputError(
            f"mesh= is a JAX option; {type(self).__name__} is a {FRAMEWORKS[self.framework].display_name} model. "
            "Shard it with the framework's own engine instead (see docs/distributed.md)."
        )

    def _place(self, device_map: Any) -> None:
        raise InputError(
            f"device_map is a PyTorch option; {type(self).__name__} is a {FRAMEWORKS[self.framework].display_name} model. "
            "Place it with the framework's own device scope instead."
        )

    # -- shared behaviour -----------------------------------------------------------------------
    @classmethod
    def canonical_layouts(cls, config: PretrainedConfig) -> dict[str, tuple[tuple[int, ...], str]]:
        """Canonical name -> (canonical shape, layout) of what a checkpoint of this model holds,
        learnt without allocating the weights where the framework allows it."""
        model = cls._build_empty(config, None, (), {})
        tied = set(model._tied_keys_in_use())
        return {name: spec for name, spec in model._weight_layouts().items() if name not in tied}

    @classmethod
    def layout_of(cls, name: str, layout: str) -> str:
        for pattern, override in cls._layout_overrides.items():
            if re.search(pattern, name):
                return override
        return layout

    def _tied_keys_in_use(self) -> list[str]:
        tied = self._tied_weights_keys if getattr(self.config, "tie_word_embeddings", True) else []
        return [*tied, *self._shared_weights_keys]

    def numpy_call(self, inputs: Mapping[str, Any], **kwargs: Any) -> ModelOutput:
        """Run the model on numpy (or array-like) inputs; the output's tensors come back as numpy."""
        native = {k: self._to_native(np.asarray(v)) for k, v in inputs.items() if v is not None}
        output = self._call_for_numpy(native, **kwargs)
        if not isinstance(output, ModelOutput):
            raise InputError("numpy_call needs return_dict=True.")
        return type(output)(**{k: _map_nested(self._to_numpy, v) for k, v in output.items()})

    def _call_for_numpy(self, native: dict[str, Any], **kwargs: Any) -> Any:
        return self(**native, **kwargs)

    # -- from_config ------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: PretrainedConfig, *model_args: Any, **kwargs: Any):
        """A freshly initialised model. `dtype` (or `torch_dtype`) and `attn_implementation` as in
        from_pretrained; other keywords go to the model's constructor."""
        config = cls._check_config(config)
        dtype = cls._resolve_dtype(pop_dtype(kwargs))
        cls._set_attn_implementation(config, kwargs.pop("attn_implementation", None))
        model = cls._build_initialised(config, dtype, model_args, kwargs)
        if cls.can_generate():
            model.generation_config = GenerationConfig.from_model_config(config)
        return model

    @classmethod
    def _check_config(cls, config: Any) -> PretrainedConfig:
        if isinstance(config, Mapping):  # keras.Model.from_config(get_config())
            config = cls.config_class.from_dict(dict(config))
        if not isinstance(config, PretrainedConfig):
            raise ConfigError(
                f"{cls.__name__} expects a PretrainedConfig, got {type(config).__name__}. "
                f"Build one with {cls.config_class.__name__}(...) or load it with .from_pretrained(...)."
            )
        return config

    @classmethod
    def _set_attn_implementation(cls, config: PretrainedConfig, value: str | None) -> None:
        if value is None:
            value = getattr(config, "_attn_implementation", None) or cls._attn_implementations[0]
        if value not in cls._attn_implementations:
            raise InputError(
                f"attn_implementation={value!r} is not available for {cls.__name__}; "
                f"it supports {', '.join(map(repr, cls._attn_implementations))}."
            )
        config._attn_implementation = value

    # -- from_pretrained --------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any
    ):
        """Build the model without initialising its weights, then fill them from the checkpoint.

        Keywords: `config`, `dtype`/`torch_dtype` ("auto": the checkpoint's), `revision`,
        `cache_dir`, `local_files_only`, `token`, `subfolder`, `ignore_mismatched_sizes`,
        `output_loading_info`, `attn_implementation`, `device_map` (PyTorch), `mesh` with
        `partition_rules` and `fsdp` (JAX: each parameter placed on the mesh as it loads); names of config
        fields override them (`num_labels=3`); the model constructor's own keywords pass to it.
        Anything else is refused by name.
        """
        source = os.fspath(pretrained_model_name_or_path)
        config = kwargs.pop("config", None)
        dtype = pop_dtype(kwargs)
        ignore_mismatched_sizes = kwargs.pop("ignore_mismatched_sizes", False)
        output_loading_info = kwargs.pop("output_loading_info", False)
        attn_implementation = kwargs.pop("attn_implementation", None)
        device_map = kwargs.pop("device_map", None)
        placement = _pop_placement(kwargs)
        generation_config = kwargs.pop("generation_config", None) if cls.can_generate() else None
        for flag in _FORMAT_FLAGS:
            kwargs.pop(flag, None)
        gguf_file = kwargs.pop("gguf_file", None)
        options = HubOptions.pop_from(kwargs)
        cls._refuse_unsupported(kwargs)
        if gguf_file is not None:  # config and weights from the GGUF's metadata and tensors, dequantised
            config, reader = cls._open_gguf(pretrained_model_name_or_path, gguf_file, config, options)
        else:
            with reading(os.path.join(source, options.subfolder)):  # the config and the weights of one save
                config = cls._resolve_config(pretrained_model_name_or_path, config, options)
                reader = open_canonical(pretrained_model_name_or_path, options)
        overrides, model_kwargs = cls._split_kwargs(config, kwargs)
        for key, value in overrides.items():
            setattr(config, key, value)
        cls._set_attn_implementation(config, attn_implementation)
        with reader:
            if not ignore_mismatched_sizes:
                check_config_fits(config, {k: reader.shape(k) for k in reader}, source)
            dtype = cls._resolve_dtype(requested_dtype_name(dtype, config, reader))
            model = cls._build_empty(config, dtype, model_args, model_kwargs)
            if placement is not None:
                model._set_placement(*placement)
            info = model._load_from_reader(reader, dtype, ignore_mismatched_sizes, source)
        if cls.can_generate():
            model.generation_config = generation_config or _generation_config(
                pretrained_model_name_or_path, config, options
            )
        if device_map is not None:
            model._place(device_map)
        if output_loading_info:
            return model, info.as_dict()
        return model

    @classmethod
    def can_generate(cls) -> bool:
        """Whether the model has `generate` (its generation_config.json is then loaded and saved with it)."""
        return callable(getattr(cls, "generate", None))

    @classmethod
    def _refuse_unsupported(cls, kwargs: dict[str, Any]) -> None:
        for key in kwargs:
            if key in _REFUSED_KEYWORDS:
                raise InputError(
                    f"{cls.__name__}.from_pretrained does not support {key}=: {_REFUSED_KEYWORDS[key]}."
                )
        if "generation_config" in kwargs and not cls.can_generate():
            raise InputError(f"{cls.__name__} does not generate, so it takes no generation_config=.")

    @classmethod
    def _open_gguf(
        cls, path: Any, gguf_file: str, config: Any, options: HubOptions
    ) -> tuple[PretrainedConfig, Any]:
        from .formats.gguf import open_gguf

        found = resolve_file(path, gguf_file, options)
        config_dict, reader = open_gguf(found)
        if not isinstance(config, PretrainedConfig):
            config = cls.config_class.from_dict(config_dict, source=found)
        return config, reader

    @classmethod
    def _resolve_config(
        cls, pretrained_model_name_or_path: Any, config: Any, options: HubOptions
    ) -> PretrainedConfig:
        if isinstance(config, PretrainedConfig):
            return config
        return cls.config_class.from_pretrained(
            config if config is not None else pretrained_model_name_or_path,
            revision=options.revision,
            cache_dir=options.cache_dir,
            local_files_only=options.local_files_only,
            token=options.token,
            subfolder=options.subfolder,
        )

    @classmethod
    def _split_kwargs(
        cls, config: PretrainedConfig, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Config overrides (names the config has) and constructor keywords; anything else refused."""
        accepted = cls._constructor_keywords()
        overrides, model_kwargs, unknown = {}, {}, []
        for key, value in kwargs.items():
            if key in accepted:
                model_kwargs[key] = value
            elif hasattr(config, key) and not key.startswith("_"):
                overrides[key] = value
            else:
                unknown.append(key)
        if unknown:
            raise InputError(
                f"{cls.__name__}.from_pretrained got unexpected keyword argument(s) {', '.join(map(repr, unknown))}: "
                f"they are neither loading options, nor fields of {type(config).__name__}, nor arguments of "
                f"{cls.__name__}. Check the spelling, or set the field on the config first."
            )
        return overrides, model_kwargs

    @classmethod
    def _constructor_keywords(cls) -> set[str]:
        """Keyword arguments the model's constructor takes besides the config."""
        return set()

    def _load_from_reader(
        self, reader: Any, dtype: Any, ignore_mismatched_sizes: bool, source: str
    ) -> LoadingInfo:
        layouts = self._weight_layouts()
        if not layouts:
            raise ConfigError(
                f"{type(self).__name__} has no weights after construction: its __init__ must end with self.post_init()."
            )
        plan = plan_loading(
            {name: shape for name, (shape, _) in layouts.items()},
            {k: reader.shape(k) for k in reader},
            base_model_prefix=self.base_model_prefix,
            tied_keys=self._tied_keys_in_use(),
            ignore_unexpected=self._keys_to_ignore_on_load_unexpected,
            ignore_missing=self._keys_to_ignore_on_load_missing,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
            model_name=type(self).__name__,
            source=source,
        )
        tied = set(self._tied_keys_in_use())
        for name, ckpt_key in plan.sources.items():
            if name in tied:  # re-tied after loading, never loaded twice
                continue
            self._assign(name, reader[ckpt_key], layouts[name][1], dtype)
            reader.release(ckpt_key)  # copied: the mapped pages need not stay resident
        self._initialise_missing([n for n in layouts if n not in plan.sources or n in tied], dtype)
        report(plan.info, type(self).__name__, source)
        return plan.info

    # -- saving -----------------------------------------------------------------------------------
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        is_main_process: bool = True,
        state_dict: Mapping[str, Any] | None = None,
        max_shard_size: int | str = "5GB",
        safe_serialization: bool = True,
        push_to_hub: bool = False,
        **push_kwargs: Any,
    ) -> None:
        """Write config.json and the canonical safetensors checkpoint every backend and transformers load.

        `state_dict`: canonical name -> tensor (any framework's, or numpy) to save instead of the
        model's own weights. `push_to_hub=True` then pushes the folder (`repo_id=`, default the
        folder's name; other keywords go to `push_to_hub`).
        """
        unknown = set(push_kwargs) - (
            {"repo_id", "commit_message", "private", "token", "revision", "create_pr", "verify"}
            if push_to_hub
            else set()
        )
        if unknown:
            raise InputError(
                f"save_pretrained got unexpected keyword argument(s) {', '.join(map(repr, sorted(unknown)))}."
            )
        if not is_main_process:
            return
        tensors = self._tensors_to_save(state_dict)
        generation_config = getattr(self, "generation_config", None) if self.can_generate() else None
        write_pretrained(
            save_directory,
            self.config,
            FRAMEWORKS["torch"].class_prefix
            + type(self).__name__.removeprefix(FRAMEWORKS[self.framework].class_prefix),
            self.weights_dtype_name,
            tensors,
            max_shard_size=max_shard_size,
            safe_serialization=safe_serialization,
            extra_files={GENERATION_CONFIG_NAME: generation_config.to_json_string()}
            if generation_config
            else None,
        )
        if push_to_hub:
            repo_id = push_kwargs.pop("repo_id", None) or os.path.basename(os.path.abspath(save_directory))
            self.push_to_hub(repo_id, **push_kwargs, max_shard_size=max_shard_size)

    def _tensors_to_save(self, state_dict: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
        if state_dict is None:
            return self.canonical_state_dict()
        tied = set(self._tied_keys_in_use())
        return {
            k: self._to_numpy(v) if not isinstance(v, np.ndarray) else v
            for k, v in state_dict.items()
            if k not in tied
        }

    def push_to_hub(self, repo_id: str, *args: Any, verify: bool = False, **kwargs: Any) -> Any:
        """Save and upload as one commit. With `verify=True`, the model card lists the frameworks
        `rosetta verify` confirmed on the pushed folder (it runs the model in each installed one)."""
        self._verify_card = verify
        try:
            return super().push_to_hub(repo_id, *args, **kwargs)
        finally:
            self._verify_card = False

    def _model_card(self, repo_id: str, folder: str) -> str:
        trained_in = FRAMEWORKS[self.framework].display_name
        if getattr(self, "_verify_card", False):
            from ..verify import model_card as verified_card  # runs the verifier: only when asked

            return verified_card(repo_id, self.config, trained_in, folder=folder, verify=True)
        return render_model_card(repo_id, self.config, trained_in)


def _pop_placement(kwargs: dict[str, Any]) -> tuple[Any, Any, bool] | None:
    """`mesh=`, `partition_rules=` and `fsdp=`: None when no mesh is given (the other two need one)."""
    mesh = kwargs.pop("mesh", None)
    rules = kwargs.pop("partition_rules", None)
    fsdp = kwargs.pop("fsdp", False)
    if mesh is None:
        if rules is not None or fsdp:
            raise InputError("partition_rules= and fsdp= place weights on a mesh: pass mesh= as well.")
        return None
    return mesh, rules, bool(fsdp)


def _generation_config(path: Any, config: PretrainedConfig, options: HubOptions) -> GenerationConfig:
    """The checkpoint's generation_config.json, or defaults from the model config when it has none."""
    found = resolve_file(path, GENERATION_CONFIG_NAME, options, required=False)
    return GenerationConfig.from_json_file(found) if found else GenerationConfig.from_model_config(config)


def constructor_keywords(init: Any) -> set[str]:
    """The keyword arguments a model's __init__ takes besides the config (none for **kwargs alone)."""
    import inspect

    parameters = list(inspect.signature(init).parameters.values())[2:]  # self, config
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _map_nested(fn: Any, value: Any) -> Any:
    if isinstance(value, ModelOutput):  # an output nested in another (a two-tower model's parts)
        return type(value)(**{k: _map_nested(fn, v) for k, v in value.items()})
    if isinstance(value, tuple):
        return tuple(_map_nested(fn, v) for v in value)
    if isinstance(value, list):
        return [_map_nested(fn, v) for v in value]
    return fn(value) if value is not None else None
