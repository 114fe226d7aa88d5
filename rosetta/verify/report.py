"""A verification report as a terminal table, JSON or a Markdown model-card section."""

from __future__ import annotations

import json
import os
from typing import Any

from .verifier import Report


def format_table(report: Report) -> str:
    shape = "x".join(map(str, report.inputs["shape"]))
    lines = [
        f"rosetta verify {report.path}",
        f"  {report.architecture}, {report.inputs['main_input']} {shape} "
        f"({report.inputs['padded_positions']} padded positions), reference: {report.reference}, atol {report.atol:g}",
        f"  {'framework':<13} {'output':<24} {'max abs':>9} {'max rel':>9} {'KL':>9} {'top-1':>6} {'top-k':>6}  status",
    ]
    for result in report.results:
        if result.status in ("skipped", "reference") or (
            result.status == "failed" and not result.hidden_states
        ):
            lines.append(
                f"  {result.framework:<13} {result.status}" + (f": {result.reason}" if result.reason else "")
            )
            continue
        for layer in result.hidden_states:
            lines.append(_row(result.framework, layer["layer"], layer, report.atol))
        for name, stats in result.outputs.items():
            lines.append(_row(result.framework, name, stats, report.atol))
    lines.append(_verdict(report))
    return "\n".join(lines)


def _verdict(report: Report) -> str:
    if report.passed:
        return f"PASS: every difference within atol {report.atol:g}"
    return "FAIL: " + "; ".join(f"{r.framework}: {r.reason}" for r in report.results if r.status == "failed")


def _row(framework: str, output: str, stats: dict[str, Any], atol: float) -> str:
    kl = f"{stats['kl']:9.2e}" if "kl" in stats else " " * 9
    top1 = f"{stats['top1']:6.0%}" if "top1" in stats else " " * 6
    topk = f"{stats['topk']:6.0%}" if "topk" in stats else " " * 6
    status = "ok" if stats["max_abs"] <= atol else "FAIL"
    return f"  {framework:<13} {output:<24} {stats['max_abs']:9.2e} {stats['max_rel']:9.2e} {kl} {top1} {topk}  {status}"


_RESULT_TEXT = {"ok": "pass", "reference": "reference", "failed": "**fail**: {}", "skipped": "skipped: {}"}


def format_markdown(report: Report) -> str:
    """A model-card section: one row per framework, the per-layer table folded below."""
    lines = [
        "## Cross-framework verification",
        "",
        f"Checked with `rosetta verify`: {report.architecture} on {report.inputs['main_input']} of shape "
        f"{tuple(report.inputs['shape'])} ({report.inputs['padded_positions']} padded positions), "
        f"every framework against {report.reference}, tolerance {report.atol:g}.",
        "",
        "| Framework | Class | Max abs diff, hidden states | Max abs diff, logits | KL divergence "
        "| Top-k agreement | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        hidden = max((h["max_abs"] for h in r.hidden_states), default=None)
        logits = max((o["max_abs"] for o in r.outputs.values()), default=None)
        kl = max((o["kl"] for o in r.outputs.values() if "kl" in o), default=None)
        topk = min((o["topk"] for o in r.outputs.values() if "topk" in o), default=None)
        result = _RESULT_TEXT[r.status].format(r.reason)
        lines.append(
            f"| {r.framework} | {r.class_name or '-'} | {_md(hidden)} | {_md(logits)} | {_md(kl)} | "
            f"{'-' if topk is None else f'{topk:.0%}'} | {result} |"
        )
    lines += [
        "",
        "<details><summary>Per layer</summary>",
        "",
        "| Framework | Output | Max abs diff | Max rel diff |",
    ]
    lines.append("|---|---|---|---|")
    for r in report.results:
        for h in r.hidden_states:
            lines.append(f"| {r.framework} | {h['layer']} | {h['max_abs']:.2e} | {h['max_rel']:.2e} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _md(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def write_json(report: Report, path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report.as_dict(), f, indent=2)
        f.write("\n")


def write_markdown(report: Report, path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(format_markdown(report))
