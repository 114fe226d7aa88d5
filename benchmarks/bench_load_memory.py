"""Peak memory of `from_pretrained` in torch, TF and Flax: how many copies of a checkpoint a load holds.

Each load runs in a fresh process (2 threads). Two figures per row, both peak RSS (VmHWM) over
the checkpoint's size on disk:

- "post-import": above the RSS right after importing the framework and rosetta's model module;
- "warm runtime": above the RSS after one tiny op has started the framework's runtime (XLA's CPU
  client, TensorFlow's device), a fixed cost any first use pays; this is the load's own memory.

Checkpoints are random BERT weights made with torch: BERT-base (~440 MB, one file) and a wide
24-layer BERT (~2.9 GB, sharded in 1 GB files). The goal is <= 1.1x in every backend: the
weights once, plus bounded working memory.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile

from benchmarks.common import BERT_BASE, THREADS_PRELUDE, print_setup, print_table, run_isolated

WIDE = dict(BERT_BASE, hidden_size=1536, intermediate_size=6144, num_hidden_layers=24, num_attention_heads=16)

LOAD = """
{imports}
post_import = _status('VmRSS')
{warm}
mark_baseline()
start = time.perf_counter()
model = {loader}
seconds = time.perf_counter() - start
report(seconds=seconds, above_post_import=_status('VmHWM') - post_import, resident=_status('VmRSS') - _baseline[0])
"""

CASES = {
    "torch": (
        "import torch, rosetta.models.bert.modeling_bert as m",
        "torch.zeros(1).add_(1)",
        "m.BertModel.from_pretrained({folder!r})",
    ),
    "tf": (
        "import tensorflow as tf, rosetta.models.bert.modeling_tf_bert as m",
        "tf.zeros(1).numpy()",
        "m.TFBertModel.from_pretrained({folder!r})",
    ),
    "flax": (
        "import jax, rosetta.models.bert.modeling_flax_bert as m",
        "jax.numpy.zeros(1).block_until_ready()",
        "m.FlaxBertModel.from_pretrained({folder!r})",
    ),
}


def make_checkpoint(folder: str, sizes: dict, max_shard_size: str = "5GB") -> int:
    """Random BERT weights (normal, std 0.02) of `sizes` written by rosetta; returns the bytes on disk."""
    import torch

    from rosetta import BertConfig, BertModel
    from rosetta.convert.sharding import write_checkpoint

    config = BertConfig(**sizes)
    with torch.device("meta"):
        names = {name: tuple(p.shape) for name, p in BertModel(config).state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    tensors = {
        name: (torch.randn(shape, generator=generator) * 0.02).numpy() for name, shape in names.items()
    }
    config.architectures = ["BertModel"]
    write_checkpoint(
        folder, tensors, max_shard_size=max_shard_size, extra_files={"config.json": config.to_json_string()}
    )
    del tensors
    gc.collect()
    return sum(
        os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".safetensors")
    )


def bench(folder: str, size: int, label: str) -> list[tuple]:
    rows = []
    for framework, (imports, warm, loader) in CASES.items():
        code = THREADS_PRELUDE + LOAD.format(imports=imports, warm=warm, loader=loader.format(folder=folder))
        result = run_isolated(code)
        rows.append(
            (
                f"{label} {framework}",
                result["above_post_import"] / size,
                result["peak_rss_above_baseline"] / size,
                result["resident"] / size,
                result["seconds"],
            )
        )
    return rows


def main() -> None:
    print_setup("Loading memory")
    work = tempfile.mkdtemp(prefix="rosetta-bench-load-memory-")
    try:
        rows = []
        for label, sizes, shard in (("BERT-base", BERT_BASE, "5GB"), ("wide BERT", WIDE, "1GB")):
            folder = os.path.join(work, label.replace(" ", "-"))
            size = make_checkpoint(folder, sizes, shard)
            rows.extend(bench(folder, size, f"{label} ({size / 1e9:.2f} GB)"))
            shutil.rmtree(folder)
        print_table(
            "Peak RSS of from_pretrained / checkpoint size (goal <= 1.1)",
            rows,
            ("load", "peak above post-import", "peak above warm runtime", "resident after", "seconds"),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
