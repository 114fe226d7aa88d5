"""Tiny random transformers checkpoints with real tokenizers, saved once per test session."""

from __future__ import annotations

import json

import pytest

from tests.parity import hf_class, tiny_config_dict
from tests.tokenizer_files import clip_folder, ctc_folder, gpt2_folder

NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|endoftext|>{{ m['role'] }}: {{ m['content'] }}\\n{% endfor %}"
    "{% if add_generation_prompt %}<|endoftext|>assistant:{% endif %}"
)


@pytest.fixture(scope="session")
def ner_folder(tmp_path_factory):
    """A tiny BERT token classifier over MiniLM's WordPiece vocabulary, with B-/I- labels and "O"."""
    import torch

    from tests.assets import minilm

    folder = tmp_path_factory.mktemp("ner")
    torch.manual_seed(3)
    config = hf_class("BertConfig")(
        **tiny_config_dict(vocab_size=30522, max_position_embeddings=512),
        id2label=NER_LABELS,
        label2id={v: k for k, v in NER_LABELS.items()},
    )
    hf_class("BertForTokenClassification")(config).eval().save_pretrained(folder)
    hf_class("AutoTokenizer").from_pretrained(minilm()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def gpt2_lm_folder(tmp_path_factory):
    """A tiny GPT-2 LM over GPT-2's real byte-level BPE, with a small chat template."""
    import torch

    folder = gpt2_folder(tmp_path_factory.mktemp("gpt2-lm"))
    config_path = folder / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**tokenizer_config, "chat_template": CHAT_TEMPLATE}))
    torch.manual_seed(4)
    config = hf_class("GPT2Config")(
        **tiny_config_dict(
            "gpt2", vocab_size=50257, pad_token_id=50256, bos_token_id=50256, eos_token_id=50256
        )
    )
    hf_class("GPT2LMHeadModel")(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def vit_folder(tmp_path_factory):
    """A tiny ViT image classifier (32x32 inputs, four labels) with its image processor."""
    import torch

    folder = tmp_path_factory.mktemp("vit")
    torch.manual_seed(5)
    labels = {0: "cat", 1: "dog", 2: "bird", 3: "fish"}
    config = hf_class("ViTConfig")(
        **tiny_config_dict("vit"), id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    hf_class("ViTForImageClassification")(config).eval().save_pretrained(folder)
    hf_class("ViTImageProcessor")(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def clip_model_folder(tmp_path_factory):
    """A tiny CLIP over OpenAI CLIP's real BPE vocabulary (from open_clip), with its image processor."""
    import torch

    folder = clip_folder(tmp_path_factory.mktemp("clip"))
    torch.manual_seed(6)
    tiny = tiny_config_dict("clip")
    text = {**tiny["text_config"], "vocab_size": 49408}
    config = hf_class("CLIPConfig")(**{**tiny, "text_config": text})
    hf_class("CLIPModel")(config).eval().save_pretrained(folder)
    hf_class("CLIPImageProcessor")(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Three small RGB images: a PIL image, a PNG path and a uint8 array, of different sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("images") / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    return [
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)),
        str(path),
        rng.integers(0, 256, (50, 36, 3), dtype=np.uint8),
    ]


def _wav2vec2(folder, head: str, seed: int, **config_kwargs):
    import torch

    torch.manual_seed(seed)
    config = hf_class("Wav2Vec2Config")(**tiny_config_dict("wav2vec2"), **config_kwargs)
    hf_class(head)(config).eval().save_pretrained(folder)
    hf_class("Wav2Vec2FeatureExtractor")(sampling_rate=16000, do_normalize=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def ctc_model_folder(tmp_path_factory):
    """A tiny Wav2Vec2 CTC model over facebook/wav2vec2-base-960h's character vocabulary."""
    folder = ctc_folder(tmp_path_factory.mktemp("ctc"))
    return _wav2vec2(folder, "Wav2Vec2ForCTC", 7, pad_token_id=0)


@pytest.fixture(scope="session")
def audio_classifier_folder(tmp_path_factory):
    """A tiny Wav2Vec2 audio classifier with three labels."""
    labels = {0: "speech", 1: "music", 2: "noise"}
    return _wav2vec2(
        tmp_path_factory.mktemp("audio-cls"),
        "Wav2Vec2ForSequenceClassification",
        8,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )


@pytest.fixture(scope="session")
def waveforms():
    """Two clips of 16 kHz audio (a tone with noise), of different lengths."""
    import numpy as np

    rng = np.random.default_rng(1)
    clips = []
    for n, hz in ((4000, 440.0), (6000, 220.0)):
        t = np.arange(n) / 16000
        clips.append((0.5 * np.sin(2 * np.pi * hz * t) + 0.1 * rng.standard_normal(n)).astype(np.float32))
    return clips


@pytest.fixture(scope="session")
def nli_folder(tmp_path_factory):
    """A tiny BERT NLI classifier (contradiction / neutral / entailment) over MiniLM's vocabulary."""
    import torch

    from tests.assets import minilm

    folder = tmp_path_factory.mktemp("nli")
    torch.manual_seed(9)
    labels = {0: "contradiction", 1: "neutral", 2: "entailment"}
    config = hf_class("BertConfig")(
        **tiny_config_dict(vocab_size=30522, max_position_embeddings=512),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    hf_class("BertForSequenceClassification")(config).eval().save_pretrained(folder)
    hf_class("AutoTokenizer").from_pretrained(minilm()).save_pretrained(folder)
    return folder
