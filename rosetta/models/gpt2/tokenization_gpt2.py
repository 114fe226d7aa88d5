"""GPT-2's byte-level BPE tokenizer, run by the `tokenizers` library."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer, processors

from ...core.tokenization import PreTrainedTokenizer, byte_level_bpe, set_add_prefix_space


class GPT2Tokenizer(PreTrainedTokenizer):
    """Byte-level BPE: every byte string is representable, spaces belong to the following token.

    "Hello world" and " Hello world" tokenise differently; `add_prefix_space=True` treats the
    first word like any other. No pad token by default: set `tokenizer.pad_token =
    tokenizer.eos_token` to pad batches.
    """

    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        merges_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        errors: str = "replace",
        unk_token: Any = "<|endoftext|>",
        bos_token: Any = "<|endoftext|>",
        eos_token: Any = "<|endoftext|>",
        pad_token: Any = None,
        add_prefix_space: bool | None = None,
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        if tokenizer_file is None and tokenizer_object is None:
            tokenizer_object = byte_level_bpe(vocab_file, merges_file)
            tokenizer_object.post_processor = processors.ByteLevel(trim_offsets=False)
        super().__init__(
            tokenizer_object,
            tokenizer_file,
            errors=errors,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            **kwargs,
        )
        self.add_prefix_space = set_add_prefix_space(self.backend_tokenizer, add_prefix_space)
        self.init_kwargs["add_prefix_space"] = bool(self.add_prefix_space)
