"""Image tasks: `image-classification`, `zero-shot-image-classification` and `image-feature-extraction`,
numpy after the model."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.frameworks import FRAMEWORKS
from ..core.tensors import to_framework
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


def pixel_values(image_processor: Any, item: Any, **kwargs: Any) -> np.ndarray:
    """One image (anything `load_image` reads) as a float32 `pixel_values` row with a leading axis of 1."""
    pixels = image_processor(images=[load_image(item)], return_tensors="np", **kwargs)["pixel_values"]
    return np.asarray(pixels, dtype=np.float32)


class ImageClassificationPipeline(Pipeline):
    """The `top_k` labels (default 5) per image, with softmax (or sigmoid for multi-label) scores."""

    auto_class = "AutoModelForImageClassification"
    processors = ("image_processor",)
    model_input_names = ("pixel_values",)
    accepts = "an image or a non-empty list of images"

    @property
    def task_name(self) -> str:
        return "image-classification"

    def _sanitize_parameters(
        self, top_k: int | None = 5, function_to_apply: Any = None
    ) -> tuple[dict, dict, dict]:
        function = str(getattr(function_to_apply, "value", function_to_apply) or "").lower()
        if function not in ("", "sigmoid", "softmax", "none"):
            raise InputError(
                f"function_to_apply must be 'sigmoid', 'softmax' or 'none', got {function_to_apply!r}."
            )
        return {}, {}, {"top_k": top_k, "function": function}

    def preprocess(self, item: Any) -> dict[str, np.ndarray]:
        return {"pixel_values": pixel_values(self.image_processor, item)}

    def postprocess(self, outputs, index, item, features, top_k: int | None = 5, function: str = ""):
        config = self.model.config
        if not function:
            multi = config.problem_type == "multi_label_classification" or config.num_labels == 1
            function = "none" if config.problem_type == "regression" else "sigmoid" if multi else "softmax"
        logits = outputs["logits"][index]
        scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[function](logits)
        order = np.argsort(-scores, kind="stable")[: min(top_k or len(scores), config.num_labels)]
        return [{"label": config.id2label[int(i)], "score": float(scores[i])} for i in order]


class ZeroShotImageClassificationPipeline(Pipeline):
    """Scores of `candidate_labels` for each image: softmax over the image-text similarities, best first.

    The labels' prompts are tokenised once per call and run beside every batch of images."""

    auto_class = "AutoModel"
    processors = ("tokenizer", "image_processor")
    accepts = "an image or a non-empty list of images"

    @property
    def task_name(self) -> str:
        return "zero-shot-image-classification"

    def _sanitize_parameters(
        self,
        candidate_labels: list[str] | str | None = None,
        hypothesis_template: str = "This is a photo of {}.",
    ) -> tuple[dict, dict, dict]:
        if isinstance(candidate_labels, str):
            candidate_labels = [candidate_labels]
        if not candidate_labels or not all(isinstance(c, str) and c for c in candidate_labels):
            raise InputError(
                f"zero-shot-image-classification needs candidate_labels, a non-empty list of strings; got {candidate_labels!r}."
            )
        text = self.tokenizer(
            [hypothesis_template.format(c) for c in candidate_labels], padding=True, return_tensors="np"
        )
        prompts = {
            "input_ids": np.asarray(text["input_ids"]),
            "attention_mask": np.asarray(text["attention_mask"]),
        }
        return {}, {"prompts": prompts}, {"labels": list(candidate_labels)}

    def preprocess(self, item: Any) -> dict[str, np.ndarray]:
        return {"pixel_values": pixel_values(self.image_processor, item)}

    def _forward(self, batch, prompts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.forward({**prompts, "pixel_values": batch["pixel_values"]})

    def postprocess(self, outputs, index, item, features, labels: list[str]) -> list[dict[str, Any]]:
        scores = softmax(outputs["logits_per_image"][index])
        ranked = sorted(zip(scores.tolist(), labels), key=lambda pair: -pair[0])
        return [{"score": score, "label": label} for score, label in ranked]


class ImageFeatureExtractionPipeline(Pipeline):
    """The model's features per image, as transformers' `image-feature-extraction` gives them: the last hidden
    state as nested lists `[1][tokens][hidden]`, or with `pool=True` the pooler output `[1][hidden]`; with
    `return_tensors=True` the same as one tensor of the pipeline's framework. `image_processor_kwargs` go to
    the image processor. Images go through the base class's batching (`batch_size=`)."""

    processors = ("image_processor",)
    model_input_names = ("pixel_values",)
    accepts = "an image or a non-empty list of images"

    @property
    def task_name(self) -> str:
        return "image-feature-extraction"

    def _sanitize_parameters(
        self,
        pool: bool | None = None,
        return_tensors: bool | None = None,
        image_processor_kwargs: dict[str, Any] | None = None,
    ) -> tuple[dict, dict, dict]:
        if image_processor_kwargs is not None and not isinstance(image_processor_kwargs, dict):
            raise InputError(
                f"image_processor_kwargs must be a dict of image processor options, got {image_processor_kwargs!r}."
            )
        return (
            {"image_processor_kwargs": image_processor_kwargs or {}},
            {},
            {"pool": bool(pool), "return_tensors": bool(return_tensors)},
        )

    def preprocess(
        self, item: Any, image_processor_kwargs: dict[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        return {"pixel_values": pixel_values(self.image_processor, item, **(image_processor_kwargs or {}))}

    def postprocess(
        self,
        outputs: dict[str, np.ndarray],
        index: int,
        item: Any,
        features: Any,
        pool: bool = False,
        return_tensors: bool = False,
    ) -> Any:
        if pool:
            if "pooler_output" not in outputs:
                raise InputError(
                    f"pool=True needs a pooled output, and {type(self.model).__name__} returns none (it has no "
                    "pooler layer). Leave pool out to get the last hidden state."
                )
            result = outputs["pooler_output"][index : index + 1]
        else:
            result = outputs["last_hidden_state"][index : index + 1]
        if return_tensors:
            return to_framework(result, FRAMEWORKS[self.framework].tensor_type)
        return result.tolist()
