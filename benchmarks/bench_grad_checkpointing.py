"""Gradient checkpointing: the activation memory one training step saves, and what it costs in time.

`python -m benchmarks.bench_grad_checkpointing [--quick]`

A Llama of ~400 MB (hidden 768, 12 layers, GQA 12/4 heads, SwiGLU 2048, vocabulary 32000, tied
embeddings; random weights saved once by rosetta) takes one causal-LM training step (forward, loss,
backward) on a batch of 2 x 512 tokens, in torch, TensorFlow and Flax, with checkpointing off and on;
transformers 5's torch Llama on the same folder is the peer row.

Each run is a fresh process (2 threads). Its baseline is taken after the model is built and a gradient
buffer the size of the weights exists, so "peak over baseline" is the step's own memory: activations
kept for the backward pass plus the transient working set. Flax adds XLA's own figure for the compiled
step (`memory_analysis().temp_size_in_bytes`), which no allocator cache blurs.

Flax: the layers run as one `lax.scan` with a `jax.checkpoint`ed step (`FlaxModuleList.scan`). An unrolled
loop of `nn.remat` layers saved ~3% here (XLA:CPU schedules the recomputations early), the scan ~43%; what
the scan still holds includes one stacked copy of the layers' weights. GPU and TPU are unmeasured (no device
was lent). Timings are one step: the second step of the process; memory is the first step's peak (before it, no step has run: a freed
activation buffer kept by the allocator would hide the next step's peak).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

from benchmarks.common import THREADS_PRELUDE, print_setup, print_table, run_isolated

LLAMA = dict(
    vocab_size=32000,
    hidden_size=768,
    intermediate_size=2048,
    num_hidden_layers=12,
    num_attention_heads=12,
    num_key_value_heads=4,
    max_position_embeddings=1024,
    tie_word_embeddings=True,
)
BATCH, SEQ = 2, 512

# Each side builds `model` and defines `step()` (one forward + loss + backward) and `grads_ready()`.
SETUP = {
    "rosetta torch": """
import torch
from rosetta import LlamaForCausalLM
model = LlamaForCausalLM.from_pretrained({folder!r}).train()
if {checkpointing}: model.gradient_checkpointing_enable()
ids = torch.from_numpy(np.random.default_rng(0).integers(0, 32000, ({batch}, {seq})))
for p in model.parameters(): p.grad = torch.zeros_like(p)
def step():
    model(input_ids=ids, labels=ids).loss.backward()
""",
    "transformers 5 torch": """
import torch, transformers
model = transformers.LlamaForCausalLM.from_pretrained({folder!r}, attn_implementation="sdpa").train()
if {checkpointing}: model.gradient_checkpointing_enable()
model.config.use_cache = False
ids = torch.from_numpy(np.random.default_rng(0).integers(0, 32000, ({batch}, {seq})))
for p in model.parameters(): p.grad = torch.zeros_like(p)
def step():
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
""",
    "rosetta tf": """
import tensorflow as tf
from rosetta import TFLlamaForCausalLM
model = TFLlamaForCausalLM.from_pretrained({folder!r})
if {checkpointing}: model.gradient_checkpointing_enable()
ids = tf.constant(np.random.default_rng(0).integers(0, 32000, ({batch}, {seq})), dtype=tf.int32)
grads = [tf.Variable(tf.zeros_like(v)) for v in model.trainable_variables]
def step():
    with tf.GradientTape() as tape:
        loss = model(input_ids=ids, labels=ids, training=True).loss
        loss = tf.reduce_mean(loss)
    for g, new in zip(grads, tape.gradient(loss, model.trainable_variables)):
        g.assign(new)
""",
    "rosetta flax": """
import jax, jax.numpy as jnp, optax
from rosetta import FlaxLlamaForCausalLM
model = FlaxLlamaForCausalLM.from_pretrained({folder!r}, gradient_checkpointing={checkpointing})
ids = jnp.asarray(np.random.default_rng(0).integers(0, 32000, ({batch}, {seq})), dtype=jnp.int32)
def loss_fn(params):
    logits = model(ids, params=params, train=True, dropout_rng=jax.random.PRNGKey(0)).logits[:, :-1]
    return optax.softmax_cross_entropy_with_integer_labels(logits, ids[:, 1:]).mean()
grad_fn = jax.jit(jax.grad(loss_fn))
compiled = grad_fn.lower(model.params).compile()
extra["xla_temp_bytes"] = compiled.memory_analysis().temp_size_in_bytes
grads = jax.tree_util.tree_map(jnp.zeros_like, model.params)
jax.block_until_ready(grads)
def step():
    global grads
    grads = jax.block_until_ready(compiled(model.params))
""",
}

MEASURE = """
import numpy as np
extra = {{}}
{setup}
mark_baseline()
start = time.perf_counter()
step()
first = time.perf_counter() - start
peak = _status('VmHWM') - _baseline[0]
start = time.perf_counter()
step()
report(seconds=time.perf_counter() - start, first_seconds=first, step_peak=peak, **extra)
"""


def llama_checkpoint() -> str:
    folder = os.path.join(tempfile.gettempdir(), "rosetta-bench-llama-400m")
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        import torch

        from rosetta import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        LlamaForCausalLM(LlamaConfig(**LLAMA)).save_pretrained(folder)
    return folder


def measure(side: str, folder: str, checkpointing: bool, batch: int, seq: int) -> dict:
    setup = SETUP[side].format(folder=folder, checkpointing=checkpointing, batch=batch, seq=seq)
    return run_isolated(THREADS_PRELUDE + MEASURE.format(setup=setup))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_grad_checkpointing")
    parser.add_argument("--quick", action="store_true", help="a batch of 1 x 128 tokens, one round")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per row; the median is kept")
    parser.add_argument(
        "--only", nargs="+", choices=list(SETUP), metavar="SIDE", help=f"only these of {list(SETUP)}"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    batch, seq, rounds = (1, 128, 1) if options.quick else (BATCH, SEQ, options.rounds)
    print_setup("Gradient checkpointing (Llama ~400 MB, one training step)")
    print(f"- batch {batch} x {seq} tokens, fp32, {rounds} fresh process(es) per figure, median kept")
    folder = llama_checkpoint()
    weights_mb = os.path.getsize(os.path.join(folder, "model.safetensors")) / 2**20
    print(f"- weights on disk: {weights_mb:.0f} MiB")
    rows = []
    for side in options.only or SETUP:
        figures = {}
        for checkpointing in (False, True):
            runs = [measure(side, folder, checkpointing, batch, seq) for _ in range(rounds)]
            figures[checkpointing] = (
                statistics.median(r["step_peak"] for r in runs) / 2**20,
                statistics.median(r["seconds"] for r in runs),
                runs[0].get("xla_temp_bytes"),
            )
        (off_mb, off_s, off_xla), (on_mb, on_s, on_xla) = figures[False], figures[True]
        xla = f"{off_xla / 2**20:.0f} -> {on_xla / 2**20:.0f} MiB" if off_xla else ""
        rows.append((side, off_mb, on_mb, on_mb / off_mb, off_s, on_s, on_s / off_s, xla))
    print_table(
        "One training step, checkpointing off vs on",
        rows,
        (
            "side",
            "step peak off (MiB)",
            "on (MiB)",
            "memory on/off",
            "step off (s)",
            "step on (s)",
            "time on/off",
            "XLA temp off -> on",
        ),
    )


if __name__ == "__main__":
    main()
