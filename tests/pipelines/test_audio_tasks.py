"""Audio tasks against transformers' pipelines on the same folder, in every framework."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.parity import require

FRAMEWORKS = tuple(fw.tensor_type for fw in TABLE.values())


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_ctc_speech_recognition_matches_transformers(framework, ctc_model_folder, waveforms):
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("automatic-speech-recognition", model=str(ctc_model_folder), framework=framework)
    theirs = transformers.pipeline("automatic-speech-recognition", model=str(ctc_model_folder))
    expected = [theirs(clip.copy()) for clip in waveforms]
    assert all(e["text"] for e in expected)  # the random model says something, so the comparison bites
    assert ours(waveforms) == expected
    assert ours({"raw": waveforms[0], "sampling_rate": 16000}) == expected[0]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_ctc_chunking_and_timestamps_match_transformers(framework, ctc_model_folder, waveforms):
    """Long audio cut into overlapping chunks (strides dropped before joining), and 'char' / 'word' timestamps,
    as transformers' pipeline gives them."""
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("automatic-speech-recognition", model=str(ctc_model_folder), framework=framework)
    theirs = transformers.pipeline("automatic-speech-recognition", model=str(ctc_model_folder))
    long = np.concatenate([waveforms[1], waveforms[0], waveforms[1]])
    for kwargs in (
        {"chunk_length_s": 0.25, "stride_length_s": 0.05},
        {"chunk_length_s": 0.3},
        {"return_timestamps": "char"},
        {"return_timestamps": "word"},
        {"chunk_length_s": 0.25, "stride_length_s": 0.05, "return_timestamps": "word"},
    ):
        expected = theirs(long.copy(), **kwargs)
        assert expected["text"], kwargs
        assert ours(long, **kwargs) == expected, kwargs


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_audio_classification_matches_transformers(framework, audio_classifier_folder, waveforms):
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("audio-classification", model=str(audio_classifier_folder), framework=framework)
    theirs = transformers.pipeline("audio-classification", model=str(audio_classifier_folder))
    for clip in waveforms:
        for top_k in (5, 2):
            mine, ref = ours(clip, top_k=top_k), theirs(clip.copy(), top_k=top_k)
            assert [m["label"] for m in mine] == [r["label"] for r in ref]
            np.testing.assert_allclose([m["score"] for m in mine], [r["score"] for r in ref], atol=1e-4)


def test_a_wav_file_reads_as_its_samples(ctc_model_folder, waveforms, tmp_path):
    from rosetta import pipeline

    pcm = np.round(waveforms[0] * 32767).astype("<i2")
    path = tmp_path / "clip.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        out.writeframes(pcm.tobytes())
    recognise = pipeline("automatic-speech-recognition", model=str(ctc_model_folder))
    assert recognise(str(path)) == recognise(pcm.astype(np.float32) / 32768.0)


def test_bad_audio_is_a_clear_error(ctc_model_folder, waveforms, tmp_path):
    from rosetta import pipeline

    recognise = pipeline("automatic-speech-recognition", model=str(ctc_model_folder))
    with pytest.raises(InputError, match="expects 16000 Hz"):
        recognise({"raw": waveforms[0], "sampling_rate": 8000})
    with pytest.raises(InputError, match="1-D array"):
        recognise(np.zeros((2, 100), np.float32))
    with pytest.raises(InputError, match="1-D array"):
        recognise(b"not audio")
    bogus = tmp_path / "bogus.wav"
    bogus.write_text("not a wav")
    with pytest.raises(InputError, match="Cannot read the audio file"):
        recognise(str(bogus))


@pytest.fixture(scope="module")
def whisper_folder(tmp_path_factory):
    """A tiny random Whisper over tiny.en's real vocabulary (1 s windows), greedy, 20 new tokens."""
    import json
    import shutil

    import torch

    from tests.assets import whisper_tokenizer_json
    from tests.parity import hf_class

    folder = tmp_path_factory.mktemp("whisper-asr")
    state = json.loads(whisper_tokenizer_json().read_text())
    shutil.copy(whisper_tokenizer_json(), folder / "tokenizer.json")
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "WhisperTokenizer",
                **dict.fromkeys(("bos_token", "eos_token", "unk_token", "pad_token"), "<|endoftext|>"),
                "additional_special_tokens": [t["content"] for t in state["added_tokens"]],
            }
        )
    )
    ct2 = json.loads((whisper_tokenizer_json().parent / "config.json").read_text())
    ids = dict(decoder_start_token_id=50257, eos_token_id=50256, pad_token_id=50256, bos_token_id=50256)
    suppress = dict(suppress_tokens=ct2["suppress_ids"], begin_suppress_tokens=ct2["suppress_ids_begin"])
    torch.manual_seed(12)
    config = hf_class("WhisperConfig")(
        vocab_size=51864, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=80,
        max_source_positions=50, max_target_positions=64, **ids, **suppress,
    )  # fmt: skip
    model = hf_class("WhisperForConditionalGeneration")(config).eval()
    model.generation_config = hf_class("GenerationConfig")(
        **ids, **suppress, no_timestamps_token_id=50362, is_multilingual=False,
        max_initial_timestamp_index=50, max_new_tokens=20, num_beams=1,
    )  # fmt: skip
    model.save_pretrained(folder)
    hf_class("WhisperFeatureExtractor")(feature_size=80, chunk_length=1).save_pretrained(folder)
    return folder


def test_whisper_speech_recognition_matches_transformers(whisper_folder):
    """Short clips, timestamps, and long audio in overlapping chunks merged with timestamps (torch)."""
    import transformers

    from rosetta import pipeline
    from rosetta.core.tokenization import PreTrainedTokenizer

    rng = np.random.default_rng(0)
    short, long = (
        (0.3 * rng.standard_normal(8000)).astype(np.float32),
        (0.3 * rng.standard_normal(40000)).astype(np.float32),
    )
    theirs = transformers.pipeline("automatic-speech-recognition", model=str(whisper_folder))
    ours = pipeline(
        "automatic-speech-recognition",
        model=str(whisper_folder),
        tokenizer=PreTrainedTokenizer.from_pretrained(whisper_folder),
    )
    assert ours(short) == theirs(short.copy())
    assert ours(short, return_timestamps=True) == theirs(short.copy(), return_timestamps=True)
    chunked = dict(chunk_length_s=1, stride_length_s=0.25, return_timestamps=True)
    expected = theirs(long.copy(), ignore_warning=True, **chunked)
    assert len(expected["chunks"]) > 1
    assert ours(long, **chunked) == expected
    assert ours([long, short, long], batch_size=4, **chunked)[2] == expected
