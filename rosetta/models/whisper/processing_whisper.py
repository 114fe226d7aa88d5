"""Whisper's processor: the feature extractor for audio, the tokenizer for text (as `labels` with audio)."""

from __future__ import annotations

from ...core.processing import AudioTextProcessor


class WhisperProcessor(AudioTextProcessor):
    """`processor(audio=..., sampling_rate=16000)` -> input_features; `text=` alone -> the tokenizer's encoding;
    both -> input_features with the transcript ids as `labels`. `decode` / `batch_decode` are the tokenizer's."""

    part_classes = {
        "feature_extractor": "rosetta.models.whisper.feature_extraction_whisper.WhisperFeatureExtractor",
        "tokenizer": "rosetta.models.whisper.tokenization_whisper.WhisperTokenizer",
    }

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        return self.tokenizer.get_decoder_prompt_ids(
            task=task, language=language, no_timestamps=no_timestamps
        )
