"""`FlaxPreTrainedModel`: the Flax base class every rosetta JAX/Flax model derives from.

A model is a linen module (`module_class`, built from the config) plus a `params` pytree. The
module tree mirrors the torch one: submodules carry torch's attribute names and list entries
are named "0", "1", ..., so a params path such as `bert/encoder/layer/0/attention/self/query/kernel`
maps to its canonical name (`bert.encoder.layer.0.attention.self.query.weight`, transposed) by the
generic rules of `rosetta.convert.mapping`, and checkpoints are the same files torch reads and writes.

Parameter values never come from the linen modules' own initialisers: `jax.eval_shape` of the
module's `init` gives the shapes, and `init_weights` fills them by `_init_weights`, the rules the
torch backend applies, drawn on the host with numpy (no per-shape XLA compilation) and put on the
device once. So loading a checkpoint initialises only the weights it lacks.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from ...convert.formats.safetensors import read_native
from ...convert.mapping import canonical_name, canonical_shape, from_canonical_axes, to_canonical
from ...convert.pretrained import PretrainedModelBase, constructor_keywords
from ...core.configuration import PretrainedConfig
from ...core.errors import ConfigError, InputError
from ...core.generation_utils import check_cache_fits, logits_to_keep_count
from ...core.inputs import InputView, check_model_inputs
from ...core.weights import new_embedding_rows, record_pruned_heads, resized_vocab_size
from .flax_utils import REMAT_FLAG
from .sharding import Placement, make_placement, place_params, sharded_param

Params = dict[str, Any]
Path = tuple[str, ...]

_DTYPES = {"float32": jnp.float32, "float16": jnp.float16, "bfloat16": jnp.bfloat16, "float64": jnp.float64}
# The arguments of a model call that are Python values, not arrays: each combination compiles once.
_STATIC_ARGS = ("train", "output_attentions", "output_hidden_states", "return_dict", "static_inputs")
# Inputs that set shapes (Python ints, checked by these): part of the trace key, never traced.
_STATIC_INPUTS = {"logits_to_keep": logits_to_keep_count}
# Module kinds by which parameters are initialised (as torch's `_init_weights` goes by module type).
_LINEAR_KINDS = (nn.Dense, nn.DenseGeneral, nn.Conv, nn.ConvTranspose)
_NORM_KINDS = (nn.LayerNorm, nn.RMSNorm, nn.GroupNorm)
_FLAG_ARGS = ("output_attentions", "output_hidden_states", "return_dict", "deterministic")


def resolve_jax_dtype(dtype: Any) -> np.dtype | None:
    """ "float16", "torch.bfloat16", jnp.float32, np.dtype(...) -> the numpy dtype JAX uses; None stays None."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.")
    else:
        try:
            name = jnp.dtype(dtype).name
        except TypeError:
            name = None
    if name not in _DTYPES:
        raise ConfigError(f"Unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)} or 'auto'.")
    return jnp.dtype(_DTYPES[name])


def jax_input_view(value: Any) -> Any:
    """An `InputView` of a jax array, checked on the host before the compiled call: a traced value
    gives its shape and dtype only, an array on an accelerator one (min, max) transfer."""
    if not isinstance(value, jax.Array):
        return value  # numpy / lists: `check_model_inputs` reads them on the host as they are
    dtype = np.dtype(value.dtype)
    kind = "f" if dtype.name == "bfloat16" else dtype.kind
    on_host = not isinstance(value, jax.core.Tracer) and all(d.platform == "cpu" for d in value.devices())

    def bounds() -> tuple[float, float]:
        if on_host:
            array = np.asarray(value)
            return array.min().item(), array.max().item()
        low, high = jax.device_get((jnp.min(value), jnp.max(value)))
        return low.item(), high.item()

    has_values = not isinstance(value, jax.core.Tracer) and kind in "iu" and value.size > 0
    return InputView(tuple(value.shape), kind, bounds if has_values else None)


class FlaxPreTrainedModel(PretrainedModelBase):
    """A linen module and its params, with loading, saving, resizing and pruning as in the torch backend.

    Args:
        config: The model's configuration.
        input_shape: Shape of the dummy `input_ids` the module is traced with to learn its parameter shapes.
        seed: Seed of the PRNG key parameters are initialised from.
        dtype: Dtype of the parameters and of the computation (as `model.to(dtype)` in torch).
        _do_init: Initialise the parameters now. `False` builds only their shapes (`params_shape_tree`);
            `from_pretrained` uses it to fill them from the checkpoint instead.
        gradient_checkpointing: Recompute each layer's activations in the backward pass (`nn.remat`)
            instead of keeping them, as `enable_gradient_checkpointing()` does; `config.gradient_checkpointing`
            turns it on too.
    """

    module_class: ClassVar[type[nn.Module]]
    # The word embedding matrix, relative to the base model (torch's `get_input_embeddings`).
    _input_embeddings_path: ClassVar[Path] = ()
    # An untied LM decoder's kernel and the vocabulary bias, in the head model's tree (`get_output_embeddings`).
    _output_embeddings_path: ClassVar[Path] = ()
    _output_bias_path: ClassVar[Path] = ()
    # (regex on the "/"-joined params path, PartitionSpec) tried before the default rules on a mesh.
    _partition_rules: ClassVar[tuple[tuple[str, Any], ...]] = ()
    framework: ClassVar[str] = "flax"

    def __init__(
        self,
        config: PretrainedConfig,
        input_shape: tuple[int, ...] = (1, 1),
        seed: int = 0,
        dtype: Any = jnp.float32,
        _do_init: bool = True,
        gradient_checkpointing: bool = False,
        **module_kwargs: Any,
    ):
        self.config = self._check_config(config)
        self._gradient_checkpointing = False
        if gradient_checkpointing or getattr(config, "gradient_checkpointing", False):
            self._check_gradient_checkpointing()
            self._gradient_checkpointing = True
        if getattr(config, "_attn_implementation", None) is None:
            self._set_attn_implementation(config, None)
        self.input_shape = tuple(input_shape)
        self.key = jax.random.PRNGKey(seed)
        self.dtype = resolve_jax_dtype(dtype) or jnp.dtype(jnp.float32)
        self._module_kwargs = module_kwargs
        self._build_module()
        self._params: Params | None = self.init_weights(self.key, self.input_shape) if _do_init else None

    # -- construction ----------------------------------------------------------------------
    def _build_module(self) -> None:
        """(Re)build the linen module from the config: its parameter shapes, and a fresh compiled call."""
        config = self.config
        if self._gradient_checkpointing:  # the module's own copy says so; the model's config stays as it was
            config = copy.copy(config)
            setattr(config, REMAT_FLAG, True)
        self.module = self.module_class(config=config, dtype=self.dtype, **self._module_kwargs)
        self._params_shape_tree, self._param_paths = self._shape_tree(self.input_shape)
        self._jitted_forward = None

    def _dummy_inputs(self, input_shape: tuple[int, ...]) -> dict[str, jax.Array]:
        """The inputs the module is traced with to learn its parameter shapes (a model with other
        inputs, e.g. `pixel_values`, overrides this)."""
        return {self.main_input_name: jnp.zeros(input_shape, dtype=jnp.int32)}

    def _shape_tree(self, input_shape: tuple[int, ...]) -> tuple[Params, list[Path]]:
        """The params tree as `jax.ShapeDtypeStruct`s (the module traced, nothing computed), and the
        parameter paths in creation order, which is torch's registration order (`state_dict()` order,
        the order loading reports keys in) since the modules' calls follow torch's forward. The kind
        of module that owns each parameter is recorded on the way, for `_init_weights`."""
        inputs = self._dummy_inputs(input_shape)
        paths: list[Path] = []
        kinds: dict[Path, type] = {}

        def record_kind(next_fun: Any, args: Any, kwargs: Any, context: Any) -> Any:
            kinds.setdefault(tuple(context.module.path), type(context.module))
            return next_fun(*args, **kwargs)

        def init(rng: jax.Array) -> Params:
            with nn.intercept_methods(record_kind):
                params = self.module.init(rng, **inputs)["params"]
            paths.extend(flatten_dict(params))  # before JAX's pytree handling sorts the keys
            return params

        shapes = jax.eval_shape(init, self.key)
        self._module_kinds = {path: kinds.get(path[:-1], nn.Module) for path in paths}
        return shapes, paths

    @property
    def params_shape_tree(self) -> Params:
        return self._params_shape_tree

    @property
    def params(self) -> Params:
        if self._params is None:
            raise InputError(
                f"This {type(self).__name__} was built with _do_init=False and has no params yet. "
                "Set model.params = model.init_weights(rng, input_shape), or pass params= to each call."
            )
        return self._params

    @params.setter
    def params(self, params: Params) -> None:
        expected = {p: tuple(leaf.shape) for p, leaf in flatten_dict(self._params_shape_tree).items()}
        given = {p: tuple(np.shape(leaf)) for p, leaf in flatten_dict(params).items()}
        problems = [f"missing {'/'.join(p)}" for p in expected if p not in given]
        problems += [f"unexpected {'/'.join(p)}" for p in given if p not in expected]
        problems += [
            f"{'/'.join(p)}: shape {given[p]} vs expected {shape}"
            for p, shape in expected.items()
            if p in given and given[p] != shape
        ]
        if problems:
            raise InputError(f"These params do not fit {type(self).__name__}:\n  " + "\n  ".join(problems))
        self._params = params

    def init_weights(
        self, rng: jax.Array, input_shape: tuple[int, ...], params: Params | None = None
    ) -> Params:
        """Initial params; with `params`, only the leaves it lacks are initialised and the rest kept as given."""
        if tuple(input_shape) == self.input_shape:
            shapes, paths = self._params_shape_tree, self._param_paths
        else:
            shapes, paths = self._shape_tree(tuple(input_shape))
        flat_shapes = flatten_dict(shapes)
        given = flatten_dict(params) if params is not None else {}
        generator = _numpy_generator(rng)
        flat = {
            path: given[path]
            if path in given
            else jax.device_put(self._init_weights(generator, path, flat_shapes[path]))
            for path in paths
        }
        return unflatten_dict(flat)

    def _init_weights(self, rng: np.random.Generator, path: Path, leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        """One parameter's initial value by the kind of module that owns it, as torch's rules go:
        Normal(0, initializer_range) for Dense/Conv kernels and embeddings (the padding row of the word
        embeddings zeroed), ones for norm scales, zeros for biases and anything else."""
        kind = self._module_kinds.get(path, nn.Module)
        name = path[-1]
        if (issubclass(kind, _LINEAR_KINDS) and name == "kernel") or (
            issubclass(kind, nn.Embed) and name == "embedding"
        ):
            std = getattr(self.config, "initializer_range", 0.02)
            value = (rng.standard_normal(leaf.shape, dtype=np.float32) * std).astype(leaf.dtype)
            pad = getattr(self.config, "pad_token_id", None)
            if path == self._input_embeddings_full_path() and pad is not None and 0 <= pad < leaf.shape[0]:
                value[pad] = 0
            return value
        if issubclass(kind, _NORM_KINDS) and name == "scale":
            return np.ones(leaf.shape, leaf.dtype)
        return np.zeros(leaf.shape, leaf.dtype)

    def _base_path(self) -> Path:
        """Where the base model sits in this model's params: `("bert",)` in a head model, `()` in the base."""
        prefix = self.base_model_prefix
        return (prefix,) if prefix and prefix in self._params_shape_tree else ()

    def _input_embeddings_full_path(self) -> Path:
        return (*self._base_path(), *self._input_embeddings_path) if self._input_embeddings_path else ()

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        leaves = flatten_dict(self._params_shape_tree)
        return sum(
            math.prod(leaf.shape)
            for path, leaf in leaves.items()
            if not (exclude_embeddings and path[-1] == "embedding")
        )

    # -- memory ------------------------------------------------------------------------------
    def enable_gradient_checkpointing(self) -> None:
        """transformers' Flax name for `gradient_checkpointing_enable()`; the same as
        `gradient_checkpointing=True` at construction."""
        self.gradient_checkpointing_enable()

    @property
    def is_gradient_checkpointing(self) -> bool:
        return self._gradient_checkpointing

    def _set_gradient_checkpointing(self, enabled: bool) -> None:
        self._gradient_checkpointing = enabled
        self._build_module()  # the module's layers are remat-ed (or not): the next call compiles anew

    # -- calling -----------------------------------------------------------------------------
    def __call__(
        self,
        *args: Any,
        params: Params | None = None,
        dropout_rng: jax.Array | None = None,
        train: bool = False,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **inputs: Any,
    ) -> Any:
        """Run the model, compiled: one trace per input shapes and flags, reused by every later call.

        Inputs are those the module's `__call__` declares (positionally in its order, or by name).
        Dropout applies only with `train=True`, which needs a `dropout_rng`.
        """
        names = self._input_names()
        if len(args) > len(names):
            raise InputError(
                f"{type(self).__name__} takes at most {len(names)} positional inputs ({', '.join(names)})."
            )
        for name, value in zip(names, args):
            if name in inputs:
                raise InputError(f"{type(self).__name__} got {name!r} both positionally and by name.")
            inputs[name] = value
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise InputError(f"{type(self).__name__} got unexpected inputs {unknown}; it takes {names}.")
        static_inputs = tuple((k, check(inputs.pop(k))) for k, check in _STATIC_INPUTS.items() if k in inputs)
        views = {k: jax_input_view(v) for k, v in inputs.items()}
        check_model_inputs(self.config, type(self).__name__, views, self._max_input_length())
        _check_cache_room(inputs)
        inputs = {
            k: v if isinstance(v, jax.Array) else jax.tree_util.tree_map(jnp.asarray, v)
            for k, v in inputs.items()
            if v is not None
        }
        if train and dropout_rng is None:
            raise InputError(
                "train=True applies dropout, which needs a key: pass dropout_rng=jax.random.PRNGKey(...)."
            )
        if self._jitted_forward is None:
            self._jitted_forward = jax.jit(self._forward, static_argnames=_STATIC_ARGS)
        config = self.config
        return self._jitted_forward(
            self.params if params is None else params,
            inputs,
            dropout_rng if train else None,
            train=bool(train),
            output_attentions=bool(
                config.output_attentions if output_attentions is None else output_attentions
            ),
            output_hidden_states=bool(
                config.output_hidden_states if output_hidden_states is None else output_hidden_states
            ),
            return_dict=bool(config.return_dict if return_dict is None else return_dict),
            # only when given: a model with its own `_forward` (ViT, CLIP) takes none of these inputs
            **({"static_inputs": static_inputs} if static_inputs else {}),
        )

    def _max_input_length(self) -> int | None:
        """The longest sequence this model takes; None: `config.max_position_embeddings`. A model whose
        position ids start at an offset (RoBERTa: `pad_token_id + 1`) overrides this."""
        return None

    def _forward(
        self,
        params: Params,
        inputs: dict[str, jax.Array],
        dropout_rng: jax.Array | None,
        train: bool,
        output_attentions: bool,
        output_hidden_states: bool,
        return_dict: bool,
        static_inputs: tuple[tuple[str, Any], ...] = (),
    ) -> Any:
        """The traced body of `__call__` (Python here runs once per trace, not per call)."""
        return self.module.apply(
            {"params": params},
            **inputs,
            **dict(static_inputs),
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=return_dict,
            deterministic=not train,
            rngs={"dropout": dropout_rng} if dropout_rng is not None else {},
        )

    def _input_names(self) -> list[str]:
        """The inputs the module's `__call__` declares, in its order."""
        signature = inspect.signature(self.module_class.__call__)
        return [name for name in list(signature.parameters)[1:] if name not in _FLAG_ARGS]

    # -- embeddings ------------------------------------------------------------------------
    def get_input_embeddings(self) -> jax.Array:
        path = self._input_embeddings_full_path()
        if not path:
            raise NotImplementedError(f"{type(self).__name__} must declare _input_embeddings_path")
        return flatten_dict(self.params)[path]

    def resize_token_embeddings(
        self,
        new_num_tokens: int | None = None,
        pad_to_multiple_of: int | None = None,
        mean_resizing: bool = True,
    ) -> jax.Array:
        """Grow or shrink the vocabulary; old rows kept, new rows drawn around the old rows' mean.

        The params are rebuilt at the new shapes: the word embeddings, the vocabulary bias and an
        untied decoder. A tied decoder reads the word embeddings, so it follows by construction.
        """
        flat = flatten_dict(self.params)
        embeddings_path = self._input_embeddings_full_path()
        old = self.get_input_embeddings()
        new_num_tokens = resized_vocab_size(old.shape[0], new_num_tokens, pad_to_multiple_of)
        if new_num_tokens is None:
            return old
        self.key, resize_key = jax.random.split(self.key)
        generator = _numpy_generator(resize_key)
        flat[embeddings_path] = _resized_rows(old, new_num_tokens, mean_resizing, self.config, generator)
        bias_path = self._output_bias_path
        if bias_path in flat:
            bias = flat[bias_path]
            keep = min(bias.shape[0], new_num_tokens)
            flat[bias_path] = jnp.zeros((new_num_tokens,), bias.dtype).at[:keep].set(bias[:keep])
        decoder_path = self._output_embeddings_path
        if decoder_path in flat:  # an untied decoder: kernel [hidden, vocab]
            flat[decoder_path] = _resized_rows(
                flat[decoder_path].T, new_num_tokens, mean_resizing, self.config, generator
            ).T
        self.config.vocab_size = new_num_tokens
        self._build_module()
        self.params = unflatten_dict(flat)
        return self.get_input_embeddings()

    # -- pruning -----------------------------------------------------------------------------
    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        """Remove attention heads; recorded in `config.pruned_heads`, from which the module sizes its projections."""
        heads_to_prune = {int(layer): list(heads) for layer, heads in heads_to_prune.items()}
        params = unflatten_dict(flatten_dict(self.params))  # a fresh nested dict to edit
        base_path = self._base_path()
        if base_path:
            params[base_path[0]] = self._prune_heads(params[base_path[0]], heads_to_prune)
        else:
            params = self._prune_heads(params, heads_to_prune)
        record_pruned_heads(self.config, heads_to_prune)
        self._build_module()
        self.params = params

    def _prune_heads(self, base_params: Params, heads_to_prune: dict[int, list[int]]) -> Params:
        """The base model's params without `heads_to_prune` (given before config.pruned_heads records them)."""
        raise NotImplementedError(f"{type(self).__name__} does not support pruning heads.")

    # -- the hooks of PretrainedModelBase -----------------------------------------------------------
    @classmethod
    def _resolve_dtype(cls, dtype: Any) -> np.dtype | None:
        return resolve_jax_dtype(dtype)

    @classmethod
    def _constructor_keywords(cls) -> set[str]:
        return constructor_keywords(cls.__init__) - {"dtype"}

    @classmethod
    def _build_empty(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ) -> FlaxPreTrainedModel:
        return cls(config, *model_args, dtype=dtype or jnp.float32, _do_init=False, **model_kwargs)

    @classmethod
    def _build_initialised(
        cls, config: PretrainedConfig, dtype: Any, model_args: tuple, model_kwargs: dict[str, Any]
    ) -> FlaxPreTrainedModel:
        return cls(config, *model_args, dtype=dtype or jnp.float32, **model_kwargs)

    def _canonical_names(self) -> dict[str, tuple[Path, str]]:
        """Canonical name -> (params path, layout) of every parameter."""
        shapes = flatten_dict(self._params_shape_tree)
        names = {}
        for path in self._param_paths:
            name, layout = canonical_name(path, len(shapes[path].shape))
            name = self._canonical_renames.get(name, name)
            names[name] = (path, self.layout_of(name, layout))
        return names

    def _weight_layouts(self) -> dict[str, tuple[tuple[int, ...], str]]:
        shapes = flatten_dict(self._params_shape_tree)
        return {
            name: (canonical_shape(shapes[path].shape, layout), layout)
            for name, (path, layout) in self._canonical_names().items()
        }

    def _assign(self, name: str, array: np.ndarray, layout: str, dtype: Any) -> None:
        if not hasattr(self, "_loading"):  # filled tensor by tensor, made the params at the end
            self._loading = (
                {n: p for n, (p, _) in self._canonical_names().items()},
                flatten_dict(self._params_shape_tree),
                {},
            )
        paths, shapes, loaded = self._loading
        path, leaf = paths[name], shapes[paths[name]]
        placement: Placement | None = getattr(self, "placement", None)
        if placement is None:
            loaded[path] = _to_param(array, layout, leaf.dtype)
            return
        target = np.dtype(leaf.dtype) if _is_float(array.dtype) and _is_float(leaf.dtype) else array.dtype
        loaded[path] = sharded_param(array, layout, target, placement.sharding(path, tuple(leaf.shape)))

    def _initialise_missing(self, names: Any, dtype: Any) -> None:
        loaded = self.__dict__.pop("_loading", (None, None, {}))[2]
        params = self.init_weights(self.key, self.input_shape, params=unflatten_dict(loaded))
        placement: Placement | None = getattr(self, "placement", None)
        self.params = params if placement is None else place_params(params, placement)

    def _set_placement(self, mesh: Any, partition_rules: Any, fsdp: bool) -> None:
        """Shard the parameters over `mesh` as they load (see `rosetta.backends.flax.sharding`)."""
        self.placement = make_placement(mesh, partition_rules, fsdp, self._partition_rules)

    def shard_params(self, mesh: Any, partition_rules: Any = None, fsdp: bool = False) -> None:
        """Move this model's params onto `mesh` by the same rules `from_pretrained(mesh=...)` uses."""
        self._set_placement(mesh, partition_rules, fsdp)
        self.params = place_params(self.params, self.placement)

    @property
    def weights_dtype_name(self) -> str:
        floats = [
            leaf.dtype
            for leaf in jax.tree_util.tree_leaves(self._params_shape_tree)
            if jnp.issubdtype(leaf.dtype, jnp.floating)
        ]
        return jnp.dtype(floats[0] if floats else self.dtype).name

    def _to_native(self, value: Any) -> jax.Array:
        return jnp.asarray(value)

    def _to_numpy(self, value: Any) -> Any:
        return np.asarray(value) if isinstance(value, jax.Array) else value

    # -- saving ------------------------------------------------------------------------------------
    def canonical_state_dict(self, params: Params | None = None) -> dict[str, np.ndarray]:
        """The weights under canonical names and in PyTorch layouts, as numpy (views where possible)."""
        tied = set(self._tied_keys_in_use())
        flat = flatten_dict(self.params if params is None else params)
        return {
            name: to_canonical(np.asarray(flat[path]), layout)
            for name, (path, layout) in self._canonical_names().items()
            if name not in tied
        }

    def save_pretrained(self, save_directory: Any, *, params: Params | None = None, **kwargs: Any) -> None:
        """As every backend's; `params` saves that params tree instead of the model's own."""
        if params is not None:
            if kwargs.get("state_dict") is not None:
                raise InputError("Pass params= or state_dict= to save_pretrained, not both.")
            kwargs["state_dict"] = self.canonical_state_dict(params)
        super().save_pretrained(save_directory, **kwargs)


def _to_param(array: np.ndarray, layout: str, dtype: Any) -> jax.Array:
    """A checkpoint tensor (a memory-mapped view) as a device array in the native layout and `dtype`.

    The tensor is read, transposed and cast in bounded chunks into one aligned host buffer
    (`read_native`, which drops the mapped pages it has copied), and on a CPU device JAX adopts
    that buffer without a copy: the buffer is the parameter. On an accelerator it is copied to the
    device once and freed.
    """
    target = np.dtype(dtype) if _is_float(array.dtype) and _is_float(dtype) else array.dtype
    return jax.device_put(read_native(array, from_canonical_axes(layout), target))


def _is_float(dtype: Any) -> bool:
    return jnp.issubdtype(dtype, jnp.floating)


def _numpy_generator(rng: jax.Array) -> np.random.Generator:
    """A numpy generator seeded by a JAX PRNG key: host-side draws, reproducible from the model's seed."""
    return np.random.default_rng(np.asarray(jax.random.key_data(rng)).ravel())


def _resized_rows(
    weight: jax.Array,
    new_num_rows: int,
    mean_resizing: bool,
    config: PretrainedConfig,
    rng: np.random.Generator,
) -> jax.Array:
    """`weight` with `new_num_rows` rows: the old ones kept, new ones from `_new_rows`."""
    keep = min(weight.shape[0], new_num_rows)
    if new_num_rows <= keep:
        return weight[:new_num_rows]
    new_rows = _new_rows(np.asarray(weight), new_num_rows - keep, mean_resizing, config, rng)
    return jnp.concatenate([weight[:keep], jnp.asarray(new_rows)])


def _new_rows(
    weight: np.ndarray, count: int, mean_resizing: bool, config: PretrainedConfig, rng: np.random.Generator
) -> np.ndarray:
    return new_embedding_rows(
        weight, count, mean_resizing, getattr(config, "initializer_range", 0.02), rng
    ).astype(weight.dtype)


def _check_cache_room(inputs: dict[str, Any]) -> None:
    """A cached call must write inside the cache: `lax.dynamic_update_slice` would clamp the write onto
    earlier slots. Checked where the slot is a value (under the user's `jit` it is traced, and the
    generate loops pick slots that fit). The first leaf of `past_key_values` is the first layer's
    (self-attention) key, [batch, heads, max_length, head_dim]; the written positions are the second
    axis of the ids."""
    cache, position = inputs.get("past_key_values"), inputs.get("cache_position")
    ids = next((inputs[k] for k in ("input_ids", "decoder_input_ids", "inputs_embeds") if k in inputs), None)
    if cache is None or position is None or ids is None or isinstance(position, jax.core.Tracer):
        return
    slot = int(np.reshape(np.asarray(position), -1)[0])
    check_cache_fits(slot, ids.shape[1], jax.tree_util.tree_leaves(cache)[0].shape[2])
