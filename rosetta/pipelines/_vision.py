"""Image tasks: `image-classification` and `zero-shot-image-classification`, numpy after the model."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import Pipeline, sigmoid, softmax


def load_image(value: Any) -> Any:
    """A PIL RGB image from a PIL image, a file path or an HxWxC uint8/float array; an InputError otherwise."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, (str, os.PathLike)):
        try:
            with Image.open(value) as image:
                return image.convert("RGB")
        except (OSError, UnidentifiedImageError) as error:
            raise InputError(
                f"Cannot open the image {os.fspath(value)!r} ({error}); pass a path to an image file."
            ) from None
    if isinstance(value, np.ndarray) and value.ndim in (2, 3):
        array = value if value.dtype == np.uint8 else (np.clip(value, 0, 1) * 255).round().astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    raise InputError(
        f"An image pipeline takes a PIL image, a path to an image file or an HxWxC array, got {type(value).__name__}."
    )


def _images(inputs: Any) -> tuple[list[Any], bool]:
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise InputError(
                "An image pipeline takes an image or a non-empty list of images, got an empty list."
            )
        return [load_image(i) for i in inputs], False
    return [load_image(inputs)], True


class ImageClassificationPipeline(Pipeline):
    """The `top_k` labels (default 5) per image, with softmax (or sigmoid for multi-label) scores."""

    auto_class = "AutoModelForImageClassification"
    processors = ("image_processor",)

    def __call__(
        self, inputs: Any, top_k: int | None = 5, function_to_apply: Any = None, **kwargs: Any
    ) -> Any:
        images, single = _images(inputs)
        pixels = self.image_processor(images=images, return_tensors="np")["pixel_values"]
        logits = self.forward({"pixel_values": np.asarray(pixels, dtype=np.float32)})["logits"]
        results = [self._ranked(row, top_k, function_to_apply) for row in logits]
        return results[0] if single else results

    def _ranked(self, logits: np.ndarray, top_k: int | None, function_to_apply: Any) -> list[dict[str, Any]]:
        config = self.model.config
        function = str(getattr(function_to_apply, "value", function_to_apply) or "").lower()
        if not function:
            multi = config.problem_type == "multi_label_classification" or config.num_labels == 1
            function = "none" if config.problem_type == "regression" else "sigmoid" if multi else "softmax"
        if function not in ("sigmoid", "softmax", "none"):
            raise InputError(
                f"function_to_apply must be 'sigmoid', 'softmax' or 'none', got {function_to_apply!r}."
            )
        scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[function](logits)
        order = np.argsort(-scores, kind="stable")[: min(top_k or len(scores), config.num_labels)]
        return [{"label": config.id2label[int(i)], "score": float(scores[i])} for i in order]


class ZeroShotImageClassificationPipeline(Pipeline):
    """Scores of `candidate_labels` for each image: softmax over the image-text similarities, best first."""

    auto_class = "AutoModel"
    processors = ("tokenizer", "image_processor")

    def __call__(
        self,
        inputs: Any,
        candidate_labels: list[str] | None = None,
        hypothesis_template: str = "This is a photo of {}.",
        **kwargs: Any,
    ) -> Any:
        if isinstance(candidate_labels, str):
            candidate_labels = [candidate_labels]
        if not candidate_labels or not all(isinstance(c, str) and c for c in candidate_labels):
            raise InputError(
                f"zero-shot-image-classification needs candidate_labels, a non-empty list of strings; got {candidate_labels!r}."
            )
        images, single = _images(inputs)
        text = self.tokenizer(
            [hypothesis_template.format(c) for c in candidate_labels], padding=True, return_tensors="np"
        )
        results = [self._one(image, text, candidate_labels) for image in images]
        return results[0] if single else results

    def _one(self, image: Any, text: Any, labels: list[str]) -> list[dict[str, Any]]:
        pixels = np.asarray(
            self.image_processor(images=[image], return_tensors="np")["pixel_values"], dtype=np.float32
        )
        inputs = {
            "input_ids": np.asarray(text["input_ids"]),
            "attention_mask": np.asarray(text["attention_mask"]),
        }
        logits = self.forward({**inputs, "pixel_values": pixels})["logits_per_image"][0]
        scores = softmax(logits)
        ranked = sorted(zip(scores.tolist(), labels), key=lambda pair: -pair[0])
        return [{"score": score, "label": label} for score, label in ranked]
