"""Wav2Vec2's feature extractor: the raw waveform, normalised per example to zero mean and unit variance."""

from __future__ import annotations

from typing import Any

from ...core.feature_extraction import SequenceFeatureExtractor, zero_mean_unit_var_norm
from ...core.tensors import BatchFeature


class Wav2Vec2FeatureExtractor(SequenceFeatureExtractor):
    """`input_values`: float32 waveforms at 16 kHz (padded with `padding_value`), and `attention_mask` if asked.

    Normalisation uses each example's own samples only, never its padding; the padding is
    then reset to `padding_value`.
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(
        self,
        feature_size: int = 1,
        sampling_rate: int = 16000,
        padding_value: float = 0.0,
        return_attention_mask: bool = False,
        do_normalize: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            feature_size, sampling_rate, padding_value, return_attention_mask=return_attention_mask, **kwargs
        )
        self.do_normalize = do_normalize

    def __call__(
        self,
        raw_speech: Any,
        padding: bool | str = False,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        sampling_rate: int | None = None,
    ) -> BatchFeature:
        self.check_sampling_rate(sampling_rate)
        waveforms, _ = self.as_batch(raw_speech)
        padded = self.pad(
            {"input_values": waveforms},
            padding=padding,
            max_length=max_length,
            truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=True,
        )
        if self.do_normalize:
            padded["input_values"] = zero_mean_unit_var_norm(
                padded["input_values"], padded["attention_mask"], self.padding_value
            )
        if not (self.return_attention_mask if return_attention_mask is None else return_attention_mask):
            del padded["attention_mask"]
        return padded.convert_to_tensors(return_tensors)
