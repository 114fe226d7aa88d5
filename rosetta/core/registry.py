"""model_type -> config, preprocessors and model classes per framework; the Auto classes.

Every architecture's package (`rosetta/models/<arch>/__init__.py`) declares, without
importing any framework:

    CONFIG = "BertConfig"
    TOKENIZER = "BertTokenizer"          # optional; also IMAGE_PROCESSOR, FEATURE_EXTRACTOR, PROCESSOR
    MODELS = {"torch": {"base": "BertModel", "sequence-classification": ...}, "tf": {...}, "flax": {...}}
    IMPORT_STRUCTURE = {"configuration_bert": ["BertConfig"], "modeling_bert": [...], ...}

The Auto classes read these tables and import a module only when its class is asked for.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

from .configuration import CONFIG_NAME, PretrainedConfig, load_json
from .errors import ConfigError, UnknownModelTypeError
from .hub import HubOptions, resolve_file

# Every supported architecture, by model_type -> package under rosetta.models.
MODEL_TYPES: dict[str, str] = {
    "bert": "bert",
    "roberta": "roberta",
}

FRAMEWORKS = ("torch", "tf", "flax")
FRAMEWORK_PREFIX = {"torch": "", "tf": "TF", "flax": "Flax"}

# Task name -> Auto class suffix (AutoModel, AutoModelForMaskedLM, ...).
TASKS: dict[str, str] = {
    "base": "AutoModel",
    "pretraining": "AutoModelForPreTraining",
    "masked-lm": "AutoModelForMaskedLM",
    "causal-lm": "AutoModelForCausalLM",
    "next-sentence-prediction": "AutoModelForNextSentencePrediction",
    "sequence-classification": "AutoModelForSequenceClassification",
    "multiple-choice": "AutoModelForMultipleChoice",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
}


@cache
def _package(model_type: str):
    return importlib.import_module(f"rosetta.models.{MODEL_TYPES[model_type]}")


@cache
def available_model_types() -> list[str]:
    """Model types whose package is present in this installation."""
    found = []
    for model_type, package in MODEL_TYPES.items():
        spec = importlib.util.find_spec(f"rosetta.models.{package}")
        if spec is not None and spec.origin is not None:  # a real package, not a folder of preprocessors
            found.append(model_type)
    return found


def _check_model_type(model_type: str | None, source: str | None) -> str:
    if model_type not in MODEL_TYPES or model_type not in available_model_types():
        raise UnknownModelTypeError(str(model_type), available_model_types(), where=source)
    return model_type


def import_class(model_type: str, class_name: str) -> type:
    """Import `class_name` from the module of `model_type`'s package that defines it."""
    package = _package(model_type)
    for module, names in package.IMPORT_STRUCTURE.items():
        if class_name in names:
            return getattr(importlib.import_module(f"{package.__name__}.{module}"), class_name)
    raise ImportError(f"rosetta.models.{MODEL_TYPES[model_type]} does not define {class_name}.")


def config_class_for(model_type: str, source: str | None = None) -> type[PretrainedConfig]:
    model_type = _check_model_type(model_type, source)
    return import_class(model_type, _package(model_type).CONFIG)


def public_names() -> dict[str, str]:
    """Every public class of every architecture -> the module that defines it."""
    names = {}
    for model_type in available_model_types():
        package = _package(model_type)
        for module, classes in package.IMPORT_STRUCTURE.items():
            for name in classes:
                names[name] = f"{package.__name__}.{module}"
    return names


class AutoConfig:
    """Dispatches on the `model_type` of config.json."""

    def __init__(self) -> None:
        raise OSError("AutoConfig is instantiated with AutoConfig.from_pretrained(...) or AutoConfig.for_model(...).")

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> PretrainedConfig:
        return config_class_for(model_type)(**kwargs)

    @staticmethod
    def from_pretrained(pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        probe = dict(kwargs)
        options = HubOptions.pop_from(probe)
        path = resolve_file(pretrained_model_name_or_path, CONFIG_NAME, options)
        model_type = load_json(path).get("model_type")
        if model_type is None:
            raise ConfigError(f"{path} has no 'model_type' field. Supported model types: {', '.join(available_model_types())}.")
        return config_class_for(model_type, source=path).from_pretrained(pretrained_model_name_or_path, **kwargs)


class _AutoModel:
    """Base of AutoModel*, TFAutoModel*, FlaxAutoModel*: picks the class from config.model_type."""

    framework: str = "torch"
    task: str = "base"

    def __init__(self) -> None:
        raise OSError(f"{type(self).__name__} is instantiated with .from_pretrained(...) or .from_config(config).")

    @classmethod
    def model_class(cls, config: PretrainedConfig) -> type:
        model_type = _check_model_type(config.model_type, None)
        table = _package(model_type).MODELS.get(cls.framework, {})
        if cls.task not in table:
            supported = [t for t in TASKS if t in table]
            raise ConfigError(
                f"{cls.__name__} does not support {model_type!r} models in {cls.framework}. "
                f"{model_type!r} supports: {', '.join(TASKS[t] for t in supported)}."
            )
        return import_class(model_type, table[cls.task])

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        return cls.model_class(config)(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        config = kwargs.pop("config", None)
        if config is None:
            hub_kwargs = {k: kwargs[k] for k in ("revision", "cache_dir", "local_files_only", "token", "subfolder") if k in kwargs}
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path, **hub_kwargs)
        return cls.model_class(config).from_pretrained(pretrained_model_name_or_path, *args, config=config, **kwargs)


def _make_auto_classes() -> dict[str, type]:
    classes = {}
    for framework in FRAMEWORKS:
        for task, suffix in TASKS.items():
            name = FRAMEWORK_PREFIX[framework] + suffix
            classes[name] = type(name, (_AutoModel,), {"framework": framework, "task": task, "__module__": __name__})
    return classes


AUTO_MODEL_CLASSES = _make_auto_classes()
globals().update(AUTO_MODEL_CLASSES)


def _preprocessor_auto(kind: str, config_files: tuple[str, ...]):
    """AutoTokenizer / AutoImageProcessor / AutoFeatureExtractor / AutoProcessor."""

    class _AutoPreprocessor:
        def __init__(self) -> None:
            raise OSError(f"{type(self).__name__} is instantiated with .from_pretrained(...).")

        @classmethod
        def class_for(cls, model_type: str, source: str | None = None) -> type:
            fallback = PREPROCESSOR_MODEL_TYPES.get(model_type, {}).get(kind)
            if fallback is not None:
                return _class_by_name(fallback, kind)
            model_type = _check_model_type(model_type, source)
            name = getattr(_package(model_type), kind, None)
            if name is None:
                raise ConfigError(f"{model_type!r} models have no {kind.lower().replace('_', ' ')} in rosetta.")
            return import_class(model_type, name)

        @classmethod
        def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
            probe = dict(kwargs)
            options = HubOptions.pop_from(probe)
            target = None
            for filename in config_files:
                path = resolve_file(pretrained_model_name_or_path, filename, options, required=False)
                if path is None:
                    continue
                data = load_json(path)
                class_name = data.get(_CLASS_KEYS[kind])
                if class_name:
                    target = _class_by_name(class_name.removesuffix("Fast"), kind)
                    if target is not None:
                        break
                if data.get("model_type"):
                    target = cls.class_for(data["model_type"], source=path)
                    break
            if target is None:
                raise ConfigError(
                    f"Could not tell which {kind.lower().replace('_', ' ')} {pretrained_model_name_or_path} needs: "
                    f"none of {', '.join(config_files)} names a class or a model_type."
                )
            return target.from_pretrained(pretrained_model_name_or_path, **kwargs)

    return _AutoPreprocessor


_CLASS_KEYS = {
    "TOKENIZER": "tokenizer_class",
    "IMAGE_PROCESSOR": "image_processor_type",
    "FEATURE_EXTRACTOR": "feature_extractor_type",
    "PROCESSOR": "processor_class",
}


def _class_by_name(class_name: str, kind: str) -> type | None:
    for model_type in available_model_types():
        package = _package(model_type)
        for attr in ("TOKENIZER", "IMAGE_PROCESSOR", "FEATURE_EXTRACTOR", "PROCESSOR"):
            if getattr(package, attr, None) == class_name:
                return import_class(model_type, class_name)
    extra = EXTRA_PREPROCESSORS.get(class_name)
    if extra is not None:
        module, name = extra.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)
    return None


# Preprocessor classes that belong to no model package of their own (e.g. GPT2Tokenizer
# used by a RoBERTa-less checkpoint): class name -> "module.Class".
EXTRA_PREPROCESSORS: dict[str, str] = {
    "PreTrainedTokenizer": "rosetta.core.tokenization.PreTrainedTokenizer",  # "PreTrainedTokenizerFast" in configs
    "TokenizersBackend": "rosetta.core.tokenization.PreTrainedTokenizer",  # transformers 5's generic class
    "GPT2Tokenizer": "rosetta.models.gpt2.tokenization_gpt2.GPT2Tokenizer",
    "RobertaTokenizer": "rosetta.models.roberta.tokenization_roberta.RobertaTokenizer",
    "LlamaTokenizer": "rosetta.models.llama.tokenization_llama.LlamaTokenizer",
    "CLIPTokenizer": "rosetta.models.clip.tokenization_clip.CLIPTokenizer",
    "CLIPImageProcessor": "rosetta.models.clip.image_processing_clip.CLIPImageProcessor",
    "CLIPProcessor": "rosetta.models.clip.processing_clip.CLIPProcessor",
    "ViTImageProcessor": "rosetta.models.vit.image_processing_vit.ViTImageProcessor",
    "Wav2Vec2CTCTokenizer": "rosetta.models.wav2vec2.tokenization_wav2vec2.Wav2Vec2CTCTokenizer",
    "Wav2Vec2FeatureExtractor": "rosetta.models.wav2vec2.feature_extraction_wav2vec2.Wav2Vec2FeatureExtractor",
    "Wav2Vec2Processor": "rosetta.models.wav2vec2.processing_wav2vec2.Wav2Vec2Processor",
    "WhisperFeatureExtractor": "rosetta.models.whisper.feature_extraction_whisper.WhisperFeatureExtractor",
}

# config.json model_types whose preprocessors rosetta has before their model package exists:
# model_type -> {"TOKENIZER" | "IMAGE_PROCESSOR" | "FEATURE_EXTRACTOR" | "PROCESSOR": class name}.
PREPROCESSOR_MODEL_TYPES: dict[str, dict[str, str]] = {
    "gpt2": {"TOKENIZER": "GPT2Tokenizer"},
    "roberta": {"TOKENIZER": "RobertaTokenizer"},
    "llama": {"TOKENIZER": "LlamaTokenizer"},
    "clip": {"TOKENIZER": "CLIPTokenizer", "IMAGE_PROCESSOR": "CLIPImageProcessor", "PROCESSOR": "CLIPProcessor"},
    "vit": {"IMAGE_PROCESSOR": "ViTImageProcessor"},
    "wav2vec2": {
        "TOKENIZER": "Wav2Vec2CTCTokenizer",
        "FEATURE_EXTRACTOR": "Wav2Vec2FeatureExtractor",
        "PROCESSOR": "Wav2Vec2Processor",
    },
    "whisper": {"FEATURE_EXTRACTOR": "WhisperFeatureExtractor"},
}

AutoTokenizer = _preprocessor_auto("TOKENIZER", ("tokenizer_config.json", "config.json"))
AutoTokenizer.__name__ = AutoTokenizer.__qualname__ = "AutoTokenizer"
AutoImageProcessor = _preprocessor_auto("IMAGE_PROCESSOR", ("preprocessor_config.json", "config.json"))
AutoImageProcessor.__name__ = AutoImageProcessor.__qualname__ = "AutoImageProcessor"
AutoFeatureExtractor = _preprocessor_auto("FEATURE_EXTRACTOR", ("preprocessor_config.json", "config.json"))
AutoFeatureExtractor.__name__ = AutoFeatureExtractor.__qualname__ = "AutoFeatureExtractor"
AutoProcessor = _preprocessor_auto("PROCESSOR", ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json", "config.json"))
AutoProcessor.__name__ = AutoProcessor.__qualname__ = "AutoProcessor"
