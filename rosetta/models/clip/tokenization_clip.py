"""CLIP's tokenizer: lower-cased byte-level BPE whose word-final pieces end in `</w>`."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

from ...core.errors import InputError
from ...core.tokenization import PreTrainedTokenizer, token_content

# OpenAI CLIP's word splitting: special tokens, English contractions, letter runs, single digits, other symbols.
_CLIP_PATTERN = (
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
)


class CLIPTokenizer(PreTrainedTokenizer):
    """`<|startoftext|> text <|endoftext|>`, padded with `<|endoftext|>`."""

    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        merges_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        unk_token: Any = "<|endoftext|>",
        bos_token: Any = "<|startoftext|>",
        eos_token: Any = "<|endoftext|>",
        pad_token: Any = "<|endoftext|>",
        errors: str = "replace",
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        from_vocab = tokenizer_file is None and tokenizer_object is None
        if from_vocab:
            if vocab_file is None or merges_file is None:
                raise InputError(
                    "CLIPTokenizer needs vocab_file (vocab.json) and merges_file (merges.txt), or a tokenizer.json."
                )
            model = BPE.from_file(
                os.fspath(vocab_file),
                os.fspath(merges_file),
                continuing_subword_prefix="",
                end_of_word_suffix="</w>",
                fuse_unk=False,
                unk_token=token_content(unk_token),
            )
            tokenizer_object = Tokenizer(model)
            tokenizer_object.normalizer = normalizers.Sequence(
                [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
            )
            tokenizer_object.pre_tokenizer = pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Split(Regex(_CLIP_PATTERN), behavior="removed", invert=True),
                    pre_tokenizers.ByteLevel(add_prefix_space=False),
                ]
            )
            tokenizer_object.decoder = decoders.ByteLevel()
        super().__init__(
            tokenizer_object,
            tokenizer_file,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            errors=errors,
            **kwargs,
        )
        if from_vocab:
            self.backend_tokenizer.post_processor = processors.RobertaProcessing(
                (self.eos_token, self.eos_token_id),
                (self.bos_token, self.bos_token_id),
                trim_offsets=False,
                add_prefix_space=False,
            )

    def _postprocess_decoded(self, text: str) -> str:
        # The byte-level decoder keeps the end-of-word marker; it stands for a space.
        return text.replace("</w>", " ").strip()
