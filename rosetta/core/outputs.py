"""`ModelOutput`: one container for the outputs of every backend.

A dataclass whose fields may hold torch, TensorFlow, JAX or numpy values. Fields left at
`None` are not part of it: key access, iteration, `to_tuple()` and integer indexing all skip
them, as users of Hugging Face outputs expect (`outputs[0]` is the loss when labels were
given, the logits otherwise). When JAX is in use, every output class is a registered
pytree, so jitted functions can return them.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

_REGISTERED_WITH_JAX: set[type] = set()


def _register_pytree(cls: type) -> None:
    import jax

    if cls in _REGISTERED_WITH_JAX:
        return
    names = [f.name for f in fields(cls)]

    def flatten(output):
        return [getattr(output, name) for name in names], None

    def unflatten(_, children):
        return cls(**dict(zip(names, children)))

    jax.tree_util.register_pytree_node(cls, flatten, unflatten)
    _REGISTERED_WITH_JAX.add(cls)


def register_all_with_jax() -> None:
    """Register every output class defined so far; later ones register themselves."""
    stack = list(ModelOutput.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "__dataclass_fields__" in vars(cls):
            _register_pytree(cls)


class ModelOutput(OrderedDict):
    def __post_init__(self) -> None:
        self._fill_from_pairs()
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                super().__setitem__(f.name, value)
        if sys.modules.get("jax") is not None:  # jax imported (a blocked import leaves None)
            _register_pytree(type(self))

    def _fill_from_pairs(self) -> None:
        """Accept `Output([(name, value), ...])`, the way TensorFlow rebuilds a mapping.

        `tf.function` hands its outputs back as `type(output)(pairs)`: a list or generator of
        (field name, value) pairs in the first field, every other field None.
        """
        names = [f.name for f in fields(self)]
        first = getattr(self, names[0])
        if not isinstance(first, (list, Iterator, Mapping)) or any(
            getattr(self, n) is not None for n in names[1:]
        ):
            return
        pairs = list(first.items() if isinstance(first, Mapping) else first)
        if not pairs or not all(isinstance(p, tuple) and len(p) == 2 and p[0] in names for p in pairs):
            if isinstance(first, Iterator):
                object.__setattr__(self, names[0], pairs)
            return
        object.__setattr__(self, names[0], None)
        for name, value in pairs:
            object.__setattr__(self, name, value)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.keys() and value is not None:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __reduce__(self):
        return type(self), tuple(getattr(self, f.name) for f in fields(self))

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self[k] for k in self.keys())


def finish_output(output: ModelOutput, return_dict: bool) -> ModelOutput | tuple[Any, ...]:
    """What a model's forward returns: the output itself, or its fields as a tuple when `return_dict` is False."""
    return output if return_dict else output.to_tuple()


@dataclass
class BaseModelOutput(ModelOutput):
    last_hidden_state: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class BaseModelOutputWithPooling(ModelOutput):
    last_hidden_state: Any = None
    pooler_output: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class BaseModelOutputWithPast(ModelOutput):
    last_hidden_state: Any = None
    past_key_values: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class CausalLMOutputWithPast(ModelOutput):
    loss: Any = None
    logits: Any = None
    past_key_values: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class PreTrainingOutput(ModelOutput):
    loss: Any = None
    prediction_logits: Any = None
    seq_relationship_logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class MaskedLMOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class NextSentencePredictorOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class MultipleChoiceModelOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: Any = None
    start_logits: Any = None
    end_logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class ImageClassifierOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class Seq2SeqModelOutput(ModelOutput):
    last_hidden_state: Any = None
    past_key_values: Any = None
    decoder_hidden_states: Any = None
    decoder_attentions: Any = None
    cross_attentions: Any = None
    encoder_last_hidden_state: Any = None
    encoder_hidden_states: Any = None
    encoder_attentions: Any = None


@dataclass
class Seq2SeqLMOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    past_key_values: Any = None
    decoder_hidden_states: Any = None
    decoder_attentions: Any = None
    cross_attentions: Any = None
    encoder_last_hidden_state: Any = None
    encoder_hidden_states: Any = None
    encoder_attentions: Any = None


@dataclass
class CausalLMOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None
