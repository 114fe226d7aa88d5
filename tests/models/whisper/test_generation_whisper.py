"""Whisper generation against transformers' `WhisperForConditionalGeneration.generate` on tiny random weights:
short-form (English-only and multilingual prompts, suppressed tokens, timestamps) and long-form (> one window,
batched with the frames' attention mask), the same tokens in torch, TF and Flax; the compiled TF/Flax window
loops do not retrace for equal shapes."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from tests.parity import hf_class, require, rosetta_class, tiny_config_dict

pytest.importorskip("torch")
import torch  # noqa: E402

# init_std 0.5: random weights whose greedy tokens differ between rows and reach end-of-text
TINY = tiny_config_dict("whisper", suppress_tokens=[5, 6], init_std=0.5)
NO_TIMESTAMPS = 50  # timestamps are 51..98 (<|0.00|> .. <|0.94|>)
CASES = {
    "english-only": dict(),
    "multilingual": dict(language="fr", task="translate"),
    "timestamps": dict(return_timestamps=True),
}


def _features(batch: int, frames: int, seed: int = 0) -> np.ndarray:
    return (
        np.random.default_rng(seed).standard_normal((batch, TINY["num_mel_bins"], frames)).astype(np.float32)
    )


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """An English-only and a multilingual checkpoint (the latter with language and task tokens)."""
    require("hf")
    folders = {}
    for kind in ("english-only", "multilingual"):
        torch.manual_seed(0)
        model = hf_class("WhisperForConditionalGeneration")(
            hf_class("WhisperConfig")(**TINY, attn_implementation="eager")
        ).eval()
        config = model.generation_config
        config.no_timestamps_token_id = NO_TIMESTAMPS
        config.suppress_tokens, config.begin_suppress_tokens = [5, 6], [4]
        if kind == "multilingual":
            config.lang_to_id = {"<|en|>": 7, "<|fr|>": 8}
            config.task_to_id = {"transcribe": 9, "translate": 10}
            config.is_multilingual = True
        folder = tmp_path_factory.mktemp(kind)
        model.save_pretrained(folder)
        folders[kind] = (folder, model)
    return folders


def _transformers(model, features, **kwargs) -> list[list[int]]:
    with torch.no_grad():
        return model.generate(torch.from_numpy(features), **kwargs).tolist()


@pytest.mark.parametrize("case", list(CASES))
def test_short_form_matches_transformers_in_every_backend(case, checkpoints):
    """Batch of 3, suppressed tokens and the forced prompt: tokens equal transformers' in torch, TF and Flax."""
    folder, reference = checkpoints["multilingual" if case == "multilingual" else "english-only"]
    features, kwargs = _features(3, 32), dict(CASES[case], max_new_tokens=8)
    expected = _transformers(reference, features, **kwargs)
    assert len({tuple(row) for row in expected}) > 1  # the rows differ: a real batch
    for backend in ("torch", "tf", "flax"):
        require(backend)
        model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(folder)
        assert np.asarray(model.generate(features, **kwargs)).tolist() == expected, backend


def test_long_form_matches_transformers_in_every_backend(checkpoints):
    """100 and 70 frames (over three 32-frame windows), the frames' attention mask: transformers' seek-by-timestamp
    loop token for token, in every backend; a single row needs no mask."""
    folder, reference = checkpoints["english-only"]
    features = _features(2, 100, seed=1)
    mask = np.ones((2, 100), dtype=np.int64)
    mask[1, 70:] = 0
    features[1, :, 70:] = 0.0
    kwargs = dict(max_new_tokens=10, return_timestamps=True)
    expected = _transformers(reference, features, attention_mask=torch.from_numpy(mask), **kwargs)
    single = _transformers(reference, features[:1], **kwargs)
    for backend in ("torch", "tf", "flax"):
        require(backend)
        model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(folder)
        assert np.asarray(model.generate(features, attention_mask=mask, **kwargs)).tolist() == expected, (
            backend
        )
        assert np.asarray(model.generate(features[:1], **kwargs)).tolist() == single, backend


def test_min_new_tokens_matches_transformers_in_every_backend(checkpoints, tmp_path):
    """With end-of-text set to a token the random model emits early (70: one row ends after one token),
    min_new_tokens=5 keeps that row going: the same tokens as transformers, with and without it, in torch,
    TF and Flax."""
    import json
    import shutil

    folder, reference = checkpoints["english-only"]
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    generation_config = json.loads((tmp_path / "generation_config.json").read_text())
    generation_config["eos_token_id"] = 70
    (tmp_path / "generation_config.json").write_text(json.dumps(generation_config))
    features = _features(3, 32)
    plain = _transformers(reference, features, max_new_tokens=8, eos_token_id=70)
    held = _transformers(reference, features, max_new_tokens=8, min_new_tokens=5, eos_token_id=70)
    assert held != plain  # the case has a row that ends before 5 tokens without min_new_tokens
    for backend in ("torch", "tf", "flax"):
        require(backend)
        model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(tmp_path)
        assert np.asarray(model.generate(features, max_new_tokens=8)).tolist() == plain, backend
        assert np.asarray(model.generate(features, max_new_tokens=8, min_new_tokens=5)).tolist() == held, (
            backend
        )
    with pytest.raises(InputError, match="min_new_tokens"):
        model.generate(features, max_new_tokens=8, min_new_tokens=9)


@pytest.mark.parametrize("backend", ["tf", "flax"])
def test_compiled_window_loop_does_not_retrace(backend, checkpoints):
    require(backend)
    folder, _ = checkpoints["english-only"]
    model = rosetta_class(backend, "WhisperForConditionalGeneration").from_pretrained(folder)
    cls = type(model)
    model.generate(_features(2, 32), max_new_tokens=6)
    before = cls.generate_trace_count
    model.generate(_features(2, 32, seed=5), max_new_tokens=6)
    assert cls.generate_trace_count == before


def test_bad_generate_input_is_refused_by_name(checkpoints):
    folder, _ = checkpoints["multilingual"]
    model = rosetta_class("torch", "WhisperForConditionalGeneration").from_pretrained(folder)
    with pytest.raises(InputError, match="language"):
        model.generate(_features(1, 32))
    with pytest.raises(InputError, match="unknown keyword"):
        model.generate(_features(1, 32), language="en", top_k=2)
    with pytest.raises(InputError, match="num_beams=2"):  # greedy only: beam search is refused, never ignored
        model.generate(_features(1, 32), language="en", num_beams=2)
    greedy = model.generate(_features(1, 32), language="en", max_new_tokens=4)
    assert torch.equal(model.generate(_features(1, 32), language="en", max_new_tokens=4, num_beams=1), greedy)
    with pytest.raises(InputError, match="attention_mask"):
        model.generate(_features(2, 100), language="en")
    with pytest.raises(InputError, match="return_timestamps"):
        model.generate(_features(1, 100), language="en", return_timestamps=False)
