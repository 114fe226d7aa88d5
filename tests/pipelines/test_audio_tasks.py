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
