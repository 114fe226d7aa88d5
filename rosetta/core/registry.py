"""model_type -> config, preprocessors and model classes per framework; the Auto classes.

The registry names no architecture: it discovers the packages under `rosetta/models/`. Each
one's `__init__.py` declares everything about its architecture as plain data, without
importing any framework:

    MODEL_TYPE = "mymodel"               # or MODEL_TYPES = ("mymodel", ...): config.json model_types
    CONFIG = "MyModelConfig"             # absent for a folder that has only preprocessors
    TOKENIZER = "MyModelTokenizer"       # optional; also IMAGE_PROCESSOR, FEATURE_EXTRACTOR, PROCESSOR
    MODELS = {"torch": {"base": "MyModelModel", "masked-lm": ...}, "tf": {...}, "flax": {...}}
    IMPORT_STRUCTURE = {"configuration_mymodel": ["MyModelConfig"], "modeling_mymodel": [...], ...}
    LEGACY_NAMING = {"main_layer": "mymodel", ...}  # optional: transformers 4.x TF/Flax names, see legacy_naming

Framework keys are those of `rosetta.core.frameworks`. A module is imported only when one of
its classes is asked for; a framework that is not installed is a `MissingFrameworkError`
naming the extra to install.
"""

from __future__ import annotations

import copy
import importlib
import os
import pkgutil
from functools import cache
from types import ModuleType
from typing import Any

from .configuration import CONFIG_NAME, PretrainedConfig, load_json
from .errors import ConfigError, MissingFrameworkError, UnknownModelTypeError
from .frameworks import FRAMEWORKS, framework_key, framework_of_class_name, missing_framework_message
from .hub import HubOptions, resolve_file

MODELS_PACKAGE = "rosetta.models"

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
    "image-classification": "AutoModelForImageClassification",
    "zero-shot-image-classification": "AutoModelForZeroShotImageClassification",
    "ctc": "AutoModelForCTC",
    "audio-classification": "AutoModelForAudioClassification",
    "speech-seq2seq": "AutoModelForSpeechSeq2Seq",
}

PREPROCESSOR_KINDS = ("TOKENIZER", "IMAGE_PROCESSOR", "FEATURE_EXTRACTOR", "PROCESSOR")

# Preprocessor class names configs use for rosetta's generic classes (no model's own).
GENERIC_PREPROCESSORS: dict[str, str] = {
    "PreTrainedTokenizer": "rosetta.core.tokenization.PreTrainedTokenizer",  # "PreTrainedTokenizerFast" in configs
    "TokenizersBackend": "rosetta.core.tokenization.PreTrainedTokenizer",  # transformers 5's generic class
}

LEGACY_NAMING_FIELDS: dict[str, Any] = {
    "main_layer": "",  # TF always wraps the base model in a layer of this name
    "tf_scopes": {},  # canonical module prefix -> TF scope
    "tf_leaves": {},  # canonical module -> TF leaf of its weight
    "aliases": {},  # canonical name -> the name it duplicates
    "tied": [],  # absent in TF/Flax when tie_word_embeddings
    "tf_shared": {},  # Keras layer -> TF name prefix it also lists
}


# --------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------
@cache
def packages() -> dict[str, ModuleType]:
    """model_type -> the package under rosetta/models/ that declares it, for every such package."""
    found: dict[str, ModuleType] = {}
    models = importlib.import_module(MODELS_PACKAGE)
    for info in sorted(pkgutil.iter_modules(models.__path__), key=lambda i: i.name):
        if info.ispkg:
            package = importlib.import_module(f"{MODELS_PACKAGE}.{info.name}")
            for model_type in declared_model_types(package):
                if model_type in found:
                    raise ConfigError(
                        f"model_type {model_type!r} is declared by both {found[model_type].__name__} and "
                        f"{package.__name__}; each model_type belongs to one package."
                    )
                found[model_type] = package
    return found


def declared_model_types(package: ModuleType) -> tuple[str, ...]:
    """The model_types a model package declares (MODEL_TYPE or MODEL_TYPES)."""
    types = getattr(package, "MODEL_TYPES", None) or (getattr(package, "MODEL_TYPE", None),)
    if not all(isinstance(t, str) and t for t in types):
        raise ConfigError(
            f'{package.__name__} declares no MODEL_TYPE: add `MODEL_TYPE = "<config.json model_type>"` '
            f"to its __init__.py."
        )
    return tuple(types)


@cache
def available_model_types() -> list[str]:
    """Model types rosetta has a config (and models) for; folders with only preprocessors are left out."""
    return [model_type for model_type, package in packages().items() if getattr(package, "CONFIG", None)]


def _package(model_type: str) -> ModuleType:
    return packages()[model_type]


def _check_model_type(model_type: str | None, source: str | None) -> str:
    if model_type not in available_model_types():
        raise UnknownModelTypeError(str(model_type), available_model_types(), where=source)
    return model_type


# --------------------------------------------------------------------------------------
# Importing, with a clear error for a framework that is not installed
# --------------------------------------------------------------------------------------
def _framework_of_module(module: str | None) -> str | None:
    top = (module or "").split(".")[0]
    return next((key for key, fw in FRAMEWORKS.items() if top in fw.modules), None)


def import_module(name: str, what: str | None = None) -> ModuleType:
    """`importlib.import_module`; a missing framework raises MissingFrameworkError naming `what` and the extra."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        key = _framework_of_module(err.name)
        if key is None:
            raise
        raise MissingFrameworkError(f"{what or name}: {missing_framework_message(key)}") from err


def import_class(model_type: str, class_name: str) -> type:
    """Import `class_name` from the module of `model_type`'s package that defines it."""
    package = _package(model_type)
    for module, names in package.IMPORT_STRUCTURE.items():
        if class_name in names:
            return getattr(import_module(f"{package.__name__}.{module}", what=class_name), class_name)
    raise ImportError(f"{package.__name__} does not define {class_name}.")


def config_class_for(model_type: str, source: str | None = None) -> type[PretrainedConfig]:
    model_type = _check_model_type(model_type, source)
    return import_class(model_type, _package(model_type).CONFIG)


def public_names() -> dict[str, str]:
    """Every public class of every model package -> the module that defines it."""
    names = {}
    for package in dict.fromkeys(packages().values()):
        for module, classes in package.IMPORT_STRUCTURE.items():
            for name in classes:
                names[name] = f"{package.__name__}.{module}"
    return names


# --------------------------------------------------------------------------------------
# Model classes per framework and task
# --------------------------------------------------------------------------------------
def models_table(model_type: str, framework: str) -> dict[str, str]:
    """task -> class name of `model_type`'s models in `framework` (any spelling: "pt", "torch", ...)."""
    model_type = _check_model_type(model_type, None)
    return dict(getattr(_package(model_type), "MODELS", {}).get(framework_key(framework), {}))


def model_class(model_type: str, framework: str, task: str = "base") -> type:
    """The class of `model_type` for `task` in `framework`: the "tf" "base" class of a model_type."""
    key = framework_key(framework)
    table = models_table(model_type, key)
    if task not in table:
        raise ConfigError(
            f"rosetta has no {task!r} model for {model_type!r} in {FRAMEWORKS[key].display_name}. "
            f"It has: {', '.join(table) or 'none'}."
        )
    return import_class(model_type, table[task])


def architecture_class(config: PretrainedConfig, framework: str) -> type:
    """The class of `config.architectures[0]` in `framework` (any of its framework prefixes); else the base model."""
    key = framework_key(framework)
    table = models_table(config.model_type, key)
    prefix = FRAMEWORKS[key].class_prefix
    for name in getattr(config, "architectures", None) or []:
        bare = name.removeprefix(FRAMEWORKS[framework_of_class_name(name)].class_prefix)
        if prefix + bare in table.values():
            return import_class(config.model_type, prefix + bare)
    return model_class(config.model_type, key, "base")


def legacy_naming(model_type: str) -> dict[str, Any] | None:
    """How transformers 4.x TF/Flax files of `model_type` name weights the generic rules do not, or None.

    The dict has every key of LEGACY_NAMING_FIELDS (missing ones get their empty default).
    """
    package = packages().get(model_type)
    declared = getattr(package, "LEGACY_NAMING", None) if package is not None else None
    if declared is None:
        return None
    unknown = sorted(set(declared) - set(LEGACY_NAMING_FIELDS))
    if unknown:
        raise ConfigError(
            f"{package.__name__}.LEGACY_NAMING has unknown key(s) {', '.join(unknown)}; "
            f"use {', '.join(LEGACY_NAMING_FIELDS)}."
        )
    return {
        name: copy.deepcopy(declared.get(name, default)) for name, default in LEGACY_NAMING_FIELDS.items()
    }


def gguf_naming(architecture: str) -> tuple[str, dict[str, Any]] | None:
    """(model_type, its GGUF declaration) of the package whose GGUF files say `general.architecture`."""
    for model_type, package in packages().items():
        declared = getattr(package, "GGUF", None)
        if declared is not None and declared.get("architecture") == architecture:
            return model_type, copy.deepcopy(declared)
    return None


def gguf_model_type(architecture: str) -> str:
    """The model_type whose package reads GGUF files of `architecture` (refused by name if none does)."""
    found = gguf_naming(architecture)
    if found is None:
        raise UnknownModelTypeError(
            architecture, gguf_architectures(), where="the GGUF file's general.architecture"
        )
    return found[0]


def gguf_architectures() -> list[str]:
    return sorted(p.GGUF["architecture"] for p in packages().values() if getattr(p, "GGUF", None))


# --------------------------------------------------------------------------------------
# Auto classes
# --------------------------------------------------------------------------------------
class AutoConfig:
    """Dispatches on the `model_type` of config.json."""

    def __init__(self) -> None:
        raise OSError(
            "AutoConfig is instantiated with AutoConfig.from_pretrained(...) or AutoConfig.for_model(...)."
        )

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
            raise ConfigError(
                f"{path} has no 'model_type' field. Supported model types: {', '.join(available_model_types())}."
            )
        return config_class_for(model_type, source=path).from_pretrained(
            pretrained_model_name_or_path, **kwargs
        )


class _AutoModel:
    """Base of AutoModel*, TFAutoModel*, FlaxAutoModel*: picks the class from config.model_type."""

    framework: str = "torch"
    task: str = "base"

    def __init__(self) -> None:
        raise OSError(
            f"{type(self).__name__} is instantiated with .from_pretrained(...) or .from_config(config)."
        )

    @classmethod
    def model_class(cls, config: PretrainedConfig | str) -> type:
        """The class for a config (or a model_type)."""
        model_type = _check_model_type(config if isinstance(config, str) else config.model_type, None)
        table = models_table(model_type, cls.framework)
        if cls.task not in table:
            supported = [TASKS[t] for t in TASKS if t in table]
            raise ConfigError(
                f"{cls.__name__} does not support {model_type!r} models in {cls.framework}. "
                f"{model_type!r} supports: {', '.join(supported)}."
            )
        return import_class(model_type, table[cls.task])

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        return cls.model_class(config)(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        config = kwargs.pop("config", None)
        if (
            config is None and kwargs.get("gguf_file") is not None
        ):  # the config comes from the GGUF's metadata
            from .gguf_tokenizer import gguf_architecture

            gguf = resolve_file(
                pretrained_model_name_or_path, kwargs["gguf_file"], HubOptions.pop_from(dict(kwargs))
            )
            return cls.model_class(gguf_model_type(gguf_architecture(gguf))).from_pretrained(
                pretrained_model_name_or_path, *args, **kwargs
            )
        if config is None:
            hub_keys = ("revision", "cache_dir", "local_files_only", "token", "subfolder")
            config = AutoConfig.from_pretrained(
                pretrained_model_name_or_path, **{k: kwargs[k] for k in hub_keys if k in kwargs}
            )
        return cls.model_class(config).from_pretrained(
            pretrained_model_name_or_path, *args, config=config, **kwargs
        )


def _make_auto_classes() -> dict[str, type]:
    classes = {}
    for key, fw in FRAMEWORKS.items():
        for task, suffix in TASKS.items():
            name = fw.class_prefix + suffix
            classes[name] = type(
                name, (_AutoModel,), {"framework": key, "task": task, "__module__": __name__}
            )
    return classes


AUTO_MODEL_CLASSES = _make_auto_classes()
globals().update(AUTO_MODEL_CLASSES)


# --------------------------------------------------------------------------------------
# Preprocessors
# --------------------------------------------------------------------------------------
_CLASS_KEYS = {
    "TOKENIZER": "tokenizer_class",
    "IMAGE_PROCESSOR": "image_processor_type",
    "FEATURE_EXTRACTOR": "feature_extractor_type",
    "PROCESSOR": "processor_class",
}


def _kind_text(kind: str) -> str:
    return kind.lower().replace("_", " ")


def preprocessor_class(model_type: str, kind: str, source: str | None = None) -> type:
    """The tokenizer / image processor / feature extractor / processor class `model_type` declares."""
    package = packages().get(model_type)
    if package is None:
        having = [t for t, p in packages().items() if getattr(p, kind, None)]
        raise UnknownModelTypeError(str(model_type), having, where=source)
    name = getattr(package, kind, None)
    if name is None:
        raise ConfigError(f"{model_type!r} models have no {_kind_text(kind)} in rosetta.")
    return import_class(model_type, name)


def preprocessor_class_by_name(class_name: str) -> type | None:
    """A preprocessor class named in a tokenizer/preprocessor config (any package's, or a generic one)."""
    for model_type, package in packages().items():
        if class_name in (getattr(package, kind, None) for kind in PREPROCESSOR_KINDS):
            return import_class(model_type, class_name)
    generic = GENERIC_PREPROCESSORS.get(class_name)
    if generic is not None:
        module, name = generic.rsplit(".", 1)
        return getattr(import_module(module), name)
    return None


def _preprocessor_auto(kind: str, config_files: tuple[str, ...]) -> type:
    """AutoTokenizer / AutoImageProcessor / AutoFeatureExtractor / AutoProcessor."""

    class _AutoPreprocessor:
        def __init__(self) -> None:
            raise OSError(f"{type(self).__name__} is instantiated with .from_pretrained(...).")

        @classmethod
        def class_for(cls, model_type: str, source: str | None = None) -> type:
            return preprocessor_class(model_type, kind, source)

        @classmethod
        def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
            options = HubOptions.pop_from(dict(kwargs))
            if kwargs.get("gguf_file") is not None:  # the tokenizer comes from the GGUF's metadata
                from .gguf_tokenizer import gguf_architecture

                gguf = resolve_file(pretrained_model_name_or_path, kwargs["gguf_file"], options)
                return cls.class_for(gguf_model_type(gguf_architecture(gguf))).from_pretrained(
                    pretrained_model_name_or_path, **kwargs
                )
            target = cls._target(pretrained_model_name_or_path, options)
            return target.from_pretrained(pretrained_model_name_or_path, **kwargs)

        @classmethod
        def _target(cls, pretrained_model_name_or_path: str | os.PathLike, options: HubOptions) -> type:
            for filename in config_files:
                path = resolve_file(pretrained_model_name_or_path, filename, options, required=False)
                if path is None:
                    continue
                data = load_json(path)
                class_name = data.get(_CLASS_KEYS[kind])
                target = preprocessor_class_by_name(class_name.removesuffix("Fast")) if class_name else None
                if target is not None:
                    return target
                if data.get("model_type"):
                    return cls.class_for(data["model_type"], source=path)
            raise ConfigError(
                f"Could not tell which {_kind_text(kind)} {pretrained_model_name_or_path} needs: "
                f"none of {', '.join(config_files)} names a class or a model_type."
            )

    return _AutoPreprocessor


def _named(cls: type, name: str) -> type:
    cls.__name__ = cls.__qualname__ = name
    return cls


AutoTokenizer = _named(
    _preprocessor_auto("TOKENIZER", ("tokenizer_config.json", "config.json")), "AutoTokenizer"
)
AutoImageProcessor = _named(
    _preprocessor_auto("IMAGE_PROCESSOR", ("preprocessor_config.json", "config.json")), "AutoImageProcessor"
)
AutoFeatureExtractor = _named(
    _preprocessor_auto("FEATURE_EXTRACTOR", ("preprocessor_config.json", "config.json")),
    "AutoFeatureExtractor",
)
AutoProcessor = _named(
    _preprocessor_auto(
        "PROCESSOR",
        ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json", "config.json"),
    ),
    "AutoProcessor",
)
