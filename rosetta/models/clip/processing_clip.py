"""CLIP's processor: the CLIP tokenizer for text and the CLIP image processor for images, in one call."""

from __future__ import annotations

from typing import Any

from ...core.errors import InputError
from ...core.processing import ProcessorMixin
from ...core.tokenization import BatchEncoding


class CLIPProcessor(ProcessorMixin):
    """`processor(text=..., images=..., return_tensors="pt")` -> input_ids, attention_mask, pixel_values."""

    attributes = ("image_processor", "tokenizer")
    part_classes = {
        "image_processor": "rosetta.models.clip.image_processing_clip.CLIPImageProcessor",
        "tokenizer": "rosetta.models.clip.tokenization_clip.CLIPTokenizer",
    }

    def __call__(
        self, text: Any = None, images: Any = None, return_tensors: str | None = None, **kwargs: Any
    ) -> BatchEncoding:
        if text is None and images is None:
            raise InputError("CLIPProcessor needs text=..., images=... or both.")
        text_kwargs, image_kwargs = self.split_kwargs(
            kwargs, self.tokenizer.__call__, self.image_processor.preprocess
        )
        output = BatchEncoding()
        if text is not None:
            encoding = self.tokenizer(text, return_tensors=return_tensors, **text_kwargs)
            output = BatchEncoding(dict(encoding), encodings=encoding.encodings)
        if images is not None:
            output["pixel_values"] = self.image_processor(
                images, return_tensors=return_tensors, **image_kwargs
            )["pixel_values"]
        return output
