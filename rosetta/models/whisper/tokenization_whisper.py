"""Whisper's tokenizer: GPT-2's byte-level BPE plus Whisper's special tokens, with transformers' prefix
(<|startoftranscript|> [<|lang|>] [<|task|>] [<|notimestamps|>] ... <|endoftext|>) and its decoding rules: the
previous-text prompt stripped with `skip_special_tokens`, timestamp tokens (ids above <|notimestamps|>) left out of
the text, rendered as "<|1.08|>" with `decode_with_timestamps`, and segment offsets with `output_offsets`."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
from tokenizers import Tokenizer, processors

from ...core.errors import InputError
from ...core.tokenization import PreTrainedTokenizer, byte_level_bpe, set_add_prefix_space

TASKS = ("transcribe", "translate")
_TIMESTAMP_TEXT = re.compile(r"<\|(\d+\.\d+)\|>")


class WhisperTokenizer(PreTrainedTokenizer):
    """`tokenizer(text)` -> the prefix tokens, the text's ids, <|endoftext|>; `decode` as transformers'.

    Args:
        language: Language code ("en", "fr", ... or "<|fr|>") of the prefix; its token must be in the vocabulary.
        task: "transcribe" or "translate".
        predict_timestamps: Leave <|notimestamps|> out of the prefix.
        add_prefix_space: Whether the byte-level pre-tokenizer adds a space before the text (default False).
    """

    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        merges_file: str | os.PathLike | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        unk_token: Any = "<|endoftext|>",
        bos_token: Any = "<|endoftext|>",
        eos_token: Any = "<|endoftext|>",
        add_prefix_space: bool = False,
        language: str | None = None,
        task: str | None = None,
        predict_timestamps: bool = False,
        tokenizer_object: Tokenizer | None = None,
        **kwargs: Any,
    ):
        if tokenizer_file is None and tokenizer_object is None:
            tokenizer_object = byte_level_bpe(vocab_file, merges_file)
        super().__init__(
            tokenizer_object=tokenizer_object,
            tokenizer_file=tokenizer_file,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            **kwargs,
        )
        set_add_prefix_space(self.backend_tokenizer, add_prefix_space)
        self.init_kwargs["add_prefix_space"] = add_prefix_space
        self.language, self.task, self.predict_timestamps = None, None, False
        self.set_prefix_tokens(language, task, predict_timestamps)

    # -- the prefix ---------------------------------------------------------------------------------------------
    def _special_id(self, token: str) -> int:
        found = self.backend_tokenizer.token_to_id(token)
        if found is None:
            raise InputError(f"This Whisper vocabulary has no {token} token.")
        return found

    def set_prefix_tokens(
        self, language: str | None = None, task: str | None = None, predict_timestamps: bool | None = None
    ) -> None:
        """Change the prefix `__call__` adds (as transformers' `set_prefix_tokens`)."""
        self.language = language if language is not None else self.language
        self.task = task if task is not None else self.task
        if predict_timestamps is not None:
            self.predict_timestamps = predict_timestamps
        prefix = self.prefix_tokens
        names = [self.backend_tokenizer.id_to_token(i) for i in prefix]
        eos, eos_id = self.eos_token, self.eos_token_id
        template = " ".join(f"{name}:0" for name in names)
        self.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{template} $A:0 {eos}:0",
            pair=f"{template} $A:0 $B:1 {eos}:1",
            special_tokens=[(eos, eos_id), *zip(names, prefix)],
        )
        self.init_kwargs.update(
            language=self.language, task=self.task, predict_timestamps=self.predict_timestamps
        )

    @property
    def prefix_tokens(self) -> list[int]:
        prefix = [self._special_id("<|startoftranscript|>")]
        if self.language is not None:
            code = self.language.lower().strip("<|>")
            if self.backend_tokenizer.token_to_id(f"<|{code}|>") is None:
                raise InputError(
                    f"Unsupported language {self.language!r}: give a language code whose token <|code|> is in the "
                    "vocabulary (e.g. 'en', 'fr'); English-only models have none."
                )
            prefix.append(self._special_id(f"<|{code}|>"))
        if self.task is not None:
            if self.task not in TASKS:
                raise InputError(f"Unsupported task {self.task!r}; use one of {list(TASKS)}.")
            prefix.append(self._special_id(f"<|{self.task}|>"))
        if not self.predict_timestamps:
            prefix.append(self._special_id("<|notimestamps|>"))
        return prefix

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        """The forced (position, token) pairs after <|startoftranscript|>, as transformers gives them."""
        self.set_prefix_tokens(task=task, language=language, predict_timestamps=not no_timestamps)
        return [(rank + 1, token) for rank, token in enumerate(self.prefix_tokens[1:])]

    @property
    def timestamp_begin(self) -> int:
        """The id of <|0.00|>: the first id after <|notimestamps|>."""
        return self._special_id("<|notimestamps|>") + 1

    # -- decoding -----------------------------------------------------------------------------------------------
    def _strip_prompt(self, ids: list[int]) -> list[int]:
        """Drop a previous-text prompt: <|startofprev|> ... up to <|startoftranscript|>."""
        prev = self.backend_tokenizer.token_to_id("<|startofprev|>")
        start = self.backend_tokenizer.token_to_id("<|startoftranscript|>")
        if ids and prev is not None and ids[0] == prev:
            return ids[ids.index(start) :] if start in ids else []
        return ids

    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_offsets: bool = False,
        time_precision: float = 0.02,
        decode_with_timestamps: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Text of the ids; timestamp tokens are left out (`decode_with_timestamps`: written "<|1.08|>"), and with
        `output_offsets` a dict {"text", "offsets": [{"text", "timestamp": (start, end)}]} as transformers."""
        if kwargs:
            raise InputError(f"WhisperTokenizer.decode got unknown keyword(s) {sorted(kwargs)}.")
        ids = _to_list(token_ids)
        if ids and isinstance(ids[0], list):
            return self.batch_decode(
                ids,
                skip_special_tokens,
                clean_up_tokenization_spaces,
                output_offsets=output_offsets,
                time_precision=time_precision,
                decode_with_timestamps=decode_with_timestamps,
            )
        kept = self._strip_prompt(ids) if skip_special_tokens else ids
        if decode_with_timestamps:
            text = self._decode_with_timestamps(
                kept, skip_special_tokens, clean_up_tokenization_spaces, time_precision
            )
        else:
            text = _TIMESTAMP_TEXT.sub(
                "", self._plain(kept, skip_special_tokens, clean_up_tokenization_spaces)
            )
        if output_offsets:
            return {"text": text, "offsets": self._compute_offsets(ids, time_precision)}
        return text

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        rows = _to_list(sequences)
        if not rows or not isinstance(rows[0], list):
            raise InputError("batch_decode() takes a batch: a list of lists of token ids (or a 2-d tensor).")
        return [self.decode(row, skip_special_tokens, clean_up_tokenization_spaces, **kwargs) for row in rows]

    def _plain(self, ids: list[int], skip_special_tokens: bool, clean_up: bool | None) -> str:
        return PreTrainedTokenizer.decode(self, ids, skip_special_tokens, clean_up)

    def _decode_with_timestamps(
        self, ids: list[int], skip_special_tokens: bool, clean_up: bool | None, time_precision: float
    ) -> str:
        """transformers' `_decode_with_timestamps`: timestamps as "<|t|>", continuing across 30 s windows."""
        begin, segment_size = self.timestamp_begin, 1500
        outputs: list[Any] = [[]]
        cur_max, prev_len, penultimate = 0.0, 0.0, 0.0
        for i, token in enumerate(ids):
            if token >= begin:
                timestamp = float((token - begin) * time_precision)
                if timestamp < cur_max:  # the next window started
                    single_ending = i >= 2 and not (ids[i - 1] >= begin and ids[i - 2] >= begin)
                    if single_ending:
                        prev_len += time_precision * segment_size
                    else:
                        cur_max = penultimate
                        prev_len += penultimate
                        outputs = outputs[:-2]
                penultimate, cur_max = cur_max, timestamp
                outputs.append(f"<|{(timestamp + prev_len):.2f}|>")
                outputs.append([])
            else:
                outputs[-1].append(token)
        return "".join(
            part
            if isinstance(part, str)
            else (self._plain(part, skip_special_tokens, clean_up) if part else "")
            for part in outputs
        )

    def _compute_offsets(self, ids: list[int], time_precision: float = 0.02) -> list[dict[str, Any]]:
        """transformers' `_compute_offsets`: one {"text", "timestamp"} per timestamp-delimited segment."""
        tokens = np.asarray(ids, dtype=np.int64)
        begin, segment_size = self.timestamp_begin, 1500
        is_ts = tokens >= begin
        consecutive = np.where(is_ts[:-1] & is_ts[1:])[0] + 1
        if consecutive.shape[0] == 0 and is_ts.sum() <= 1:
            return []
        if np.where(is_ts)[0][-1] + 1 not in consecutive:
            consecutive = np.append(consecutive, np.where(is_ts)[0][-1] + 1)
        offsets, last, cur_max, prev_len = [], int(np.where(is_ts)[0][0]), 0, 0
        for cut in consecutive:
            piece = tokens[last:cut]
            if len(piece) > 1:
                start, end = int(piece[0]) - begin, int(piece[-1]) - begin
                if start < cur_max:
                    single_ending = last >= 2 and not (
                        tokens[last - 2] >= begin and tokens[last - 1] >= begin
                    )
                    prev_len += segment_size if single_ending else cur_max
                cur_max = end
                text = _TIMESTAMP_TEXT.sub("", self._plain([int(t) for t in piece], False, None))
                offsets.append(
                    {
                        "text": text,
                        "timestamp": (
                            start * time_precision + prev_len * time_precision,
                            end * time_precision + prev_len * time_precision,
                        ),
                    }
                )
            last = int(cut)
        return offsets


def _to_list(value: Any) -> Any:
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy() if not hasattr(value, "detach") else value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_list(v) if isinstance(v, (list, tuple, np.ndarray)) else int(v) for v in value]
    return [int(value)]
