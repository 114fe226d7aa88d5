"""One checkpoint through every framework, compared layer by layer: what `rosetta verify` runs.

The class comes from config.json `architectures` (the base model when none is named), looked up
in the registry: this module imports no backend. The same deterministic inputs (ids within the
vocabulary, an attention mask with padding) go through rosetta's torch, TF and Flax models and,
when it is installed and knows the architecture, Hugging Face transformers. Per layer, the hidden
states' max absolute difference and max relative difference (max abs / max |reference|) against
the reference run (the first framework that ran); on every logits output, the max difference,
the KL divergence of the softmaxes and the top-k agreement.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ConfigError, InputError
from ..core.frameworks import FRAMEWORKS as FRAMEWORK_TABLE
from ..core.frameworks import framework_key, missing_framework_message
from ..core.registry import AutoConfig, architecture_class

PEER = "transformers"  # Hugging Face transformers: a reference implementation, run through torch
FRAMEWORKS = (*FRAMEWORK_TABLE, PEER)
PEER_MODULES = ("transformers", "torch")
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

    @property
    def confirmed(self) -> list[str]:
        """The frameworks whose outputs agreed (the reference included)."""
        return [r.framework for r in self.results if r.status in ("ok", "reference")]

    def as_dict(self) -> dict[str, Any]:
        frameworks = {
            r.framework: {k: v for k, v in asdict(r).items() if k != "framework"} for r in self.results
        }
        return {
            "path": self.path,
            "architecture": self.architecture,
            "reference": self.reference,
            "atol": self.atol,
            "inputs": self.inputs,
            "passed": self.passed,
            "frameworks": frameworks,
        }


# --------------------------------------------------------------------------------------
# Frameworks
# --------------------------------------------------------------------------------------
def parse_framework(name: str) -> str:
    """A framework key ("pt" -> "torch", "jax" -> "flax") or "transformers" ("hf")."""
    name = name.strip()
    if name in (PEER, "hf"):
        return PEER
    try:
        return framework_key(name)
    except ConfigError as err:
        raise InputError(
            f"Unknown framework {name!r}; use a comma-separated list of {', '.join(FRAMEWORKS)}."
        ) from err


def available(framework: str) -> bool:
    if framework == PEER:
        return all(importlib.util.find_spec(module) is not None for module in PEER_MODULES)
    return FRAMEWORK_TABLE[framework].is_available()


def _install_hint(framework: str) -> str:
    if framework == PEER:
        return "transformers is not installed. Install it with: pip install transformers torch"
    return missing_framework_message(framework)


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def make_inputs(
    config: Any, main_input: str, batch: int = 2, seq_len: int = 12, seed: int = 0
) -> dict[str, np.ndarray]:
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


def main_input_name(config: Any) -> str:
    """The main input of the checkpoint's class in the first installed framework that has it."""
    for framework in FRAMEWORK_TABLE:
        if available(framework):
            try:
                return getattr(architecture_class(config, framework), "main_input_name", "input_ids")
            except (ImportError, ConfigError):
                continue
    return "input_ids"


# --------------------------------------------------------------------------------------
# Running each framework: numpy in, numpy out
# --------------------------------------------------------------------------------------
def _rosetta_class(config: Any, framework: str) -> type:
    try:
        return architecture_class(config, framework)
    except (ImportError, ConfigError) as err:
        raise Skipped(
            f"rosetta has no {framework} class for this architecture here ({first_line(err)})"
        ) from err


def _torch_call(model: Any, inputs: Mapping[str, np.ndarray], **kwargs: Any) -> Any:
    """The transformers peer (a torch model of another library) on numpy inputs."""
    import torch

    with torch.no_grad():
        return model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, **kwargs)


def numpy_call(framework: str, model: Any, inputs: Mapping[str, np.ndarray], **kwargs: Any) -> Any:
    """`model(**inputs, **kwargs)` from numpy inputs, through the model's own `numpy_call`."""
    return model.numpy_call(inputs, **kwargs)


def _to_numpy(tensor: Any) -> np.ndarray:
    if hasattr(tensor, "detach"):  # a torch tensor (bf16 has no numpy dtype: go through float32)
        tensor = tensor.detach().float().cpu().numpy()
    return np.asarray(tensor, dtype=np.float32)


def _outputs(out: Any) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    hidden = getattr(out, "hidden_states", None)
    if hidden is None:
        hidden = getattr(out, "encoder_hidden_states", None) or ()
    logits = {
        name: _to_numpy(getattr(out, name)) for name in LOGIT_FIELDS if getattr(out, name, None) is not None
    }
    return [_to_numpy(h) for h in hidden], logits


def run_rosetta(framework: str, path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
    if framework == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cls = _rosetta_class(config, framework)
    model = cls.from_pretrained(path)
    if framework == "torch":
        model.eval()
    hidden, logits = _outputs(numpy_call(framework, model, inputs, output_hidden_states=True))
    return Run(framework, cls.__name__, hidden, logits)


def run_transformers(path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
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
        raise Skipped(f"transformers could not load it ({type(err).__name__}: {first_line(err)})") from err
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.logging.enable_progress_bar()
    hidden, logits = _outputs(_torch_call(model, inputs, output_hidden_states=True))
    return Run(PEER, name, hidden, logits)


def run_framework(framework: str, path: str, config: Any, inputs: dict[str, np.ndarray]) -> Run:
    if framework == PEER:
        return run_transformers(path, config, inputs)
    return run_rosetta(framework, path, config, inputs)


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
    stats["kl"] = max(
        0.0, float(np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)))
    )  # >= 0 but for rounding
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
        reason = f"{len(run.hidden_states)} hidden states vs {len(ref.hidden_states)} in {ref.framework}"
        return Result(run.framework, "failed", run.class_name, reason)
    for index, (ours, theirs) in enumerate(zip(run.hidden_states, ref.hidden_states)):
        result.hidden_states.append({"layer": layer_name(index), **compare_arrays(ours, theirs)})
    for name, theirs in ref.logits.items():
        if name not in run.logits:
            return Result(run.framework, "failed", run.class_name, f"no {name} output")
        result.outputs[name] = compare_logits(run.logits[name], theirs, mask)
    differences = [h["max_abs"] for h in result.hidden_states] + [
        o["max_abs"] for o in result.outputs.values()
    ]
    worst = max(differences, default=0.0)
    if not worst <= atol:  # NaN fails too
        result.status, result.reason = "failed", f"max abs difference {worst:.3g} > atol {atol:g}"
    return result


def layer_name(index: int) -> str:
    return "embeddings" if index == 0 else f"layer {index}"


# --------------------------------------------------------------------------------------
# The whole verification
# --------------------------------------------------------------------------------------
def verify(
    path: str, frameworks: Sequence[str] = FRAMEWORKS, atol: float = 1e-4, explicit: bool = False
) -> Report:
    """Run the checkpoint at `path` in each framework and compare every run with the first one.

    `explicit`: the frameworks were asked for by name, so one that cannot run is an error, not a skip.
    """
    config = AutoConfig.from_pretrained(path)
    main_input = main_input_name(config)
    inputs = make_inputs(config, main_input)
    runs: dict[str, Run] = {}
    results: dict[str, Result] = {}
    for framework in frameworks:
        outcome = _try_run(framework, path, config, inputs, explicit)
        if isinstance(outcome, Run):
            runs[framework] = outcome
        else:
            results[framework] = outcome
    reference = _reference(path, runs, results)
    mask = inputs.get("attention_mask")
    for framework, run in runs.items():
        if run is reference:
            results[framework] = Result(framework, "reference", run.class_name)
        else:
            results[framework] = compare_runs(run, reference, mask, atol)
    shape = next(iter(inputs.values())).shape
    padded = int((mask == 0).sum()) if mask is not None else 0
    info = {"main_input": main_input, "shape": list(shape), "padded_positions": padded}
    return Report(
        path, reference.class_name, reference.framework, atol, info, [results[f] for f in frameworks]
    )


def _reference(path: str, runs: dict[str, Run], results: dict[str, Result]) -> Run:
    if not runs:
        raise InputError(f"{path}: no framework could run it ({_reasons(results)}).")
    reference = next(iter(runs.values()))
    if len(runs) + sum(r.status == "failed" for r in results.values()) < 2:
        raise InputError(
            f"{path}: only {reference.framework} ran, nothing to compare it with ({_reasons(results)})."
        )
    return reference


def _try_run(
    framework: str, path: str, config: Any, inputs: dict[str, np.ndarray], explicit: bool
) -> Run | Result:
    if not available(framework):
        if explicit:
            raise InputError(f"--frameworks asks for {framework}: {_install_hint(framework)}")
        return Result(framework, "skipped", reason="not installed")
    try:
        return run_framework(framework, path, config, inputs)
    except Skipped as err:
        if explicit and framework != PEER:
            raise InputError(f"--frameworks asks for {framework}: {err}.") from err
        return Result(framework, "skipped", reason=str(err))
    except Exception as err:  # noqa: BLE001 - a framework that fails on the checkpoint is a failed check
        return Result(framework, "failed", reason=f"{type(err).__name__}: {first_line(err)}")


def _reasons(results: dict[str, Result]) -> str:
    return "; ".join(f"{name}: {r.reason}" for name, r in results.items()) or "none requested"


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
