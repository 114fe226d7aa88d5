"""`pipeline(task, model=..., framework=...)`: preprocessing, the model and postprocessing behind one call.

The framework follows the model passed (a torch, TF or Flax model), or `framework=` ("pt",
"tf", "flax") when the model is a path or Hub id. Postprocessing is numpy, shared by all three,
so the same checkpoint gives the same answers whichever framework serves it.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..core.errors import ConfigError, InputError
from ..core.frameworks import FRAMEWORKS, available_frameworks, framework_key, missing_framework_message
from ._numpy import framework_of_model, numpy_call

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Pipeline(ABC):
    """Tokenise -> run the model in its own framework -> turn its outputs (as numpy) into answers."""

    auto_class = "AutoModel"

    def __init__(self, model: Any, tokenizer: Any, framework: str, device: Any = None):
        self.model = model
        self.tokenizer = tokenizer
        self.framework = framework_key(framework)
        self.device = device

    def __call__(self, inputs: str | list[str], **kwargs: Any) -> Any:
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise InputError(
                f"{type(self).__name__} takes a string or a non-empty list of strings, got {inputs!r}."
            )
        encoding = self.tokenizer(texts, padding=True, truncation=True, return_tensors="np")
        outputs = self._forward(encoding)
        ids = np.asarray(encoding["input_ids"])
        mask = np.asarray(encoding["attention_mask"])
        results = [
            self.postprocess(outputs, i, ids[i], mask[i], encoding, **kwargs) for i in range(len(texts))
        ]
        return results[0] if single else results

    def _forward(self, encoding: Any) -> dict[str, np.ndarray]:
        """The model on the encoding's numpy arrays, on the pipeline's device; float outputs as float32 numpy."""
        inputs = {k: np.asarray(encoding[k]) for k in _MODEL_INPUTS if k in encoding}
        with _device_scope(self.framework, self.device):
            out = numpy_call(self.model, inputs)
        return {k: v.astype(np.float32, copy=False) for k, v in out.items() if isinstance(v, np.ndarray)}

    @abstractmethod
    def postprocess(
        self,
        outputs: dict[str, np.ndarray],
        index: int,
        ids: np.ndarray,
        mask: np.ndarray,
        encoding: Any,
        **kwargs: Any,
    ) -> Any:
        """The answer for text `index` of the batch, from the model's outputs as numpy."""


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class FeatureExtractionPipeline(Pipeline):
    """The last hidden state of each real (unpadded) token: [tokens][hidden] per text."""

    def postprocess(self, outputs, index, ids, mask, encoding, **kwargs):
        return outputs["last_hidden_state"][index][mask.astype(bool)].tolist()


class TextClassificationPipeline(Pipeline):
    """Label scores: softmax for single-label, sigmoid for multi-label and one-label models."""

    auto_class = "AutoModelForSequenceClassification"

    def postprocess(self, outputs, index, ids, mask, encoding, top_k: int | None = 1, **kwargs):
        logits = outputs["logits"][index]
        config = self.model.config
        if config.problem_type == "multi_label_classification" or config.num_labels == 1:
            scores = 1.0 / (1.0 + np.exp(-logits))
        else:
            scores = _softmax(logits)
        order = np.argsort(-scores, kind="stable")[: top_k or len(scores)]
        ranked = [{"label": config.id2label[int(i)], "score": float(scores[i])} for i in order]
        return ranked[0] if top_k == 1 else ranked


class FillMaskPipeline(Pipeline):
    """The top_k tokens for the mask token in each text, with the filled-in sequence."""

    auto_class = "AutoModelForMaskedLM"

    def postprocess(self, outputs, index, ids, mask, encoding, top_k: int = 5, **kwargs):
        positions = np.flatnonzero(ids == self.tokenizer.mask_token_id)
        if len(positions) != 1:
            raise InputError(
                f"fill-mask needs exactly one {self.tokenizer.mask_token} in each text; found {len(positions)}."
            )
        position = int(positions[0])
        probs = _softmax(outputs["logits"][index, position])
        results = []
        for token_id in np.argsort(-probs, kind="stable")[:top_k]:
            filled = ids[mask.astype(bool)].copy()
            filled[position] = token_id
            results.append(
                {
                    "score": float(probs[token_id]),
                    "token": int(token_id),
                    "token_str": self.tokenizer.decode([int(token_id)]),
                    "sequence": self.tokenizer.decode(filled.tolist(), skip_special_tokens=True),
                }
            )
        return results


class TokenClassificationPipeline(Pipeline):
    """One label per word piece (special tokens left out), with its score and character offsets."""

    auto_class = "AutoModelForTokenClassification"

    def postprocess(self, outputs, index, ids, mask, encoding, **kwargs):
        probs = _softmax(outputs["logits"][index])
        special = set(self.tokenizer.all_special_ids)
        offsets = (
            encoding.encodings[index].offsets
            if getattr(encoding, "encodings", None)
            else [(None, None)] * len(ids)
        )
        entities = []
        for position, token_id in enumerate(ids):
            if not mask[position] or int(token_id) in special:
                continue
            label = int(np.argmax(probs[position]))
            start, end = offsets[position]
            entities.append(
                {
                    "entity": self.model.config.id2label[label],
                    "score": float(probs[position, label]),
                    "index": position,
                    "word": self.tokenizer.convert_ids_to_tokens(int(token_id)),
                    "start": start,
                    "end": end,
                }
            )
        return entities


TASKS: dict[str, type[Pipeline]] = {
    "feature-extraction": FeatureExtractionPipeline,
    "text-classification": TextClassificationPipeline,
    "sentiment-analysis": TextClassificationPipeline,
    "fill-mask": FillMaskPipeline,
    "token-classification": TokenClassificationPipeline,
    "ner": TokenClassificationPipeline,
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


def _device_scope(framework: str, device: Any) -> contextlib.AbstractContextManager:
    """Where TF and Flax place the call; torch models are moved once, when the pipeline is built."""
    if device is None or framework == "torch":
        return contextlib.nullcontext()
    if framework == "tf":
        import tensorflow as tf

        return tf.device("/CPU:0")
    import jax

    return jax.default_device(jax.devices("cpu")[0])


def _place(model: Any, framework: str, device: Any) -> Any:
    if framework == "torch" and device is not None:
        return model.to(device)
    return model


def pipeline(
    task: str,
    model: Any = None,
    tokenizer: Any = None,
    framework: str | None = None,
    device: Any = None,
    **model_kwargs: Any,
) -> Pipeline:
    """A ready-to-call pipeline for `task`, with `model` a rosetta model or a folder / Hub id.

    `framework` ("pt"/"torch", "tf", "flax"/"jax") picks the framework for a path; `device` places
    the model (torch: "cpu", "cuda:0", an index, -1 for the CPU; TF/Flax: "cpu" or -1).
    """
    import rosetta

    if task not in TASKS:
        raise InputError(f"Unknown task {task!r}; supported: {', '.join(sorted(TASKS))}.")
    if model is None:
        raise InputError(
            "pipeline needs a model: a rosetta model, a folder, or a Hub repo id (rosetta downloads no default)."
        )
    requested = _check_framework(framework)
    pipeline_class = TASKS[task]
    if isinstance(model, (str, os.PathLike)):
        key = requested or _default_framework()
        placed = resolve_device(key, device)  # checked before anything is loaded
        auto = getattr(rosetta, FRAMEWORKS[key].class_prefix + pipeline_class.auto_class)
        tokenizer = tokenizer if tokenizer is not None else rosetta.AutoTokenizer.from_pretrained(model)
        model = auto.from_pretrained(model, **model_kwargs)
    else:
        key = _framework_of(model)
        if requested is not None and requested != key:
            raise InputError(
                f"framework={framework!r} but the model given is a {FRAMEWORKS[key].display_name} model "
                f"({type(model).__name__})."
            )
        placed = resolve_device(key, device)
        if tokenizer is None:
            raise InputError("Pass tokenizer= along with a model object (or pass a folder/Hub id as model).")
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = rosetta.AutoTokenizer.from_pretrained(tokenizer)
    return pipeline_class(_place(model, key, placed), tokenizer, key, placed)
