"""`pipeline(task, model=..., framework=...)`: preprocessing, the model and postprocessing behind one call.

The framework follows the model passed (a torch, TF or Flax model), or `framework=` ("pt",
"tf", "flax") when the model is a path or Hub id. Postprocessing is numpy, shared by all three,
so the same checkpoint gives the same answers whichever framework serves it.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..core.errors import InputError

FRAMEWORKS = ("pt", "tf", "flax")
_RETURN_TENSORS = {"pt": "pt", "tf": "tf", "flax": "jax"}
_PREFIX = {"pt": "", "tf": "TF", "flax": "Flax"}


class Pipeline(ABC):
    """Tokenise -> run the model in its own framework -> turn its outputs (as numpy) into answers."""

    auto_class = "AutoModel"

    def __init__(self, model: Any, tokenizer: Any, framework: str):
        self.model = model
        self.tokenizer = tokenizer
        self.framework = framework

    def __call__(self, inputs: str | list[str], **kwargs: Any) -> Any:
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise InputError(f"{type(self).__name__} takes a string or a non-empty list of strings, got {inputs!r}.")
        encoding = self.tokenizer(texts, padding=True, truncation=True, return_tensors=_RETURN_TENSORS[self.framework])
        outputs = self._forward(encoding)
        ids = np.asarray(encoding["input_ids"])
        mask = np.asarray(encoding["attention_mask"])
        results = [self.postprocess(outputs, i, ids[i], mask[i], encoding, **kwargs) for i in range(len(texts))]
        return results[0] if single else results

    def _forward(self, encoding: Any) -> dict[str, np.ndarray]:
        inputs = {k: encoding[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoding}
        if self.framework == "pt":
            import torch

            with torch.inference_mode():
                out = self.model(**inputs)
            return {k: v.float().numpy() for k, v in out.items() if hasattr(v, "numpy")}
        if self.framework == "tf":
            out = self.model(**inputs, training=False)
        else:
            out = self.model(**inputs)
        return {k: np.asarray(v, dtype=np.float32) for k, v in out.items() if not isinstance(v, tuple)}

    @abstractmethod
    def postprocess(self, outputs: dict[str, np.ndarray], index: int, ids: np.ndarray, mask: np.ndarray, encoding: Any, **kwargs: Any) -> Any:
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
            raise InputError(f"fill-mask needs exactly one {self.tokenizer.mask_token} in each text; found {len(positions)}.")
        position = int(positions[0])
        probs = _softmax(outputs["logits"][index, position])
        results = []
        for token_id in np.argsort(-probs, kind="stable")[:top_k]:
            filled = ids[mask.astype(bool)].copy()
            filled[position] = token_id
            results.append({
                "score": float(probs[token_id]),
                "token": int(token_id),
                "token_str": self.tokenizer.decode([int(token_id)]),
                "sequence": self.tokenizer.decode(filled.tolist(), skip_special_tokens=True),
            })
        return results


class TokenClassificationPipeline(Pipeline):
    """One label per word piece (special tokens left out), with its score and character offsets."""

    auto_class = "AutoModelForTokenClassification"

    def postprocess(self, outputs, index, ids, mask, encoding, **kwargs):
        probs = _softmax(outputs["logits"][index])
        special = set(self.tokenizer.all_special_ids)
        offsets = encoding.encodings[index].offsets if getattr(encoding, "encodings", None) else [(None, None)] * len(ids)
        entities = []
        for position, token_id in enumerate(ids):
            if not mask[position] or int(token_id) in special:
                continue
            label = int(np.argmax(probs[position]))
            start, end = offsets[position]
            entities.append({
                "entity": self.model.config.id2label[label],
                "score": float(probs[position, label]),
                "index": position,
                "word": self.tokenizer.convert_ids_to_tokens(int(token_id)),
                "start": start,
                "end": end,
            })
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
    framework = getattr(type(model), "framework", None)
    if framework not in FRAMEWORKS:
        raise InputError(f"Cannot tell the framework of {type(model).__name__}; pass a rosetta model or a path.")
    return framework


def _default_framework() -> str:
    import importlib.util

    for framework, module in (("pt", "torch"), ("tf", "tensorflow"), ("flax", "flax")):
        if importlib.util.find_spec(module) is not None:
            return framework
    raise InputError("No framework is installed: `pip install rosetta[torch]` (or [tf], [flax]).")


def pipeline(
    task: str,
    model: Any = None,
    tokenizer: Any = None,
    framework: str | None = None,
    **model_kwargs: Any,
) -> Pipeline:
    """A ready-to-call pipeline for `task`, with `model` a rosetta model or a folder / Hub id."""
    import rosetta

    if task not in TASKS:
        raise InputError(f"Unknown task {task!r}; supported: {', '.join(sorted(TASKS))}.")
    if model is None:
        raise InputError("pipeline needs a model: a rosetta model, a folder, or a Hub repo id (rosetta downloads no default).")
    if framework is not None and framework not in FRAMEWORKS:
        raise InputError(f"framework must be one of {FRAMEWORKS}, got {framework!r}.")
    pipeline_class = TASKS[task]
    if isinstance(model, (str, os.PathLike)):
        framework = framework or _default_framework()
        auto = getattr(rosetta, _PREFIX[framework] + pipeline_class.auto_class)
        tokenizer = tokenizer if tokenizer is not None else rosetta.AutoTokenizer.from_pretrained(model)
        model = auto.from_pretrained(model, **model_kwargs)
    else:
        model_framework = _framework_of(model)
        if framework is not None and framework != model_framework:
            raise InputError(f"framework={framework!r} but the model given is a {model_framework!r} model.")
        framework = model_framework
        if tokenizer is None:
            raise InputError("Pass tokenizer= along with a model object (or pass a folder/Hub id as model).")
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = rosetta.AutoTokenizer.from_pretrained(tokenizer)
    return pipeline_class(model, tokenizer, framework)
