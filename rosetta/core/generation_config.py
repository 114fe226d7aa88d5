"""`GenerationConfig`: the decoding settings of a model, saved as `generation_config.json`.

Framework-neutral: the torch, TensorFlow and Flax `generate` loops all read it. Field names
and defaults are those of Hugging Face's `GenerationConfig`, so a `generation_config.json`
written by either library loads in the other. Unknown fields in a file are kept (and saved
back); unknown keywords passed to `generate` are refused by name.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from .errors import ConfigError, InputError
from .hub import HubOptions, resolve_file
from .io import atomic_write_text

GENERATION_CONFIG_NAME = "generation_config.json"

# name -> (default, accepted types). `None` is accepted for every field whose default is None.
FIELDS: dict[str, tuple[Any, tuple[type, ...]]] = {
    "max_length": (20, (int,)),
    "max_new_tokens": (None, (int,)),
    "min_length": (0, (int,)),
    "min_new_tokens": (None, (int,)),
    "early_stopping": (False, (bool, str)),
    "do_sample": (False, (bool,)),
    "num_beams": (1, (int,)),
    "temperature": (1.0, (float, int)),
    "top_k": (50, (int,)),
    "top_p": (1.0, (float, int)),
    "min_p": (None, (float, int)),
    "repetition_penalty": (1.0, (float, int)),
    "no_repeat_ngram_size": (0, (int,)),
    "length_penalty": (1.0, (float, int)),
    "num_return_sequences": (1, (int,)),
    "bos_token_id": (None, (int,)),
    "eos_token_id": (None, (int, list)),
    "pad_token_id": (None, (int,)),
    "stop_strings": (None, (str, list)),
    "return_dict_in_generate": (False, (bool,)),
    "output_scores": (False, (bool,)),
    "output_logits": (False, (bool,)),
    "use_cache": (True, (bool,)),
}
# Fields of a model config that seed a generation config (`from_model_config`).
_FROM_MODEL_CONFIG = ("bos_token_id", "eos_token_id", "pad_token_id", "max_length")


class GenerationConfig:
    """Decoding settings: lengths, greedy / sampling / beam search, special tokens, outputs."""

    def __init__(self, **kwargs: Any):
        for name, (default, _) in FIELDS.items():
            setattr(self, name, copy.deepcopy(kwargs.pop(name, default)))
        kwargs.pop("transformers_version", None)
        kwargs.pop("_from_model_config", None)
        self.extra: dict[str, Any] = kwargs  # fields rosetta does not use, kept for the round trip
        self.validate()

    # -- validation -------------------------------------------------------------------------
    def validate(self, source: str = "the generation config") -> None:
        """Raise `ConfigError` naming the first field whose type or value cannot work."""
        for name, (_, types) in FIELDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                raise ConfigError(
                    f"{name!r} in {source} must be {names}, got {type(value).__name__} {value!r}."
                )
        self._check_values(source)

    def _check_values(self, source: str) -> None:
        checks = [
            ("max_length", self.max_length is None or self.max_length >= 1, "at least 1"),
            ("max_new_tokens", self.max_new_tokens is None or self.max_new_tokens >= 1, "at least 1"),
            ("min_new_tokens", self.min_new_tokens is None or self.min_new_tokens >= 0, "0 or more"),
            ("num_beams", self.num_beams >= 1, "at least 1"),
            ("temperature", self.temperature > 0, "greater than 0 (use do_sample=False for greedy)"),
            ("top_k", self.top_k is None or self.top_k >= 0, "0 (off) or more"),
            ("top_p", self.top_p is None or 0 < self.top_p <= 1, "in (0, 1]"),
            ("min_p", self.min_p is None or 0 <= self.min_p <= 1, "in [0, 1]"),
            ("repetition_penalty", self.repetition_penalty > 0, "greater than 0"),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size >= 0, "0 (off) or more"),
            ("num_return_sequences", self.num_return_sequences >= 1, "at least 1"),
            ("early_stopping", self.early_stopping in (True, False, "never"), "True, False or 'never'"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ConfigError(f"{name!r} in {source} must be {what}, got {getattr(self, name)!r}.")
        if self.num_return_sequences > self.num_beams and not self.do_sample:
            raise ConfigError(
                f"num_return_sequences={self.num_return_sequences} in {source} is larger than num_beams="
                f"{self.num_beams}: greedy/beam search returns at most num_beams sequences per prompt. "
                "Raise num_beams or set do_sample=True."
            )
        eos = self.eos_token_id if isinstance(self.eos_token_id, list) else [self.eos_token_id]
        if any(e is not None and (not isinstance(e, int) or isinstance(e, bool)) for e in eos):
            raise ConfigError(
                f"eos_token_id in {source} must be an int or a list of ints, got {self.eos_token_id!r}."
            )

    # -- derived values the loops use ---------------------------------------------------------
    @property
    def eos_token_ids(self) -> list[int]:
        """`eos_token_id` as a list (empty when unset)."""
        if self.eos_token_id is None:
            return []
        return list(self.eos_token_id) if isinstance(self.eos_token_id, list) else [self.eos_token_id]

    def resolved_pad_token_id(self) -> int:
        """The id written after a row finished: pad, else the first eos (as transformers does), else 0."""
        if self.pad_token_id is not None:
            return self.pad_token_id
        return self.eos_token_ids[0] if self.eos_token_ids else 0

    def resolved_max_length(self, prompt_length: int) -> int:
        """Total length (prompt + new tokens): `max_new_tokens` wins over `max_length`."""
        if self.max_new_tokens is not None:
            return prompt_length + self.max_new_tokens
        if self.max_length <= prompt_length:
            raise InputError(
                f"The prompt is {prompt_length} tokens long but max_length={self.max_length} leaves no room to "
                "generate. Pass max_new_tokens=N (tokens to add) or a larger max_length."
            )
        return self.max_length

    # -- building, merging, files ---------------------------------------------------------------
    def update(self, **kwargs: Any) -> GenerationConfig:
        """A copy with `kwargs` applied; an unknown keyword raises `InputError` naming it."""
        unknown = sorted(k for k in kwargs if k not in FIELDS)
        if unknown:
            raise InputError(
                f"generate() got unknown keyword(s) {', '.join(map(repr, unknown))}. Known generation "
                f"options: {', '.join(sorted(FIELDS))}."
            )
        new = copy.deepcopy(self)
        for name, value in kwargs.items():
            setattr(new, name, value)
        new.validate("the generate() arguments")
        return new

    @classmethod
    def from_model_config(cls, model_config: Any) -> GenerationConfig:
        """Defaults taken from a model config (its special token ids and any generation fields it holds)."""
        values = {}
        for name in FIELDS:
            value = getattr(model_config, name, None) if hasattr(model_config, name) else None
            if value is not None and (name in _FROM_MODEL_CONFIG or value != FIELDS[name][0]):
                values[name] = value
        if values.get("max_length") is not None and not isinstance(values["max_length"], int):
            values.pop("max_length")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in FIELDS if getattr(self, name) != FIELDS[name][0]}
        out.update(self.extra)
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike, **_: Any) -> None:
        """Write `generation_config.json` atomically into `save_directory`."""
        os.makedirs(save_directory, exist_ok=True)
        atomic_write_text(os.path.join(save_directory, GENERATION_CONFIG_NAME), self.to_json_string())

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any
    ) -> GenerationConfig:
        """Load `generation_config.json` from a folder or Hub repo; extra kwargs override its fields."""
        options = HubOptions.pop_from(kwargs)
        path = resolve_file(pretrained_model_name_or_path, GENERATION_CONFIG_NAME, options)
        return cls.from_json_file(path, **kwargs)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any) -> GenerationConfig:
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"{os.fspath(path)} is not valid JSON: {err.msg} at line {err.lineno}."
            ) from err
        if not isinstance(values, dict):
            raise ConfigError(f"{os.fspath(path)} must hold a JSON object, got {type(values).__name__}.")
        config = cls.__new__(cls)
        for name, (default, _) in FIELDS.items():
            setattr(config, name, {**values, **overrides}.get(name, default))
        config.extra = {k: v for k, v in values.items() if k not in FIELDS and k != "transformers_version"}
        config.extra.pop("_from_model_config", None)
        config.validate(os.fspath(path))
        return config

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"GenerationConfig {self.to_json_string()}"
