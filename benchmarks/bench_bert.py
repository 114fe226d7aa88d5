"""BERT-base: forward latency, from_pretrained time/memory and cold start, rosetta vs transformers in one run.

Like for like (see benchmarks/common.py): 2 threads both sides; both BERT model modules imported
before any timed region; the cold-start row times a fresh process from start to first output.
"""

from __future__ import annotations

import os

from benchmarks.common import (
    THREADS,
    bert_base_checkpoint,
    cold_start_seconds,
    paired_median_times,
    print_setup,
    print_table,
    run_isolated,
)


def bench_torch_forward(folder: str) -> list[tuple]:
    import torch
    from transformers.models.bert import modeling_bert as peer

    from rosetta.models.bert import modeling_bert as mine

    torch.set_num_threads(THREADS)
    ours = mine.BertModel.from_pretrained(folder).eval()
    theirs = peer.BertModel.from_pretrained(folder).eval()
    rows = []
    for batch, seq in ((1, 128), (8, 128)):
        ids = torch.randint(1000, 2000, (batch, seq))
        mask = torch.ones_like(ids)
        with torch.inference_mode():
            times = paired_median_times(
                {
                    "ours": lambda i=ids, m=mask: ours(i, attention_mask=m),
                    "theirs": lambda i=ids, m=mask: theirs(i, attention_mask=m),
                },
                repeats=10 if batch == 1 else 5,
            )
        t_ours, t_theirs = times["ours"], times["theirs"]
        rows.append((f"torch fp32 {batch}x{seq}", t_ours * 1e3, t_theirs * 1e3, t_ours / t_theirs))
    return rows


LOAD_CODE = """
import torch, sys
torch.set_num_threads({threads})
import {module}
mark_baseline()
start = time.perf_counter()
model = {loader}
elapsed = time.perf_counter() - start
report(seconds=elapsed)
"""


def bench_load(folder: str) -> list[tuple]:
    size = os.path.getsize(os.path.join(folder, "model.safetensors"))
    loaders = {
        "rosetta": ("rosetta.models.bert.modeling_bert as m", f"m.BertModel.from_pretrained({folder!r})"),
        "transformers": (
            "transformers.models.bert.modeling_bert as m",
            f"m.BertModel.from_pretrained({folder!r})",
        ),
    }
    results = {}
    for name, (module, loader) in loaders.items():
        runs = [
            run_isolated(LOAD_CODE.format(threads=THREADS, module=module, loader=loader)) for _ in range(3)
        ]
        runs.sort(key=lambda r: r["seconds"])
        results[name] = runs[1]
    ours, theirs = results["rosetta"], results["transformers"]
    return [
        ("from_pretrained seconds", ours["seconds"], theirs["seconds"], ours["seconds"] / theirs["seconds"]),
        (
            "peak RSS above baseline / checkpoint size",
            ours["peak_rss_above_baseline"] / size,
            theirs["peak_rss_above_baseline"] / size,
            ours["peak_rss_above_baseline"] / max(theirs["peak_rss_above_baseline"], 1),
        ),
    ]


COLD_START = """
import numpy as np
{imports}
model = {loader}
ids = np.arange(1000, 1128, dtype=np.int64)[None]
out = {call}
print(out.shape)
"""


def bench_cold_start(folder: str) -> list[tuple]:
    """Process start -> import -> from_pretrained -> first forward -> first output, median of 5 fresh processes."""
    ours = COLD_START.format(
        imports="import torch; from rosetta import BertModel; from rosetta.pipelines._numpy import numpy_call",
        loader=f"BertModel.from_pretrained({folder!r})",
        call="numpy_call(model, {'input_ids': ids})['last_hidden_state']",
    )
    theirs = COLD_START.format(
        imports="import torch; from transformers import BertModel",
        loader=f"BertModel.from_pretrained({folder!r}).eval()",
        call="model(torch.from_numpy(ids)).last_hidden_state.detach().numpy()",
    )
    t_ours, t_theirs = cold_start_seconds(ours), cold_start_seconds(theirs)
    return [("cold start to first output (s)", t_ours, t_theirs, t_ours / t_theirs)]


def main() -> None:
    print_setup("BERT-base, PyTorch")
    folder = bert_base_checkpoint()
    rows = bench_torch_forward(folder)
    print_table("BERT-base forward, PyTorch (ms, median)", rows, ("case", "rosetta", "transformers", "ratio"))
    print_table(
        "BERT-base from_pretrained (median of 3 fresh processes)",
        bench_load(folder),
        ("metric", "rosetta", "transformers", "ratio"),
    )
    print_table(
        "BERT-base cold start (median of 5 fresh processes)",
        bench_cold_start(folder),
        ("metric", "rosetta", "transformers", "ratio"),
    )


if __name__ == "__main__":
    main()
