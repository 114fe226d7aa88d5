"""`pip install rosetta[flax]` alone is a working Flax stack: nothing here may import torch or TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.parity import tiny_config_dict

SCRIPT = f"""CONFIG = {tiny_config_dict()!r}

import sys, tempfile
for name in ("torch", "tensorflow", "keras"):
    sys.modules[name] = None  # any import of them now fails
import numpy as np
from rosetta import BertConfig, FlaxAutoModelForMaskedLM, FlaxBertForMaskedLM

config = BertConfig(**CONFIG)
model = FlaxBertForMaskedLM(config)
with tempfile.TemporaryDirectory() as folder:
    model.save_pretrained(folder)
    reloaded, info = FlaxAutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
x = np.arange(1, 8)[None]
assert np.array_equal(reloaded(x).logits, model(x).logits)
print("ok")
"""


def test_flax_backend_needs_neither_torch_nor_tensorflow():
    pytest.importorskip("flax")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"
