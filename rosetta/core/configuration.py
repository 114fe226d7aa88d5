"""`PretrainedConfig`: the framework-neutral description of a model, stored as config.json."""

from __future__ import annotations

import copy
import inspect
import json
import os
from typing import Any, ClassVar

from .errors import ConfigError
from .hub import HubOptions, PushToHubMixin, resolve_file
from .io import atomic_write_text
from .problem_type import PROBLEM_TYPES

CONFIG_NAME = "config.json"

# Common fields: name -> (default, accepted types). Special token ids may be None.
_COMMON_FIELDS: dict[str, tuple[Any, tuple[type, ...]]] = {
    "output_hidden_states": (False, (bool,)),
    "output_attentions": (False, (bool,)),
    "return_dict": (True, (bool,)),
    "problem_type": (None, (str, type(None))),
    "architectures": (None, (list, type(None))),
    "torch_dtype": (None, (str, type(None))),
    "tie_word_embeddings": (True, (bool,)),
    "is_decoder": (False, (bool,)),
    "pad_token_id": (None, (int, type(None))),
    "bos_token_id": (None, (int, type(None))),
    "eos_token_id": (None, (int, list, type(None))),
    "sep_token_id": (None, (int, type(None))),
    "decoder_start_token_id": (None, (int, type(None))),
    "finetuning_task": (None, (str, type(None))),
}

# The field's standard names for sizes: each must be a positive int wherever a config has it (directly or
# through `attribute_map`). Checked when a config is created or read, before any model allocates from it.
SIZE_FIELDS: tuple[str, ...] = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "head_dim",
    "num_experts",
    "num_experts_per_tok",
    "image_size",
    "patch_size",
    "num_channels",
    "num_mel_bins",
    "max_source_positions",
    "max_target_positions",
    "encoder_layers",
    "decoder_layers",
    "encoder_attention_heads",
    "decoder_attention_heads",
    "encoder_ffn_dim",
    "decoder_ffn_dim",
    "d_model",
    "projection_dim",
)


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


class _ValidatedOnCreation(type):
    """Checks every config once its whole `__init__` chain has run (subclasses set fields after super()).

    Sizes are checked on every creation; the head layout when the config is read (`from_dict`,
    `from_pretrained`), since code may build a config field by field as transformers allows.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        source = kwargs.pop("_config_source", None)
        config = super().__call__(*args, **kwargs)
        config._check_sizes(f" in {source}" if source else "")
        if source is not None:  # read from a file or dict: the head layout must be one a model can build
            config._check_head_counts(f" in {source}")
        return config


class PretrainedConfig(PushToHubMixin, metaclass=_ValidatedOnCreation):
    """Base class of every model config.

    Subclasses declare their own fields as keyword arguments of `__init__` (with defaults)
    and pass the rest to `super().__init__(**kwargs)`. Keys rosetta does not know are kept
    as attributes and written back, so a config survives a load/save round trip untouched.
    """

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[dict[str, str]] = {}

    def __init__(self, **kwargs: Any):
        kwargs.pop("model_type", None)
        kwargs.pop("transformers_version", None)
        kwargs.pop("rosetta_version", None)
        if "dtype" in kwargs:  # transformers 5.x writes `dtype`, 4.x `torch_dtype`
            kwargs.setdefault("torch_dtype", kwargs.pop("dtype"))
        for name, (default, _) in _COMMON_FIELDS.items():
            setattr(self, name, kwargs.pop(name, default))
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ConfigError(f"problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}.")
        self.pruned_heads = {int(k): list(v) for k, v in (kwargs.pop("pruned_heads", None) or {}).items()}

        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        num_labels = kwargs.pop("num_labels", None)
        if id2label is not None:
            self.id2label = {int(k): v for k, v in id2label.items()}
            if num_labels is not None and num_labels != len(self.id2label):
                self.num_labels = num_labels
        else:
            self.num_labels = 2 if num_labels is None else num_labels
        if label2id is not None and len(label2id) == len(self.id2label):
            self.label2id = {k: int(v) for k, v in label2id.items()}

        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- aliases -------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        name = type(self).attribute_map.get(name, name)
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        mapped = type(self).attribute_map.get(name)
        if mapped is not None:
            return getattr(self, mapped)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
            raise ConfigError(f"num_labels must be a positive integer, got {num_labels!r}.")
        if getattr(self, "id2label", None) is None or len(self.id2label) != num_labels:
            self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
            self.label2id = {v: k for k, v in self.id2label.items()}

    # -- validation --------------------------------------------------------------------------
    def validate(self, source: str | None = None) -> None:
        """Refuse sizes a model cannot be built from: zero, negative or non-int sizes, impossible head counts.

        Runs when a config is created or read (`source` names the file in the message). An upper bound is
        not checked here: a config too large for its checkpoint is refused by comparing shapes on loading.
        """
        where = f" in {source}" if source else ""
        self._check_sizes(where)
        self._check_head_counts(where)

    def _check_sizes(self, where: str) -> None:
        declared_none = self._fields_defaulting_to_none()
        for name in SIZE_FIELDS:
            value = getattr(self, name, None)
            if value is None and (name in declared_none or not self._has_field(name)):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(
                    f"Field {self._field_label(name)}{where} must be a positive integer, got {value!r}. "
                    "Fix the value in the config."
                )

    def _check_head_counts(self, where: str) -> None:
        hidden, heads = getattr(self, "hidden_size", None), getattr(self, "num_attention_heads", None)
        kv_heads = getattr(self, "num_key_value_heads", None)
        if hidden and heads and getattr(self, "head_dim", None) is None and hidden % heads:
            raise ConfigError(
                f"Field {self._field_label('hidden_size')}{where} ({hidden}) is not a multiple of "
                f"{self._field_label('num_attention_heads')} ({heads}): each head needs hidden_size / "
                "num_attention_heads dimensions. Fix one of them, or set head_dim."
            )
        if heads and kv_heads and heads % kv_heads:
            raise ConfigError(
                f"Field {self._field_label('num_attention_heads')}{where} ({heads}) is not a multiple of "
                f"{self._field_label('num_key_value_heads')} ({kv_heads}): query heads are shared out among "
                "the key/value heads in equal groups. Fix one of them."
            )

    def _has_field(self, name: str) -> bool:
        return type(self).attribute_map.get(name, name) in self.__dict__

    def _field_label(self, name: str) -> str:
        stored = type(self).attribute_map.get(name, name)
        return repr(name) if stored == name else f"{name!r} ({stored!r})"

    @classmethod
    def _fields_defaulting_to_none(cls) -> set[str]:
        names = set()
        for klass in cls.__mro__:
            if "__init__" in vars(klass) and klass is not object:
                params = inspect.signature(klass.__init__).parameters.items()
                names |= {name for name, param in params if param.default is None}
        return names | {alias for alias, name in cls.attribute_map.items() if name in names}

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if not k.startswith("_")}
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["pruned_heads"] = {str(k): v for k, v in self.pruned_heads.items()}
        if type(self).model_type:
            out["model_type"] = type(self).model_type
        from .. import __version__

        out["rosetta_version"] = __version__
        return dict(sorted(out.items()))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PretrainedConfig):
            return NotImplemented
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def save_pretrained(self, save_directory: str | os.PathLike, **_: Any) -> None:
        os.makedirs(save_directory, exist_ok=True)
        atomic_write_text(os.path.join(save_directory, CONFIG_NAME), self.to_json_string())

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], *, source: str = "the config dict", **overrides: Any):
        values = {**config_dict, **overrides}
        cls._check_types(values, source)
        return cls(**values, _config_source=source)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any):
        return cls.from_dict(load_json(path), source=os.fspath(path), **overrides)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Load config.json from a folder or Hub repo; remaining kwargs override its fields."""
        options = HubOptions.pop_from(kwargs)
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        path = resolve_file(pretrained_model_name_or_path, CONFIG_NAME, options)
        config_dict = load_json(path)
        model_type = config_dict.get("model_type")
        if cls.model_type and model_type and not cls._family_has(model_type):
            raise ConfigError(
                f"{path} holds a {model_type!r} config, not a {cls.model_type!r} one. "
                f"Use AutoConfig, or the config class of {model_type!r}."
            )
        if return_unused_kwargs:
            known = set(inspect.signature(cls.__init__).parameters) | set(_COMMON_FIELDS) | {"num_labels"}
            overrides = {k: v for k, v in kwargs.items() if k in known or k in config_dict}
            unused = {k: v for k, v in kwargs.items() if k not in overrides}
            return cls.from_dict(config_dict, source=path, **overrides), unused
        return cls.from_dict(config_dict, source=path, **kwargs)

    @classmethod
    def _family_has(cls, model_type: str) -> bool:
        """Whether `cls` or one of its subclasses (a derived model's config) is the config of `model_type`."""
        family = [cls]
        while family:
            klass = family.pop()
            if klass.model_type == model_type:
                return True
            family.extend(klass.__subclasses__())
        return False

    @classmethod
    def _check_types(cls, values: dict[str, Any], source: str) -> None:
        """Reject a field whose JSON type cannot be what the config expects."""
        expected: dict[str, tuple[type, ...]] = {name: types for name, (_, types) in _COMMON_FIELDS.items()}
        for klass in reversed(cls.__mro__):
            if "__init__" not in vars(klass) or klass is object:
                continue
            for name, param in inspect.signature(klass.__init__).parameters.items():
                default = param.default
                if isinstance(default, bool):
                    expected[name] = (bool,)
                elif isinstance(default, int):
                    expected[name] = (int,)
                elif isinstance(default, float):
                    expected[name] = (float, int)
                elif isinstance(default, str) and name != "model_type":
                    expected[name] = (str,)
                if name in expected and "None" in str(param.annotation):  # `int | None = 4096`: null allowed
                    expected[name] = (*expected[name], type(None))
        for name, value in values.items():
            types = expected.get(cls.attribute_map.get(name, name))
            if types is None:
                continue
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if not ok:
                raise ConfigError(
                    f"Field {name!r} in {source} must be {_type_name(types)}, got {type(value).__name__} {value!r}."
                )


def load_json(path: str | os.PathLike) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{os.fspath(path)} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}."
        ) from err
    if not isinstance(data, dict):
        raise ConfigError(f"{os.fspath(path)} must hold a JSON object, got {type(data).__name__}.")
    return data
