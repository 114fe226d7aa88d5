"""`TFPreTrainedModel`: the Keras 3 (TensorFlow backend) base class every rosetta TF model derives from.

Its surface mirrors the torch `PreTrainedModel`. What differs is how weights come to exist:

- Layers are attributes named as torch names its modules (`self.self`, `self.output`,
  `self.LayerNorm`, `self.layer = [...]`), so the path of a weight in the attribute tree, e.g.
  `bert.encoder.layer.0.attention.self.query.kernel`, is its torch name up to the leaf and the
  layout; `rosetta.convert.mapping.canonical_name` does the rest.
- A model creates all its weights at the end of `__init__` (`post_init`) by running once on
  `dummy_inputs`. `from_pretrained` does that inside `init_empty_weights()`, where every
  weight is created with the cheap "zeros" initialiser and remembers its real one; then the
  memory-mapped checkpoint tensors are assigned, and only the weights the checkpoint lacks
  are drawn from their real initialiser.
- `fit`, `evaluate` and `predict` train and score with the model's own loss: compile with no
  loss and put the labels in the inputs (or pass them as `y`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from ...convert.formats.base import bfloat16_dtype
from ...convert.formats.safetensors import aligned_empty, read_native
from ...convert.mapping import (
    canonical_name,
    canonical_shape,
    from_canonical_axes,
    to_canonical,
)
from ...convert.pretrained import PretrainedModelBase, constructor_keywords
from ...core.configuration import PretrainedConfig
from ...core.errors import ConfigError, ConversionError, InputError
from ...core.inputs import CHECKED_INPUTS, InputView, check_model_inputs
from ...core.weights import new_embedding_rows, record_pruned_heads, resized_vocab_size

if keras.backend.backend() != "tensorflow":
    raise ConfigError(
        f"rosetta's TensorFlow models need Keras 3 with the TensorFlow backend, but Keras runs on "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before anything imports keras."
    )

_FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


def tf_input_view(value: Any) -> Any:
    """An `InputView` of a TF tensor or Keras symbolic tensor: values only of eager integer tensors."""
    if not isinstance(value, (tf.Tensor, tf.Variable, keras.KerasTensor)):
        return value  # numpy / lists: `check_model_inputs` reads them itself
    dtype = tf.as_dtype(value.dtype)
    kinds = {"b": dtype.is_bool, "c": dtype.is_complex, "f": dtype.is_floating, "i": dtype.is_integer}
    kind = next((k for k, is_kind in kinds.items() if is_kind), "V")
    shape = tuple(value.shape)

    def bounds() -> tuple[float, float]:
        low, high = tf.stack([tf.reduce_min(value), tf.reduce_max(value)]).numpy().tolist()
        return low, high

    eager = tf.executing_eagerly() and hasattr(value, "numpy")
    has_values = eager and kind == "i" and None not in shape and math.prod(shape) > 0
    return InputView(shape, kind, bounds if has_values else None)


@functools.cache
def _call_names(cls: type) -> tuple[str, ...]:
    return tuple(list(inspect.signature(cls.call).parameters)[1:])


# Arguments of `call` that are switches, not data (left out of datasets and dummy inputs).
_CALL_SWITCHES = frozenset({"training", "output_attentions", "output_hidden_states", "return_dict"})
_LABEL_ALIASES = ("label", "label_ids")


def resolve_tf_dtype(dtype: Any) -> str | None:
    """'float16', tf.float16, 'torch.float16' or a numpy dtype -> 'float16'; None stays None."""
    if dtype is None:
        return None
    name = (
        dtype.name
        if isinstance(dtype, tf.DType)
        else str(np.dtype(dtype) if isinstance(dtype, type) else dtype)
    )
    name = name.removeprefix("torch.").removeprefix("tf.")
    if name not in _FLOAT_DTYPES:
        raise ConfigError(f"Unknown dtype {dtype!r}; use one of {', '.join(_FLOAT_DTYPES)} or 'auto'.")
    return name


def _numpy_dtype(name: str) -> np.dtype:
    return bfloat16_dtype() if name == "bfloat16" else np.dtype(name)


# --------------------------------------------------------------------------------------
# Building without initialising
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def init_empty_weights() -> Iterator[None]:
    """Create every Keras weight with the "zeros" initialiser; each remembers the one it was given.

    The zeros are an untouched calloc'd buffer TF adopts (no memory until written, and the
    checkpoint's buffer replaces it on assign), where a random initialiser costs a draw per element; the real
    initialiser (`variable._rosetta_initializer`) is used later only for weights a checkpoint
    does not provide.
    """
    add_weight = keras.layers.Layer.add_weight

    def add_zero_weight(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> keras.Variable:
        kwargs.update(zip(("shape", "initializer", "dtype"), args))  # Keras 2 positional style
        initializer = kwargs.get("initializer")
        if initializer is None:  # Keras' own default
            dtype = kwargs.get("dtype") or layer.variable_dtype
            initializer = "glorot_uniform" if "float" in str(dtype) else "zeros"
        kwargs["initializer"] = _UntouchedZeros()
        variable = add_weight(layer, **kwargs)
        variable._rosetta_initializer = keras.initializers.get(initializer)
        return variable

    keras.layers.Layer.add_weight = add_zero_weight
    try:
        yield
    finally:
        keras.layers.Layer.add_weight = add_weight


@contextlib.contextmanager
def dtype_policy(dtype: str | None) -> Iterator[None]:
    """Layers created inside hold their weights and compute in `dtype` (None: leave Keras' policy)."""
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --------------------------------------------------------------------------------------
# Layers with torch's attribute semantics, and the walk over them
# --------------------------------------------------------------------------------------
def _swap_tracked(owner: keras.layers.Layer, name: str, value: Any) -> None:
    """Before `owner.<name> = value`: Keras stops tracking what the attribute held, as torch would."""
    old = owner.__dict__.get(name)
    tracker = owner.__dict__.get("_tracker")
    if (
        tracker is None
        or old is None
        or old is value
        or not isinstance(old, (keras.layers.Layer, keras.Variable))
    ):
        return
    if any(v is old for k, v in owner.__dict__.items() if k != name):  # still held under another name
        return
    for store, (accepts, _) in tracker.config.items():
        if tracker.is_in_store(store, old):
            if value is not None and accepts(value) and not tracker.is_in_store(store, value):
                tracker.replace_tracked_value(store, old, value)
            else:
                tracker.untrack(old)


class TFLayer(keras.layers.Layer):
    """A Keras layer whose children are attributes exactly as in the torch module tree.

    Assigning an attribute replaces the layer or weight it held (`attention.self.query =
    prune_dense_layer(...)`, as in torch), and `output` is free for a child layer (Keras
    reserves it for the read-only symbolic output of functional models, unused here).
    Weights of its own are created in `__init__` with `add_weight`, as torch creates them.
    """

    output = None

    def __setattr__(self, name: str, value: Any) -> None:
        _swap_tracked(self, name, value)
        super().__setattr__(name, value)

    def build(self, input_shape: Any = None) -> None:
        """Nothing of its own to create: children create their weights in the first (eager) call.

        Without it, Keras would trace `call` symbolically once per layer to find unbuilt state.
        """


def checkpointed_call(
    owner: keras.layers.Layer, layer: Callable[..., Any], *args: Any, training: bool, **flags: Any
) -> Any:
    """`layer(*args, **flags, training=training)`, its activations recomputed in the backward pass when
    `owner` (the layer loop) has gradient checkpointing on and trains (`tf.recompute_grad`).

    The tensors among `args` (nested tuples allowed, None kept) are the recomputed function's inputs, so
    gradients reach them; `flags` are Python values. Dropout draws the same masks when recomputing: the
    layer's seed generators are set back to their state at the forward pass for it, then restored.
    """
    if not (getattr(owner, "gradient_checkpointing", False) and training):
        return layer(*args, **flags, training=training)
    leaves = tf.nest.flatten(args)
    tensor_at = [i for i, leaf in enumerate(leaves) if tf.is_tensor(leaf)]
    seeds = [
        generator.state
        for sub in layer._flatten_layers(include_self=True, recursive=True)
        for generator in sub._seed_generators
    ]
    forward_seeds = [tf.identity(state.value) for state in seeds]
    structure: dict[str, Any] = {}

    def run(*tensors: tf.Tensor) -> list[tf.Tensor]:
        call_leaves = list(leaves)
        for i, tensor in zip(tensor_at, tensors):
            call_leaves[i] = tensor
        recomputing = "outputs" in structure
        if recomputing:  # the forward pass's dropout masks: its seed states, the current ones kept aside
            later = [tf.identity(state.value) for state in seeds]
            for state, value in zip(seeds, forward_seeds):
                state.assign(value)
        outputs = layer(*tf.nest.pack_sequence_as(args, call_leaves), **flags, training=True)
        if recomputing:
            for state, value in zip(seeds, later):
                state.assign(value)
        flat = tf.nest.flatten(outputs)
        structure["outputs"] = outputs
        structure["present"] = [value is not None for value in flat]
        return [value for value in flat if value is not None]

    computed = iter(tf.recompute_grad(run)(*(leaves[i] for i in tensor_at)))
    flat = [next(computed) if present else None for present in structure["present"]]
    return tf.nest.pack_sequence_as(structure["outputs"], flat)


def named_layers(root: keras.layers.Layer) -> Iterator[tuple[tuple[str, ...], keras.layers.Layer]]:
    """Every layer under `root` once, with its attribute path; a layer held twice (tied) by its first path.

    Children are public attributes holding a layer, or a list/tuple/dict of layers (the
    counterpart of nn.ModuleList / nn.ModuleDict), visited in the order they were assigned.
    """
    seen: set[int] = set()

    def visit(
        layer: keras.layers.Layer, path: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], keras.layers.Layer]]:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield path, layer
        for name, value in vars(layer).items():
            if name.startswith("_"):
                continue
            if isinstance(value, keras.layers.Layer):
                yield from visit(value, (*path, name))
            elif isinstance(value, (list, tuple, Mapping)):
                items = value.items() if isinstance(value, Mapping) else enumerate(value)
                for key, item in items:
                    if isinstance(item, keras.layers.Layer):
                        yield from visit(item, (*path, name, str(key)))

    yield from visit(root, ())


def named_weights(root: keras.layers.Layer) -> Iterator[tuple[tuple[str, ...], keras.Variable]]:
    """Every weight under `root` once: (path of the layer that owns it + the weight's name, weight)."""
    seen: set[int] = set()
    for path, layer in named_layers(root):
        for variable in [*layer._trainable_variables, *layer._non_trainable_variables]:
            if id(variable) not in seen:
                seen.add(id(variable))
                yield (*path, variable.name), variable


# --------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------
_CONSTRUCTING = threading.local()  # the outermost model whose __init__ is running


def _track_outermost(init: Callable) -> Callable:
    """Wrap a model's __init__ so a model built inside another's (a head's base) can tell it is nested."""

    @functools.wraps(init)
    def wrapper(self, *args: Any, **kwargs: Any) -> None:
        outermost = getattr(_CONSTRUCTING, "model", None) is None
        if outermost:
            _CONSTRUCTING.model = self
        try:
            init(self, *args, **kwargs)
        finally:
            if outermost:
                _CONSTRUCTING.model = None
        if (
            outermost and not self.built
        ):  # an __init__ that forgot post_init(): its weights must exist all the same
            self.post_init()

    return wrapper


def without_autotune_stall(data: Any) -> Any:
    """`data`, a `tf.data.Dataset` whose options leave `autotune.enabled` unset, with autotuning off.

    Keras replaces a dataset's iterator at each epoch end and drops the old one when the next epoch (or
    `fit`) begins. Dropping an iterator whose pipeline is autotuned blocks, with the GIL held, until the
    autotuning thread's next wake-up: its period doubles from 10 ms to 10 s, so an epoch of 6 s sat idle
    until 10.23 s after its iterator was made, in about half the fits (measured in
    benchmarks/bench_tf_fit.py; transformers 4.46 under tf_keras stalls alike). With autotuning off,
    AUTOTUNE parallelism takes tf.data's fixed default. A dataset that sets `autotune.enabled` itself is
    left as it is; anything that is not a dataset passes through.
    """
    if not isinstance(data, tf.data.Dataset) or data.options().autotune.enabled is not None:
        return data
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


class TFPreTrainedModel(PretrainedModelBase, keras.Model):
    framework: ClassVar[str] = "tf"

    def __init__(self, config: PretrainedConfig, *args: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.config = self._check_config(config)
        if getattr(config, "_attn_implementation", None) is None:
            self._set_attn_implementation(config, None)

    def __setattr__(self, name: str, value: Any) -> None:
        _swap_tracked(self, name, value)
        super().__setattr__(name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`model(input_ids=..., ...)`, or `model(batch)` with a dict of inputs, as Keras passes them."""
        if args and isinstance(args[0], Mapping):
            kwargs = {**args[0], **kwargs}
            args = args[1:]
        self._check_inputs(args, kwargs)
        return super().__call__(*args, **kwargs)

    def _check_inputs(self, args: tuple, kwargs: dict[str, Any]) -> None:
        """`rosetta.core.inputs` on the call's inputs: shapes and dtypes always, values only in eager mode."""
        inputs = {**dict(zip(_call_names(type(self)), args)), **kwargs}
        views = {name: tf_input_view(value) for name, value in inputs.items() if name in CHECKED_INPUTS}
        views.update((name, inputs[name]) for name in ("past_key_values", "cache") if name in inputs)
        check_model_inputs(self.config, type(self).__name__, views, max_length=self._max_input_length())

    def _max_input_length(self) -> int | None:
        """The longest sequence this model takes; None: `config.max_position_embeddings`. A model whose
        position ids start at an offset (RoBERTa: `pad_token_id + 1`) overrides this."""
        return None

    # -- construction ----------------------------------------------------------------------
    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """A tiny batch the model runs on once to create its weights."""
        vocab_size = getattr(self.config, "vocab_size", 8)
        return {"input_ids": tf.constant([[0, 1, 2], [2, 1, 0]], dtype=tf.int32) % vocab_size}

    def build(self, input_shape: Any = None) -> None:
        """Create every weight: run the model once on `dummy_inputs` (shapes come from the config)."""
        if self.built:
            return
        self.built = True
        if getattr(_CONSTRUCTING, "model", None) not in (None, self):
            return  # nested in another model's build: its layers are created by that one forward
        self(**self.dummy_inputs, training=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _track_outermost(cls.__dict__["__init__"])

    def post_init(self) -> None:
        """Called at the end of every model's __init__: create the weights, prune, tie.

        A model built inside another's __init__ (a head's `bert`) leaves this to the outer model,
        whose one build runs through it too: building it on its own first would run it twice.
        """
        if getattr(_CONSTRUCTING, "model", None) not in (None, self):
            return
        self.build()
        if self.config.pruned_heads:
            self.prune_heads(self.config.pruned_heads)
        self.tie_weights()
        if getattr(self.config, "gradient_checkpointing", False):  # the config switch, as in torch
            self.gradient_checkpointing_enable()

    @property
    def base_model(self) -> keras.layers.Layer:
        return getattr(self, self.base_model_prefix, self)

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        skip = set()
        if exclude_embeddings:  # the embedding tables, not an untied decoder (a Linear in torch)
            skip = {
                id(layer.embeddings)
                for _, layer in named_layers(self)
                if isinstance(layer, keras.layers.Embedding)
            }
            output = self.get_output_embeddings()
            if output is not None and output is not self.get_input_embeddings():
                skip.discard(id(output.embeddings))
        return sum(
            math.prod(v.shape)
            for _, v in named_weights(self)
            if id(v) not in skip and (v.trainable or not only_trainable)
        )

    # -- embeddings ------------------------------------------------------------------------
    def get_input_embeddings(self) -> keras.layers.Embedding:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must define get_input_embeddings")
        return base.get_input_embeddings()

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must define set_input_embeddings")
        base.set_input_embeddings(value)

    def get_output_embeddings(self) -> keras.layers.Embedding | None:
        """The layer whose [vocab, hidden] weight projects onto the vocabulary (None without an LM head)."""
        return None

    def set_output_embeddings(self, value: keras.layers.Embedding) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no output embeddings")

    def get_output_bias(self) -> keras.Variable | None:
        """The bias added to the vocabulary logits (None without an LM head)."""
        return None

    def set_output_bias(self, value: keras.Variable) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no output bias")

    def tie_weights(self) -> None:
        """Make the output embeddings the input embedding layer itself (when the config ties them)."""
        output = self.get_output_embeddings()
        if output is not None and getattr(self.config, "tie_word_embeddings", True):
            embeddings = self.get_input_embeddings()
            if output is not embeddings:
                self.set_output_embeddings(embeddings)

    def resize_token_embeddings(
        self,
        new_num_tokens: int | None = None,
        pad_to_multiple_of: int | None = None,
        mean_resizing: bool = True,
    ) -> keras.layers.Embedding:
        """Grow or shrink the vocabulary; old rows kept, new rows drawn around the old rows' mean."""
        old = self.get_input_embeddings()
        new_num_tokens = resized_vocab_size(old.input_dim, new_num_tokens, pad_to_multiple_of)
        if new_num_tokens is None:
            return old
        keep = min(old.input_dim, new_num_tokens)
        self.set_input_embeddings(_resized_embedding(old, new_num_tokens, mean_resizing, self.config))
        bias = self.get_output_bias()
        if bias is not None:
            values = np.zeros((new_num_tokens,), dtype=_numpy_dtype(bias.dtype))
            values[:keep] = bias.numpy()[:keep]
            self.set_output_bias(
                keras.Variable(values, dtype=bias.dtype, trainable=bias.trainable, name=bias.name)
            )
        output = self.get_output_embeddings()
        if output is not None and not getattr(self.config, "tie_word_embeddings", True):
            self.set_output_embeddings(_resized_embedding(output, new_num_tokens, mean_resizing, self.config))
        self.config.vocab_size = new_num_tokens
        self.tie_weights()
        return self.get_input_embeddings()

    # -- memory ------------------------------------------------------------------------------
    def _set_gradient_checkpointing(self, enabled: bool) -> None:
        for layer in self._flatten_layers(include_self=True, recursive=True):
            object.__setattr__(layer, "gradient_checkpointing", enabled)
        # compiled `fit`/`evaluate`/`predict` steps traced the loop as it was: trace them anew
        self.train_function = self.test_function = self.predict_function = None

    # -- pruning -----------------------------------------------------------------------------
    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        record_pruned_heads(self.config, heads_to_prune)
        self.base_model._prune_heads({int(k): list(v) for k, v in heads_to_prune.items()})

    # -- weights by canonical name ----------------------------------------------------------
    def canonical_weights(self) -> dict[str, tuple[keras.Variable, str]]:
        """Canonical name -> (weight, layout), each weight once; every mapping problem raised together."""
        weights: dict[str, tuple[keras.Variable, str]] = {}
        paths: dict[str, str] = {}
        problems = []
        reached = set()
        for path, variable in named_weights(self):
            reached.add(id(variable))
            name, layout = canonical_name(path, len(variable.shape))
            name = self._canonical_renames.get(name, name)
            layout = self.layout_of(name, layout)
            native = ".".join(path)
            if path[-1] == "kernel" and layout == "identity" and not self._layout_overrides:
                problems.append(f"{native}: a kernel of rank {len(variable.shape)} has no canonical layout")
            if name in weights:
                problems.append(f"{native} and {paths[name]} both map to the canonical name {name!r}")
            weights[name] = (variable, layout)
            paths[name] = native
        problems.extend(
            f"{v.path}: not reachable through public layer attributes, so it has no canonical name"
            for v in self.weights
            if id(v) not in reached
        )
        if problems:
            raise ConversionError(
                f"{len(problems)} weight(s) of {type(self).__name__} do not map to canonical names:\n  "
                + "\n  ".join(problems)
            )
        return weights

    def canonical_state_dict(self) -> dict[str, np.ndarray]:
        """The weights under canonical names, in PyTorch layouts, as numpy (transposes are views)."""
        return {
            name: to_canonical(variable.numpy(), layout)
            for name, (variable, layout) in self.canonical_weights().items()
        }

    # -- the hooks of PretrainedModelBase -----------------------------------------------------------
    @property
    def weights_dtype_name(self) -> str:
        """The dtype name of the floating weights ('float32', 'float16', 'bfloat16')."""
        return next(v.dtype for _, v in named_weights(self) if "float" in v.dtype)

    @classmethod
    def _resolve_dtype(cls, dtype: Any) -> str | None:
        return resolve_tf_dtype(dtype)

    @classmethod
    def _constructor_keywords(cls) -> set[str]:
        return constructor_keywords(cls.__init__)

    @classmethod
    def _build_empty(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ) -> TFPreTrainedModel:
        with init_empty_weights(), dtype_policy(dtype):
            return cls(config, *model_args, **model_kwargs)

    @classmethod
    def _build_initialised(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ) -> TFPreTrainedModel:
        with dtype_policy(dtype):
            return cls(config, *model_args, **model_kwargs)

    def _weight_layouts(self) -> dict[str, tuple[tuple[int, ...], str]]:
        weights = self.canonical_weights()
        self.__dict__["_loading"] = weights  # kept for `_assign`; not a tracked attribute
        return {name: (canonical_shape(v.shape, layout), layout) for name, (v, layout) in weights.items()}

    def _assign(self, name: str, array: np.ndarray, layout: str, dtype: Any) -> None:
        variable = self._loading[name][0]
        variable.assign(_native_array(array, layout, variable.dtype))

    def _initialise_missing(self, names: Any, dtype: Any) -> None:
        weights = self.__dict__.pop("_loading", None) or self.canonical_weights()
        for name in names:
            if name in weights:
                _initialise(weights[name][0])

    def _to_native(self, value: Any) -> tf.Tensor:
        return tf.convert_to_tensor(value)

    def _to_numpy(self, value: Any) -> Any:
        return value.numpy() if isinstance(value, (tf.Tensor, tf.Variable)) else value

    def _call_for_numpy(self, native: dict[str, Any], **kwargs: Any) -> Any:
        return self(**native, training=False, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    @classmethod
    def from_config(
        cls, config: PretrainedConfig | dict[str, Any], *model_args: Any, **kwargs: Any
    ) -> TFPreTrainedModel:
        """As every backend's; also Keras' `from_config(get_config(), custom_objects)`."""
        kwargs.pop("custom_objects", None)
        return super().from_config(config, *model_args, **kwargs)

    # -- Keras training ----------------------------------------------------------------------------
    def _input_names(self) -> list[str]:
        return [name for name in inspect.signature(self.call).parameters if name not in _CALL_SWITCHES]

    def _with_labels(self, data: Any) -> tuple[dict[str, Any], Any, Any]:
        """(x, y, sample_weight) with `y` also inside x: under "labels", or under its own keys if a dict."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, Mapping):
            x = {self.main_input_name: x}
        x = dict(x)
        if isinstance(y, Mapping):
            x.update(y)
        elif y is not None:
            x["labels"] = y
        return x, y, sample_weight

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """keras.Model.compile; with no `loss`, fit trains on the model's own loss."""
        super().compile(*args, **kwargs)
        if self.optimizer is not None and not self.optimizer.built:
            # The weights exist already: create the optimizer's slots now, not while tracing the
            # first train step (which makes TensorFlow trace it twice).
            self.optimizer.build(self.trainable_variables)

    def fit(self, x: Any = None, *args: Any, **kwargs: Any) -> Any:
        """keras.Model.fit, with tf.data's autotuning off for a dataset that leaves it unset (see
        `without_autotune_stall`); `validation_data` likewise."""
        if "validation_data" in kwargs:
            kwargs["validation_data"] = without_autotune_stall(kwargs["validation_data"])
        return super().fit(without_autotune_stall(x), *args, **kwargs)

    def evaluate(self, x: Any = None, *args: Any, **kwargs: Any) -> Any:
        return super().evaluate(without_autotune_stall(x), *args, **kwargs)

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return super().predict(without_autotune_stall(x), *args, **kwargs)

    def train_step(self, data: Any) -> dict[str, Any]:
        return super().train_step(self._with_labels(data))

    def test_step(self, data: Any) -> dict[str, Any]:
        return super().test_step(self._with_labels(data))

    def predict_step(self, data: Any) -> dict[str, Any]:
        x, _, _ = self._with_labels(data)
        outputs = self(**x, training=False, return_dict=True)
        return {key: value for key, value in outputs.items() if key != "loss"}

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> tf.Tensor:
        """The loss compile() was given, if any; otherwise the model's own loss from the labels in x.

        The model's own loss is the one its `call` returns (as in torch: a mean over the batch), so
        `sample_weight` applies only to a compiled loss.
        """
        if self._compile_loss is not None:
            return super().compute_loss(x, _labels_of(x, y), _predictions_of(y_pred), sample_weight, training)
        loss = y_pred.get("loss") if isinstance(y_pred, Mapping) else None
        if loss is None:
            raise InputError(
                f"{type(self).__name__} computes its own loss only when the inputs hold the labels. Put them in the "
                "batch (e.g. a 'labels' column) or pass them as `y`, or give compile() a `loss`."
            )
        loss = loss + sum(self.losses) if self.losses else loss
        return _per_replica(loss)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, Any]:
        """compile()'s metrics see the labels and the logits (the first output after the loss)."""
        return super().compute_metrics(x, _labels_of(x, y), _predictions_of(y_pred), sample_weight)

    def prepare_tf_dataset(
        self,
        dataset: Any,
        batch_size: int = 8,
        shuffle: bool = True,
        collate_fn: Callable[[list[dict[str, Any]]], Mapping[str, Any]] | None = None,
        drop_remainder: bool = False,
    ) -> tf.data.Dataset:
        """A `tf.data.Dataset` of dict batches that `fit`, `evaluate` and `predict` consume.

        `dataset` is a list of example dicts, a dict of equal-length columns, or a
        `datasets.Dataset`. Only the columns `call` accepts are kept ("label" and "label_ids" are
        read as "labels"). Without `collate_fn` the columns must already be rectangular; with
        it, each batch is the `collate_fn` of its list of examples (e.g. a padding collator),
        reshuffled every epoch when `shuffle`.
        """
        accepted = set(self._input_names())
        columns = _as_columns(dataset)
        num_examples = len(next(iter(columns.values()))) if columns else 0
        if num_examples == 0:
            raise InputError("prepare_tf_dataset got an empty dataset.")
        if collate_fn is None:
            arrays = {k: _rectangular(k, v) for k, v in _keep_accepted(columns, accepted).items()}
            ds = tf.data.Dataset.from_tensor_slices(arrays)
            if shuffle:
                ds = ds.shuffle(num_examples, reshuffle_each_iteration=True)
            return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

        def example(i: int) -> dict[str, Any]:
            return {k: v[i] for k, v in columns.items()}

        def batch_of(indices: Sequence[int]) -> dict[str, np.ndarray]:
            batch = _keep_accepted(dict(collate_fn([example(int(i)) for i in indices])), accepted)
            return {k: np.asarray(v) for k, v in batch.items()}

        num_batches = num_examples // batch_size if drop_remainder else math.ceil(num_examples / batch_size)
        if num_batches == 0:
            raise InputError(
                f"drop_remainder=True with batch_size={batch_size} leaves no batch of {num_examples} examples."
            )

        def batches() -> Iterator[dict[str, np.ndarray]]:
            order = np.random.permutation(num_examples) if shuffle else np.arange(num_examples)
            for b in range(num_batches):
                yield batch_of(order[b * batch_size : (b + 1) * batch_size])

        first = batch_of(range(min(batch_size, num_examples)))
        signature = {k: tf.TensorSpec((None,) * v.ndim, tf.as_dtype(v.dtype)) for k, v in first.items()}
        ds = tf.data.Dataset.from_generator(batches, output_signature=signature)
        return ds.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _per_replica(loss: tf.Tensor) -> tf.Tensor:
    """The model's own loss (a mean over this replica's batch) as a share of the global batch's mean.

    Under a `tf.distribute` strategy Keras sums the replicas' gradients and multiplies the tracked loss
    back by the replica count, as it does for its own `Loss` objects; one device: unchanged.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def _native_array(array: np.ndarray, layout: str, dtype: str) -> tf.Tensor:
    """A checkpoint tensor in the weight's layout and dtype, as a TF tensor over one host buffer.

    The tensor is read, transposed and cast in bounded chunks into an aligned host buffer
    (`read_native`, which drops the mapped pages it has copied), and TensorFlow adopts that
    buffer through DLPack without a copy; `variable.assign` of it then takes the buffer over as
    the variable's storage (on a CPU device) and frees the one the variable was built with.
    """
    return _adopt(read_native(array, from_canonical_axes(layout), _numpy_dtype(dtype)))


def _adopt(host: np.ndarray) -> tf.Tensor:
    """A TF tensor over `host`'s memory (DLPack; bfloat16, which DLPack lacks in numpy, as its bits)."""
    if host.dtype == bfloat16_dtype():
        return tf.bitcast(_adopt(host.view(np.uint16)), tf.bfloat16)
    try:
        return tf.experimental.dlpack.from_dlpack(host.__dlpack__())
    except (BufferError, TypeError, ValueError):  # a dtype DLPack cannot carry: one copy instead
        return tf.convert_to_tensor(host)


class _UntouchedZeros(keras.initializers.Initializer):
    """Zeros in a calloc'd host buffer TensorFlow adopts: a weight built with it takes no resident memory
    until it is written, so a load holds only the buffers `_native_array` reads the checkpoint into."""

    def __call__(self, shape: Any, dtype: Any = None) -> tf.Tensor:
        name = keras.backend.standardize_dtype(dtype or keras.config.floatx())
        return _adopt(aligned_empty(tuple(shape), _numpy_dtype(name), zeroed=True))


def _initialise(variable: keras.Variable) -> None:
    """Give a weight built by `init_empty_weights` the value of its real initialiser."""
    initializer = getattr(variable, "_rosetta_initializer", None)
    if initializer is not None:
        variable.assign(initializer(variable.shape, dtype=variable.dtype))


def _resized_embedding(
    old: keras.layers.Embedding, num_rows: int, mean_resizing: bool, config: PretrainedConfig
) -> keras.layers.Embedding:
    """A new Embedding with `num_rows` rows: the old ones kept, the rest from `_new_rows`."""
    weight = old.embeddings.numpy()
    keep = min(weight.shape[0], num_rows)
    values = weight[:keep]
    if num_rows > keep:
        values = np.concatenate([values, _new_rows(weight, num_rows - keep, mean_resizing, config)])
    with init_empty_weights():
        new = keras.layers.Embedding(
            num_rows,
            weight.shape[1],
            embeddings_initializer=old.embeddings_initializer,
            dtype=old.dtype_policy,
            name=old.name,
        )
        new.build(None)
    new.embeddings.assign(values)
    return new


def _new_rows(weight: np.ndarray, count: int, mean_resizing: bool, config: PretrainedConfig) -> np.ndarray:
    seed = int(
        tf.random.uniform((), maxval=2**31 - 1, dtype=tf.int64)
    )  # governed by keras.utils.set_random_seed
    rows = new_embedding_rows(
        weight, count, mean_resizing, getattr(config, "initializer_range", 0.02), np.random.default_rng(seed)
    )
    return rows.astype(weight.dtype)


def _labels_of(x: Any, y: Any) -> Any:
    if y is None and isinstance(x, Mapping):
        return x.get("labels")
    return y


def _predictions_of(y_pred: Any) -> Any:
    """The logits of a model output (its first entry after the loss)."""
    if not isinstance(y_pred, Mapping):
        return y_pred
    if "logits" in y_pred:
        return y_pred["logits"]
    return next(v for k, v in y_pred.items() if k != "loss")


def _as_columns(dataset: Any) -> dict[str, Sequence[Any]]:
    """A list of example dicts, a dict of columns or a `datasets.Dataset` -> a dict of columns."""
    if hasattr(dataset, "column_names") and hasattr(dataset, "with_format"):  # datasets.Dataset
        columns = {name: dataset[name] for name in dataset.column_names}
    elif isinstance(dataset, Mapping):
        columns = dict(dataset)
    elif isinstance(dataset, Sequence) and all(isinstance(e, Mapping) for e in dataset):
        keys = list(dataset[0]) if dataset else []
        columns = {k: [e[k] for e in dataset] for k in keys}
    else:
        raise InputError(
            f"prepare_tf_dataset takes a list of example dicts, a dict of columns or a datasets.Dataset, "
            f"got {type(dataset).__name__}."
        )
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"prepare_tf_dataset needs columns of one length, got {lengths}.")
    return columns


def _keep_accepted(columns: dict[str, Any], accepted: set[str]) -> dict[str, Any]:
    if "labels" not in columns:
        for alias in _LABEL_ALIASES:
            if alias in columns:
                columns = {("labels" if k == alias else k): v for k, v in columns.items()}
                break
    return {k: v for k, v in columns.items() if k in accepted}


def _rectangular(name: str, column: Sequence[Any]) -> np.ndarray:
    try:
        array = np.asarray(column)
    except ValueError:
        array = np.empty(0, dtype=object)
    if array.dtype == object:
        raise InputError(
            f"Column {name!r} holds sequences of different lengths. Pad them first, or pass a collate_fn "
            "that pads each batch."
        )
    return array
