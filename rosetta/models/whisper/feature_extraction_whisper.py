"""Whisper's feature extractor: 30 s of 16 kHz audio -> an 80 x 3000 log-mel spectrogram, in numpy.

The recipe of OpenAI's `whisper.audio.log_mel_spectrogram`: a centred STFT (Hann window of
400 samples, hop 160, reflect padding), the power spectrum through Slaney-normalised mel
filters up to 8 kHz, log10 (floored at 1e-10), values below max - 8 raised to it, then
(x + 4) / 4. The last STFT frame is dropped, so 480000 samples give 3000 frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.feature_extraction import SequenceFeatureExtractor, zero_mean_unit_var_norm
from ...core.tensors import BatchFeature


def hertz_to_mel(freq: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    freq = np.asarray(freq, dtype=np.float64)
    mels = 3.0 * freq / 200.0
    log_region = freq >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(freq, 1e-10) / 1000.0) * (27.0 / np.log(6.4)), mels)


def mel_to_hertz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    freq = 200.0 * mels / 3.0
    return np.where(mels >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0)), freq)


def mel_filter_bank(
    num_frequency_bins: int,
    num_mel_filters: int,
    min_frequency: float,
    max_frequency: float,
    sampling_rate: int,
) -> np.ndarray:
    """(num_frequency_bins, num_mel_filters) triangular filters, Slaney mel scale and area normalisation."""
    mel_points = np.linspace(hertz_to_mel(min_frequency), hertz_to_mel(max_frequency), num_mel_filters + 2)
    filter_freqs = mel_to_hertz(mel_points)
    fft_freqs = np.linspace(0, sampling_rate // 2, num_frequency_bins)
    slopes = filter_freqs[None, :] - fft_freqs[:, None]
    widths = np.diff(filter_freqs)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (filter_freqs[2:] - filter_freqs[:-2]))[None, :]


def mel_projection(power: np.ndarray, mel_filters: np.ndarray) -> np.ndarray:
    """power [frames, bins] -> [mels, frames] through the triangular filters [bins, mels], each summed over
    its few nonzero bins (at most 14 of 201 for Whisper's 80 mels).

    Not `mel_filters.T @ power.T`: that BLAS product wakes numpy's BLAS thread pool, whose threads then spin
    for tens of ms beside the model's threads; on 2 cores it slowed the Whisper forward after it by 45-60 ms
    per 30 s window. einsum runs on the calling thread, and over the nonzero bins only it is also cheaper.
    """
    out = np.zeros((mel_filters.shape[1], power.shape[0]))
    for mel, column in enumerate(mel_filters.T):
        (bins,) = np.nonzero(column)
        if bins.size:
            low, high = bins[0], bins[-1] + 1
            out[mel] = np.einsum("tf,f->t", power[:, low:high], column[low:high])
    return out


def log_mel_spectrogram(
    waveform: np.ndarray, n_fft: int, hop_length: int, mel_filters: np.ndarray
) -> np.ndarray:
    """(num_mel_filters, frames - 1) Whisper log-mel features of one waveform."""
    window = np.hanning(n_fft + 1)[:-1]  # periodic Hann, as torch.hann_window
    padded = np.pad(waveform.astype(np.float64), n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    power = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=-1)) ** 2
    mel = mel_projection(power[:-1], mel_filters)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


class WhisperFeatureExtractor(SequenceFeatureExtractor):
    """`input_features`: (batch, 80, 3000) log-mel spectrograms of audio padded or cut to 30 seconds."""

    model_input_names = ["input_features"]

    def __init__(
        self,
        feature_size: int = 80,
        sampling_rate: int = 16000,
        hop_length: int = 160,
        chunk_length: int = 30,
        n_fft: int = 400,
        padding_value: float = 0.0,
        return_attention_mask: bool = False,
        **kwargs: Any,
    ):
        for derived in ("n_samples", "nb_max_frames"):  # written by transformers; recomputed here
            kwargs.pop(derived, None)
        super().__init__(
            feature_size, sampling_rate, padding_value, return_attention_mask=return_attention_mask, **kwargs
        )
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.chunk_length = chunk_length
        self.n_samples = chunk_length * sampling_rate
        self.nb_max_frames = self.n_samples // hop_length
        self._mel_filters = mel_filter_bank(1 + n_fft // 2, feature_size, 0.0, 8000.0, sampling_rate)

    def __call__(
        self,
        raw_speech: Any,
        truncation: bool = True,
        pad_to_multiple_of: int | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        padding: bool | str = "max_length",
        max_length: int | None = None,
        sampling_rate: int | None = None,
        do_normalize: bool | None = None,
    ) -> BatchFeature:
        self.check_sampling_rate(sampling_rate)
        waveforms, _ = self.as_batch(raw_speech)
        padded = self.pad(
            {"input_features": waveforms},
            padding=padding,
            max_length=max_length or self.n_samples,
            truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=True,
        )
        audio = padded["input_features"]
        if do_normalize:
            audio = zero_mean_unit_var_norm(audio, padded["attention_mask"], self.padding_value)
        features = [log_mel_spectrogram(a, self.n_fft, self.hop_length, self._mel_filters) for a in audio]
        output = {"input_features": features}
        if return_attention_mask:
            # one mask value per frame: every hop_length-th sample, without the dropped last frame
            masks = np.stack(padded["attention_mask"])
            frames = masks[:, :: self.hop_length]
            output["attention_mask"] = frames[:, :-1] if masks.shape[1] % self.hop_length else frames
        return BatchFeature(output, tensor_type=return_tensors)
