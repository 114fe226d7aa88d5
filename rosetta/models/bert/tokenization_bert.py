"""BERT's WordPiece tokenizer, run by the `tokenizers` library.

From a tokenizer.json its pipeline is used as saved; from a legacy vocab.txt it is built the
way BERT defines it: BertNormalizer (clean text, CJK characters split out, optional lower
casing and accent stripping), BertPreTokenizer (whitespace and punctuation), WordPiece with
`##` continuations, `[CLS] A [SEP] B [SEP]` with token types 0 and 1.
"""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from ...core.errors import InputError
from ...core.tokenization import PreTrainedTokenizer, token_content


class BertTokenizer(PreTrainedTokenizer):
    """WordPiece tokenizer of BERT and its relatives (MiniLM, DistilBERT, ...).

    `do_lower_case`, `tokenize_chinese_chars` and `strip_accents` default to what the
    tokenizer.json says; passed explicitly (or read from tokenizer_config.json) they override it.
    From a vocab.txt alone they default to True, True and None (strip accents when lower casing).
    """

    vocab_files_names = {"vocab_file": "vocab.txt"}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        do_lower_case: bool | None = None,
        unk_token: Any = "[UNK]",
        sep_token: Any = "[SEP]",
        pad_token: Any = "[PAD]",
        cls_token: Any = "[CLS]",
        mask_token: Any = "[MASK]",
        tokenize_chinese_chars: bool | None = None,
        strip_accents: bool | None = None,
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        from_vocab = tokenizer_file is None and tokenizer_object is None
        if from_vocab:
            if vocab_file is None:
                raise InputError(
                    "BertTokenizer needs a vocab_file (vocab.txt) or a tokenizer_file (tokenizer.json)."
                )
            tokenizer_object = Tokenizer(
                WordPiece.from_file(os.fspath(vocab_file), unk_token=token_content(unk_token))
            )
            tokenizer_object.normalizer = normalizers.BertNormalizer()
            tokenizer_object.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            tokenizer_object.decoder = decoders.WordPiece(prefix="##")
        super().__init__(
            tokenizer_object,
            tokenizer_file,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
            **kwargs,
        )
        self._set_normalization(do_lower_case, tokenize_chinese_chars, strip_accents)
        if from_vocab:
            cls, sep = self.cls_token, self.sep_token
            self.backend_tokenizer.post_processor = processors.TemplateProcessing(
                single=f"{cls}:0 $A:0 {sep}:0",
                pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
                special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)],
            )

    def _set_normalization(
        self, do_lower_case: bool | None, tokenize_chinese_chars: bool | None, strip_accents: bool | None
    ) -> None:
        """Apply the options given explicitly to the BertNormalizer; record the effective ones."""
        normalizer = self.backend_tokenizer.normalizer
        if type(normalizer).__name__ != "BertNormalizer":
            options = {
                "do_lower_case": do_lower_case,
                "tokenize_chinese_chars": tokenize_chinese_chars,
                "strip_accents": strip_accents,
            }
            self.init_kwargs.update({k: v for k, v in options.items() if v is not None})
            return
        if do_lower_case is not None:
            normalizer.lowercase = do_lower_case
        if tokenize_chinese_chars is not None:
            normalizer.handle_chinese_chars = tokenize_chinese_chars
        if strip_accents is not None:
            normalizer.strip_accents = strip_accents
        self.init_kwargs.update(
            do_lower_case=normalizer.lowercase,
            tokenize_chinese_chars=normalizer.handle_chinese_chars,
            strip_accents=normalizer.strip_accents,
        )

    @property
    def do_lower_case(self) -> bool | None:
        return self.init_kwargs.get("do_lower_case")
