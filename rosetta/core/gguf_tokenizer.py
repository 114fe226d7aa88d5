"""A GGUF file's metadata, and the tokenizer it describes as Hugging Face tokenizer files.

A GGUF (llama.cpp) carries no tokenizer.json: the vocabulary, merges, special token ids and chat
template are metadata under llama.cpp's keys (`tokenizer.ggml.*`, `tokenizer.chat_template`).
`gguf_tokenizer_files` rebuilds from them what a `tokenizer.json` + `tokenizer_config.json` would
hold, as transformers does (`integrations/gguf/gguf_tokenizer_mapping.py`): byte-level BPE
(`tokenizer.ggml.model` = BYTE_LEVEL_BPE, the common case), with the control tokens added as special
tokens and the split regex llama.cpp names in `tokenizer.ggml.pre`.

`gguf_reader.GGUFHeader` reads the file's header; the `gguf` package (`pip install rosetta-models[gguf]`),
imported only when a GGUF is opened, dequantises its tensors.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .errors import CheckpointError, InputError
from .gguf_reader import GGUF_EXTRA, GGUFHeader, gguf_module

# tokenizer.ggml.model of a byte-level BPE vocabulary
BYTE_LEVEL_BPE = "gpt2"  # format values
TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED = 3, 4

# tokenizer.ggml.pre -> the pre-tokenizer split regex its merges were learned with (the default: GPT-2's).
_SPLIT_DIGITS_BY_3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLIT_DIGITS_BY_1 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_PRE_DIGITS_BY_3 = ("llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe")  # format values
_PRE_DIGITS_BY_1 = ("qwen2", "deepseek-r1-qwen", "megrez")  # format values
PRE_TOKENIZER_SPLITS = {
    **dict.fromkeys(_PRE_DIGITS_BY_3, _SPLIT_DIGITS_BY_3),
    **dict.fromkeys(_PRE_DIGITS_BY_1, _SPLIT_DIGITS_BY_1),
}
_SPECIAL_IDS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "unk_token": "tokenizer.ggml.unknown_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
}


def open_gguf_reader(path: str | os.PathLike) -> GGUFHeader:
    """The file's header (`GGUFHeader`: metadata, memory-mapped tensors); a file that is not GGUF is a
    CheckpointError. The gguf package, which dequantises the tensors, is required here, at open."""
    gguf_module()
    return GGUFHeader(path)


def read_metadata(reader: GGUFHeader) -> dict[str, Any]:
    """Every metadata key of an open GGUF header, as Python values."""
    return dict(reader.metadata)


def gguf_architecture(path: str | os.PathLike) -> str:
    """The `general.architecture` of a GGUF file (the registry maps it to the model_type that loads it)."""
    architecture = open_gguf_reader(path).metadata.get("general.architecture")
    if architecture is None:
        raise CheckpointError(f"{os.fspath(path)} has no general.architecture key; it is not a model GGUF.")
    return architecture


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (the byte-level BPE alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def _byte_level_tokenizer_json(meta: dict[str, Any], path: str) -> dict[str, Any]:
    """tokenizer.json (as a dict) of a byte-level BPE vocabulary (`tokenizer.ggml.model` = BYTE_LEVEL_BPE)."""
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    merges = meta.get("tokenizer.ggml.merges")
    if merges is None:
        raise CheckpointError(
            f"{path}: a byte-level BPE GGUF tokenizer needs tokenizer.ggml.merges, which is missing."
        )
    spelling = _bytes_to_unicode()
    alphabet = set(spelling.values())
    vocab = {
        token if set(token) <= alphabet else "".join(spelling[b] for b in token.encode("utf-8")): index
        for index, token in enumerate(tokens)
    }
    split = PRE_TOKENIZER_SPLITS.get(meta.get("tokenizer.ggml.pre"))
    byte_level = {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": True,
        "use_regex": split is None,
    }
    pre_tokenizer = byte_level
    if split is not None:
        splitter = {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": False}
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [splitter, byte_level]}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": _added_tokens(tokens, meta.get("tokenizer.ggml.token_type") or [], alphabet),
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": _post_processor(meta, tokens),
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab, "merges": [merge.split(" ") for merge in merges],
        },
    }  # fmt: skip


def _added_tokens(tokens: list[str], token_types: list[int], alphabet: set[str]) -> list[dict[str, Any]]:
    """Control tokens (special) and user-defined ones (plain added tokens), matched whole in text.

    A control token spelled outside the byte alphabet is a llama.cpp mislabel, left out as transformers does.
    """
    added = []
    for index, (token, kind) in enumerate(zip(tokens, token_types)):
        special = kind == TOKEN_TYPE_CONTROL and set(token) <= alphabet
        if special or kind == TOKEN_TYPE_USER_DEFINED:
            added.append(
                {"id": index, "content": token, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": special}
            )  # fmt: skip
    return added


def _post_processor(meta: dict[str, Any], tokens: list[str]) -> dict[str, Any]:
    """Add BOS / EOS around each sequence when the file says llama.cpp does (`add_bos_token`)."""
    ends = []
    for flag, key in (("add_bos_token", "bos_token"), ("add_eos_token", "eos_token")):
        token_id = meta.get(_SPECIAL_IDS[key])
        ends.append(tokens[token_id] if meta.get(f"tokenizer.ggml.{flag}") and token_id is not None else None)
    bos, eos = ends

    def template(*sequences: str) -> list[dict[str, Any]]:
        items = []
        for type_id, seq in enumerate(sequences):
            items += [{"SpecialToken": {"id": bos, "type_id": type_id}}] if bos else []
            items.append({"Sequence": {"id": seq, "type_id": type_id}})
            items += [{"SpecialToken": {"id": eos, "type_id": type_id}}] if eos else []
        return items

    special = {t: {"id": t, "ids": [tokens.index(t)], "tokens": [t]} for t in (bos, eos) if t}
    return {
        "type": "TemplateProcessing",
        "single": template("A"),
        "pair": template("A", "B"),
        "special_tokens": special,
    }


def tokenizer_files_from_metadata(meta: dict[str, Any], path: str = "the GGUF file") -> dict[str, Any]:
    """{"tokenizer.json": text, "tokenizer_config.json": dict, "special_tokens_map.json": dict} of a GGUF."""
    kind = meta.get("tokenizer.ggml.model")
    if "tokenizer.ggml.tokens" not in meta:
        raise CheckpointError(f"{path} holds no tokenizer (no tokenizer.ggml.tokens metadata).")
    if kind != BYTE_LEVEL_BPE:
        raise InputError(
            f"{path}: rosetta builds GGUF tokenizers of type {BYTE_LEVEL_BPE!r} (byte-level BPE) only; this file's "
            f"tokenizer.ggml.model is {kind!r}. Load the model's tokenizer.json from its Hub repo instead."
        )
    tokens = meta["tokenizer.ggml.tokens"]
    special = {}
    for name, key in _SPECIAL_IDS.items():
        token_id = meta.get(key)
        special[name] = tokens[token_id] if token_id is not None and 0 <= token_id < len(tokens) else None
    config: dict[str, Any] = {**special, "tokenizer_class": "PreTrainedTokenizerFast"}
    config["add_bos_token"] = bool(meta.get("tokenizer.ggml.add_bos_token", False))
    config["add_eos_token"] = bool(meta.get("tokenizer.ggml.add_eos_token", False))
    if meta.get("tokenizer.chat_template") is not None:
        config["chat_template"] = meta["tokenizer.chat_template"]
    tokenizer_json = json.dumps(_byte_level_tokenizer_json(meta, path), ensure_ascii=False)
    return {
        "tokenizer.json": tokenizer_json,
        "tokenizer_config.json": config,
        "special_tokens_map.json": {k: v for k, v in special.items() if v is not None},
    }


def gguf_tokenizer_files(path: str | os.PathLike) -> dict[str, Any]:
    """The tokenizer files a GGUF describes: tokenizer.json text, tokenizer_config.json and special_tokens_map.json dicts."""
    reader = open_gguf_reader(path)
    return tokenizer_files_from_metadata(read_metadata(reader), os.fspath(path))


__all__ = [
    "GGUF_EXTRA", "PRE_TOKENIZER_SPLITS", "gguf_architecture", "gguf_module", "gguf_tokenizer_files",
    "open_gguf_reader", "read_metadata", "tokenizer_files_from_metadata",
]  # fmt: skip
