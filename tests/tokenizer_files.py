"""Tokenizer folders built from the real vocabularies of tests/assets.py, in the Hugging Face layout.

Each builder writes into the folder it is given and returns it; tests share them per module.
"""

from __future__ import annotations

import gzip
import json
import pathlib
import shutil

from tests.assets import clip_bpe_vocab, minilm, whisper_tokenizer_json


def _write_json(path: pathlib.Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def bert_folder(folder: pathlib.Path) -> pathlib.Path:
    """MiniLM's tokenizer files as shipped (tokenizer.json, vocab.txt, configs)."""
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(minilm() / name, folder / name)
    return folder


def bert_vocab_folder(folder: pathlib.Path) -> pathlib.Path:
    """Only vocab.txt and tokenizer_config.json: the legacy layout."""
    for name in ("tokenizer_config.json", "vocab.txt"):
        shutil.copy(minilm() / name, folder / name)
    return folder


def _gpt2_state() -> dict:
    """GPT-2's byte-level BPE from the Whisper tokenizer.json, without Whisper's specials and template."""
    state = json.loads(whisper_tokenizer_json().read_text(encoding="utf-8"))
    state["added_tokens"] = [t for t in state["added_tokens"] if t["content"] == "<|endoftext|>"]
    state["post_processor"] = {
        "type": "ByteLevel",
        "add_prefix_space": True,
        "trim_offsets": False,
        "use_regex": True,
    }
    return state


_GPT2_CONFIG = {
    "tokenizer_class": "GPT2Tokenizer",
    "model_max_length": 1024,
    "bos_token": "<|endoftext|>",
    "eos_token": "<|endoftext|>",
    "unk_token": "<|endoftext|>",
    "add_prefix_space": False,
}


def gpt2_folder(folder: pathlib.Path) -> pathlib.Path:
    _write_json(folder / "tokenizer.json", _gpt2_state())
    _write_json(folder / "tokenizer_config.json", _GPT2_CONFIG)
    return folder


def _write_bpe_files(folder: pathlib.Path, vocab: dict[str, int], merges: list) -> None:
    _write_json(folder / "vocab.json", vocab)
    lines = [m if isinstance(m, str) else " ".join(m) for m in merges]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")


def gpt2_vocab_folder(folder: pathlib.Path) -> pathlib.Path:
    """The same tokenizer as legacy vocab.json + merges.txt."""
    model = _gpt2_state()["model"]
    _write_bpe_files(folder, model["vocab"], model["merges"])
    _write_json(folder / "tokenizer_config.json", _GPT2_CONFIG)
    return folder


def roberta_vocab_folder(folder: pathlib.Path) -> pathlib.Path:
    """A RoBERTa layout of the GPT-2 BPE: <s> <pad> </s> <unk> first, <mask> last, as in roberta-base."""
    model = _gpt2_state()["model"]
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokens = specials + [
        t for t, _ in sorted(model["vocab"].items(), key=lambda item: item[1]) if t != "<|endoftext|>"
    ]
    vocab = {token: index for index, token in enumerate(tokens + ["<mask>"])}
    _write_bpe_files(folder, vocab, model["merges"])
    _write_json(
        folder / "tokenizer_config.json", {"tokenizer_class": "RobertaTokenizer", "model_max_length": 512}
    )
    return folder


def _bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def clip_folder(folder: pathlib.Path) -> pathlib.Path:
    """CLIP's vocab.json / merges.txt built from open_clip's BPE file as OpenAI CLIP does (49,408 tokens)."""
    lines = gzip.open(clip_bpe_vocab()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    alphabet = list(_bytes_to_unicode().values())
    tokens = (
        alphabet
        + [c + "</w>" for c in alphabet]
        + ["".join(m) for m in merges]
        + ["<|startoftext|>", "<|endoftext|>"]
    )
    _write_bpe_files(folder, {token: index for index, token in enumerate(tokens)}, merges)
    _write_json(
        folder / "tokenizer_config.json", {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77}
    )
    return folder


def llama_folder(folder: pathlib.Path, texts: list[str]) -> pathlib.Path:
    """A small Llama-style tokenizer.json (Metaspace, BPE with byte fallback) trained on `texts`.

    As in Llama's vocabulary, ids 3-258 are the byte pieces <0x00>..<0xFF> that unknown characters fall back to.
    """
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors, trainers
    from tokenizers.models import BPE

    trained = Tokenizer(BPE(unk_token="<unk>"))
    trained.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False
    )
    trained.train_from_iterator([t for t in texts if t.isascii()], trainer)
    model = json.loads(trained.model.__getstate__())
    learned = [
        t
        for t, _ in sorted(model["vocab"].items(), key=lambda item: item[1])
        if t not in ("<unk>", "<s>", "</s>")
    ]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + learned
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tokenizer = Tokenizer(
        BPE(
            {t: i for i, t in enumerate(tokens)}, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True
        )
    )
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "LlamaTokenizer",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "add_bos_token": True,
        },
    )
    return folder


CTC_VOCAB = {
    "<pad>": 0,
    "<s>": 1,
    "</s>": 2,
    "<unk>": 3,
    "|": 4,
    **{c: 5 + i for i, c in enumerate("ETAONIHSRDLUMWCFGYPBVK'XJQZ")},
}


def ctc_folder(folder: pathlib.Path) -> pathlib.Path:
    """A Wav2Vec2 character vocabulary, as in facebook/wav2vec2-base-960h."""
    _write_json(folder / "vocab.json", CTC_VOCAB)
    _write_json(folder / "tokenizer_config.json", {"tokenizer_class": "Wav2Vec2CTCTokenizer"})
    return folder
