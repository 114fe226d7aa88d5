"""Data collators: a list of examples -> one batch of tensors, for any framework.

The work is done in numpy and converted at the end to `return_tensors` ("pt", "tf", "np",
"jax"), so one collator serves the PyTorch Trainer, `tf.data` and a Flax loop alike. Random
masking draws from numpy's global RNG (seeded by `set_seed` and saved in Trainer checkpoints),
or from a private generator when `seed` is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.tensors import check_tensor_type, framework_of, to_framework, to_numpy

IGNORE_INDEX = -100


def _as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if framework_of(value) is not None:
        return to_numpy(value)
    return np.asarray(value)


def _stack(values: list[Any], return_tensors: str, name: str) -> Any:
    """One tensor from a feature's values across examples (torch tensors stay in torch)."""
    first = values[0]
    if return_tensors == "pt" and framework_of(first) == "pt":
        import torch

        return torch.stack(values)
    if framework_of(first) is not None or isinstance(first, np.ndarray):
        array = np.stack([_as_numpy(v) for v in values])
    else:
        array = np.asarray(values)
        if array.dtype == np.float64:
            array = array.astype(np.float32)  # Python floats: float32, as every framework's models expect
    return to_framework(array, return_tensors, name=name)


def default_data_collator(features: list[Mapping[str, Any]], return_tensors: str = "pt") -> dict[str, Any]:
    """Stack examples that already have equal lengths; `label` / `label_ids` become `labels`.

    Integer labels become int64 (class indices), float labels float32 (regression). String
    and None values are dropped.
    """
    return_tensors = check_tensor_type(return_tensors) or "pt"
    if not features:
        raise InputError("The collator got an empty list of examples.")
    if not isinstance(features[0], Mapping):
        features = [vars(f) for f in features]
    first = features[0]
    batch: dict[str, Any] = {}
    for label_key in ("label", "label_ids"):
        if first.get(label_key) is not None:
            labels = np.stack([_as_numpy(f[label_key]) for f in features])
            labels = labels.astype(np.int64 if np.issubdtype(labels.dtype, np.integer) else np.float32)
            batch["labels"] = to_framework(labels, return_tensors, name="labels")
            break
    for key, value in first.items():
        if key in ("label", "label_ids") or value is None or isinstance(value, str):
            continue
        batch[key] = _stack([f[key] for f in features], return_tensors, key)
    return batch


class DefaultDataCollator:
    """`default_data_collator` as an object, for a fixed `return_tensors`."""

    def __init__(self, return_tensors: str = "pt"):
        self.return_tensors = check_tensor_type(return_tensors) or "pt"

    def __call__(
        self, features: list[Mapping[str, Any]], return_tensors: str | None = None
    ) -> dict[str, Any]:
        return default_data_collator(features, return_tensors or self.return_tensors)


def _rename_labels(batch: Mapping[str, Any]) -> dict[str, Any]:
    batch = dict(batch)
    for key in ("label", "label_ids"):
        if key in batch:
            batch["labels"] = batch.pop(key)
    return batch


@dataclass
class DataCollatorWithPadding:
    """Pad examples of different lengths with `tokenizer.pad` (dynamic padding to the longest)."""

    tokenizer: Any
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"

    def __call__(self, features: list[Mapping[str, Any]]) -> dict[str, Any]:
        batch = self.tokenizer.pad(
            features,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors=self.return_tensors,
        )
        return _rename_labels(batch)


@dataclass
class DataCollatorForTokenClassification:
    """Pad inputs with `tokenizer.pad` and per-token labels with `label_pad_token_id` (-100: ignored by the loss)."""

    tokenizer: Any
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = IGNORE_INDEX
    return_tensors: str = "pt"

    def __call__(self, features: list[Mapping[str, Any]]) -> dict[str, Any]:
        label_name = "label" if "label" in features[0] else "labels"
        labels = [f[label_name] for f in features] if label_name in features[0] else None
        inputs = [{k: v for k, v in f.items() if k != label_name} for f in features]
        batch = dict(
            self.tokenizer.pad(
                inputs,
                padding=self.padding,
                max_length=self.max_length,
                pad_to_multiple_of=self.pad_to_multiple_of,
                return_tensors=self.return_tensors,
            )
        )
        if labels is None:
            return batch
        length = batch["input_ids"].shape[1]
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        padded = np.full((len(labels), length), self.label_pad_token_id, dtype=np.int64)
        for row, label in zip(padded, labels):
            label = _as_numpy(label)[:length]
            if left:
                row[length - len(label) :] = label
            else:
                row[: len(label)] = label
        batch["labels"] = to_framework(padded, self.return_tensors, name="labels")
        return batch


def _pad_sequences(
    rows: Sequence[Any], pad_value: int, pad_to_multiple_of: int | None, left: bool
) -> np.ndarray:
    """Lists of ids (or 1-D tensors) of different lengths -> one [batch, longest] int64 array."""
    rows = [_as_numpy(r).astype(np.int64) for r in rows]
    length = max(len(r) for r in rows)
    if pad_to_multiple_of and length % pad_to_multiple_of:
        length = (length // pad_to_multiple_of + 1) * pad_to_multiple_of
    out = np.full((len(rows), length), pad_value, dtype=np.int64)
    for target, row in zip(out, rows):
        if left:
            target[length - len(row) :] = row
        else:
            target[: len(row)] = row
    return out


@dataclass
class DataCollatorForLanguageModeling:
    """Batches for language modeling: masked (`mlm=True`, BERT-style) or causal (`mlm=False`).

    With `mlm=True`, each non-special token is chosen with probability `mlm_probability`; of
    those, `mask_replace_prob` (80%) become the mask token, `random_replace_prob` (10%) a random
    token, and the rest stay as they are. `labels` hold the original ids at chosen positions
    and -100 everywhere else (special and padding tokens included). With `mlm=False`, labels
    are the inputs with padding set to -100 (the model shifts them).
    """

    tokenizer: Any
    mlm: bool = True
    mlm_probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.mlm and getattr(self.tokenizer, "mask_token_id", None) is None:
            raise InputError(
                "This tokenizer has no mask token, which masked language modeling needs. "
                "Use mlm=False for causal language modeling, or set tokenizer.mask_token."
            )
        if not 0.0 <= self.mlm_probability <= 1.0:
            raise InputError(f"mlm_probability must be in [0, 1], got {self.mlm_probability}.")
        if not (
            0.0 <= self.mask_replace_prob
            and 0.0 <= self.random_replace_prob
            and self.mask_replace_prob + self.random_replace_prob <= 1.0
        ):
            raise InputError(
                "mask_replace_prob and random_replace_prob must be >= 0 and sum to at most 1, got "
                f"{self.mask_replace_prob} and {self.random_replace_prob}."
            )
        self.return_tensors = check_tensor_type(self.return_tensors) or "pt"
        self._rng = np.random.default_rng(self.seed) if self.seed is not None else None

    def __call__(self, examples: list[Any]) -> dict[str, Any]:
        batch = self._pad(examples)
        special = batch.pop("special_tokens_mask", None)
        if self.mlm:
            batch["input_ids"], batch["labels"] = self.mask_tokens(batch["input_ids"], special)
        else:
            labels = batch["input_ids"].copy()
            if self.tokenizer.pad_token_id is not None:
                labels[labels == self.tokenizer.pad_token_id] = IGNORE_INDEX
            batch["labels"] = labels
        return {k: to_framework(v, self.return_tensors, name=k) for k, v in batch.items()}

    def _pad(self, examples: list[Any]) -> dict[str, np.ndarray]:
        if isinstance(examples[0], Mapping):
            padded = self.tokenizer.pad(
                examples, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="np"
            )
            return {k: _as_numpy(v) for k, v in padded.items()}
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None and len({len(e) for e in examples}) > 1:
            raise InputError(
                "These examples have different lengths, and the tokenizer has no pad token to pad them with."
            )
        return {"input_ids": _pad_sequences(examples, pad_id or 0, self.pad_to_multiple_of, left)}

    def _special_tokens_mask(self, input_ids: np.ndarray) -> np.ndarray:
        get_mask = getattr(self.tokenizer, "get_special_tokens_mask", None)
        if get_mask is not None:
            rows = [get_mask(row.tolist(), already_has_special_tokens=True) for row in input_ids]
            return np.asarray(rows, dtype=bool)
        return np.isin(input_ids, list(self.tokenizer.all_special_ids))

    def _random(self, shape: tuple[int, ...]) -> np.ndarray:
        return self._rng.random(shape) if self._rng is not None else np.random.random_sample(shape)

    def _random_ids(self, high: int, shape: tuple[int, ...]) -> np.ndarray:
        return (
            self._rng.integers(0, high, shape) if self._rng is not None else np.random.randint(0, high, shape)
        )

    def mask_tokens(self, inputs: Any, special_tokens_mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """(masked input ids, labels) for masked language modeling, as numpy int64 arrays."""
        inputs = _as_numpy(inputs).astype(np.int64, copy=True)
        labels = inputs.copy()
        if special_tokens_mask is None:
            special = self._special_tokens_mask(inputs)
        else:
            special = _as_numpy(special_tokens_mask).astype(bool)
        if self.tokenizer.pad_token_id is not None:
            special = special | (inputs == self.tokenizer.pad_token_id)
        masked = (self._random(inputs.shape) < self.mlm_probability) & ~special
        labels[~masked] = IGNORE_INDEX

        replaced = (self._random(inputs.shape) < self.mask_replace_prob) & masked
        inputs[replaced] = self.tokenizer.mask_token_id
        # Of the chosen tokens not masked, a share random_replace_prob / (1 - mask_replace_prob) gets a random id.
        remaining = 1.0 - self.mask_replace_prob
        random_share = self.random_replace_prob / remaining if remaining > 0 else 0.0
        randomised = (self._random(inputs.shape) < random_share) & masked & ~replaced
        inputs[randomised] = self._random_ids(len(self.tokenizer), inputs.shape)[randomised]
        return inputs, labels
