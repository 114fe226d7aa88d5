"""Wav2Vec2's processor: the feature extractor for audio, the CTC tokenizer for transcripts (as labels)."""

from __future__ import annotations

from typing import Any

from ...core.errors import InputError
from ...core.processing import AudioTextProcessor
from ...core.tensors import BatchFeature


class Wav2Vec2Processor(AudioTextProcessor):
    """`processor(audio, sampling_rate=16000)` -> input_values; with `text=` the transcript ids come as `labels`."""

    part_classes = {
        "feature_extractor": "rosetta.models.wav2vec2.feature_extraction_wav2vec2.Wav2Vec2FeatureExtractor",
        "tokenizer": "rosetta.models.wav2vec2.tokenization_wav2vec2.Wav2Vec2CTCTokenizer",
    }

    def pad(self, input_features: Any = None, labels: Any = None, **kwargs: Any) -> BatchFeature:
        """Pad audio features with the feature extractor and label ids with the tokenizer (a collate function)."""
        if input_features is None and labels is None:
            raise InputError("Wav2Vec2Processor.pad needs input_features=..., labels=... or both.")
        if labels is not None:
            labels = self.tokenizer.pad(labels, **kwargs)
            if input_features is None:
                return labels
        features = self.feature_extractor.pad(input_features, **kwargs)
        if labels is not None:
            features["labels"] = labels["input_ids"]
        return features

    @property
    def model_input_names(self) -> list[str]:
        return [*self.feature_extractor.model_input_names, "labels"]
