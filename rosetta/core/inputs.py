"""The one check of a model call's inputs, the same in every framework.

A bad input must give the same `InputError` in torch, TensorFlow and Flax, not a NaN in one, a
silently wrapped id in another and a device-side assert in the third. Each backend hands this
module what it knows about its tensors (`InputView`: shape, kind of dtype, and a way to get the
smallest and largest value, or none where the values are not known: symbolic or traced tensors)
or plain array-likes, before its compiled forward; nothing here runs inside a compiled graph.

Only the field's standard config names are read: `vocab_size`, `type_vocab_size`,
`max_position_embeddings` (not a length limit for rotary models, which declare `rope_theta`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

Bounds = Callable[[], tuple[float, float]]

# Inputs holding indices into a table, and the config field that gives the table's size.
ID_INPUTS: dict[str, str | None] = {
    "input_ids": "vocab_size",
    "decoder_input_ids": "vocab_size",
    "token_type_ids": "type_vocab_size",
    "position_ids": "max_position_embeddings",
}
CACHE_INPUTS = ("past_key_values", "cache")
CHECKED_INPUTS = (*ID_INPUTS, "inputs_embeds", "attention_mask")


@dataclass(frozen=True)
class InputView:
    """What the check needs of one input tensor.

    `kind` is numpy's dtype kind: "b" bool, "i"/"u" integer, "f" float, "c" complex, "V" other
    (bfloat16 counts as "f"). `bounds` returns (min, max) of the values; None skips the value checks.
    """

    shape: tuple[int | None, ...]
    kind: str
    bounds: Bounds | None = None


def numpy_view(value: Any) -> InputView:
    """An `InputView` of anything `np.asarray` takes (numpy, lists, CPU tensors of every framework)."""
    array = np.asarray(value)
    kind = "f" if array.dtype.name == "bfloat16" else array.dtype.kind

    def bounds() -> tuple[float, float]:
        return array.min().item(), array.max().item()

    return InputView(tuple(array.shape), kind, bounds if array.size else None)


def check_model_inputs(
    config: Any, model_name: str, inputs: Mapping[str, Any], max_length: int | None = None
) -> None:
    """Raise `InputError` naming the input when one cannot be a valid input of this model.

    Args:
        config: The model's config (only standard field names are read).
        model_name: The model class's name, for the message.
        inputs: Input name -> `InputView` or array-like; None values and names this check does not
            know (`labels`, caches, flags) are ignored.
        max_length: The longest sequence the model takes; default `config.max_position_embeddings`
            (a model whose positions start at an offset declares a smaller one).
    """
    views = {name: _as_view(inputs[name]) for name in CHECKED_INPUTS if inputs.get(name) is not None}
    for name, field in ID_INPUTS.items():
        if name in views:
            _check_ids(config, model_name, name, views[name], field)
    reference = _reference_shape(views)
    if reference is None:
        return
    _check_length(config, model_name, reference, views, max_length)
    _check_same_shape(model_name, "token_type_ids", views.get("token_type_ids"), reference)
    has_cache = any(inputs.get(name) is not None for name in CACHE_INPUTS)
    _check_mask(model_name, views.get("attention_mask"), reference, has_cache)


def _as_view(value: Any) -> InputView:
    return value if isinstance(value, InputView) else numpy_view(value)


def _positive_int(config: Any, field: str | None) -> int | None:
    value = getattr(config, field, None) if field else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _check_ids(config: Any, model_name: str, name: str, view: InputView, field: str | None) -> None:
    if view.kind not in ("i", "u"):
        kind = {"b": "bool", "f": "float", "c": "complex"}.get(view.kind, "non-integer")
        raise InputError(
            f"{model_name}: {name} has a {kind} dtype; ids must be integers. Pass the tokenizer's output "
            f"as is, or cast it to int32/int64."
        )
    if view.bounds is None:
        return
    low, high = view.bounds()
    rotary = field == "max_position_embeddings" and getattr(config, "rope_theta", None) is not None
    size = None if rotary else _positive_int(config, field)  # rotary positions have no table to index
    if low < 0:
        raise InputError(
            f"{model_name}: {name} holds {int(low)}; ids must be >= 0 (negative ids never index a row)."
        )
    if size is not None and high >= size:
        raise InputError(
            f"{model_name}: {name} holds {int(high)}, outside [0, {size}) (config.{field} = {size}). "
            "Use the tokenizer that belongs to this checkpoint, or resize the embeddings."
        )


def _reference_shape(views: Mapping[str, InputView]) -> tuple[int | None, ...] | None:
    """[batch..., sequence]: the shape every per-token input must have."""
    if "input_ids" in views:
        return views["input_ids"].shape
    if "inputs_embeds" in views and len(views["inputs_embeds"].shape) >= 2:
        return views["inputs_embeds"].shape[:-1]
    return None


def _check_length(
    config: Any, model_name: str, reference: tuple[int | None, ...], views: Mapping[str, InputView],
    max_length: int | None,
) -> None:  # fmt: skip
    if max_length is None and getattr(config, "rope_theta", None) is None:
        max_length = _positive_int(config, "max_position_embeddings")
    length = reference[-1] if reference else None
    if max_length is None or length is None or length <= max_length:
        return
    name = "input_ids" if "input_ids" in views else "inputs_embeds"
    raise InputError(
        f"{model_name}: {name} is {length} tokens long; this model takes at most {max_length} "
        f"(config.max_position_embeddings = {getattr(config, 'max_position_embeddings', None)}). "
        "Truncate the input (truncation=True in the tokenizer) or split it."
    )


def _check_same_shape(
    model_name: str, name: str, view: InputView | None, reference: tuple[int | None, ...]
) -> None:
    if view is None or _compatible(view.shape, reference, broadcast=True):
        return
    raise InputError(
        f"{model_name}: {name} has shape {_fmt(view.shape)}; it must be {_fmt(reference)}, as input_ids."
    )


def _check_mask(
    model_name: str, view: InputView | None, reference: tuple[int | None, ...], has_cache: bool
) -> None:
    if view is None:
        return
    ok = len(view.shape) == len(reference) and _compatible(view.shape[:-1], reference[:-1], broadcast=False)
    if ok and not _compatible(view.shape[-1:], reference[-1:], broadcast=False):
        ok = has_cache and None not in (view.shape[-1], reference[-1]) and view.shape[-1] >= reference[-1]
    if not ok:
        raise InputError(
            f"{model_name}: attention_mask has shape {_fmt(view.shape)}; it must be {_fmt(reference)}, "
            "one 1/0 entry per token of input_ids. Pass the mask the tokenizer returned with the ids."
        )


def _compatible(shape: tuple[int | None, ...], reference: tuple[int | None, ...], broadcast: bool) -> bool:
    """Equal shapes (unknown dims match anything); with `broadcast`, a 1 may stand for any leading dim."""
    if len(shape) != len(reference):
        return False
    for i, (dim, ref) in enumerate(zip(shape, reference)):
        if dim is None or ref is None or dim == ref:
            continue
        if not (broadcast and dim == 1 and i < len(shape) - 1):
            return False
    return True


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
