"""`pipeline(task, model=..., framework=...)`: preprocessing, the model and postprocessing behind one call.

The framework follows the model passed (a torch, TF or Flax model), or `framework=` ("pt",
"tf", "flax") when the model is a path or Hub id. Postprocessing is numpy, shared by all three,
so the same checkpoint gives the same answers whichever framework serves it.
"""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import ConfigError, InputError
from ..core.frameworks import FRAMEWORKS, available_frameworks, framework_key, missing_framework_message
from ._audio import (
    AudioClassificationPipeline,
    AutomaticSpeechRecognitionPipeline,
    CTCSpeechRecognitionPipeline,
)
from ._base import KeyDataset, Pipeline, check_batch_size
from ._generation import TextGenerationPipeline
from ._numpy import framework_of_model
from ._qa import QuestionAnsweringPipeline
from ._text import (
    FeatureExtractionPipeline,
    FillMaskPipeline,
    TextClassificationPipeline,
    TokenClassificationPipeline,
    ZeroShotClassificationPipeline,
)
from ._vision import (
    ImageClassificationPipeline,
    ImageFeatureExtractionPipeline,
    ZeroShotImageClassificationPipeline,
)

__all__ = [
    "AudioClassificationPipeline",
    "AutomaticSpeechRecognitionPipeline",
    "CTCSpeechRecognitionPipeline",
    "ALIASES",
    "TASKS",
    "FeatureExtractionPipeline",
    "FillMaskPipeline",
    "KeyDataset",
    "ImageClassificationPipeline",
    "ImageFeatureExtractionPipeline",
    "Pipeline",
    "QuestionAnsweringPipeline",
    "TextClassificationPipeline",
    "TextGenerationPipeline",
    "TokenClassificationPipeline",
    "ZeroShotClassificationPipeline",
    "ZeroShotImageClassificationPipeline",
    "pipeline",
    "resolve_device",
]

TASKS: dict[str, type[Pipeline]] = {
    "feature-extraction": FeatureExtractionPipeline,
    "text-classification": TextClassificationPipeline,
    "fill-mask": FillMaskPipeline,
    "token-classification": TokenClassificationPipeline,
    "zero-shot-classification": ZeroShotClassificationPipeline,
    "text-generation": TextGenerationPipeline,
    "question-answering": QuestionAnsweringPipeline,
    "image-classification": ImageClassificationPipeline,
    "zero-shot-image-classification": ZeroShotImageClassificationPipeline,
    "image-feature-extraction": ImageFeatureExtractionPipeline,
    "automatic-speech-recognition": AutomaticSpeechRecognitionPipeline,
    "audio-classification": AudioClassificationPipeline,
}

ALIASES: dict[str, str] = {
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
}


def _framework_of(model: Any) -> str:
    try:
        return framework_of_model(model)
    except ConfigError:
        raise InputError(
            f"Cannot tell the framework of {type(model).__name__}; pass a rosetta model or a path."
        ) from None


def _default_framework() -> str:
    installed = available_frameworks()
    if not installed:
        raise InputError(
            f"No framework is installed. {missing_framework_message('torch')} (or [tf], [flax])."
        )
    return installed[0]


def _check_framework(framework: str | None) -> str | None:
    if framework is None:
        return None
    try:
        return framework_key(framework)
    except ConfigError:
        spellings = ", ".join(repr(fw.tensor_type) for fw in FRAMEWORKS.values())
        raise InputError(
            f"framework must be one of {spellings} (or {', '.join(FRAMEWORKS)}), got {framework!r}."
        ) from None


# -- devices -------------------------------------------------------------------------------------------
def resolve_device(framework: str, device: Any) -> Any:
    """The device a pipeline runs on, checked: torch takes "cpu", "cuda", "cuda:N", an index (-1 = CPU) or a
    torch.device; TF and Flax pipelines run on the CPU ("cpu" or -1). Anything else is an InputError."""
    if device is None:
        return None
    if framework == "torch":
        return _torch_device(device)
    if device == -1 or (isinstance(device, str) and device.lower() == "cpu"):
        return "cpu"
    raise InputError(
        f"device={device!r} is not a device a {FRAMEWORKS[framework].display_name} pipeline can use: pass "
        "device='cpu' (or -1), or leave device out; for a GPU, use framework='pt' with device='cuda:0'."
    )


def _torch_device(device: Any) -> Any:
    import torch

    if isinstance(device, bool) or not isinstance(device, (int, str, torch.device)):
        raise InputError(f"device must be 'cpu', 'cuda:N', an int or a torch.device, got {device!r}.")
    try:
        if isinstance(device, int):
            resolved = torch.device("cpu") if device == -1 else torch.device("cuda", device)
        else:
            resolved = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise InputError(
            f"device={device!r} is not a torch device ({error}). Use 'cpu', 'cuda', 'cuda:0', an index, or -1 for the CPU."
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device={device!r} asks for CUDA, which this torch cannot use. Use device='cpu' (or -1)."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise InputError(
                f"device={device!r}: there are {torch.cuda.device_count()} CUDA device(s) here "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})."
            )
    elif resolved.type != "cpu" and not _torch_backend_available(resolved.type):
        raise InputError(
            f"device={device!r}: torch has no usable {resolved.type!r} backend here. Use device='cpu'."
        )
    return resolved


def _torch_backend_available(kind: str) -> bool:
    import torch

    backend = getattr(torch, kind, None) or getattr(torch.backends, kind, None)
    is_available = getattr(backend, "is_available", None)
    return bool(is_available()) if callable(is_available) else False


def _place(model: Any, framework: str, device: Any) -> Any:
    if framework == "torch" and device is not None:
        return model.to(device)
    return model


_PROCESSOR_AUTO = {
    "tokenizer": "AutoTokenizer",
    "image_processor": "AutoImageProcessor",
    "feature_extractor": "AutoFeatureExtractor",
}


def _load_processors(pipeline_class: type[Pipeline], source: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The tokenizer / image processor / feature extractor the task needs: given ones (objects or paths),
    else read from `source` (the model's folder); an InputError when one is missing."""
    import rosetta

    loaded = {}
    for name in pipeline_class.processors:
        value = given.get(name)
        if value is None and source is None:
            raise InputError(f"Pass {name}= along with a model object (or pass a folder/Hub id as model).")
        value = source if value is None else value
        if isinstance(value, (str, os.PathLike)):
            value = getattr(rosetta, _PROCESSOR_AUTO[name]).from_pretrained(value)
        loaded[name] = value
    return loaded


def pipeline(
    task: str,
    model: Any = None,
    tokenizer: Any = None,
    framework: str | None = None,
    device: Any = None,
    image_processor: Any = None,
    feature_extractor: Any = None,
    batch_size: int | None = None,
    **model_kwargs: Any,
) -> Pipeline:
    """A ready-to-call pipeline for `task`, with `model` a rosetta model or a folder / Hub id.

    `framework` ("pt"/"torch", "tf", "flax"/"jax") picks the framework for a path; `device` places
    the model (torch: "cpu", "cuda:0", an index, -1 for the CPU; TF/Flax: "cpu" or -1). The tokenizer,
    image processor or feature extractor the task needs is read from the model's folder unless given.
    `batch_size` (default 1) is how many inputs share one forward when the pipeline is called on many
    (a list, a generator, a dataset); a call's own `batch_size=` overrides it.
    """
    import rosetta

    pipeline_class = _task_class(task)
    batch_size = check_batch_size(batch_size)
    if model is None:
        raise InputError(
            f"pipeline({task!r}) needs a model: a rosetta model, a folder, or a Hub repo id "
            "(rosetta downloads no default)."
        )
    requested = _check_framework(framework)
    given = {
        "tokenizer": tokenizer,
        "image_processor": image_processor,
        "feature_extractor": feature_extractor,
    }
    source = None
    if isinstance(model, (str, os.PathLike)):
        key = requested or _default_framework()
        placed = resolve_device(key, device)  # checked before anything is loaded
        source = model
        processors = _load_processors(pipeline_class, source, given)
        auto = getattr(rosetta, FRAMEWORKS[key].class_prefix + pipeline_class.auto_class_for(source))
        model = auto.from_pretrained(model, **model_kwargs)
    else:
        key = _framework_of(model)
        if requested is not None and requested != key:
            raise InputError(
                f"framework={framework!r} but the model given is a {FRAMEWORKS[key].display_name} model "
                f"({type(model).__name__})."
            )
        placed = resolve_device(key, device)
        processors = _load_processors(pipeline_class, None, given)
    processors.setdefault("tokenizer", None)
    return pipeline_class(
        _place(model, key, placed), framework=key, device=placed, batch_size=batch_size, **processors
    )


def _task_class(task: str) -> type[Pipeline]:
    name = ALIASES.get(task, task)
    if name not in TASKS:
        known = ", ".join(sorted([*TASKS, *ALIASES]))
        raise InputError(f"Unknown task {task!r}; supported: {known}.")
    return TASKS[name]
