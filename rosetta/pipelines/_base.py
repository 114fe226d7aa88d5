"""The pipeline base class and the numpy helpers every task shares."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._numpy import numpy_call

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def device_scope(framework: str, device: Any) -> contextlib.AbstractContextManager:
    """Where TF and Flax place the call; torch models are moved once, when the pipeline is built."""
    if device is None or framework == "torch":
        return contextlib.nullcontext()
    if framework == "tf":
        import tensorflow as tf

        return tf.device("/CPU:0")
    import jax

    return jax.default_device(jax.devices("cpu")[0])


def check_texts(name: str, inputs: Any) -> tuple[list[str], bool]:
    """(the texts as a list, whether one text was given); an InputError for anything else."""
    single = isinstance(inputs, str)
    texts = [inputs] if single else list(inputs) if isinstance(inputs, (list, tuple)) else None
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise InputError(f"{name} takes a non-empty string or a non-empty list of strings, got {inputs!r}.")
    return texts, single


class Pipeline(ABC):
    """Preprocess -> run the model in its own framework -> turn its outputs (as numpy) into answers.

    `processors` names what the task needs of tokenizer, image_processor and feature_extractor.
    """

    auto_class = "AutoModel"
    processors: tuple[str, ...] = ("tokenizer",)  # what the task reads its inputs with

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        framework: str,
        device: Any = None,
        image_processor: Any = None,
        feature_extractor: Any = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.framework = framework
        self.device = device
        self.image_processor = image_processor
        self.feature_extractor = feature_extractor

    @abstractmethod
    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """The answers for `inputs`, shaped as transformers' pipeline shapes them."""

    def forward(self, inputs: dict[str, np.ndarray], **kwargs: Any) -> dict[str, np.ndarray]:
        """The model on numpy arrays, on the pipeline's device; float outputs as float32 numpy."""
        with device_scope(self.framework, self.device):
            out = numpy_call(self.model, inputs, **kwargs)
        return {
            k: v.astype(np.float32, copy=False) if v.dtype.kind == "f" else v
            for k, v in out.items()
            if isinstance(v, np.ndarray)
        }


class TextPipeline(Pipeline):
    """A text task: tokenise the batch (padded), one forward, then `postprocess` per text."""

    def __call__(self, inputs: str | list[str], **kwargs: Any) -> Any:
        texts, single = check_texts(type(self).__name__, inputs)
        encoding = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            return_tensors="np",
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        outputs = self.forward({k: np.asarray(encoding[k]) for k in MODEL_INPUTS if k in encoding})
        results = [self.postprocess(outputs, i, texts[i], encoding, **kwargs) for i in range(len(texts))]
        return results[0] if single else results

    @abstractmethod
    def postprocess(
        self, outputs: dict[str, np.ndarray], index: int, text: str, encoding: Any, **kwargs: Any
    ) -> Any:
        """The answer for text `index` of the batch, from the model's outputs as numpy."""
