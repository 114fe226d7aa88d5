"""Parity under XLA's default flags, as users run it.

tests/conftest.py compiles the suite's tiny programs with faster XLA:CPU settings (classic emitters, LLVM -O0).
This file runs itself as a script in a process with XLA's defaults: a tiny Llama from transformers loads in
TF and Flax with the same logits and the same greedy tokens as transformers (the forward under `jax.jit` and
`tf.function(jit_compile=True)`, generation in the compiled loops).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.xla_flags import without_test_xla_flags


def test_tf_and_flax_match_transformers_under_default_xla_flags(tmp_path):
    for module in ("torch", "transformers", "tensorflow", "flax"):
        pytest.importorskip(module)
    env = without_test_xla_flags()
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, __file__, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["xla_flags"] == env["XLA_FLAGS"]
    for backend in ("tf", "flax"):
        assert report[backend]["logits"] <= 2e-5, (backend, report[backend])
        assert report[backend]["tokens"] == report["transformers_tokens"], backend


def _main(folder: str) -> None:
    import torch

    from tests.parity import hf_class, rosetta_class, tiny_config_dict

    torch.manual_seed(0)
    reference = hf_class("LlamaForCausalLM")(hf_class("LlamaConfig")(**tiny_config_dict("llama"))).eval()
    reference.save_pretrained(folder)
    ids = np.random.default_rng(0).integers(1, 99, size=(2, 9))
    mask = np.ones_like(ids)
    mask[1, :3] = 0  # a left-padded row
    with torch.no_grad():
        expected = reference(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
        tokens = reference.generate(
            torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), max_new_tokens=6, do_sample=False
        ).tolist()
    report = {"xla_flags": os.environ.get("XLA_FLAGS", ""), "transformers_tokens": tokens}
    for backend in ("tf", "flax"):
        model = rosetta_class(backend, "LlamaForCausalLM").from_pretrained(folder)
        logits = model.numpy_call({"input_ids": ids, "attention_mask": mask}).logits
        difference = float(np.abs(logits - expected)[mask.astype(bool)].max())
        out = model.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
        report[backend] = {"logits": difference, "tokens": np.asarray(out).tolist()}
    print(json.dumps(report))


if __name__ == "__main__":
    _main(sys.argv[1])
