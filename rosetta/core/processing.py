"""`ProcessorMixin`: several preprocessors (tokenizer, image processor, feature extractor) behind one call.

A processor saves each part's own files into one folder (tokenizer.json, tokenizer_config.json,
special_tokens_map.json, preprocessor_config.json), all naming the processor class, plus a
processor_config.json. It loads from that layout, from the older one without
processor_config.json, and from transformers 5's, which keeps the image processor or feature
extractor config inside processor_config.json.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Callable
from typing import Any, ClassVar

from .errors import InputError
from .feature_extraction import PROCESSOR_CONFIG_FILE, FeatureExtractionMixin
from .hub import PushToHubMixin
from .io import atomic_write_text
from .tokenization import PreTrainedTokenizer


def _expected_base(attribute: str) -> type:
    return PreTrainedTokenizer if attribute == "tokenizer" else FeatureExtractionMixin


class ProcessorMixin(PushToHubMixin):
    """Base of processors; a subclass names its parts and the classes that load them.

    class MyProcessor(ProcessorMixin):
        attributes = ("image_processor", "tokenizer")
        part_classes = {"image_processor": "rosetta.models.<arch>....ImageProcessor", "tokenizer": "....Tokenizer"}
    """

    attributes: ClassVar[tuple[str, ...]] = ()
    part_classes: ClassVar[dict[str, str]] = {}  # attribute -> "module.Class" that from_pretrained uses

    def __init__(self, *args: Any, **kwargs: Any):
        if len(args) > len(self.attributes):
            raise InputError(
                f"{type(self).__name__} takes {len(self.attributes)} parts ({', '.join(self.attributes)}), got {len(args)}."
            )
        parts = dict(zip(self.attributes, args))
        for name, value in kwargs.items():
            if name not in self.attributes:
                raise InputError(
                    f"{type(self).__name__} has no part {name!r}; its parts are {', '.join(self.attributes)}."
                )
            if name in parts:
                raise InputError(f"{type(self).__name__} got {name!r} both by position and by keyword.")
            parts[name] = value
        for name in self.attributes:
            part = parts.get(name)
            if not isinstance(part, _expected_base(name)):
                raise InputError(
                    f"{type(self).__name__} needs a {name} (a rosetta {_expected_base(name).__name__}), "
                    f"got {type(part).__name__}."
                )
            setattr(self, name, part)

    @classmethod
    def part_class(cls, attribute: str) -> type:
        module, name = cls.part_classes[attribute].rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    @property
    def model_input_names(self) -> list[str]:
        names = [n for attribute in self.attributes for n in getattr(self, attribute).model_input_names]
        return list(dict.fromkeys(names))

    def split_kwargs(self, kwargs: dict[str, Any], *targets: Callable[..., Any]) -> list[dict[str, Any]]:
        """Give each call the keyword arguments its signature takes; one no call takes is an InputError."""
        accepted = [set(inspect.signature(target).parameters) for target in targets]
        unknown = [key for key in kwargs if not any(key in names for names in accepted)]
        if unknown:
            raise InputError(
                f"{type(self).__name__} got unexpected keyword arguments: {', '.join(sorted(unknown))}. "
                f"Its parts take: {', '.join(sorted(set().union(*accepted) - {'self', 'args', 'kwargs'}))}."
            )
        return [{k: v for k, v in kwargs.items() if k in names} for names in accepted]

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> str | list[str]:
        return self.tokenizer.decode(*args, **kwargs)

    # -- save / load ------------------------------------------------------------------------------
    def save_pretrained(
        self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs: Any
    ) -> list[str]:
        """Save every part into `save_directory`, each naming this processor class, and processor_config.json."""
        if os.path.isfile(save_directory):
            raise InputError(f"save_pretrained needs a folder, but {os.fspath(save_directory)!r} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        name = type(self).__name__
        files = []
        for attribute in self.attributes:
            part = getattr(self, attribute)
            if isinstance(part, PreTrainedTokenizer):
                part.init_kwargs["processor_class"] = name
            else:
                part.processor_class = name
            files.extend(part.save_pretrained(save_directory))
        path = os.path.join(save_directory, PROCESSOR_CONFIG_FILE)
        atomic_write_text(path, json.dumps({"processor_class": name}, indent=2, sort_keys=True) + "\n")
        files.append(path)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **kwargs)
        return files

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Load every part from a folder or Hub repo; hub options and overrides go to each part."""
        parts = {
            attribute: cls.part_class(attribute).from_pretrained(pretrained_model_name_or_path, **kwargs)
            for attribute in cls.attributes
        }
        return cls(**parts)

    def __repr__(self) -> str:
        parts = "\n".join(f"- {attribute}: {getattr(self, attribute)!r}" for attribute in self.attributes)
        return f"{type(self).__name__}:\n{parts}"


class AudioTextProcessor(ProcessorMixin):
    """A feature extractor for audio and a tokenizer for its transcript: `processor(audio=...)` gives the audio
    features, `text=` alone the tokenizer's encoding, both the features with the transcript ids as `labels`."""

    attributes = ("feature_extractor", "tokenizer")

    def __call__(
        self, audio: Any = None, text: Any = None, return_tensors: str | None = None, **kwargs: Any
    ) -> Any:
        if audio is None and text is None:
            raise InputError(f"{type(self).__name__} needs audio=..., text=... or both.")
        audio_kwargs, text_kwargs = self.split_kwargs(
            kwargs, self.feature_extractor.__call__, self.tokenizer.__call__
        )
        if text is not None:
            encodings = self.tokenizer(text, return_tensors=return_tensors, **text_kwargs)
            if audio is None:
                return encodings
        inputs = self.feature_extractor(audio, return_tensors=return_tensors, **audio_kwargs)
        if text is not None:
            inputs["labels"] = encodings["input_ids"]
        return inputs
