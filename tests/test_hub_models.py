"""push_to_hub then from_pretrained through the local test Hub (tests/hub_server.py) for every architecture
added since BERT, in every framework, and for the processors, tokenizers, image processors and feature
extractors those architectures ship with.

One model class per architecture (the head with the most to round-trip: a language-model head carries a
generation_config); the reloaded model's outputs equal the pushed one's exactly, its config and its
generation_config come back equal, and the repo holds the canonical files.
"""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.pipelines._numpy import to_numpy
from tests.fixtures_text import as_lists
from tests.parity import BACKENDS, rosetta_class, tiny_config, tiny_inputs

# model_type -> (the class pushed, the task its parity inputs are made for)
ARCHITECTURES = {
    "llama": ("LlamaForCausalLM", "causal-lm"),
    "mistral": ("MistralForCausalLM", "causal-lm"),
    "qwen2": ("Qwen2ForCausalLM", "causal-lm"),
    "gemma": ("GemmaForCausalLM", "causal-lm"),
    "gpt2": ("GPT2LMHeadModel", "causal-lm"),
    "vit": ("ViTForImageClassification", "image-classification"),
    "clip": ("CLIPModel", "base"),
    "wav2vec2": ("Wav2Vec2ForCTC", "ctc"),
    "whisper": ("WhisperForConditionalGeneration", "speech-seq2seq"),
}


def flat(output, prefix: str = "") -> dict[str, np.ndarray]:
    """An output (nested outputs included) as {dotted name: numpy}."""
    result = {}
    for key, value in output.items():
        if value is None:
            continue
        if hasattr(value, "items"):
            result.update(flat(value, f"{prefix}{key}."))
        elif isinstance(value, (tuple, list)):
            result.update({f"{prefix}{key}.{i}": to_numpy(v) for i, v in enumerate(value)})
        else:
            result[prefix + key] = to_numpy(value)
    return result


def built(backend: str, name: str, model_type: str):
    """A freshly initialised tiny model, in inference mode (no dropout)."""
    model = rosetta_class(backend, name).from_config(tiny_config(model_type))
    if backend == "torch":
        model.eval()
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model_type", list(ARCHITECTURES))
def test_model_round_trips_through_the_hub(backend, model_type, hub_server, fresh_hf_cache):
    name, task = ARCHITECTURES[model_type]
    model = built(backend, name, model_type)
    generates = model.can_generate()
    if generates:  # a value that is not the default, so the file really travels
        model.generation_config.max_new_tokens = 5
    inputs = tiny_inputs(task, model_type)
    expected = flat(model.numpy_call(inputs))
    repo_id = hub_server.new_repo_id(f"{backend}-{model_type}")

    model.push_to_hub(repo_id, commit_message=f"Add {name}")

    files = hub_server.repo(repo_id).files()
    assert {"config.json", "model.safetensors"} <= set(files)
    assert ("generation_config.json" in files) == generates
    loaded, info = type(model).from_pretrained(repo_id, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    assert type(loaded) is type(model)
    assert loaded.config.to_dict() == model.config.to_dict()
    if generates:
        assert loaded.generation_config.max_new_tokens == 5
        assert loaded.generation_config.to_dict() == model.generation_config.to_dict()
    actual = flat(loaded.numpy_call(inputs))
    assert set(actual) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key)


# -- preprocessing ---------------------------------------------------------------------------------------
TEXTS = ["a photo of a cat", "two dogs playing in the snow"]
RNG = np.random.default_rng(0)
IMAGES = [
    RNG.integers(0, 256, (40, 30, 3), dtype=np.uint8),
    RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8),
]
AUDIO = [RNG.normal(0, 0.1, 4000).astype(np.float32), RNG.normal(0, 0.1, 2500).astype(np.float32)]


def _clip_processor(folder):
    from rosetta.models.clip.image_processing_clip import CLIPImageProcessor
    from rosetta.models.clip.processing_clip import CLIPProcessor
    from rosetta.models.clip.tokenization_clip import CLIPTokenizer
    from tests.tokenizer_files import clip_folder

    tokenizer = CLIPTokenizer.from_pretrained(clip_folder(folder))
    processor = CLIPProcessor(CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32}), tokenizer)
    return processor, {"text": TEXTS, "images": IMAGES, "padding": True, "return_tensors": "np"}


def _wav2vec2_processor(folder):
    from rosetta.models.wav2vec2.feature_extraction_wav2vec2 import Wav2Vec2FeatureExtractor
    from rosetta.models.wav2vec2.processing_wav2vec2 import Wav2Vec2Processor
    from rosetta.models.wav2vec2.tokenization_wav2vec2 import Wav2Vec2CTCTokenizer
    from tests.tokenizer_files import ctc_folder

    tokenizer = Wav2Vec2CTCTokenizer.from_pretrained(ctc_folder(folder))
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(return_attention_mask=True), tokenizer)
    return processor, {"audio": AUDIO, "sampling_rate": 16000, "padding": True, "return_tensors": "np"}


def _vit_image_processor(folder):
    from rosetta.models.vit.image_processing_vit import ViTImageProcessor

    return ViTImageProcessor(size={"height": 32, "width": 32}), {"images": IMAGES, "return_tensors": "np"}


def _clip_image_processor(folder):
    from rosetta.models.clip.image_processing_clip import CLIPImageProcessor

    processor = CLIPImageProcessor(crop_size=32, size={"shortest_edge": 40})
    return processor, {"images": IMAGES, "return_tensors": "np"}


def _wav2vec2_feature_extractor(folder):
    from rosetta.models.wav2vec2.feature_extraction_wav2vec2 import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=False)
    return extractor, {"raw_speech": AUDIO, "sampling_rate": 16000, "padding": True, "return_tensors": "np"}


def _whisper_feature_extractor(folder):
    from rosetta.models.whisper.feature_extraction_whisper import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=8, chunk_length=2)
    return extractor, {"raw_speech": AUDIO, "sampling_rate": 16000, "return_tensors": "np"}


def _gpt2_tokenizer(folder):
    from rosetta.models.gpt2.tokenization_gpt2 import GPT2Tokenizer
    from tests.tokenizer_files import gpt2_folder

    return GPT2Tokenizer.from_pretrained(gpt2_folder(folder)), {"text": TEXTS}


def _llama_tokenizer(folder):
    from rosetta.models.llama.tokenization_llama import LlamaTokenizer
    from tests.tokenizer_files import llama_folder

    return LlamaTokenizer.from_pretrained(llama_folder(folder, TEXTS)), {"text": TEXTS}


PREPROCESSORS = {
    "CLIPProcessor": _clip_processor,
    "Wav2Vec2Processor": _wav2vec2_processor,
    "ViTImageProcessor": _vit_image_processor,
    "CLIPImageProcessor": _clip_image_processor,
    "Wav2Vec2FeatureExtractor": _wav2vec2_feature_extractor,
    "WhisperFeatureExtractor": _whisper_feature_extractor,
    "GPT2Tokenizer": _gpt2_tokenizer,
    "LlamaTokenizer": _llama_tokenizer,
}


def _as_lists(encoding) -> dict[str, object]:
    """An encoding as {key: nested lists}, exact (ragged token ids included)."""
    return {key: as_lists(value) for key, value in encoding.items()}


@pytest.mark.parametrize("name", list(PREPROCESSORS))
def test_preprocessor_round_trips_through_the_hub(name, hub_server, fresh_hf_cache, tmp_path):
    """Pushed, then loaded by its class and by the Auto class from the repo alone: same outputs, same settings."""
    import rosetta

    processor, call_kwargs = PREPROCESSORS[name](tmp_path)
    repo_id = hub_server.new_repo_id(name.lower())

    processor.push_to_hub(repo_id)

    loaded = type(processor).from_pretrained(repo_id)
    assert type(loaded) is type(processor)
    if hasattr(processor, "to_dict"):
        assert loaded.to_dict() == processor.to_dict()
    expected = _as_lists(processor(**call_kwargs))
    assert expected and _as_lists(loaded(**call_kwargs)) == expected
    suffixes = ("ImageProcessor", "FeatureExtractor", "Processor", "Tokenizer")
    auto_name = "Auto" + next(suffix for suffix in suffixes if name.endswith(suffix))
    assert type(getattr(rosetta, auto_name).from_pretrained(repo_id)) is type(processor)
