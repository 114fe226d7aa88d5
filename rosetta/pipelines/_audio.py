"""Audio tasks: `automatic-speech-recognition` (CTC and Whisper) and `audio-classification`.

Both read audio the same way (`load_audio`) and run through the base class's batching: one row per clip, or,
with `chunk_length_s`, one row per overlapping chunk of a long clip (transformers' chunking), put back together
in `postprocess`.
"""

from __future__ import annotations

import itertools
import os
import wave
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import Pipeline, Row, device_scope, sigmoid, softmax
from ._numpy import to_numpy


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
    """1-D float32 samples at `sampling_rate` from an array, a {"raw"|"array", "sampling_rate"} dict or a .wav path.

    Audio at another rate is refused (resample it first): rosetta does not resample behind your back."""
    rate = sampling_rate
    if isinstance(value, (str, os.PathLike)):
        value, rate = _read_wav(value)
    elif isinstance(value, Mapping):
        if "sampling_rate" not in value or not ({"raw", "array"} & set(value)):
            raise InputError('An audio dict needs "raw" (or "array") samples and their "sampling_rate".')
        extra = sorted(set(value) - {"raw", "array", "sampling_rate", "path"})
        if extra:
            raise InputError(
                f"An audio dict takes 'raw' (or 'array'), 'sampling_rate' and 'path'; {extra} are not read here."
            )
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
    """One clip -> the feature extractor's row; batches of clips padded only when the model reads a mask."""

    accepts = "audio (an array, a {'raw', 'sampling_rate'} dict or a .wav path) or a non-empty list of audio"
    model_input_names = ("input_values", "input_features", "attention_mask")

    @property
    def sampling_rate(self) -> int:
        return self.feature_extractor.sampling_rate

    def _features(self, samples: np.ndarray, **options: Any) -> Row:
        features = self.feature_extractor(
            samples, sampling_rate=self.sampling_rate, return_tensors="np", **options
        )
        row = {k: np.asarray(features[k]) for k in self.model_input_names if k in features}
        row["num_samples"] = np.array([samples.shape[0]])
        return row

    def _pads_safely(self) -> bool:
        """Clips of different lengths share a batch only when the model is told where the padding is."""
        return bool(getattr(self.feature_extractor, "return_attention_mask", False))


class AudioClassificationPipeline(_AudioPipeline):
    """The `top_k` labels (default 5, at most num_labels) with their scores, best first."""

    auto_class = "AutoModelForAudioClassification"
    processors = ("feature_extractor",)

    def _sanitize_parameters(
        self, top_k: int | None = 5, function_to_apply: str | None = None
    ) -> tuple[dict, dict, dict]:
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
        return {}, {}, {"top_k": top_k, "function": function}

    def preprocess(self, item: Any) -> Row:
        return self._features(load_audio(item, self.sampling_rate))

    def postprocess(self, outputs, index, item, features, top_k: int | None = 5, function: str = "softmax"):
        config = self.model.config
        logits = outputs["logits"][index]
        scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[function](logits)
        order = np.argsort(-scores, kind="stable")[: min(top_k or config.num_labels, config.num_labels)]
        return [{"score": float(scores[i]), "label": config.id2label[int(i)]} for i in order]


class AutomaticSpeechRecognitionPipeline(_AudioPipeline):
    """{"text": ...} from a CTC model (the best label per frame, repeats and blanks collapsed) or from Whisper
    (`generate`), as transformers' pipeline returns it.

    - `chunk_length_s` (with `stride_length_s`, default chunk_length_s / 6 each side) cuts long audio into
      overlapping chunks, batched like any rows. CTC drops each chunk's strides from its frames before joining;
      Whisper merges the chunks' tokens on their longest common overlap.
    - `return_timestamps`: "char" or "word" for CTC (each with its (start, end) in seconds); True for Whisper
      (segments from its timestamp tokens).
    - Whisper's other keywords (`max_new_tokens`, `language`, `task`, ...) go to `generate`, which refuses
      the ones it does not know; decoding is greedy, and num_beams > 1 is refused (transformers 5's pipeline
      beam-searches with 5 beams unless told `generate_kwargs={"num_beams": 1}`, which gives rosetta's answer).
    """

    auto_class = "AutoModelForCTC"
    seq2seq_auto_class = "AutoModelForSpeechSeq2Seq"
    processors = ("tokenizer", "feature_extractor")

    @classmethod
    def auto_class_for(cls, source: Any) -> str:
        """An encoder-decoder checkpoint (Whisper) is loaded to generate; anything else as CTC."""
        from ..core.registry import AutoConfig

        config = AutoConfig.from_pretrained(source)
        return cls.seq2seq_auto_class if getattr(config, "is_encoder_decoder", False) else cls.auto_class

    @property
    def seq2seq(self) -> bool:
        return bool(getattr(self.model.config, "is_encoder_decoder", False))

    # -- keywords --------------------------------------------------------------------------------------
    def _sanitize_parameters(
        self,
        chunk_length_s: float | None = None,
        stride_length_s: float | tuple[float, float] | None = None,
        return_timestamps: bool | str | None = None,
        generate_kwargs: dict | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        pre: dict[str, Any] = {}
        if chunk_length_s:
            pre["chunks"] = self._chunking(chunk_length_s, stride_length_s)
        elif stride_length_s is not None:
            raise InputError("stride_length_s is the overlap of chunks: pass chunk_length_s with it.")
        forward: dict[str, Any] = {**(generate_kwargs or {}), **kwargs}
        if forward and not self.seq2seq:
            raise InputError(
                f"automatic-speech-recognition with a CTC model takes no {', '.join(sorted(forward))}; it takes "
                "chunk_length_s, stride_length_s, return_timestamps ('char' or 'word'), batch_size."
            )
        if self.seq2seq:
            if return_timestamps not in (None, False, True):
                raise InputError(
                    f"Whisper's return_timestamps is True (segments) or False, got {return_timestamps!r}."
                )
            if return_timestamps:
                forward["return_timestamps"] = True
        elif return_timestamps not in (None, False, "char", "word"):
            raise InputError(
                f"A CTC model's return_timestamps is 'char' or 'word', got {return_timestamps!r}."
            )
        return pre, forward, {"return_timestamps": return_timestamps or None}

    def _chunking(self, chunk_length_s: Any, stride_length_s: Any) -> tuple[int, int, int]:
        """(chunk, left stride, right stride) in samples, rounded to the model's input-per-output ratio."""
        if (
            isinstance(chunk_length_s, bool)
            or not isinstance(chunk_length_s, (int, float))
            or chunk_length_s < 0
        ):
            raise InputError(f"chunk_length_s must be a positive number of seconds, got {chunk_length_s!r}.")
        if stride_length_s is None:
            stride_length_s = chunk_length_s / 6
        if isinstance(stride_length_s, (int, float)) and not isinstance(stride_length_s, bool):
            stride_length_s = (stride_length_s, stride_length_s)
        if (
            not isinstance(stride_length_s, (list, tuple))
            or len(stride_length_s) != 2
            or not all(isinstance(s, (int, float)) and s >= 0 for s in stride_length_s)
        ):
            raise InputError(
                f"stride_length_s must be seconds (one number, or (left, right)), got {stride_length_s!r}."
            )
        align = self._align_to
        chunk, left, right = (
            int(round(seconds * self.sampling_rate / align) * align)
            for seconds in (chunk_length_s, *stride_length_s)
        )
        if chunk < left + right or chunk <= 0:
            raise InputError(
                f"chunk_length_s ({chunk_length_s}) must be longer than the strides {tuple(stride_length_s)} "
                "together."
            )
        if self.seq2seq and chunk > self.feature_extractor.n_samples:
            raise InputError(
                f"chunk_length_s={chunk_length_s} is longer than Whisper's window "
                f"({self.feature_extractor.chunk_length} s); pass at most that."
            )
        return chunk, left, right

    @property
    def _align_to(self) -> int:
        """Samples per output frame (CTC: the product of the convolution strides); 1 for Whisper."""
        if self.seq2seq:
            return 1
        return int(np.prod(getattr(self.model.config, "conv_stride", (1,))))

    # -- the three steps -------------------------------------------------------------------------------
    def preprocess(self, item: Any, chunks: tuple[int, int, int] | None = None) -> Row | list[Row]:
        samples = load_audio(item, self.sampling_rate)
        if chunks is None:
            long_form = self.seq2seq and samples.shape[0] > self.feature_extractor.n_samples
            if long_form:  # Whisper's own long-form generate, window by window
                return self._features(
                    samples, truncation=False, padding="longest", return_attention_mask=True
                )
            return self._features(samples)
        chunk, left, right = chunks
        rows = []
        for start in range(0, samples.shape[0], chunk - left - right):
            piece = samples[start : start + chunk]
            last = start + chunk >= samples.shape[0]
            stride = (piece.shape[0], 0 if start == 0 else left, 0 if last else right)
            if piece.shape[0] > stride[1]:
                rows.append({**self._features(piece), "stride": np.array([stride])})
            if last:
                break
        return rows

    def _forward(self, batch: Row, **generate_kwargs: Any) -> dict[str, np.ndarray]:
        if not self.seq2seq:
            inputs = {k: batch[k] for k in ("input_values", "attention_mask") if k in batch}
            return {"tokens": self.forward(inputs)["logits"].argmax(-1)}
        if batch["input_features"].shape[-1] > 2 * self.model.config.max_source_positions:
            generate_kwargs["attention_mask"] = batch["attention_mask"]
        with device_scope(self.framework, self.device):
            tokens = self.model.generate(batch["input_features"], **generate_kwargs)
        return {"tokens": np.asarray(to_numpy(getattr(tokens, "sequences", tokens)))}

    def _frames(self, num_samples: int) -> int:
        """How many logits frames a CTC model gives for `num_samples` unpadded samples."""
        config = self.model.config
        frames = num_samples
        for kernel, stride in zip(config.conv_kernel, config.conv_stride):
            frames = (frames - kernel) // stride + 1
        return frames

    def postprocess(self, outputs, index, item, features, return_timestamps: Any = None) -> dict[str, Any]:
        if index is not None:  # one row: its tokens, as a one-chunk list
            outputs, features = (
                [{"tokens": outputs["tokens"][index : index + 1]}],
                [{k: v[index : index + 1] for k, v in features.items()}],
            )
        if self.seq2seq:
            return self._whisper_answer(outputs, features, return_timestamps)
        kept = []
        for output, row in zip(outputs, features):
            tokens = output["tokens"][0][: self._frames(int(row["num_samples"][0]))]
            if "stride" in row:
                total, left, right = _rescale_stride(tuple(int(s) for s in row["stride"][0]), self._align_to)
                tokens = tokens[left : total - right]
            kept.append(tokens)
        tokens = np.concatenate(kept).tolist()
        answer: dict[str, Any] = {"text": self.tokenizer.decode(tokens, skip_special_tokens=False)}
        if return_timestamps:
            offsets = _ctc_char_offsets(self.tokenizer, tokens)
            key = "char"
            if return_timestamps == "word":
                offsets, key = _word_offsets(offsets, _delimiter_char(self.tokenizer)), "word"
            align, rate = (
                self._align_to,
                self.sampling_rate,
            )  # frames * samples per frame / rate, as transformers
            answer["chunks"] = [
                {
                    "text": o[key],
                    "timestamp": (o["start_offset"] * align / rate, o["end_offset"] * align / rate),
                }
                for o in offsets
            ]
        return answer

    def _whisper_answer(self, outputs: list, features: list, return_timestamps: Any) -> dict[str, Any]:
        chunks = []
        for output, row in zip(outputs, features):
            stride = None
            if "stride" in row:
                stride = tuple(int(s) / self.sampling_rate for s in row["stride"][0])
            chunks.append((output["tokens"][0].tolist(), stride))
        precision = self.feature_extractor.chunk_length / self.model.config.max_source_positions
        text, segments = decode_whisper_chunks(self.tokenizer, chunks, bool(return_timestamps), precision)
        return {"text": text, "chunks": segments} if return_timestamps else {"text": text}


CTCSpeechRecognitionPipeline = AutomaticSpeechRecognitionPipeline  # the name before Whisper joined


# -- CTC: strides and offsets ------------------------------------------------------------------------------
def _rescale_stride(stride: tuple[int, int, int], align_to: int) -> tuple[int, int, int]:
    """(samples, left, right) in samples -> the same in logits frames, rounded as transformers does."""
    samples, left, right = stride
    frames = int(round(samples / align_to))
    return frames, int(round(left / samples * frames)), int(round(right / samples * frames))


def _delimiter_char(tokenizer: Any) -> str:
    return getattr(tokenizer, "replace_word_delimiter_char", None) or " "


def _ctc_char_offsets(tokenizer: Any, ids: list[int]) -> list[dict[str, Any]]:
    """Each emitted character with its first and one-past-last frame: repeats grouped, blanks dropped, the
    word delimiter read as a space (transformers' Wav2Vec2CTCTokenizer `output_char_offsets`)."""
    tokens = [tokenizer.convert_ids_to_tokens(int(i)) for i in ids]
    blank, delimiter = tokenizer.pad_token, getattr(tokenizer, "word_delimiter_token", "|")
    offsets, start = [], 0
    for token, group in itertools.groupby(tokens):
        end = start + len(list(group))
        if token != blank:
            char = _delimiter_char(tokenizer) if token == delimiter else token
            offsets.append({"char": char, "start_offset": start, "end_offset": end})
        start = end
    return offsets


def _word_offsets(offsets: list[dict[str, Any]], delimiter: str) -> list[dict[str, Any]]:
    """Characters grouped into words at the delimiter, each word from its first to its last character."""
    words: list[dict[str, Any]] = []
    for is_space, group in itertools.groupby(offsets, key=lambda o: o["char"] == delimiter):
        if not is_space:
            group = list(group)
            words.append(
                {
                    "word": "".join(o["char"] for o in group),
                    "start_offset": group[0]["start_offset"],
                    "end_offset": group[-1]["end_offset"],
                }
            )
    return words


# -- Whisper: chunks and timestamps --------------------------------------------------------------------
def longest_common_sequence(sequences: list[list[int]]) -> list[int]:
    """Token sequences of overlapping chunks joined on their best overlap: transformers' Whisper
    `_find_longest_common_sequence` (the left chunk trusted for the first half of the overlap, the right
    chunk for the second)."""
    left = sequences[0]
    total: list[int] = []
    for right in sequences[1:]:
        best, indices = 0.0, (len(left), len(left), 0, 0)
        for i in range(1, len(left) + len(right)):
            left_start, left_stop = max(0, len(left) - i), min(len(left), len(left) + len(right) - i)
            right_start, right_stop = max(0, i - len(left)), min(len(right), i)
            matches = int(
                np.sum(np.array(left[left_start:left_stop]) == np.array(right[right_start:right_stop]))
            )
            matching = matches / i + i / 10000.0
            if matches > 1 and matching > best:
                best, indices = matching, (left_start, left_stop, right_start, right_stop)
        left_start, left_stop, right_start, right_stop = indices
        total.extend(left[: (left_stop + left_start) // 2])
        left = right[(right_stop + right_start) // 2 :]
    total.extend(left)
    return total


def decode_whisper_chunks(
    tokenizer: Any,
    chunks: list[tuple[list[int], tuple[float, float, float] | None]],
    return_timestamps: bool,
    time_precision: float,
    segment_size: int = 1500,
) -> tuple[str, list[dict[str, Any]]]:
    """(the text, the timestamped segments) of Whisper's tokens for each chunk (with its (length, left, right)
    stride in seconds, or None): transformers' `_decode_asr` without languages or word timestamps."""
    timestamp_begin = tokenizer.convert_tokens_to_ids("<|notimestamps|>") + 1
    special = set(tokenizer.all_special_ids)
    segments: list[dict[str, Any]] = []
    segment: dict[str, Any] = {"timestamp": [None, None], "text": ""}
    time_offset, previous, skip = 0.0, [], False

    def close(tokens_so_far: list[list[int]]) -> None:
        segment["text"] = tokenizer.decode(longest_common_sequence(tokens_so_far))
        segments.append(segment)

    for token_ids, stride in chunks:
        last_timestamp, first_timestamp = None, timestamp_begin
        cur_max, prev_segments_len, penultimate = 0.0, 0.0, 0.0
        if stride is not None:
            chunk_len, stride_left, stride_right = stride
            time_offset -= stride_left
            right_stride_start = chunk_len - stride_right
            if stride_left:
                first_timestamp = stride_left / time_precision + timestamp_begin
            if stride_right:
                for token in reversed(token_ids):
                    if token >= timestamp_begin:
                        if (
                            last_timestamp is not None
                            and (token - timestamp_begin) * time_precision < right_stride_start
                        ):
                            break
                        last_timestamp = token
        current: list[int] = []
        for i, token in enumerate(token_ids):
            if token in special:
                continue
            if token >= timestamp_begin:
                timestamp = float((token - timestamp_begin) * time_precision)
                if timestamp < cur_max:  # a new segment of long-form output started
                    single_ending = i >= 2 and not (
                        token_ids[i - 1] >= timestamp_begin and token_ids[i - 2] >= timestamp_begin
                    )
                    if single_ending:
                        prev_segments_len += time_precision * segment_size
                    else:
                        cur_max = penultimate
                        prev_segments_len += penultimate
                penultimate, cur_max = cur_max, timestamp
                time = round((token - timestamp_begin) * time_precision + time_offset + prev_segments_len, 2)
                if last_timestamp and token >= last_timestamp:
                    skip = True
                elif skip or (previous and token < first_timestamp):
                    skip = False
                elif segment["timestamp"][0] is None:
                    segment["timestamp"][0] = time
                elif time != segment["timestamp"][0]:
                    segment["timestamp"][1] = time
                    close([*previous, current])
                    previous, current = [], []
                    segment = {"timestamp": [None, None], "text": ""}
            else:
                current.append(token)
        if stride is not None:
            time_offset += chunk_len - stride_right
        if current:
            previous.append(current)
        elif not any(previous):
            segment, previous = {"timestamp": [None, None], "text": ""}, []
    if previous:
        close(previous)
    text = "".join(s["text"] for s in segments)
    return text, [{"timestamp": tuple(s["timestamp"]), "text": s["text"]} for s in segments]
