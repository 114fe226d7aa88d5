"""Audio feature extractors (Wav2Vec2, Whisper) against transformers, on generated waveforms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.models.wav2vec2.feature_extraction_wav2vec2 import Wav2Vec2FeatureExtractor
from rosetta.models.whisper.feature_extraction_whisper import WhisperFeatureExtractor

RATE = 16000
RNG = np.random.default_rng(0)
_t = np.arange(RATE * 3) / RATE
WAVES = [
    (0.5 * np.sin(2 * np.pi * 440 * _t) + 0.1 * np.sin(2 * np.pi * 3000 * _t)).astype(
        np.float32
    ),  # 3 s of tones
    RNG.normal(0, 0.1, 8000).astype(np.float32),  # 0.5 s of noise
    (RNG.normal(0, 0.3, RATE * 31)).astype(np.float32),  # 31 s: longer than Whisper's 30 s window
    np.zeros(4000, dtype=np.float32),  # silence
]


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers")


CALLS = [
    {},
    {"padding": True},
    {"padding": "max_length", "max_length": 20000, "truncation": True},
    {"padding": True, "pad_to_multiple_of": 1024},
    {"padding": "longest", "return_tensors": "np"},
]


@pytest.mark.parametrize("kwargs", CALLS)
def test_wav2vec2_matches_transformers(transformers, kwargs):
    ours = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    theirs = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    a, b = (
        ours(WAVES[:2] + WAVES[3:], sampling_rate=RATE, **kwargs),
        theirs(WAVES[:2] + WAVES[3:], sampling_rate=RATE, **kwargs),
    )
    assert set(a) == set(b) == {"input_values", "attention_mask"}
    for x, y in zip(a["input_values"], b["input_values"]):
        assert x.dtype == np.float32 and x.shape == np.asarray(y).shape
        np.testing.assert_allclose(x, y, atol=1e-4)
    for x, y in zip(a["attention_mask"], b["attention_mask"]):
        np.testing.assert_array_equal(x, y)


def test_wav2vec2_normalises_over_the_unpadded_part_only():
    extractor = Wav2Vec2FeatureExtractor()  # no attention mask returned, as for wav2vec2-base
    out = extractor([WAVES[0], WAVES[1]], sampling_rate=RATE, padding=True, return_tensors="np")
    assert set(out) == {"input_values"} and out["input_values"].shape == (2, len(WAVES[0]))
    short = out["input_values"][1]
    real = short[: len(WAVES[1])]
    assert abs(real.mean()) < 1e-5 and abs(real.std() - 1) < 1e-3
    assert not short[len(WAVES[1]) :].any()  # padding stays silence
    left = Wav2Vec2FeatureExtractor(padding_side="left")(
        [WAVES[0], WAVES[1]], sampling_rate=RATE, padding=True
    )
    np.testing.assert_allclose(left["input_values"][1][-len(WAVES[1]) :], real, atol=1e-6)


def test_whisper_matches_transformers(transformers):
    ours, theirs = WhisperFeatureExtractor(), transformers.WhisperFeatureExtractor()
    a = ours(WAVES, sampling_rate=RATE, return_tensors="np", return_attention_mask=True)
    b = theirs(WAVES, sampling_rate=RATE, return_tensors="np", return_attention_mask=True)
    assert a["input_features"].shape == b["input_features"].shape == (4, 80, 3000)
    assert a["input_features"].dtype == np.float32
    np.testing.assert_allclose(a["input_features"], b["input_features"], atol=1e-4)
    np.testing.assert_array_equal(a["attention_mask"], b["attention_mask"])
    np.testing.assert_allclose(ours._mel_filters, theirs.mel_filters, atol=1e-7)
    single = ours(WAVES[1], sampling_rate=RATE, do_normalize=True)["input_features"]
    reference = theirs(WAVES[1], sampling_rate=RATE, do_normalize=True)["input_features"]
    np.testing.assert_allclose(single[0], reference[0], atol=1e-4)


@pytest.mark.parametrize("framework", ["np", "pt", "tf", "jax"])
def test_return_tensors(framework):
    module = {"np": "numpy", "pt": "torch", "tf": "tensorflow", "jax": "jax"}[framework]
    lib = pytest.importorskip(module)
    tensor_class = {
        "np": lambda: lib.ndarray,
        "pt": lambda: lib.Tensor,
        "tf": lambda: lib.Tensor,
        "jax": lambda: lib.Array,
    }[framework]()
    out = Wav2Vec2FeatureExtractor(return_attention_mask=True)(
        WAVES[:2], sampling_rate=RATE, padding=True, return_tensors=framework
    )
    assert isinstance(out["input_values"], tensor_class) and tuple(out["input_values"].shape) == (
        2,
        len(WAVES[0]),
    )
    assert isinstance(out["attention_mask"], tensor_class)
    feats = WhisperFeatureExtractor()(WAVES[1], sampling_rate=RATE, return_tensors=framework)[
        "input_features"
    ]
    assert isinstance(feats, tensor_class) and tuple(feats.shape) == (1, 80, 3000)


def test_pad_as_collate_function():
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    examples = [{"input_values": w} for w in WAVES[:2]]
    batch = extractor.pad(examples, return_tensors="np")
    assert batch["input_values"].shape == (2, len(WAVES[0])) and batch["attention_mask"][1].sum() == len(
        WAVES[1]
    )
    torch = pytest.importorskip("torch")
    batch = extractor.pad([{"input_values": torch.from_numpy(w)} for w in WAVES[:2]])
    assert isinstance(batch["input_values"], torch.Tensor)


def test_save_load_round_trips(transformers, tmp_path):
    ours = WhisperFeatureExtractor(chunk_length=10)
    ours.save_pretrained(tmp_path / "rosetta")
    config = json.loads((tmp_path / "rosetta" / "preprocessor_config.json").read_text())
    assert config["feature_extractor_type"] == "WhisperFeatureExtractor" and "_mel_filters" not in config
    theirs = transformers.AutoFeatureExtractor.from_pretrained(tmp_path / "rosetta")
    assert type(theirs).__name__ == "WhisperFeatureExtractor" and theirs.n_samples == 160000
    assert WhisperFeatureExtractor.from_pretrained(tmp_path / "rosetta") == ours

    transformers.Wav2Vec2FeatureExtractor(do_normalize=False, padding_value=0.5).save_pretrained(
        tmp_path / "transformers"
    )
    from rosetta import AutoFeatureExtractor

    loaded = AutoFeatureExtractor.from_pretrained(tmp_path / "transformers")
    assert (
        type(loaded) is Wav2Vec2FeatureExtractor
        and loaded.do_normalize is False
        and loaded.padding_value == 0.5
    )


BAD = [
    ({"raw_speech": None}, "No audio was given"),
    ({"raw_speech": []}, "audio batch is empty"),
    ({"raw_speech": "speech.wav"}, "Audio must be a numpy array"),
    ({"raw_speech": np.zeros((2, 2, 100))}, "Only mono audio"),
    ({"raw_speech": [np.zeros((2, 100))]}, "only mono audio"),
    ({"raw_speech": [["a", "b"]]}, "not numeric audio"),
    (
        {"raw_speech": WAVES[1], "sampling_rate": 8000},
        "expects audio sampled at 16000 Hz, got sampling_rate=8000",
    ),
    ({"raw_speech": WAVES[1], "padding": "max_length"}, "needs max_length"),
    ({"raw_speech": WAVES[1], "padding": "sideways"}, "not a valid padding strategy"),
    ({"raw_speech": WAVES[1], "truncation": True}, "truncation=True needs max_length"),
    ({"raw_speech": WAVES[:2], "return_tensors": "np"}, "different lengths. Pass padding=True"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_input_is_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        Wav2Vec2FeatureExtractor()(**kwargs)
