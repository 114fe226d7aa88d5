"""`from_pretrained` holds a checkpoint about once: peak RSS of a load in a fresh process, per backend.

The checkpoint is a ~170 MB BERT (hidden 512, 12 layers). The baseline is taken after the imports
and one tiny op (the framework's runtime started), so the figure is the load's own memory: the
weights (1.0x) plus bounded working memory and fixed costs that weigh ~0.1-0.15x at this size (the
Flax module traced for its shapes, Keras building the layers). A second copy of the weights, or the
mapped file kept resident, puts a load at >= 1.3x.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rosetta.convert.sharding import write_checkpoint

HIDDEN, LAYERS, VOCAB, INTERMEDIATE = 512, 12, 8000, 2048
MAX_PEAK = 1.25  # of the checkpoint's size, above the warmed-up baseline

FRAMEWORKS = {
    "torch": ("torch", "torch.zeros(1).add_(1)", "BertModel"),
    "tf": ("tensorflow", "tensorflow.zeros(1).numpy()", "TFBertModel"),
    "flax": ("jax", "jax.numpy.zeros(1).block_until_ready()", "FlaxBertModel"),
}
MODULES = {"torch": "modeling_bert", "tf": "modeling_tf_bert", "flax": "modeling_flax_bert"}

LOAD = """
import json, os, sys
os.environ.update(OMP_NUM_THREADS="2", TF_NUM_INTRAOP_THREADS="2", TF_NUM_INTEROP_THREADS="1")
import {package}
import rosetta.models.bert.{module} as m

def status(field):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ':'))

{warm}
baseline = status('VmRSS')
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # VmHWM := VmRSS
model = m.{cls}.from_pretrained(sys.argv[1])
print(json.dumps({{"peak": status('VmHWM') - baseline, "resident": status('VmRSS') - baseline}}))
"""


def _bert_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = {
        "embeddings.word_embeddings.weight": (VOCAB, HIDDEN),
        "embeddings.position_embeddings.weight": (512, HIDDEN),
        "embeddings.token_type_embeddings.weight": (2, HIDDEN),
        "embeddings.LayerNorm.weight": (HIDDEN,),
        "embeddings.LayerNorm.bias": (HIDDEN,),
        "pooler.dense.weight": (HIDDEN, HIDDEN),
        "pooler.dense.bias": (HIDDEN,),
    }
    layer = {
        "attention.self.query": (HIDDEN, HIDDEN),
        "attention.self.key": (HIDDEN, HIDDEN),
        "attention.self.value": (HIDDEN, HIDDEN),
        "attention.output.dense": (HIDDEN, HIDDEN),
        "intermediate.dense": (INTERMEDIATE, HIDDEN),
        "output.dense": (HIDDEN, INTERMEDIATE),
    }
    for i in range(LAYERS):
        prefix = f"encoder.layer.{i}."
        for name, shape in layer.items():
            shapes[f"{prefix}{name}.weight"] = shape
            shapes[f"{prefix}{name}.bias"] = shape[:1]
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{prefix}{norm}.weight"] = (HIDDEN,)
            shapes[f"{prefix}{norm}.bias"] = (HIDDEN,)
    return {name: rng.standard_normal(shape, dtype=np.float32) * 0.02 for name, shape in shapes.items()}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    folder = str(tmp_path_factory.mktemp("load-memory"))
    config = {
        "model_type": "bert",
        "architectures": ["BertModel"],
        "vocab_size": VOCAB,
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 8,
        "intermediate_size": INTERMEDIATE,
    }
    paths = write_checkpoint(folder, _bert_tensors(), extra_files={"config.json": json.dumps(config)})
    return folder, sum(os.path.getsize(p) for p in paths)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_load_holds_the_checkpoint_about_once(framework: str, checkpoint: tuple[str, int]) -> None:
    package, warm, cls = FRAMEWORKS[framework]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    folder, size = checkpoint
    code = LOAD.format(package=package, module=MODULES[framework], warm=warm, cls=cls)
    out = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    assert measured["peak"] / size <= MAX_PEAK, (
        f"{framework}: peak RSS {measured['peak'] / size:.2f}x the checkpoint"
    )
    assert measured["resident"] / size <= MAX_PEAK, (
        f"{framework}: {measured['resident'] / size:.2f}x resident after"
    )
