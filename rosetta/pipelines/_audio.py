"""Audio tasks: `automatic-speech-recognition` for CTC models and `audio-classification`."""

from __future__ import annotations

import os
import wave
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import Pipeline, sigmoid, softmax


def _read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A 16-bit PCM .wav file as float32 mono samples in [-1, 1] and its sampling rate."""
    try:
        with wave.open(os.fspath(path), "rb") as audio:
            width, channels, rate = audio.getsampwidth(), audio.getnchannels(), audio.getframerate()
            frames = audio.readframes(audio.getnframes())
    except (OSError, EOFError, wave.Error) as error:
        raise InputError(
            f"Cannot read the audio file {os.fspath(path)!r} ({error}); pass a PCM .wav file."
        ) from None
    if width != 2:
        raise InputError(
            f"{os.fspath(path)!r} has {8 * width}-bit samples; pass 16-bit PCM .wav or an array."
        )
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


def load_audio(value: Any, sampling_rate: int) -> np.ndarray:
    """1-D float32 samples at `sampling_rate` from an array, a {"raw"|"array", "sampling_rate"} dict or a .wav path."""
    rate = sampling_rate
    if isinstance(value, (str, os.PathLike)):
        value, rate = _read_wav(value)
    elif isinstance(value, Mapping):
        if "sampling_rate" not in value or not ({"raw", "array"} & set(value)):
            raise InputError('An audio dict needs "raw" (or "array") samples and their "sampling_rate".')
        rate, value = value["sampling_rate"], value.get("raw", value.get("array"))
    samples = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
    if samples is None or samples.ndim != 1 or samples.size == 0 or samples.dtype.kind not in "fiu":
        raise InputError(
            "An audio pipeline takes a non-empty 1-D array of samples, a dict with 'raw' and 'sampling_rate', "
            f"or a path to a .wav file; got {type(value).__name__}."
        )
    if rate != sampling_rate:
        raise InputError(
            f"The audio is sampled at {rate} Hz but the model expects {sampling_rate} Hz; resample it first."
        )
    return samples.astype(np.float32)


class _AudioPipeline(Pipeline):
    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        single = not isinstance(inputs, list)
        batch = [inputs] if single else inputs
        if not batch:
            raise InputError("An audio pipeline takes audio or a non-empty list of audio inputs, got [].")
        results = [
            self._one(load_audio(item, self.feature_extractor.sampling_rate), **kwargs) for item in batch
        ]
        return results[0] if single else results

    def _logits(self, samples: np.ndarray) -> np.ndarray:
        features = self.feature_extractor(
            samples, sampling_rate=self.feature_extractor.sampling_rate, return_tensors="np"
        )
        inputs = {k: np.asarray(features[k]) for k in ("input_values", "attention_mask") if k in features}
        return self.forward(inputs)["logits"][0]

    def _one(self, samples: np.ndarray, **kwargs: Any) -> Any:
        raise NotImplementedError


class CTCSpeechRecognitionPipeline(_AudioPipeline):
    """{"text": ...}: the best label per frame, repeats and blanks collapsed by the CTC tokenizer's decode."""

    auto_class = "AutoModelForCTC"
    processors = ("tokenizer", "feature_extractor")

    def _one(self, samples: np.ndarray, **kwargs: Any) -> dict[str, str]:
        if kwargs:
            raise InputError(f"automatic-speech-recognition (CTC) takes no {', '.join(sorted(kwargs))} here.")
        tokens = self._logits(samples).argmax(-1)
        return {"text": self.tokenizer.decode(tokens.tolist(), skip_special_tokens=False)}


class AudioClassificationPipeline(_AudioPipeline):
    """The `top_k` labels (default 5, at most num_labels) with their scores, best first."""

    auto_class = "AutoModelForAudioClassification"
    processors = ("feature_extractor",)

    def _one(self, samples: np.ndarray, top_k: int | None = 5, function_to_apply: str | None = None) -> list:
        config = self.model.config
        function = function_to_apply or (
            "none"
            if config.problem_type == "regression"
            else "sigmoid"
            if config.problem_type == "multi_label_classification"
            else "softmax"
        )
        if function not in ("sigmoid", "softmax", "none"):
            raise InputError(
                f"function_to_apply must be 'sigmoid', 'softmax' or 'none', got {function_to_apply!r}."
            )
        logits = self._logits(samples)
        scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[function](logits)
        order = np.argsort(-scores, kind="stable")[: min(top_k or config.num_labels, config.num_labels)]
        return [{"score": float(scores[i]), "label": config.id2label[int(i)]} for i in order]
