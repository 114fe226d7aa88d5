"""Wav2Vec2's CTC tokenizer: one token per character, `|` between words, decoded CTC-style.

Built with the `tokenizers` library from a character vocab.json: a WordLevel model over
single characters (multi-character tokens such as `<pad>` are added tokens), spaces mapped to
the word delimiter, and the CTC decoder, which merges repeated tokens and drops the blank
(`pad_token`), followed by the delimiter turned back into a space.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

from ...core.errors import InputError
from ...core.tokenization import BatchEncoding, PreTrainedTokenizer, token_content


class Wav2Vec2CTCTokenizer(PreTrainedTokenizer):
    """Character tokenizer for CTC speech models; `decode` groups repeated ids and removes the blank.

    `do_lower_case=True` upper-cases text before looking characters up (CTC vocabularies are
    upper case) and lower-cases decoded text.
    """

    vocab_files_names = {"vocab_file": "vocab.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        bos_token: Any = "<s>",
        eos_token: Any = "</s>",
        unk_token: Any = "<unk>",
        pad_token: Any = "<pad>",
        word_delimiter_token: str = "|",
        replace_word_delimiter_char: str = " ",
        do_lower_case: bool = False,
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        if tokenizer_file is None and tokenizer_object is None:
            if vocab_file is None:
                raise InputError(
                    "Wav2Vec2CTCTokenizer needs a vocab_file (vocab.json) or a tokenizer_file (tokenizer.json)."
                )
            with open(vocab_file, encoding="utf-8") as f:
                vocab = json.load(f)
            tokenizer_object = Tokenizer(WordLevel(vocab, unk_token=token_content(unk_token)))
            tokenizer_object.normalizer = normalizers.Replace(" ", word_delimiter_token)
            tokenizer_object.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
            tokenizer_object.decoder = decoders.Sequence(
                [
                    decoders.CTC(
                        pad_token=token_content(pad_token),
                        word_delimiter_token=word_delimiter_token,
                        cleanup=False,
                    ),
                    decoders.Replace(word_delimiter_token, replace_word_delimiter_char),
                ]
            )
            # tokens of several characters are matched whole, taking the spaces around them
            special = {token_content(t) for t in (bos_token, eos_token, unk_token, pad_token)}
            tokenizer_object.add_tokens(
                [
                    AddedToken(t, lstrip=True, rstrip=True, normalized=False, special=t in special)
                    for t in vocab
                    if len(t) > 1
                ]
            )
        super().__init__(
            tokenizer_object,
            tokenizer_file,
            bos_token=bos_token,
            eos_token=eos_token,
            unk_token=unk_token,
            pad_token=pad_token,
            word_delimiter_token=word_delimiter_token,
            replace_word_delimiter_char=replace_word_delimiter_char,
            do_lower_case=do_lower_case,
            **kwargs,
        )
        self.word_delimiter_token = word_delimiter_token
        self.do_lower_case = do_lower_case

    @property
    def word_delimiter_token_id(self) -> int | None:
        return self.convert_tokens_to_ids(self.word_delimiter_token)

    def __call__(self, text: Any = None, *args: Any, **kwargs: Any) -> BatchEncoding:
        if self.do_lower_case and isinstance(text, str):
            text = text.upper()
        elif self.do_lower_case and isinstance(text, (list, tuple)):
            text = [t.upper() if isinstance(t, str) else t for t in text]
        return super().__call__(text, *args, **kwargs)

    def _postprocess_decoded(self, text: str) -> str:
        text = text.strip()
        return text.lower() if self.do_lower_case else text
