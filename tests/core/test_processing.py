"""Processors (CLIP: tokenizer + image processor; Wav2Vec2: feature extractor + CTC tokenizer) against transformers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from rosetta.core.errors import InputError
from rosetta.models.clip.image_processing_clip import CLIPImageProcessor
from rosetta.models.clip.processing_clip import CLIPProcessor
from rosetta.models.clip.tokenization_clip import CLIPTokenizer
from rosetta.models.wav2vec2.feature_extraction_wav2vec2 import Wav2Vec2FeatureExtractor
from rosetta.models.wav2vec2.processing_wav2vec2 import Wav2Vec2Processor
from rosetta.models.wav2vec2.tokenization_wav2vec2 import Wav2Vec2CTCTokenizer
from tests.fixtures_text import as_lists
from tests.tokenizer_files import clip_folder, ctc_folder

RNG = np.random.default_rng(0)
IMAGES = [
    Image.fromarray(RNG.integers(0, 256, (120, 90, 3), dtype=np.uint8)),
    RNG.integers(0, 256, (3, 64, 64), dtype=np.uint8),
]
TEXTS = ["a photo of a cat", "two dogs playing in the snow"]
AUDIO = [RNG.normal(0, 0.1, 16000).astype(np.float32), RNG.normal(0, 0.1, 9000).astype(np.float32)]


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, transformers):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder = clip_folder(tmp_path_factory.mktemp("clip"))
    ours = CLIPProcessor(CLIPImageProcessor(), CLIPTokenizer.from_pretrained(folder))
    theirs = transformers.CLIPProcessor(
        image_processor=CLIPImageProcessorPil(), tokenizer=transformers.CLIPTokenizer.from_pretrained(folder)
    )
    return ours, theirs


@pytest.fixture(scope="module")
def wav2vec2(tmp_path_factory, transformers):
    folder = ctc_folder(tmp_path_factory.mktemp("ctc"))
    ours = Wav2Vec2Processor(
        Wav2Vec2FeatureExtractor(return_attention_mask=True), Wav2Vec2CTCTokenizer.from_pretrained(folder)
    )
    theirs = transformers.Wav2Vec2Processor(
        feature_extractor=transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True),
        tokenizer=transformers.Wav2Vec2CTCTokenizer.from_pretrained(folder),
    )
    return ours, theirs


def assert_close_outputs(ours, theirs) -> None:
    assert set(ours) == set(theirs)
    for key in theirs:
        np.testing.assert_allclose(
            np.asarray(as_lists(ours[key]), dtype=np.float64),
            np.asarray(as_lists(theirs[key]), dtype=np.float64),
            atol=1e-5,
            err_msg=key,
        )


def test_clip_processor_matches_transformers(clip):
    ours, theirs = clip
    for kwargs in (
        {"text": TEXTS, "images": IMAGES, "padding": True},
        {"text": TEXTS[0]},
        {"images": IMAGES[0]},
    ):
        assert_close_outputs(ours(**kwargs, return_tensors="np"), theirs(**kwargs, return_tensors="np"))
    out = ours(
        text=TEXTS,
        images=IMAGES,
        padding="max_length",
        max_length=77,
        do_center_crop=False,
        size={"height": 32, "width": 32},
        return_tensors="np",
    )
    assert out["input_ids"].shape == (2, 77) and out["pixel_values"].shape == (2, 3, 32, 32)
    assert out.word_ids(0)[:3] == [None, 0, 1]
    assert ours.batch_decode(out["input_ids"], skip_special_tokens=True) == TEXTS
    assert ours.model_input_names == ["pixel_values", "input_ids", "attention_mask"]


def test_clip_processor_round_trips(clip, transformers, tmp_path):
    ours, theirs = clip
    files = ours.save_pretrained(tmp_path / "rosetta")
    names = {f.rsplit("/", 1)[-1] for f in files}
    assert {
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "processor_config.json",
    } <= names
    assert (
        json.loads((tmp_path / "rosetta" / "tokenizer_config.json").read_text())["processor_class"]
        == "CLIPProcessor"
    )
    loaded_by_them = transformers.AutoProcessor.from_pretrained(tmp_path / "rosetta")
    assert type(loaded_by_them).__name__ == "CLIPProcessor"
    assert_close_outputs(
        ours(text=TEXTS, images=IMAGES, padding=True, return_tensors="np"),
        loaded_by_them(text=TEXTS, images=IMAGES, padding=True, return_tensors="np"),
    )

    theirs.save_pretrained(
        tmp_path / "transformers"
    )  # transformers 5 keeps the image processor inside processor_config.json
    from rosetta import AutoProcessor

    loaded = AutoProcessor.from_pretrained(tmp_path / "transformers")
    assert type(loaded) is CLIPProcessor
    assert_close_outputs(
        loaded(text=TEXTS, images=IMAGES, padding=True, return_tensors="np"),
        theirs(text=TEXTS, images=IMAGES, padding=True, return_tensors="np"),
    )


def test_wav2vec2_processor_matches_transformers(wav2vec2):
    ours, theirs = wav2vec2
    kwargs = {"sampling_rate": 16000, "padding": True}
    assert_close_outputs(
        ours(AUDIO, **kwargs, return_tensors="np"), theirs(AUDIO, **kwargs, return_tensors="np")
    )
    a, b = (
        ours(audio=AUDIO[0], text="HELLO WORLD", sampling_rate=16000),
        theirs(audio=AUDIO[0], text="HELLO WORLD", sampling_rate=16000),
    )
    assert a["labels"] == b["labels"] and np.allclose(a["input_values"][0], b["input_values"][0], atol=1e-5)
    assert ours(text=["HI", "THERE"])["input_ids"] == theirs(text=["HI", "THERE"])["input_ids"]
    predicted = [[0, 11, 11, 0, 11, 8, 8, 4, 4, 20, 0, 8, 0, 0, 13, 15, 2], [4, 6, 6, 0, 6, 4]]
    assert ours.batch_decode(predicted) == theirs.batch_decode(predicted)
    assert ours.batch_decode(predicted, skip_special_tokens=True) == theirs.batch_decode(
        predicted, skip_special_tokens=True
    )


def test_wav2vec2_processor_pad_and_round_trips(wav2vec2, transformers, tmp_path):
    ours, theirs = wav2vec2
    features = [{"input_values": a} for a in AUDIO]
    labels = [{"input_ids": ours.tokenizer(t)["input_ids"]} for t in ("HI", "HELLO THERE")]
    batch = ours.pad(features, labels=labels, return_tensors="np")
    assert batch["input_values"].shape == (2, 16000) and batch["labels"].shape == (2, 11)
    assert batch["labels"][0].tolist()[:2] == [11, 10] and batch["labels"][0].tolist()[2:] == [0] * 9

    ours.save_pretrained(tmp_path / "rosetta")
    assert (tmp_path / "rosetta" / "vocab.json").exists()
    loaded_by_them = transformers.AutoProcessor.from_pretrained(tmp_path / "rosetta")
    assert type(loaded_by_them).__name__ == "Wav2Vec2Processor"
    assert loaded_by_them(text="HELLO")["input_ids"] == ours(text="HELLO")["input_ids"]
    theirs.save_pretrained(tmp_path / "transformers")
    loaded = Wav2Vec2Processor.from_pretrained(tmp_path / "transformers")
    assert loaded.feature_extractor.return_attention_mask is True
    assert_close_outputs(
        loaded(AUDIO, sampling_rate=16000, padding=True, return_tensors="np"),
        theirs(AUDIO, sampling_rate=16000, padding=True, return_tensors="np"),
    )


def test_bad_input(clip, wav2vec2):
    with pytest.raises(InputError, match="needs text=..., images=... or both"):
        clip[0]()
    with pytest.raises(InputError, match="unexpected keyword arguments: colour"):
        clip[0](text="a", colour="red")
    with pytest.raises(InputError, match="needs a tokenizer"):
        CLIPProcessor(CLIPImageProcessor(), "not a tokenizer")
    with pytest.raises(InputError, match="has no part 'feature_extractor'"):
        CLIPProcessor(feature_extractor=CLIPImageProcessor())
    with pytest.raises(InputError, match="needs audio=..., text=... or both"):
        wav2vec2[0]()
    with pytest.raises(InputError, match="16000 Hz"):
        wav2vec2[0](AUDIO[0], sampling_rate=44100)
