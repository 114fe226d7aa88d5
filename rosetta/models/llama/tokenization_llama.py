"""Llama's tokenizer: BPE with byte fallback, loaded from tokenizer.json."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer, processors

from ...core.tokenization import PreTrainedTokenizer


class LlamaTokenizer(PreTrainedTokenizer):
    """BPE over SentencePiece-style pieces (`▁` for spaces); unknown characters fall back to byte tokens.

    The tokenizer.json decides whether `<s>` / `</s>` are added; `add_bos_token` /
    `add_eos_token`, when given, rewrite that template. Pads on the left, as decoder-only
    generation needs.
    """

    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "left"

    def __init__(
        self,
        tokenizer_file: str | os.PathLike | None = None,
        unk_token: Any = "<unk>",
        bos_token: Any = "<s>",
        eos_token: Any = "</s>",
        pad_token: Any = None,
        add_bos_token: bool | None = None,
        add_eos_token: bool | None = None,
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            tokenizer_object,
            tokenizer_file,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            **kwargs,
        )
        if add_bos_token is not None or add_eos_token is not None:
            self.update_post_processor(bool(add_bos_token), bool(add_eos_token))

    def update_post_processor(self, add_bos_token: bool, add_eos_token: bool) -> None:
        """Make encoding add `bos_token` in front and/or `eos_token` at the end of each sequence."""
        bos = f"{self.bos_token}:0 " if add_bos_token else ""
        eos = f" {self.eos_token}:0" if add_eos_token else ""
        bos_b = f" {self.bos_token}:1" if add_bos_token else ""
        eos_b = f" {self.eos_token}:1" if add_eos_token else ""
        special = [
            (t, self.convert_tokens_to_ids(t))
            for t, on in ((self.bos_token, add_bos_token), (self.eos_token, add_eos_token))
            if on
        ]
        self.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos}$A:0{eos}", pair=f"{bos}$A:0{eos}{bos_b} $B:1{eos_b}", special_tokens=special
        )
        self.init_kwargs.update(add_bos_token=add_bos_token, add_eos_token=add_eos_token)
