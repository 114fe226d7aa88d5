"""RoBERTa's tokenizer: GPT-2's byte-level BPE with `<s> A </s></s> B </s>` around the text."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import AddedToken, Tokenizer, processors

from ...core.tokenization import PreTrainedTokenizer, byte_level_bpe, set_add_prefix_space

# `<mask>` takes the space before it, so "Hello <mask>!" predicts " world" as one token.
MASK_TOKEN = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)


class RobertaTokenizer(PreTrainedTokenizer):
    """Byte-level BPE with RoBERTa's special tokens; `<mask>` absorbs the space before it."""

    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        merges_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        errors: str = "replace",
        bos_token: Any = "<s>",
        eos_token: Any = "</s>",
        sep_token: Any = "</s>",
        cls_token: Any = "<s>",
        unk_token: Any = "<unk>",
        pad_token: Any = "<pad>",
        mask_token: Any = MASK_TOKEN,
        add_prefix_space: bool | None = None,
        trim_offsets: bool = True,
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        from_vocab = tokenizer_file is None and tokenizer_object is None
        if from_vocab:
            tokenizer_object = byte_level_bpe(vocab_file, merges_file)
        super().__init__(
            tokenizer_object,
            tokenizer_file,
            errors=errors,
            bos_token=bos_token,
            eos_token=eos_token,
            sep_token=sep_token,
            cls_token=cls_token,
            unk_token=unk_token,
            pad_token=pad_token,
            mask_token=mask_token,
            trim_offsets=trim_offsets,
            **kwargs,
        )
        if from_vocab:
            self.backend_tokenizer.post_processor = processors.RobertaProcessing(
                (self.sep_token, self.sep_token_id),
                (self.cls_token, self.cls_token_id),
                trim_offsets=trim_offsets,
                add_prefix_space=bool(add_prefix_space),
            )
        self.add_prefix_space = set_add_prefix_space(self.backend_tokenizer, add_prefix_space)
        self.init_kwargs["add_prefix_space"] = bool(self.add_prefix_space)
