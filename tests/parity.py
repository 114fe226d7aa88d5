"""The one parity harness every model test uses: same checkpoint, every backend, same outputs.

A backend is named "torch", "tf" or "flax"; the reference is Hugging Face transformers
("hf"). Inputs are numpy arrays; each backend gets them as its own tensors, and outputs come
back as numpy, so any two runs compare with one function.

It is also the one home of the tiny models tests build: `tiny_config(model_type, **overrides)`,
`tiny_model(backend, task, model_type)`, and their inputs and labels (`tiny_inputs`,
`tiny_labels`). A new architecture adds a row to TINY_CONFIGS and, if its inputs differ
from BERT's, one input maker to INPUT_MAKERS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from rosetta.core.frameworks import FRAMEWORKS, framework_key
from rosetta.pipelines._numpy import numpy_call, to_numpy

BACKENDS = tuple(FRAMEWORKS)  # ("torch", "tf", "flax")
# Tiny random configs: torch against transformers' torch within 1e-5, across frameworks within 2e-5.
TOLERANCE = {"torch": 1e-5, "tf": 2e-5, "flax": 2e-5}
PREFIX = {key: fw.class_prefix for key, fw in FRAMEWORKS.items()}


def require(backend: str) -> None:
    """Skip only when the backend's framework is not installed."""
    modules = ("transformers",) if backend == "hf" else FRAMEWORKS[framework_key(backend)].modules
    for module in modules:
        pytest.importorskip(module)


def rosetta_class(backend: str, name: str) -> type:
    """`rosetta_class("flax", "BertForMaskedLM")` -> FlaxBertForMaskedLM."""
    require(backend)
    import rosetta

    return getattr(rosetta, PREFIX[framework_key(backend)] + name)


def hf_class(name: str) -> type:
    require("hf")
    import transformers

    return getattr(transformers, name)


# -- tiny models -----------------------------------------------------------------------------------------
_SMALL = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "bert": {**_SMALL, "max_position_embeddings": 64, "type_vocab_size": 2},
    "roberta": {
        **_SMALL,
        "max_position_embeddings": 66,
        "type_vocab_size": 1,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    },
    "llama": {**_SMALL, "num_key_value_heads": 2, "max_position_embeddings": 64, "pad_token_id": 0},
    # Mistral: a window shorter than the tiny inputs (7 tokens), so every parity test crosses it.
    "mistral": {
        **_SMALL,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "pad_token_id": 0,
        "sliding_window": 4,
    },
    "qwen2": {**_SMALL, "num_key_value_heads": 2, "max_position_embeddings": 64, "pad_token_id": 0},
    # Gemma: head_dim 16 != hidden_size / heads, as Gemma's checkpoints have it.
    "gemma": {
        **_SMALL,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "pad_token_id": 0,
        "head_dim": 16,
    },
    # GPT-2 spells its sizes as transformers' GPT2Config does (n_embd, n_layer, ...); pad, bos and eos in the vocabulary.
    "gpt2": {
        "vocab_size": 99,
        "n_positions": 64,
        "n_embd": 32,
        "n_layer": 2,
        "n_head": 4,
        "n_inner": 37,
        "pad_token_id": 0,
        "bos_token_id": 98,
        "eos_token_id": 98,
    },
    # ViT: 32x32 images in 8x8 patches (16 patches + the CLS token).
    "vit": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "image_size": 32,
        "patch_size": 8,
        "num_channels": 3,
    },
    # CLIP: two towers in one config; text eos_token_id 2 pools at the largest id (transformers 4's rule).
    "clip": {
        "text_config": {
            **_SMALL,
            "max_position_embeddings": 64,
            "projection_dim": 16,
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 2,
        },
        "vision_config": {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 37,
            "image_size": 32,
            "patch_size": 8,
            "projection_dim": 16,
        },
        "projection_dim": 16,
    },
    # Whisper: 8 mel bins x 32 frames (16 encoder positions), 24 decoder positions; token ids in the vocabulary.
    "whisper": {
        "vocab_size": 99,
        "d_model": 32,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 37,
        "decoder_ffn_dim": 37,
        "num_mel_bins": 8,
        "max_source_positions": 16,
        "max_target_positions": 24,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "decoder_start_token_id": 3,
        "begin_suppress_tokens": [4],
    },
}
TINY_CONFIGS["wav2vec2"] = {  # 1024 samples -> 14 frames through three stride-4 convolutions; blank 0
    "vocab_size": 32,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "conv_dim": (32, 32, 32),
    "conv_stride": (4, 4, 4),
    "conv_kernel": (8, 8, 8),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
    "classifier_proj_size": 16,
    "ctc_loss_reduction": "mean",
}
# task -> the class-name suffix of its head ("BertFor" + ...); "base" is the bare model.
TASKS: dict[str, str] = {
    "base": "Model",
    "pretraining": "ForPreTraining",
    "masked-lm": "ForMaskedLM",
    "next-sentence-prediction": "ForNextSentencePrediction",
    "sequence-classification": "ForSequenceClassification",
    "multiple-choice": "ForMultipleChoice",
    "token-classification": "ForTokenClassification",
    "question-answering": "ForQuestionAnswering",
    "image-classification": "ForImageClassification",
    "causal-lm": "ForCausalLM",
    "speech-seq2seq": "ForConditionalGeneration",
    "ctc": "ForCTC",
}


def tiny_config_dict(model_type: str = "bert", **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of the tiny config of `model_type` (for transformers' config classes too)."""
    return {**TINY_CONFIGS[model_type], **overrides}


def tiny_config(model_type: str = "bert", **overrides: Any):
    """rosetta's tiny config of `model_type`: 2 layers, hidden 32, 4 heads, vocabulary 99."""
    import rosetta

    return rosetta.AutoConfig.for_model(model_type, **tiny_config_dict(model_type, **overrides))


def head_name(task: str = "base", model_type: str = "bert") -> str:
    """("masked-lm", "bert") -> "BertForMaskedLM" (the torch class name; rosetta_class adds the prefix)."""
    stem = type(tiny_config(model_type)).__name__.removesuffix("Config")
    return stem + TASKS[task]


def task_of(name: str) -> str:
    """ "BertForMaskedLM" -> "masked-lm"; "BertModel" -> "base"."""
    for task, suffix in sorted(TASKS.items(), key=lambda item: -len(item[1])):
        if name.endswith(suffix):
            return task
    raise KeyError(f"{name} is no head of {sorted(TASKS)}")


def tiny_model(
    backend: str = "torch", task: str = "base", model_type: str = "bert", seed: int = 0, **overrides: Any
):
    """A randomly initialised tiny model of `task` in `backend`, seeded so two calls give the same weights."""
    cls = rosetta_class(backend, head_name(task, model_type))
    config = tiny_config(model_type, **overrides)
    backend = framework_key(backend)
    if backend == "flax":
        return cls(config, seed=seed)
    if backend == "tf":
        import keras

        keras.utils.set_random_seed(seed)
        return cls(config)
    import torch

    torch.manual_seed(seed)
    return cls(config)


# -- tiny inputs -------------------------------------------------------------------------------------------
def token_ids(batch: int = 2, seq: int = 7, seed: int = 0, low: int = 1, vocab_size: int = 99) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, vocab_size, (batch, seq), dtype=np.int64)


def padding_mask(batch: int = 2, seq: int = 7, padded: int = 3) -> np.ndarray:
    """All ones but the last `padded` positions of the last row (right padding)."""
    mask = np.ones((batch, seq), dtype=np.int64)
    mask[-1, seq - padded :] = 0
    return mask


def text_inputs(batch: int = 2, seq: int = 7, seed: int = 0) -> dict[str, np.ndarray]:
    """input_ids and a right-padded attention_mask: the plainest input of a text model."""
    return {"input_ids": token_ids(batch, seq, seed), "attention_mask": padding_mask(batch, seq)}


def _bert_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    seq = shape[-1]
    attention_mask = np.ones(shape, dtype=np.int64)
    attention_mask[..., 1, seq - 2 :] = 0
    attention_mask[1, ..., seq - 3 :] = 0
    return {
        "input_ids": rng.integers(1, config["vocab_size"], shape, dtype=np.int64),
        "attention_mask": attention_mask,
        "token_type_ids": rng.integers(0, config["type_vocab_size"], shape, dtype=np.int64),
    }


def _roberta_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Ids with a bos first and right padding (pad id), so padding-aware position ids are exercised."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(3, config["vocab_size"], shape, dtype=np.int64)
    input_ids[..., 0] = config["bos_token_id"]
    input_ids[1, ..., shape[-1] - 3 :] = config["pad_token_id"]
    return {"input_ids": input_ids, "attention_mask": (input_ids != config["pad_token_id"]).astype(np.int64)}


def _llama_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Ids right-padded with the pad id in the last row (the sequence-classification head finds the last token)."""
    input_ids = np.random.default_rng(seed).integers(1, config["vocab_size"], shape, dtype=np.int64)
    input_ids[-1, ..., shape[-1] - 3 :] = config["pad_token_id"]
    return {"input_ids": input_ids, "attention_mask": (input_ids != config["pad_token_id"]).astype(np.int64)}


def _gpt2_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Ids left-padded with the pad id in the last row, as a decoder's batches are."""
    input_ids = np.random.default_rng(seed).integers(1, config["vocab_size"] - 1, shape, dtype=np.int64)
    input_ids[-1, ..., :3] = config["pad_token_id"]
    return {"input_ids": input_ids, "attention_mask": (input_ids != config["pad_token_id"]).astype(np.int64)}


def _vit_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """pixel_values [batch, channels, image_size, image_size] in [-1, 1], as the image processor gives them."""
    size = (shape[0], config["num_channels"], config["image_size"], config["image_size"])
    return {"pixel_values": np.random.default_rng(seed).uniform(-1, 1, size).astype(np.float32)}


def _clip_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Right-padded text (ids of the text tower) and as many images as texts, so return_loss pairs them."""
    text = _llama_inputs(shape, seed, {**config["text_config"], "pad_token_id": 1})
    vision = config["vision_config"]
    size = (shape[0], vision.get("num_channels", 3), vision["image_size"], vision["image_size"])
    return {**text, "pixel_values": np.random.default_rng(seed).uniform(-1, 1, size).astype(np.float32)}


def _whisper_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """input_features [batch, mel bins, 2 * max_source_positions] and decoder_input_ids [batch, seq]."""
    rng = np.random.default_rng(seed)
    frames = 2 * config["max_source_positions"]
    return {
        "input_features": rng.standard_normal((shape[0], config["num_mel_bins"], frames)).astype(np.float32),
        "decoder_input_ids": rng.integers(3, config["vocab_size"], shape, dtype=np.int64),
    }


def _wav2vec2_inputs(shape: tuple[int, ...], seed: int, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """input_values [batch, 1024] (normalised audio) with the last row's final 324 samples padded."""
    input_values = np.random.default_rng(seed).standard_normal((shape[0], 1024)).astype(np.float32)
    attention_mask = np.ones(input_values.shape, dtype=np.int64)
    attention_mask[-1, 700:] = 0
    input_values[-1, 700:] = 0.0
    return {"input_values": input_values, "attention_mask": attention_mask}


INPUT_MAKERS: dict[str, Callable[[tuple[int, ...], int, Mapping[str, Any]], dict[str, np.ndarray]]] = {
    "bert": _bert_inputs,
    "roberta": _roberta_inputs,
    "vit": _vit_inputs,
    "clip": _clip_inputs,
    "llama": _llama_inputs,
    "mistral": _llama_inputs,
    "qwen2": _llama_inputs,
    "gemma": _llama_inputs,
    "gpt2": _gpt2_inputs,
    "whisper": _whisper_inputs,
    "wav2vec2": _wav2vec2_inputs,
}


def tiny_inputs(
    task: str = "base",
    model_type: str = "bert",
    batch: int = 2,
    seq: int = 7,
    seed: int = 0,
    num_choices: int = 3,
) -> dict[str, np.ndarray]:
    """Numpy inputs for the tiny model of `task` (a choices axis for multiple choice), with some padding."""
    shape = (batch, num_choices, seq) if task == "multiple-choice" else (batch, seq)
    return INPUT_MAKERS[model_type](shape, seed, TINY_CONFIGS[model_type])


def tiny_labels(
    task: str, batch: int = 2, seq: int = 7, seed: int = 1, num_labels: int = 3, vocab_size: int = 99
) -> dict[str, np.ndarray]:
    """Numpy labels of `task` (empty for the bare model)."""
    rng = np.random.default_rng(seed)
    makers: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        "pretraining": lambda: {
            "labels": rng.integers(0, vocab_size, (batch, seq)),
            "next_sentence_label": rng.integers(0, 2, (batch,)),
        },
        "masked-lm": lambda: {"labels": rng.integers(0, vocab_size, (batch, seq))},
        "causal-lm": lambda: {"labels": rng.integers(0, vocab_size, (batch, seq))},
        # CTC transcripts: ids 1.. (0 is the blank), the last row shorter (-100 padded)
        "ctc": lambda: {
            "labels": np.where(
                np.arange(5) < [[5]] * (batch - 1) + [[3]], rng.integers(1, 32, (batch, 5)), -100
            )
        },
        "next-sentence-prediction": lambda: {"labels": rng.integers(0, 2, (batch,))},
        "sequence-classification": lambda: {"labels": rng.integers(0, num_labels, (batch,))},
        "image-classification": lambda: {"labels": rng.integers(0, num_labels, (batch,))},
        "multiple-choice": lambda: {"labels": rng.integers(0, num_labels, (batch,))},
        "token-classification": lambda: {"labels": rng.integers(0, num_labels, (batch, seq))},
        "question-answering": lambda: {
            "start_positions": rng.integers(0, seq, (batch,)),
            "end_positions": rng.integers(0, seq, (batch,)),
        },
    }
    return makers[task]() if task in makers else {}


# -- numpy in, numpy out ---------------------------------------------------------------------------------
def to_backend(backend: str, value):
    if value is None:
        return None
    if backend in ("torch", "hf"):
        import torch

        return torch.from_numpy(np.asarray(value))
    if backend == "tf":
        import tensorflow as tf

        return tf.constant(value)
    import jax.numpy as jnp

    return jnp.asarray(value)


def _numpy_call(model, inputs: Mapping[str, Any], **kwargs) -> dict[str, Any]:
    """numpy in -> the model's own tensors -> the model -> numpy out ({output name: numpy or tuple of numpy}).

    rosetta models go through `rosetta.pipelines._numpy.numpy_call` (the model's own `numpy_call`,
    or its temporary per-framework fallback); transformers' torch models, the reference, are
    called here under no_grad.
    """
    if not type(model).__module__.startswith("transformers."):
        return numpy_call(model, inputs, **kwargs)
    import torch

    with torch.no_grad():
        out = model(**{k: torch.from_numpy(np.asarray(v)) for k, v in inputs.items()}, **kwargs)
    return {k: to_numpy(v) for k, v in out.items()}


def run(backend: str, model, inputs: dict[str, np.ndarray], **kwargs) -> dict[str, object]:
    """Call `model` on numpy inputs in its own framework; return {output name: numpy}.

    `backend` is kept for the callers' readability; the model's own class decides the framework.
    """
    return _numpy_call(model, inputs, **kwargs)


def assert_close(actual: dict, expected: dict, atol: float, keys=None) -> float:
    """Every output in both dicts agrees within atol; returns the largest difference seen."""
    keys = keys or [k for k in expected if k in actual]
    assert keys, f"no outputs to compare: {sorted(actual)} vs {sorted(expected)}"
    worst = 0.0
    for key in keys:
        a, e = actual[key], expected[key]
        pairs = zip(a, e) if isinstance(e, tuple) else [(a, e)]
        if isinstance(e, tuple):
            assert len(a) == len(e), f"{key}: {len(a)} vs {len(e)} entries"
        for x, y in pairs:
            assert x.shape == y.shape, f"{key}: shape {x.shape} vs {y.shape}"
            diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
            assert diff <= atol, f"{key}: max abs difference {diff:.3g} > {atol}"
            worst = max(worst, diff)
    return worst


def save_transformers_models(
    tmp_path_factory, config_name: str, heads: list[str], config: dict, qa_head: str | None = None
) -> dict:
    """One randomly initialised transformers model per head, saved by transformers: {head: (folder, model)}."""
    import torch

    folders = {}
    for i, head in enumerate(heads):
        torch.manual_seed(i)
        num_labels = 2 if head == qa_head else config.get("num_labels", 2)
        model = hf_class(head)(
            hf_class(config_name)(**{**config, "num_labels": num_labels}, attn_implementation="eager")
        ).eval()
        folder = tmp_path_factory.mktemp(head)
        model.save_pretrained(folder)
        folders[head] = (folder, model)
    return folders


def check_matches_transformers(
    backend: str, head: str, folder, reference, inputs: dict, labels: dict, atol: float
) -> None:
    """A transformers checkpoint loads with no key problems and gives the same outputs, losses included."""
    model, info = rosetta_class(backend, head).from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    flags = dict(output_hidden_states=True, output_attentions=True)
    # One call with the labels as well: the loss is checked beside every other output, for one compile.
    expected = run("hf", reference, {**inputs, **labels}, **flags)
    actual = run(backend, model, {**inputs, **labels}, **flags)
    assert set(actual) == set(expected) - {"cross_attentions", "past_key_values", "cache"}
    assert_close(actual, expected, atol)
    assert ("loss" in actual) == bool(labels)
