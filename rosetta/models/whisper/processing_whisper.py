"""Whisper's processor: the feature extractor for audio, the tokenizer for text (as `labels` with audio)."""

from __future__ import annotations

from typing import Any

from ...core.errors import InputError
from ...core.processing import ProcessorMixin
from ...core.tensors import BatchFeature


class WhisperProcessor(ProcessorMixin):
    """`processor(audio=..., sampling_rate=16000)` -> input_features; `text=` alone -> the tokenizer's encoding;
    both -> input_features with the transcript ids as `labels`. `decode` / `batch_decode` are the tokenizer's."""

    attributes = ("feature_extractor", "tokenizer")
    part_classes = {
        "feature_extractor": "rosetta.models.whisper.feature_extraction_whisper.WhisperFeatureExtractor",
        "tokenizer": "rosetta.models.whisper.tokenization_whisper.WhisperTokenizer",
    }

    def __call__(
        self, audio: Any = None, text: Any = None, return_tensors: str | None = None, **kwargs: Any
    ) -> BatchFeature:
        if audio is None and text is None:
            raise InputError("WhisperProcessor needs audio=..., text=... or both.")
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

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        return self.tokenizer.get_decoder_prompt_ids(
            task=task, language=language, no_timestamps=no_timestamps
        )
