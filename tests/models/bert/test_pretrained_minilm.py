"""The real pretrained BERT (all-MiniLM-L6-v2) in every backend, against transformers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.assets import minilm
from tests.parity import BACKENDS, assert_close, hf_class, rosetta_class, run

# "A man is eating food." and a padded second sentence, as WordPiece ids of the checkpoint's vocabulary.
INPUT_IDS = np.array(
    [
        [101, 1037, 2158, 2003, 5983, 2833, 1012, 102, 0, 0],
        [101, 1037, 2158, 2003, 5983, 1037, 3538, 1997, 7852, 102],
    ],
    dtype=np.int64,
)
ATTENTION_MASK = (INPUT_IDS != 0).astype(np.int64)
TOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    model = hf_class("BertModel").from_pretrained(minilm(), attn_implementation="eager").eval()
    return run(
        "hf", model, {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK}, output_hidden_states=True
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_minilm_matches_transformers(backend, reference):
    model, info = rosetta_class(backend, "BertModel").from_pretrained(minilm(), output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    outputs = run(
        backend, model, {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK}, output_hidden_states=True
    )
    assert_close(outputs, reference, TOL, keys=["last_hidden_state", "pooler_output", "hidden_states"])


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    summed = (hidden * mask[..., None]).sum(1)
    return summed / mask.sum(1, keepdims=True)


def test_minilm_sentence_similarity():
    model = rosetta_class("torch", "BertModel").from_pretrained(minilm())
    outputs = run("torch", model, {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK})
    a, b = mean_pool(outputs["last_hidden_state"], ATTENTION_MASK)
    cosine = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert 0.70 < cosine < 0.80  # about 0.755 for these two sentences (shared/ASSETS.md)
