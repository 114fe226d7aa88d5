"""`query_blocked_attention` (Flax and TF): the plain softmax(q k^T) v, a block of query rows at a time.

Checked against torch's eager attention on the same arrays, for lengths below, at and past a block and
one that leaves a partial last block (its padded rows must not leak into the answer).
"""

from __future__ import annotations

import numpy as np
import pytest


def _reference(query: np.ndarray, key: np.ndarray, value: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    q, k, v = (torch.from_numpy(x) for x in (query, key, value))
    return (torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v).numpy()


def _blocked(backend: str):
    if backend == "flax":
        pytest.importorskip("jax")
        from rosetta.backends.flax.flax_utils import QUERY_BLOCK, query_blocked_attention

        return QUERY_BLOCK, lambda *arrays: np.asarray(query_blocked_attention(*arrays))
    tf = pytest.importorskip("tensorflow")
    from rosetta.backends.tf.tf_utils import QUERY_BLOCK, query_blocked_attention

    run = tf.function(query_blocked_attention, jit_compile=True)
    return QUERY_BLOCK, lambda *arrays: run(*(tf.constant(a) for a in arrays)).numpy()


@pytest.mark.parametrize("backend", ["flax", "tf"])
def test_blocked_attention_equals_plain_attention(backend):
    block, blocked = _blocked(backend)
    rng = np.random.default_rng(0)
    for queries in (block // 2, block, 2 * block + 37):
        query = rng.standard_normal((2, 3, queries, 8), dtype=np.float32)
        key, value = (rng.standard_normal((2, 3, 300, 8), dtype=np.float32) for _ in range(2))
        out = blocked(query, key, value)
        assert out.shape == (2, 3, queries, 8)
        np.testing.assert_allclose(out, _reference(query, key, value), atol=1e-5, rtol=0)
