"""`PreTrainedTokenizer`: the Hugging Face fast-tokenizer API over a `tokenizers.Tokenizer`.

`tokenizer.json` is the source of truth: normalisation, pre-tokenisation, the model (WordPiece,
BPE, ...), special-token templates and decoding all run in the Rust `tokenizers` library. This
file adds what users call it through: batching, padding and truncation strategies, special-token
attributes, tensors of the framework asked for, and the Hugging Face file layout
(tokenizer.json, tokenizer_config.json, special_tokens_map.json) for save and load.

Subclasses (one per architecture, in rosetta/models/<arch>/) only build the backend from legacy vocabulary
files when there is no tokenizer.json, and set their default special tokens.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from tokenizers import AddedToken, Encoding, Tokenizer

from .chat_template import render_chat, select_chat_template
from .configuration import load_json
from .errors import InputError, MissingFileError
from .gguf_tokenizer import gguf_tokenizer_files
from .hub import HubOptions, PushToHubMixin, is_local, resolve_file
from .io import atomic_write_text
from .tensors import BatchFeature, check_tensor_type, framework_of, to_numpy

logger = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"

VERY_LARGE_INTEGER = int(1e30)  # model_max_length of a tokenizer with no length limit
LARGE_INTEGER = int(1e20)

SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")

# tokenizer_config.json keys that describe a file, a call or the saving library, not the tokenizer.
_NOT_INIT_KEYS = {
    "backend", "is_local", "local_files_only", "max_length", "stride", "truncation_strategy",
    "pad_to_multiple_of", "name_or_path", "tokenizer_file", "vocab_file", "merges_file",
    "special_tokens_map_file", "tokenizer_class", "auto_map", "processor_class", "_commit_hash",
    "use_fast", "files_loaded", "trust_remote_code", "cache_dir", "revision", "token", "subfolder",
    "verbose", "init_inputs", "transformers_version", "rosetta_version",
}  # fmt: skip


class BatchEncoding(BatchFeature):
    """The output of a tokenizer call: a dict of lists or tensors, plus the `tokenizers.Encoding`s.

    `encodings` gives word and character alignment: `word_ids()`, `sequence_ids()`, `tokens()`,
    `char_to_token()`, `token_to_chars()`.
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        encodings: list[Encoding] | None = None,
        tensor_type: Any = None,
    ):
        super().__init__(data, tensor_type)
        self._encodings = encodings

    @property
    def encodings(self) -> list[Encoding] | None:
        return self._encodings

    def _encoding(self, batch_index: int) -> Encoding:
        if not self._encodings:
            raise InputError(
                "Alignment methods (word_ids, tokens, char_to_token, ...) need the encodings of a tokenizer "
                "call; this BatchEncoding was built without them (e.g. by pad())."
            )
        if not -len(self._encodings) <= batch_index < len(self._encodings):
            raise InputError(
                f"batch_index {batch_index} is out of range for a batch of {len(self._encodings)}."
            )
        return self._encodings[batch_index]

    def tokens(self, batch_index: int = 0) -> list[str]:
        return self._encoding(batch_index).tokens

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """The index of the word each token comes from (None for special and padding tokens)."""
        return self._encoding(batch_index).word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """0 or 1: which sequence of a pair each token belongs to (None for special tokens)."""
        return self._encoding(batch_index).sequence_ids

    def char_to_token(self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0):
        batch_index, char_index = (
            (0, batch_or_char_index) if char_index is None else (batch_or_char_index, char_index)
        )
        return self._encoding(batch_index).char_to_token(char_index, sequence_index)

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None):
        batch_index, token_index = (
            (0, batch_or_token_index) if token_index is None else (batch_or_token_index, token_index)
        )
        return self._encoding(batch_index).token_to_chars(token_index)


def _added_token(value: Any, special: bool = True) -> AddedToken | None:
    """A special-token value from a config (str, AddedToken or its serialised dict) as an AddedToken."""
    if value is None or isinstance(value, AddedToken):
        return value
    if isinstance(value, str):
        return AddedToken(value, special=special, normalized=not special)
    if isinstance(value, Mapping) and "content" in value:
        fields = {
            k: value[k] for k in ("single_word", "lstrip", "rstrip", "normalized", "special") if k in value
        }
        fields.setdefault("special", special)
        return AddedToken(value["content"], **fields)
    raise InputError(
        f"A special token must be a string or a tokenizers.AddedToken, got {type(value).__name__}: {value!r}."
    )


def token_content(value: Any) -> str | None:
    token = _added_token(value)
    return None if token is None else token.content


def _added_token_dict(token: AddedToken) -> dict[str, Any]:
    return {
        "content": token.content,
        "lstrip": token.lstrip,
        "normalized": token.normalized,
        "rstrip": token.rstrip,
        "single_word": token.single_word,
        "special": token.special,
    }


class _SpecialToken:
    """`tokenizer.pad_token`: the string, or None. Setting it does not add it to the vocabulary."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else obj._special_tokens.get(self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        obj._special_tokens[self.name] = token_content(value)


class _SpecialTokenId:
    """`tokenizer.pad_token_id`: the id of the special token, or None when it is not set."""

    def __init__(self, token_attribute: str):
        self.token_attribute = token_attribute

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        token = getattr(obj, self.token_attribute)
        return None if token is None else obj.convert_tokens_to_ids(token)

    def __set__(self, obj: Any, value: int | None) -> None:
        setattr(obj, self.token_attribute, None if value is None else obj.convert_ids_to_tokens(value))


class PreTrainedTokenizer(PushToHubMixin):
    """Base class of every rosetta tokenizer, backed by a `tokenizers.Tokenizer`.

    Build one from a tokenizer.json (`tokenizer_file=`), a `tokenizers.Tokenizer`
    (`tokenizer_object=`), or `from_pretrained(folder_or_repo_id)`. Keyword arguments it does
    not know are kept in `init_kwargs` and written back to tokenizer_config.json.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {}  # legacy files a subclass can build from
    model_input_names: ClassVar[list[str]] = ["input_ids", "token_type_ids", "attention_mask"]
    padding_side: str = "right"
    truncation_side: str = "right"

    bos_token = _SpecialToken()
    eos_token = _SpecialToken()
    unk_token = _SpecialToken()
    sep_token = _SpecialToken()
    pad_token = _SpecialToken()
    cls_token = _SpecialToken()
    mask_token = _SpecialToken()
    bos_token_id = _SpecialTokenId("bos_token")
    eos_token_id = _SpecialTokenId("eos_token")
    unk_token_id = _SpecialTokenId("unk_token")
    sep_token_id = _SpecialTokenId("sep_token")
    pad_token_id = _SpecialTokenId("pad_token")
    cls_token_id = _SpecialTokenId("cls_token")
    mask_token_id = _SpecialTokenId("mask_token")

    def __init__(
        self,
        tokenizer_object: Tokenizer | None = None,
        tokenizer_file: str | os.PathLike | None = None,
        *,
        model_max_length: int | None = None,
        padding_side: str | None = None,
        truncation_side: str | None = None,
        model_input_names: list[str] | None = None,
        clean_up_tokenization_spaces: bool = False,
        split_special_tokens: bool = False,
        pad_token_type_id: int = 0,
        additional_special_tokens: list[Any] | None = None,
        extra_special_tokens: list[Any] | dict[str, Any] | None = None,
        added_tokens_decoder: dict[Any, Any] | None = None,
        **kwargs: Any,
    ):
        if tokenizer_object is not None:
            if not isinstance(tokenizer_object, Tokenizer):
                raise InputError(
                    f"tokenizer_object must be a tokenizers.Tokenizer, got {type(tokenizer_object).__name__}."
                )
            self._tokenizer = tokenizer_object
        elif tokenizer_file is not None:
            try:
                self._tokenizer = Tokenizer.from_file(os.fspath(tokenizer_file))
            except Exception as err:
                raise InputError(
                    f"Could not read the tokenizer file {os.fspath(tokenizer_file)!r}: {err}"
                ) from err
        else:
            files = " or ".join(self.vocab_files_names.values()) or "legacy vocabulary files"
            raise InputError(
                f"{type(self).__name__} needs a tokenizer.json (tokenizer_file=...), a tokenizers.Tokenizer "
                f"(tokenizer_object=...) or {files}. To load a saved tokenizer use "
                f"{type(self).__name__}.from_pretrained(folder_or_repo_id)."
            )
        self._take_baked_settings(kwargs)

        self._special_tokens: dict[str, str | None] = {}
        to_register = []
        for name in SPECIAL_TOKENS_ATTRIBUTES:
            token = _added_token(kwargs.pop(name, None))
            setattr(self, name, token)
            if token is not None:
                to_register.append(token)
        if isinstance(extra_special_tokens, Mapping):
            extra_special_tokens = list(extra_special_tokens.values())
        extra = [
            _added_token(t) for t in (additional_special_tokens or []) + list(extra_special_tokens or [])
        ]
        self._additional_special_tokens = list(dict.fromkeys(t.content for t in extra))

        self._add_missing_tokens(added_tokens_decoder, to_register + extra)

        self.model_max_length = VERY_LARGE_INTEGER if model_max_length is None else int(model_max_length)
        self.padding_side = _check_side(padding_side or type(self).padding_side, "padding_side")
        self.truncation_side = _check_side(truncation_side or type(self).truncation_side, "truncation_side")
        self.model_input_names = list(model_input_names or type(self).model_input_names)
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.split_special_tokens = split_special_tokens
        self._tokenizer.encode_special_tokens = split_special_tokens
        self.pad_token_type_id = pad_token_type_id
        self.name_or_path = ""
        self.init_kwargs = copy.deepcopy(kwargs)

    def _take_baked_settings(self, kwargs: dict[str, Any]) -> None:
        """tokenizer.json may carry padding/truncation; they are per-call settings here, so clear them."""
        padding = self._tokenizer.padding
        if padding is not None:
            kwargs.setdefault("pad_token", padding["pad_token"])
            self._tokenizer.no_padding()
        if self._tokenizer.truncation is not None:
            self._tokenizer.no_truncation()

    def _add_missing_tokens(
        self, added_tokens_decoder: dict[Any, Any] | None, special: list[AddedToken]
    ) -> None:
        """Register added tokens of a config and every special token the backend does not know as added."""
        known = {token.content for token in self._tokenizer.get_added_tokens_decoder().values()}
        for _, value in sorted((added_tokens_decoder or {}).items(), key=lambda item: int(item[0])):
            token = _added_token(value, special=False)
            if token.content not in known:
                (self._tokenizer.add_special_tokens if token.special else self._tokenizer.add_tokens)([token])
                known.add(token.content)
        missing = [token for token in special if token.content not in known]
        if missing:
            self._tokenizer.add_special_tokens(missing)

    # -- vocabulary ---------------------------------------------------------------------------
    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The `tokenizers.Tokenizer` doing the work."""
        return self._tokenizer

    @property
    def is_fast(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary, without added tokens."""
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        """Size of the full vocabulary, added tokens included."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return self._tokenizer.get_added_tokens_decoder()

    def get_added_vocab(self) -> dict[str, int]:
        return {token.content: index for index, token in sorted(self.added_tokens_decoder.items())}

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        if isinstance(tokens, str):
            index = self._tokenizer.token_to_id(tokens)
            return self.unk_token_id if index is None else index
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(
        self, ids: int | Sequence[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        ids = _as_ids(ids)
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(i) for i in ids if i not in skip]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        decoder = self._tokenizer.decoder
        return decoder.decode(tokens) if decoder is not None else " ".join(tokens)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.num_special_tokens_to_add(pair)

    def add_tokens(
        self, new_tokens: str | AddedToken | Sequence[str | AddedToken], special_tokens: bool = False
    ) -> int:
        """Add tokens to the vocabulary; returns how many were not in it before."""
        if isinstance(new_tokens, (str, AddedToken)):
            new_tokens = [new_tokens]
        tokens = []
        for token in new_tokens or []:
            if isinstance(token, str):
                token = AddedToken(token, normalized=not special_tokens, special=special_tokens)
            elif not isinstance(token, AddedToken):
                raise InputError(
                    f"add_tokens takes strings or tokenizers.AddedToken, got {type(token).__name__}: {token!r}."
                )
            elif special_tokens:
                token.special = True
            tokens.append(token)
        if not tokens:
            return 0
        if special_tokens:
            return self._tokenizer.add_special_tokens(tokens)
        return self._tokenizer.add_tokens(tokens)

    def add_special_tokens(
        self, special_tokens_dict: Mapping[str, Any], replace_additional_special_tokens: bool = True
    ) -> int:
        """Set special tokens (`{"pad_token": "[PAD]"}`) and add the new ones; returns how many were added."""
        if not isinstance(special_tokens_dict, Mapping):
            raise InputError(
                f"add_special_tokens takes a dict like {{'pad_token': '[PAD]'}}, got {type(special_tokens_dict).__name__}."
            )
        added = 0
        for key, value in special_tokens_dict.items():
            if key in ("additional_special_tokens", "extra_special_tokens"):
                if isinstance(value, (str, AddedToken)) or not isinstance(value, Sequence):
                    raise InputError(f"{key} must be a list of tokens, got {type(value).__name__}.")
                tokens = [_added_token(t) for t in value]
                kept = [] if replace_additional_special_tokens else self._additional_special_tokens
                self._additional_special_tokens = list(dict.fromkeys(kept + [t.content for t in tokens]))
                added += self.add_tokens(tokens, special_tokens=True)
            elif key in SPECIAL_TOKENS_ATTRIBUTES:
                token = _added_token(value)
                setattr(self, key, token)
                added += self.add_tokens([token], special_tokens=True)
            else:
                raise InputError(
                    f"Unknown special token key {key!r}. Use one of {', '.join(SPECIAL_TOKENS_ATTRIBUTES)} "
                    "or 'additional_special_tokens'; add ordinary tokens with add_tokens()."
                )
        return added

    # -- special tokens -------------------------------------------------------------------------
    @property
    def additional_special_tokens(self) -> list[str]:
        return list(self._additional_special_tokens)

    @additional_special_tokens.setter
    def additional_special_tokens(self, tokens: Sequence[Any]) -> None:
        self._additional_special_tokens = [token_content(t) for t in tokens]

    @property
    def additional_special_tokens_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self._additional_special_tokens)

    @property
    def special_tokens_map(self) -> dict[str, Any]:
        """Every set special token by attribute name, as written to special_tokens_map.json."""
        named = {
            name: self._special_tokens[name]
            for name in SPECIAL_TOKENS_ATTRIBUTES
            if self._special_tokens.get(name)
        }
        if self._additional_special_tokens:
            named["additional_special_tokens"] = list(self._additional_special_tokens)
        return named

    @property
    def all_special_tokens(self) -> list[str]:
        named = [self._special_tokens.get(name) for name in SPECIAL_TOKENS_ATTRIBUTES]
        return list(dict.fromkeys(t for t in named + self._additional_special_tokens if t is not None))

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    # -- encoding ---------------------------------------------------------------------------------
    def __call__(
        self,
        text: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
        text_pair: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Tokenize one text (or pair) or a batch; see the Hugging Face tokenizer docs for every argument."""
        if kwargs:
            raise InputError(
                f"{type(self).__name__}.__call__ got unexpected keyword arguments: {', '.join(sorted(kwargs))}."
            )
        tensor_type = check_tensor_type(return_tensors)
        if padding_side is not None:
            _check_side(padding_side, "padding_side")
        batch, is_batched = self._as_batch(text, text_pair, is_split_into_words)
        padding, truncation, max_length = self._strategies(
            padding, truncation, max_length, pad_to_multiple_of
        )
        self._set_backend(padding, truncation, max_length, stride, pad_to_multiple_of, padding_side)
        try:
            encodings = self._tokenizer.encode_batch(
                batch, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
            )
        except Exception as err:  # the Rust library raises plain Exceptions (e.g. impossible truncation)
            raise InputError(f"{type(self).__name__} could not encode the input: {err}") from err

        if return_overflowing_tokens:
            flat, sample_mapping = [], []
            for index, encoding in enumerate(encodings):
                pieces = [encoding, *encoding.overflowing]
                flat.extend(pieces)
                sample_mapping.extend([index] * len(pieces))
        else:
            flat = encodings
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names

        data: dict[str, Any] = {"input_ids": [e.ids for e in flat]}
        if return_token_type_ids:
            data["token_type_ids"] = [e.type_ids for e in flat]
        if return_attention_mask:
            data["attention_mask"] = [e.attention_mask for e in flat]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [e.special_tokens_mask for e in flat]
        if return_offsets_mapping:
            data["offset_mapping"] = [e.offsets for e in flat]
        if return_length:
            data["length"] = [len(e.ids) for e in flat]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_mapping
        if truncation == "do_not_truncate" and verbose:
            self._warn_if_too_long(data["input_ids"])
        if not is_batched and tensor_type is None and not return_overflowing_tokens:
            # one example: drop the batch level of list fields (as Hugging Face does; `length` stays a list)
            data = {
                key: value[0] if value and isinstance(value[0], list) else value
                for key, value in data.items()
            }
        return BatchEncoding(data, encodings=flat, tensor_type=tensor_type)

    def encode(
        self,
        text: str | Sequence[str],
        text_pair: str | Sequence[str] | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> list[int] | Any:
        """The token ids of one text (or pair)."""
        return self(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            return_tensors=return_tensors,
            **kwargs,
        )["input_ids"]

    def tokenize(
        self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs: Any
    ) -> list[str]:
        """The token strings of one text (no special tokens unless asked)."""
        kwargs.setdefault("return_attention_mask", False)
        kwargs.setdefault("return_token_type_ids", False)
        return self(text, pair, add_special_tokens=add_special_tokens, **kwargs).tokens()

    def _as_batch(self, text: Any, text_pair: Any, is_split_into_words: bool) -> tuple[list[Any], bool]:
        """Validate the input; return it as a batch for `encode_batch` and whether it was one."""
        if text is None:
            raise InputError(
                "No text was given. Pass a string, a list of strings (a batch), or with is_split_into_words=True "
                "a list of words (one example) or a list of lists of words (a batch)."
            )
        is_batched = _is_batch(text, is_split_into_words, "text")
        if text_pair is None:
            return (list(text) if is_batched else [text]), is_batched
        if _is_batch(text_pair, is_split_into_words, "text_pair") != is_batched:
            raise InputError(
                "text and text_pair must both be single examples or both be batches of the same size."
            )
        if not is_batched:
            return [(text, text_pair)], False
        if len(text) != len(text_pair):
            raise InputError(
                f"text has {len(text)} examples but text_pair has {len(text_pair)}; they must match."
            )
        return list(zip(text, text_pair)), True

    def _strategies(
        self, padding: Any, truncation: Any, max_length: int | None, pad_to_multiple_of: int | None
    ) -> tuple[str, str, int | None]:
        """Resolve padding/truncation arguments to strategy names and the length to use."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"  # Hugging Face: max_length alone means truncate to it
        padding = _strategy(padding, PADDING_STRATEGIES, "padding", on="longest", off="do_not_pad")
        truncation = _strategy(
            truncation, TRUNCATION_STRATEGIES, "truncation", on="longest_first", off="do_not_truncate"
        )
        for name, value, minimum in (
            ("max_length", max_length, 1),
            ("pad_to_multiple_of", pad_to_multiple_of, 1),
        ):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < minimum
            ):
                raise InputError(f"{name} must be a positive integer, got {value!r}.")
        if max_length is None:
            limited = self.model_max_length < LARGE_INTEGER
            if padding == "max_length":
                if not limited:
                    raise InputError(
                        "padding='max_length' needs max_length=..., since this tokenizer has no model_max_length. "
                        "Pass max_length, or padding=True to pad to the longest sequence."
                    )
                max_length = self.model_max_length
            if truncation != "do_not_truncate":
                if limited:
                    max_length = self.model_max_length
                else:
                    truncation = "do_not_truncate"
        if padding != "do_not_pad" and (self.pad_token is None or self.pad_token_id is None):
            raise InputError(
                f"Padding was asked for but this {type(self).__name__} has no pad token. Set one, e.g. "
                "`tokenizer.pad_token = tokenizer.eos_token`, or add one with "
                "`tokenizer.add_special_tokens({'pad_token': '[PAD]'})`."
            )
        if (
            truncation != "do_not_truncate"
            and padding != "do_not_pad"
            and pad_to_multiple_of is not None
            and max_length is not None
            and max_length % pad_to_multiple_of
        ):
            raise InputError(
                f"Truncation and padding are both on, but max_length ({max_length}) is not a multiple of "
                f"pad_to_multiple_of ({pad_to_multiple_of})."
            )
        return padding, truncation, max_length

    def _set_backend(
        self,
        padding: str,
        truncation: str,
        max_length: int | None,
        stride: int,
        pad_to_multiple_of: int | None,
        padding_side: str | None,
    ) -> None:
        """Put the Rust tokenizer in the padding/truncation state of this call (kept for the next one)."""
        backend = self._tokenizer
        if truncation == "do_not_truncate":
            if backend.truncation is not None:
                backend.no_truncation()
        else:
            if not isinstance(stride, int) or stride < 0:
                raise InputError(f"stride must be a non-negative integer, got {stride!r}.")
            target = {
                "max_length": max_length,
                "stride": stride,
                "strategy": truncation,
                "direction": self.truncation_side,
            }
            current = backend.truncation
            if current is None or any(current.get(key) != value for key, value in target.items()):
                try:
                    backend.enable_truncation(**target)
                except Exception as err:  # ValueError, or the Rust library's plain Exception
                    raise InputError(f"{type(self).__name__} could not truncate as asked: {err}") from err
        if padding == "do_not_pad":
            if backend.padding is not None:
                backend.no_padding()
        else:
            target = {
                "length": max_length if padding == "max_length" else None,
                "pad_to_multiple_of": pad_to_multiple_of,
                "pad_id": self.pad_token_id,
                "pad_type_id": self.pad_token_type_id,
                "pad_token": self.pad_token,
                "direction": _check_side(padding_side or self.padding_side, "padding_side"),
            }
            if backend.padding != target:
                backend.enable_padding(**target)

    def _warn_if_too_long(self, input_ids: list[list[int]]) -> None:
        if getattr(self, "_warned_too_long", False):
            return
        if self.model_max_length < LARGE_INTEGER and any(
            len(ids) > self.model_max_length for ids in input_ids
        ):
            self._warned_too_long = True
            logger.warning(
                "A sequence is longer than this tokenizer's model_max_length (%d); the model may fail on it. "
                "Pass truncation=True to cut it.",
                self.model_max_length,
            )

    # -- padding for collation ---------------------------------------------------------------------
    def pad(
        self,
        encoded_inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Pad already tokenized examples (a list of dicts or a dict of lists), e.g. as a collate function.

        Tensors given as input are padded as lists; the output then uses their framework unless
        `return_tensors` says otherwise.
        """
        if isinstance(encoded_inputs, Sequence) and not isinstance(encoded_inputs, str):
            if not encoded_inputs or not all(isinstance(e, Mapping) for e in encoded_inputs):
                raise InputError(
                    "pad() takes a non-empty list of dicts (one per example) or a dict of lists."
                )
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
        if not isinstance(encoded_inputs, Mapping):
            raise InputError(
                f"pad() takes a dict of lists or a list of dicts, got {type(encoded_inputs).__name__}."
            )
        main = self.model_input_names[0]
        if main not in encoded_inputs:
            raise InputError(f"pad() needs a {main!r} field; the input has {list(encoded_inputs)}.")
        check_tensor_type(return_tensors)

        inputs, framework = {}, None
        for key, value in encoded_inputs.items():
            value, found = _to_lists(value)
            framework = framework or found
            inputs[key] = value
        return_tensors = return_tensors if return_tensors is not None else framework
        single = not (inputs[main] and isinstance(inputs[main][0], (list, tuple)))
        if single:
            inputs = {key: [value] for key, value in inputs.items()}
        sizes = {key: len(value) for key, value in inputs.items() if isinstance(value, list)}
        if len(set(sizes.values())) > 1:
            raise InputError(f"pad() got fields with different batch sizes: {sizes}.")

        padding, _, max_length = self._strategies(padding, False, max_length, pad_to_multiple_of)
        if padding == "longest":
            max_length = max((len(ids) for ids in inputs[main]), default=0)
        if padding != "do_not_pad" and pad_to_multiple_of and max_length % pad_to_multiple_of:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        side = _check_side(padding_side or self.padding_side, "padding_side")
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if return_attention_mask and "attention_mask" not in inputs:
            inputs["attention_mask"] = [[1] * len(ids) for ids in inputs[main]]
        pad_values = {
            main: self.pad_token_id,
            "token_type_ids": self.pad_token_type_id,
            "attention_mask": 0,
            "special_tokens_mask": 1,
        }

        outputs = dict(inputs)
        if padding != "do_not_pad":
            for key, pad_value in pad_values.items():
                if key not in inputs:
                    continue
                rows = []
                for row in inputs[key]:
                    fill = [pad_value] * max(0, max_length - len(row))
                    rows.append(list(row) + fill if side == "right" else fill + list(row))
                outputs[key] = rows
        if single:
            outputs = {key: value[0] for key, value in outputs.items()}
        return BatchEncoding(outputs, tensor_type=return_tensors)

    # -- decoding ---------------------------------------------------------------------------------
    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> str | list[str]:
        """Text of a list of ids (a tensor works too); a batch of lists gives a list of texts."""
        ids = _as_ids(token_ids)
        ids = [ids] if isinstance(ids, int) else ids
        if ids and isinstance(ids[0], list):
            return self.batch_decode(ids, skip_special_tokens, clean_up_tokenization_spaces, **kwargs)
        try:
            text = self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        except (TypeError, OverflowError) as err:
            raise InputError(f"decode() takes token ids (ints), got {token_ids!r}.") from err
        return self._finish_decode(text, clean_up_tokenization_spaces)

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> list[str]:
        sequences = _as_ids(sequences)
        if isinstance(sequences, int) or (sequences and not isinstance(sequences[0], list)):
            raise InputError("batch_decode() takes a batch: a list of lists of token ids (or a 2-d tensor).")
        try:
            texts = self._tokenizer.decode_batch(sequences, skip_special_tokens=skip_special_tokens)
        except (TypeError, OverflowError) as err:
            raise InputError("batch_decode() takes a list of lists of token ids (ints).") from err
        return [self._finish_decode(text, clean_up_tokenization_spaces) for text in texts]

    def _finish_decode(self, text: str, clean_up_tokenization_spaces: bool | None) -> str:
        text = self._postprocess_decoded(text)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        return self.clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def _postprocess_decoded(self, text: str) -> str:
        """Hook for what a model's decoder leaves behind (e.g. an end-of-word marker such as `</w>`)."""
        return text

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        """Remove the spaces WordPiece-style decoding leaves before punctuation and contractions."""
        for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                              (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):  # fmt: skip
            text = text.replace(before, after)
        return text

    # -- chat templates ---------------------------------------------------------------------------
    @property
    def chat_template(self) -> str | dict[str, str] | None:
        """The Jinja chat template (or named templates) from tokenizer_config.json, chat_template.jinja or a GGUF."""
        templates = self.init_kwargs.get("chat_template")
        if isinstance(templates, list):
            return {entry["name"]: entry["template"] for entry in templates}
        return templates

    @chat_template.setter
    def chat_template(self, value: str | dict[str, str] | None) -> None:
        if value is None:
            self.init_kwargs.pop("chat_template", None)
        else:
            self.init_kwargs["chat_template"] = value

    def get_chat_template(self, chat_template: str | None = None, tools: list[Any] | None = None) -> str:
        """The template source `apply_chat_template` uses: `chat_template` (a template or a template's name) or the tokenizer's."""
        return select_chat_template(self.chat_template, chat_template, tools)

    def apply_chat_template(
        self,
        conversation: Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]],
        tools: list[Any] | None = None,
        documents: list[Any] | None = None,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool | str = False,
        tokenize: bool = True,
        padding: bool | str = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_dict: bool = True,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **template_kwargs: Any,
    ) -> str | list[str] | list[int] | list[list[int]] | BatchEncoding:
        """Render a conversation (or a batch of them) with the chat template, as transformers 5 does.

        `tokenize=False` gives the prompt text; otherwise a BatchEncoding (`return_dict=True`, the default)
        or the input ids. The special tokens (`bos_token`, ...) and `template_kwargs` are template variables.
        """
        if isinstance(conversation, (list, tuple)) and not conversation:
            raise InputError("apply_chat_template got an empty conversation; pass at least one message.")
        batched = isinstance(conversation, (list, tuple)) and isinstance(conversation[0], (list, tuple))
        conversations = list(conversation) if batched else [conversation]
        rendered = render_chat(
            self.get_chat_template(chat_template, tools),
            conversations,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message,
            tools=tools,
            documents=documents,
            **{**self.special_tokens_map, **template_kwargs},
        )
        text = rendered if batched else rendered[0]
        if not tokenize:
            return text
        encoded = self(
            text, padding=padding, truncation=truncation, max_length=max_length, add_special_tokens=False,
            return_tensors=return_tensors, **(tokenizer_kwargs or {}),
        )  # fmt: skip
        return encoded if return_dict else encoded["input_ids"]

    # -- save / load ------------------------------------------------------------------------------
    def to_config_dict(self) -> dict[str, Any]:
        """The content of tokenizer_config.json."""
        config = copy.deepcopy(self.init_kwargs)
        config.update(self.special_tokens_map)
        config.update(
            model_max_length=self.model_max_length,
            padding_side=self.padding_side,
            truncation_side=self.truncation_side,
            clean_up_tokenization_spaces=self.clean_up_tokenization_spaces,
            tokenizer_class=type(self).__name__,
            added_tokens_decoder={
                str(i): _added_token_dict(t) for i, t in sorted(self.added_tokens_decoder.items())
            },
        )
        if self.model_input_names != type(self).model_input_names:
            config["model_input_names"] = list(self.model_input_names)
        if self.split_special_tokens:
            config["split_special_tokens"] = True
        return dict(sorted(config.items()))

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        legacy_format: bool | None = None,
        filename_prefix: str | None = None,
        push_to_hub: bool = False,
        **kwargs: Any,
    ) -> tuple[str, ...]:
        """Write tokenizer.json, tokenizer_config.json, special_tokens_map.json (and legacy vocab files).

        Each file is written atomically. `legacy_format=False` skips the legacy vocabulary files.
        """
        if os.path.isfile(save_directory):
            raise InputError(f"save_pretrained needs a folder, but {os.fspath(save_directory)!r} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        prefix = f"{filename_prefix}-" if filename_prefix else ""

        def path(name: str) -> str:
            return os.path.join(save_directory, prefix + name)

        # padding and truncation are per-call settings, not part of the saved tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        atomic_write_text(path(TOKENIZER_FILE), self._tokenizer.to_str(pretty=True))
        atomic_write_text(path(TOKENIZER_CONFIG_FILE), _dumps(self.to_config_dict()))
        atomic_write_text(path(SPECIAL_TOKENS_MAP_FILE), _dumps(self.special_tokens_map))
        files = (path(TOKENIZER_CONFIG_FILE), path(SPECIAL_TOKENS_MAP_FILE), path(TOKENIZER_FILE))
        if legacy_format is not False:
            files += self.save_vocabulary(save_directory, filename_prefix)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **kwargs)
        return files

    def save_vocabulary(
        self, save_directory: str | os.PathLike, filename_prefix: str | None = None
    ) -> tuple[str, ...]:
        """Write the legacy files of `vocab_files_names` (vocab.txt, or vocab.json + merges.txt) from the backend."""
        if not self.vocab_files_names:
            return ()
        model_state = json.loads(self._tokenizer.model.__getstate__())
        vocab = model_state.get("vocab")
        if not isinstance(vocab, dict):
            return ()
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        written = []
        for argument, filename in self.vocab_files_names.items():
            path = os.path.join(save_directory, prefix + filename)
            if argument == "vocab_file" and filename.endswith(".txt"):
                text = "".join(f"{token}\n" for token, _ in sorted(vocab.items(), key=lambda item: item[1]))
            elif argument == "vocab_file":
                text = json.dumps(vocab, ensure_ascii=False) + "\n"
            elif argument == "merges_file" and "merges" in model_state:
                merges = [m if isinstance(m, str) else " ".join(m) for m in model_state["merges"]]
                text = "#version: 0.2\n" + "".join(f"{merge}\n" for merge in merges)
            else:
                continue
            atomic_write_text(path, text)
            written.append(path)
        return tuple(written)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *init_inputs: Any, **kwargs: Any
    ):
        """Load from a folder or Hub repo in the Hugging Face layout; keyword arguments override its config.

        tokenizer.json is used when present; otherwise the class's legacy vocabulary files
        (vocab.txt, or vocab.json + merges.txt).
        """
        options = HubOptions.pop_from(kwargs)
        kwargs.pop("use_fast", None)
        kwargs.pop("trust_remote_code", None)
        source = pretrained_model_name_or_path
        gguf_file = kwargs.pop("gguf_file", None)
        if gguf_file is not None:
            return cls._from_gguf(source, gguf_file, options, init_inputs, kwargs)

        config_path = resolve_file(source, TOKENIZER_CONFIG_FILE, options, required=False)
        config = load_json(config_path) if config_path else {}
        map_path = resolve_file(source, SPECIAL_TOKENS_MAP_FILE, options, required=False)
        for key, value in (load_json(map_path) if map_path else {}).items():
            config.setdefault(key, value)

        files = {}
        tokenizer_file = resolve_file(source, TOKENIZER_FILE, options, required=False)
        if tokenizer_file is not None:
            files["tokenizer_file"] = tokenizer_file
        else:
            for argument, filename in cls.vocab_files_names.items():
                found = resolve_file(source, filename, options, required=False)
                if found is not None:
                    files[argument] = found
            if not files:
                legacy = " or ".join(cls.vocab_files_names.values())
                where = (
                    f"the local folder {os.path.abspath(source)}"
                    if is_local(source)
                    else f"{os.fspath(source)!r}"
                )
                raise MissingFileError(
                    TOKENIZER_FILE, where, options.revision,
                    hint=f"{cls.__name__} loads tokenizer.json" + (f" or the legacy {legacy}." if legacy else "."),
                )  # fmt: skip
            added_path = resolve_file(source, ADDED_TOKENS_FILE, options, required=False)
            if added_path is not None and "added_tokens_decoder" not in config:
                config["added_tokens_decoder"] = {i: t for t, i in load_json(added_path).items()}

        template_path = resolve_file(source, CHAT_TEMPLATE_FILE, options, required=False)
        if template_path is not None:
            with open(template_path, encoding="utf-8") as f:
                config["chat_template"] = f.read()
        init_kwargs = {key: value for key, value in config.items() if key not in _NOT_INIT_KEYS}
        init_kwargs.update(files)
        init_kwargs.update(kwargs)
        tokenizer = cls(*init_inputs, **init_kwargs)
        tokenizer.name_or_path = os.fspath(source)
        return tokenizer

    @classmethod
    def _from_gguf(
        cls,
        source: str | os.PathLike,
        gguf_file: str,
        options: HubOptions,
        init_inputs: tuple,
        kwargs: dict[str, Any],
    ):
        """The tokenizer a GGUF file's metadata describes (vocabulary, merges, special tokens, chat template)."""
        path = resolve_file(source, gguf_file, options)
        files = gguf_tokenizer_files(path)
        config = files[TOKENIZER_CONFIG_FILE]
        init_kwargs = {key: value for key, value in config.items() if key not in _NOT_INIT_KEYS}
        init_kwargs["tokenizer_object"] = Tokenizer.from_str(files[TOKENIZER_FILE])
        init_kwargs.update(kwargs)
        tokenizer = cls(*init_inputs, **init_kwargs)
        tokenizer.name_or_path = os.fspath(source)
        return tokenizer

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, padding_side={self.padding_side!r}, "
            f"truncation_side={self.truncation_side!r}, special_tokens={self.special_tokens_map})"
        )


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _check_side(side: Any, name: str) -> str:
    if side not in ("left", "right"):
        raise InputError(f"{name} must be 'left' or 'right', got {side!r}.")
    return side


def _strategy(value: Any, allowed: tuple[str, ...], name: str, on: str, off: str) -> str:
    value = getattr(value, "value", value)  # enums such as transformers' PaddingStrategy
    if value is True:
        return on
    if value is False or value is None:
        return off
    if isinstance(value, str) and value in allowed:
        return value
    raise InputError(
        f"{name}={value!r} is not a valid {name} strategy. Use True, False or one of {', '.join(allowed)}."
    )


def _is_batch(value: Any, is_split_into_words: bool, name: str) -> bool:
    """Whether `value` is a batch; raise InputError for anything that is not valid text input."""
    words = " (lists of words need is_split_into_words=True)" if not is_split_into_words else ""
    if isinstance(value, str):
        if is_split_into_words:
            raise InputError(
                f"With is_split_into_words=True, {name} must be a list of words, not one string."
            )
        return False
    if not isinstance(value, (list, tuple)):
        raise InputError(
            f"{name} must be a string or a list of strings, got {type(value).__name__}. "
            "Token ids are decoded with decode(), not passed to the tokenizer."
        )
    if not value:
        raise InputError(f"{name} is an empty batch; pass at least one example.")
    if is_split_into_words and all(isinstance(item, str) for item in value):
        return False
    for index, item in enumerate(value):
        if is_split_into_words:
            if not isinstance(item, (list, tuple)) or not all(isinstance(word, str) for word in item):
                raise InputError(f"{name}[{index}] must be a list of word strings, got {item!r}.")
        elif not isinstance(item, str):
            raise InputError(
                f"{name}[{index}] is a {type(item).__name__}; a batch must be a list of strings{words}."
            )
    return True


def _as_ids(token_ids: Any) -> int | list[Any]:
    """Token ids from an int, a (nested) list, a numpy array or a torch/TF/JAX tensor, as Python ints."""
    if framework_of(token_ids) is not None:
        token_ids = to_numpy(token_ids).tolist()
    if isinstance(token_ids, (int, np.integer)) and not isinstance(token_ids, bool):
        return int(token_ids)
    if isinstance(token_ids, (list, tuple)):
        if all(type(t) is int for t in token_ids):
            return list(token_ids)
        return [_as_ids(t) for t in token_ids]
    raise InputError(
        f"Token ids must be ints, lists of ints or a tensor, got {type(token_ids).__name__}: {token_ids!r}."
    )


def _to_lists(value: Any) -> tuple[Any, str | None]:
    """(value as Python lists, the framework it came in) for pad()."""
    framework = framework_of(value)
    if framework is not None:
        return to_numpy(value).tolist(), framework
    if isinstance(value, (list, tuple)) and value and framework_of(value[0]) is not None:
        return [to_numpy(v).tolist() for v in value], framework_of(value[0])
    return value, None


# -- building blocks the byte-level BPE tokenizers share ------------------------
def byte_level_bpe(vocab_file: str | os.PathLike, merges_file: str | os.PathLike) -> Tokenizer:
    """A GPT-2 style tokenizer from legacy vocab.json + merges.txt: byte-level pre-tokenizer and decoder."""
    from tokenizers import decoders, pre_tokenizers
    from tokenizers.models import BPE

    if vocab_file is None or merges_file is None:
        raise InputError(
            "A byte-level BPE tokenizer needs both vocab_file (vocab.json) and merges_file (merges.txt), or a tokenizer.json."
        )
    model = BPE.from_file(
        os.fspath(vocab_file),
        os.fspath(merges_file),
        continuing_subword_prefix="",
        end_of_word_suffix="",
        fuse_unk=False,
    )
    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return backend


def set_add_prefix_space(backend: Tokenizer, add_prefix_space: bool | None) -> bool | None:
    """Apply `add_prefix_space` (when given) to the ByteLevel pre-tokenizer and post-processor; return the effective value."""
    pre_tokenizer = backend.pre_tokenizer
    if type(pre_tokenizer).__name__ == "Sequence":
        steps = json.loads(pre_tokenizer.__getstate__())["pretokenizers"]
        found = [pre_tokenizer[i] for i, step in enumerate(steps) if step["type"] == "ByteLevel"]
        pre_tokenizer = found[0] if found else None
    if type(pre_tokenizer).__name__ != "ByteLevel":
        return add_prefix_space
    if add_prefix_space is not None:
        pre_tokenizer.add_prefix_space = add_prefix_space
        if hasattr(backend.post_processor, "add_prefix_space"):
            backend.post_processor.add_prefix_space = add_prefix_space
    return pre_tokenizer.add_prefix_space
