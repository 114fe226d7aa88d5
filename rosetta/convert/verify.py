"""`rosetta verify PATH`: run one checkpoint in every framework and report how far the outputs agree.

The class comes from config.json `architectures` (the base model when none is named). The same
deterministic inputs (ids within the vocabulary, an attention mask with padding) go through
rosetta's torch, TF and Flax models and, when it is installed and knows the architecture,
Hugging Face transformers. Per layer, the hidden states' max absolute difference and max
relative difference (max abs / max |reference|) against the reference run (torch when it is
installed); on every logits output, the max difference, the KL divergence of the softmaxes and
the top-k agreement. Exit code 0 when every difference is within --atol, 1 otherwise, 2 on errors.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.errors import InputError, RosettaError

FRAMEWORKS = ("torch", "tf", "flax", "transformers")
_MODULES = {"torch": ("torch",), "tf": ("tensorflow",), "flax": ("jax", "flax"), "transformers": ("transformers", "torch")}
LOGIT_FIELDS = ("logits", "prediction_logits", "seq_relationship_logits", "start_logits", "end_logits")
TOP_K = 5


class Skipped(Exception):
    """A framework that cannot run here (not installed, no such class); reported, not fatal."""


@dataclass
class Run:
    framework: str
    class_name: str
    hidden_states: list[np.ndarray]
    logits: dict[str, np.ndarray]


@dataclass
class Result:
    framework: str
    status: str  # "ok", "failed", "skipped", "reference"
    class_name: str = ""
    reason: str = ""
    hidden_states: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def make_inputs(config: Any, main_input: str, batch: int = 2, seq_len: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs: ids within the vocabulary and a mask that pads the second row's tail."""
    rng = np.random.default_rng(seed)
    if main_input == "input_ids":
        seq_len = max(2, min(seq_len, getattr(config, "max_position_embeddings", seq_len) - 2))
        ids = rng.integers(1, max(2, config.vocab_size), size=(batch, seq_len), dtype=np.int64)
        mask = np.ones((batch, seq_len), dtype=np.int64)
        mask[1:, seq_len - seq_len // 3 :] = 0
        return {"input_ids": ids, "attention_mask": mask}
    if main_input == "pixel_values":
        size, channels = getattr(config, "image_size", 32), getattr(config, "num_channels", 3)
        return {"pixel_values": rng.standard_normal((batch, channels, size, size)).astype(np.float32)}
    if main_input == "input_values":
        return {"input_values": rng.standard_normal((batch, 4000)).astype(np.float32)}
    raise InputError(f"rosetta verify does not know how to build inputs named {main_input!r}.")


# --------------------------------------------------------------------------------------
# Running each framework
# --------------------------------------------------------------------------------------
def available(framework: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in _MODULES[framework])


def _rosetta_class(config: Any, framework: str) -> type:
    from .stream import architecture_class

    try:
        return architecture_class(config, framework)
    except (ImportError, AttributeError) as err:
        raise Skipped(f"rosetta has no {framework} class for this architecture here ({_first_line(err)})") from err


def _outputs(out: Any, to_numpy: Callable[[Any], np.ndarray]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    hidden = getattr(out, "hidden_states", None)
    if hidden is None:
        hidden = getattr(out, "encoder_hidden_states", None) or ()
    logits = {name: to_numpy(getattr(out, name)) for name in LOGIT_FIELDS if getattr(out, name, None) is not None}
    return [to_numpy(h) for h in hidden], logits


def run_torch(path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
    import torch

    cls = _rosetta_class(config, "torch")
    model = cls.from_pretrained(path).eval()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, output_hidden_states=True)
    hidden, logits = _outputs(out, lambda t: t.detach().float().cpu().numpy())
    return Run("torch", cls.__name__, hidden, logits)


def run_tf(path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cls = _rosetta_class(config, "tf")
    model = cls.from_pretrained(path)
    out = model(**{k: tf.constant(v) for k, v in inputs.items()}, output_hidden_states=True, training=False)
    hidden, logits = _outputs(out, lambda t: np.asarray(t, dtype=np.float32))
    return Run("tf", cls.__name__, hidden, logits)


def run_flax(path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
    import jax.numpy as jnp

    cls = _rosetta_class(config, "flax")
    model = cls.from_pretrained(path)
    out = model(**{k: jnp.asarray(v) for k, v in inputs.items()}, output_hidden_states=True)
    hidden, logits = _outputs(out, lambda t: np.asarray(t, dtype=np.float32))
    return Run("flax", cls.__name__, hidden, logits)


def run_transformers(path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
    import torch
    import transformers

    name = _rosetta_class(config, "torch").__name__
    cls = getattr(transformers, name, None)
    if cls is None:
        raise Skipped(f"transformers {transformers.__version__} has no {name}")
    verbosity, bars = transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        model = cls.from_pretrained(path).eval()
    except Exception as err:  # noqa: BLE001 - transformers is a peer: what it cannot load is reported
        raise Skipped(f"transformers could not load it ({type(err).__name__}: {_first_line(err)})") from err
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.logging.enable_progress_bar()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, output_hidden_states=True)
    hidden, logits = _outputs(out, lambda t: t.detach().float().cpu().numpy())
    return Run("transformers", name, hidden, logits)


RUNNERS: dict[str, Callable[[str, Any, dict[str, np.ndarray]], Run]] = {
    "torch": run_torch, "tf": run_tf, "flax": run_flax, "transformers": run_transformers,
}


# --------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------
def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def compare_arrays(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Max absolute difference, and the same relative to the reference's largest magnitude."""
    if ours.shape != ref.shape:
        raise ValueError(f"shape {ours.shape} vs reference {ref.shape}")
    max_abs = _max_abs(ours, ref)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    return {"max_abs": max_abs, "max_rel": max_abs / scale if scale > 0 else max_abs}


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def compare_logits(ours: np.ndarray, ref: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
    """compare_arrays plus mean KL(ref || ours) and top-1 / top-k agreement over unpadded positions."""
    stats: dict[str, float] = compare_arrays(ours, ref)
    classes = ref.shape[-1] if ref.ndim else 1
    if classes < 2:
        return stats
    rows_ours, rows_ref = ours.reshape(-1, classes), ref.reshape(-1, classes)
    if mask is not None and ref.ndim == 3 and ref.shape[:2] == mask.shape:
        keep = mask.reshape(-1).astype(bool)
        rows_ours, rows_ref = rows_ours[keep], rows_ref[keep]
    log_p, log_q = _log_softmax(rows_ref), _log_softmax(rows_ours)
    stats["kl"] = max(0.0, float(np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))))  # >= 0 but for rounding
    k = min(TOP_K, classes)
    top_ref = np.argsort(-rows_ref, axis=-1, kind="stable")[:, :k]
    top_ours = np.argsort(-rows_ours, axis=-1, kind="stable")[:, :k]
    stats["top1"] = float(np.mean(top_ref[:, 0] == top_ours[:, 0]))
    stats["topk"] = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_ours)]))
    stats["k"] = k
    return stats


def compare_runs(run: Run, ref: Run, mask: np.ndarray | None, atol: float) -> Result:
    result = Result(run.framework, "ok", run.class_name)
    if len(run.hidden_states) != len(ref.hidden_states):
        return Result(run.framework, "failed", run.class_name,
                      f"{len(run.hidden_states)} hidden states vs {len(ref.hidden_states)} in {ref.framework}")
    for index, (ours, theirs) in enumerate(zip(run.hidden_states, ref.hidden_states)):
        result.hidden_states.append({"layer": _layer_name(index), **compare_arrays(ours, theirs)})
    for name, theirs in ref.logits.items():
        if name not in run.logits:
            return Result(run.framework, "failed", run.class_name, f"no {name} output")
        result.outputs[name] = compare_logits(run.logits[name], theirs, mask)
    worst = max([h["max_abs"] for h in result.hidden_states] + [o["max_abs"] for o in result.outputs.values()], default=0.0)
    if not worst <= atol:  # NaN fails too
        result.status, result.reason = "failed", f"max abs difference {worst:.3g} > atol {atol:g}"
    return result


def _layer_name(index: int) -> str:
    return "embeddings" if index == 0 else f"layer {index}"


# --------------------------------------------------------------------------------------
# The whole verification
# --------------------------------------------------------------------------------------
@dataclass
class Report:
    path: str
    architecture: str
    reference: str
    atol: float
    inputs: dict[str, Any]
    results: list[Result]

    @property
    def passed(self) -> bool:
        return all(r.status in ("ok", "reference", "skipped") for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "architecture": self.architecture, "reference": self.reference, "atol": self.atol,
            "inputs": self.inputs, "passed": self.passed,
            "frameworks": {r.framework: {k: v for k, v in asdict(r).items() if k != "framework"} for r in self.results},
        }


def verify(path: str, frameworks: Sequence[str] = FRAMEWORKS, atol: float = 1e-4, explicit: bool = False) -> Report:
    """Run the checkpoint at `path` in each framework and compare every run with the first one."""
    from ..core.registry import AutoConfig

    config = AutoConfig.from_pretrained(path)
    main_input = getattr(_rosetta_class(config, "torch") if available("torch") else None, "main_input_name", "input_ids")
    inputs = make_inputs(config, main_input)
    runs: dict[str, Run] = {}
    results: dict[str, Result] = {}
    for framework in frameworks:
        runs_or_result = _try_run(framework, path, config, inputs, explicit)
        if isinstance(runs_or_result, Run):
            runs[framework] = runs_or_result
        else:
            results[framework] = runs_or_result
    if not runs:
        raise InputError(f"{path}: no framework could run it ({_reasons(results)}).")
    reference = next(iter(runs.values()))
    if len(runs) + sum(r.status == "failed" for r in results.values()) < 2:
        raise InputError(f"{path}: only {reference.framework} ran, nothing to compare it with ({_reasons(results)}).")
    mask = inputs.get("attention_mask")
    for framework, run in runs.items():
        if run is reference:
            results[framework] = Result(framework, "reference", run.class_name)
        else:
            results[framework] = compare_runs(run, reference, mask, atol)
    shape = next(iter(inputs.values())).shape
    info = {"main_input": main_input, "shape": list(shape), "padded_positions": int((mask == 0).sum()) if mask is not None else 0}
    return Report(path, reference.class_name, reference.framework, atol, info, [results[f] for f in frameworks])


def _try_run(framework: str, path: str, config: Any, inputs: dict[str, np.ndarray], explicit: bool) -> Run | Result:
    if not available(framework):
        if explicit:
            raise InputError(f"--frameworks asks for {framework}, which is not installed (needs {', '.join(_MODULES[framework])}).")
        return Result(framework, "skipped", reason="not installed")
    try:
        return RUNNERS[framework](path, config, inputs)
    except Skipped as err:
        if explicit and framework != "transformers":
            raise InputError(f"--frameworks asks for {framework}: {err}.") from err
        return Result(framework, "skipped", reason=str(err))
    except Exception as err:  # noqa: BLE001 - a framework that fails on the checkpoint is a failed check
        return Result(framework, "failed", reason=f"{type(err).__name__}: {_first_line(err)}")


def _reasons(results: dict[str, Result]) -> str:
    return "; ".join(f"{name}: {r.reason}" for name, r in results.items()) or "none requested"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# --------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------
def format_table(report: Report) -> str:
    shape = "x".join(map(str, report.inputs["shape"]))
    lines = [
        f"rosetta verify {report.path}",
        f"  {report.architecture}, {report.inputs['main_input']} {shape} ({report.inputs['padded_positions']} padded positions), "
        f"reference: {report.reference}, atol {report.atol:g}",
        f"  {'framework':<13} {'output':<24} {'max abs':>9} {'max rel':>9} {'KL':>9} {'top-1':>6} {'top-k':>6}  status",
    ]
    for result in report.results:
        if result.status in ("skipped", "reference") or (result.status == "failed" and not result.hidden_states):
            lines.append(f"  {result.framework:<13} {result.status}" + (f": {result.reason}" if result.reason else ""))
            continue
        for layer in result.hidden_states:
            lines.append(_row(result.framework, layer["layer"], layer, report.atol))
        for name, stats in result.outputs.items():
            lines.append(_row(result.framework, name, stats, report.atol))
    lines.append(("PASS" if report.passed else "FAIL") + f": every difference within atol {report.atol:g}" if report.passed
                 else "FAIL: " + "; ".join(f"{r.framework}: {r.reason}" for r in report.results if r.status == "failed"))
    return "\n".join(lines)


def _row(framework: str, output: str, stats: dict[str, Any], atol: float) -> str:
    kl = f"{stats['kl']:9.2e}" if "kl" in stats else " " * 9
    top1 = f"{stats['top1']:6.0%}" if "top1" in stats else " " * 6
    topk = f"{stats['topk']:6.0%}" if "topk" in stats else " " * 6
    status = "ok" if stats["max_abs"] <= atol else "FAIL"
    return f"  {framework:<13} {output:<24} {stats['max_abs']:9.2e} {stats['max_rel']:9.2e} {kl} {top1} {topk}  {status}"


def format_markdown(report: Report) -> str:
    """A model-card section: one row per framework, the per-layer table folded below."""
    lines = [
        "## Cross-framework verification",
        "",
        f"Checked with `rosetta verify`: {report.architecture} on {report.inputs['main_input']} of shape "
        f"{tuple(report.inputs['shape'])} ({report.inputs['padded_positions']} padded positions), "
        f"every framework against {report.reference}, tolerance {report.atol:g}.",
        "",
        "| Framework | Class | Max abs diff, hidden states | Max abs diff, logits | KL divergence | Top-k agreement | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        hidden = max((h["max_abs"] for h in r.hidden_states), default=None)
        logits = max((o["max_abs"] for o in r.outputs.values()), default=None)
        kl = max((o["kl"] for o in r.outputs.values() if "kl" in o), default=None)
        topk = min((o["topk"] for o in r.outputs.values() if "topk" in o), default=None)
        result = {"ok": "pass", "reference": "reference", "failed": f"**fail**: {r.reason}", "skipped": f"skipped: {r.reason}"}[r.status]
        lines.append(f"| {r.framework} | {r.class_name or '-'} | {_md(hidden)} | {_md(logits)} | {_md(kl)} | "
                     f"{'-' if topk is None else f'{topk:.0%}'} | {result} |")
    lines += ["", "<details><summary>Per layer</summary>", "", "| Framework | Output | Max abs diff | Max rel diff |", "|---|---|---|---|"]
    for r in report.results:
        for h in r.hidden_states:
            lines.append(f"| {r.framework} | {h['layer']} | {h['max_abs']:.2e} | {h['max_rel']:.2e} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _md(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    explicit = args.frameworks is not None
    frameworks = _parse_frameworks(args.frameworks) if explicit else list(FRAMEWORKS)
    try:
        report = verify(args.path, frameworks, atol=args.atol, explicit=explicit)
    except (RosettaError, OSError, ValueError) as err:  # the CLI prints one line: keep it the first
        if getattr(args, "debug", False) or "\n" not in str(err).strip():
            raise
        raise InputError(_first_line(err)) from err
    print(format_table(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.as_dict(), f, indent=2)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(format_markdown(report))
    sys.stdout.flush()
    return 0 if report.passed else 1


def _parse_frameworks(text: str) -> list[str]:
    names = [{"pt": "torch", "hf": "transformers", "jax": "flax"}.get(n.strip(), n.strip()) for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FRAMEWORKS]
    if unknown or not names:
        raise InputError(f"Unknown framework(s) {', '.join(unknown) or text!r}; use a comma-separated list of {', '.join(FRAMEWORKS)}.")
    return list(dict.fromkeys(names))


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="run a checkpoint in every framework and compare the outputs",
        description=(__doc__ or "").split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("path", metavar="PATH", help="folder or Hub repo id of the checkpoint")
    parser.add_argument("--frameworks", default=None,
                        help="comma-separated, of torch, tf, flax, transformers (default: every one installed; the first is the reference)")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest max-abs difference that passes (default: 1e-4)")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write a Markdown section for a model card")
    parser.set_defaults(func=run)
