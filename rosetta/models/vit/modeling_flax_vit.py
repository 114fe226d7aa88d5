"""ViT in JAX/Flax: config -> embeddings -> attention -> layer -> encoder -> pretrained base -> heads.

Class for class and attribute for attribute the torch file (`modeling_vit.py`), as linen modules: the
params tree reads `vit/encoder/layer/0/attention/attention/query/kernel` where torch's state dict reads
`vit.encoder.layer.0.attention.attention.query.weight`, and the patch convolution's HWIO kernel is torch's
OIHW weight by the generic layout rule, so the one canonical checkpoint loads here. `pixel_values` are
[batch, channels, height, width] as in torch; the convolution runs channels-last.
`FlaxViT*Module` are the linen modules of the `FlaxViT*` models.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ...backends.flax.activations import get_activation
from ...backends.flax.flax_utils import FlaxModuleList, resize_patch_position_embeddings
from ...backends.flax.losses import sequence_classification_loss
from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel, Params, Path
from ...core.errors import InputError
from ...core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    ImageClassifierOutput,
    finish_output,
)
from .configuration_vit import ViTConfig

Array = jax.Array
# The Python-valued arguments of a compiled call (as the base class's): each combination compiles once.
_STATIC_ARGS = ("train", "output_attentions", "output_hidden_states", "return_dict")


def _dense(features: int, dtype: Any, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=dtype)


def _layer_norm(config: ViTConfig, dtype: Any) -> nn.LayerNorm:
    # Two-pass variance, as torch computes it.
    return nn.LayerNorm(
        epsilon=config.layer_norm_eps, dtype=dtype, param_dtype=dtype, use_fast_variance=False
    )


class FlaxViTPatchEmbeddings(nn.Module):
    """Cut the image into patches and project each (a strided conv): [batch, patches, hidden]."""

    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        patch = self.config.patch_size
        self.projection = nn.Conv(
            self.config.hidden_size,
            kernel_size=(patch, patch),
            strides=(patch, patch),
            padding="VALID",
            dtype=self.dtype,
            param_dtype=self.dtype,
        )

    def __call__(self, pixel_values: Array) -> Array:
        channels = self.config.num_channels
        if pixel_values.ndim != 4 or pixel_values.shape[1] != channels:
            raise InputError(
                f"pixel_values must be [batch, {channels}, height, width] (config.num_channels = {channels}), "
                f"got shape {tuple(pixel_values.shape)}. Pass the image processor's output."
            )
        patches = self.projection(pixel_values.transpose(0, 2, 3, 1))  # [batch, h, w, hidden]
        batch, height, width, hidden = patches.shape
        return patches.reshape(batch, height * width, hidden)


class FlaxViTEmbeddings(nn.Module):
    """CLS token + patch embeddings, plus learned positions (resized for another image size on request)."""

    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        num_patches = (config.image_size // config.patch_size) ** 2
        self.cls_token = self.param(
            "cls_token", nn.initializers.zeros, (1, 1, config.hidden_size), self.dtype
        )
        self.patch_embeddings = FlaxViTPatchEmbeddings(config, dtype=self.dtype)
        self.position_embeddings = self.param(
            "position_embeddings", nn.initializers.zeros, (1, num_patches + 1, config.hidden_size), self.dtype
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def interpolate_pos_encoding(self, embeddings: Array, height: int, width: int) -> Array:
        """The position embeddings resized to the patch grid of a height x width image, as torch's bicubic."""
        num_patches = embeddings.shape[1] - 1
        num_positions = self.position_embeddings.shape[1] - 1
        positions = self.position_embeddings.astype(embeddings.dtype)
        if num_patches == num_positions and height == width:
            return positions
        patch = self.config.patch_size
        return resize_patch_position_embeddings(positions, height // patch, width // patch)

    def __call__(
        self, pixel_values: Array, interpolate_pos_encoding: bool = False, deterministic: bool = True
    ) -> Array:
        height, width = pixel_values.shape[2], pixel_values.shape[3]
        embeddings = self.patch_embeddings(pixel_values)
        cls_tokens = jnp.broadcast_to(
            self.cls_token.astype(embeddings.dtype), (embeddings.shape[0], 1, embeddings.shape[-1])
        )
        embeddings = jnp.concatenate([cls_tokens, embeddings], axis=1)
        if interpolate_pos_encoding:
            embeddings = embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        else:
            size = self.config.image_size
            if height != size or width != size:
                raise InputError(
                    f"Input image size ({height}*{width}) doesn't match the model's ({size}*{size}). Resize the "
                    "image with the image processor, or pass interpolate_pos_encoding=True to resize the "
                    "position embeddings."
                )
            embeddings = embeddings + self.position_embeddings.astype(embeddings.dtype)
        return self.dropout(embeddings, deterministic=deterministic)


class FlaxViTSelfAttention(nn.Module):
    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        if config.hidden_size % config.num_attention_heads != 0:
            raise InputError(
                f"hidden_size ({config.hidden_size}) must be a multiple of num_attention_heads "
                f"({config.num_attention_heads})."
            )
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = _dense(self.all_head_size, self.dtype, use_bias=config.qkv_bias)
        self.key = _dense(self.all_head_size, self.dtype, use_bias=config.qkv_bias)
        self.value = _dense(self.all_head_size, self.dtype, use_bias=config.qkv_bias)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: Array) -> Array:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, self.num_attention_heads, self.attention_head_size).transpose(0, 2, 1, 3)

    def __call__(
        self, hidden_states: Array, output_attentions: bool = False, deterministic: bool = True
    ) -> tuple[Array, Array | None]:
        query = self.split_heads(self.query(hidden_states))
        key = self.split_heads(self.key(hidden_states))
        value = self.split_heads(self.value(hidden_states))
        scores = query @ key.swapaxes(-1, -2) / math.sqrt(self.attention_head_size)
        probs = self.dropout(jax.nn.softmax(scores, axis=-1), deterministic=deterministic)
        context = probs @ value
        batch, _, seq, _ = context.shape
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, self.all_head_size)
        return context, probs if output_attentions else None


class FlaxViTSelfOutput(nn.Module):
    """The attention's output projection; the residual is added by the layer (pre-norm)."""

    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.dropout = nn.Dropout(self.config.hidden_dropout_prob)

    def __call__(self, hidden_states: Array, deterministic: bool = True) -> Array:
        return self.dropout(self.dense(hidden_states), deterministic=deterministic)


class FlaxViTAttention(nn.Module):
    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.attention = FlaxViTSelfAttention(self.config, dtype=self.dtype)
        self.output = FlaxViTSelfOutput(self.config, dtype=self.dtype)

    def __call__(
        self, hidden_states: Array, output_attentions: bool = False, deterministic: bool = True
    ) -> tuple[Array, Array | None]:
        context, probs = self.attention(hidden_states, output_attentions, deterministic=deterministic)
        return self.output(context, deterministic=deterministic), probs


class FlaxViTIntermediate(nn.Module):
    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.intermediate_size, self.dtype)
        self.intermediate_act_fn = get_activation(self.config.hidden_act)

    def __call__(self, hidden_states: Array) -> Array:
        return self.intermediate_act_fn(self.dense(hidden_states))


class FlaxViTOutput(nn.Module):
    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.dropout = nn.Dropout(self.config.hidden_dropout_prob)

    def __call__(self, hidden_states: Array, input_tensor: Array, deterministic: bool = True) -> Array:
        return self.dropout(self.dense(hidden_states), deterministic=deterministic) + input_tensor


class FlaxViTLayer(nn.Module):
    """Pre-norm block: x + attention(LN(x)), then h + MLP(LN(h))."""

    config: ViTConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.attention = FlaxViTAttention(self.config, dtype=self.dtype)
        self.intermediate = FlaxViTIntermediate(self.config, dtype=self.dtype)
        self.output = FlaxViTOutput(self.config, dtype=self.dtype)
        self.layernorm_before = _layer_norm(self.config, self.dtype)
        self.layernorm_after = _layer_norm(self.config, self.dtype)

    def __call__(
        self, hidden_states: Array, output_attentions: bool = False, deterministic: bool = True
    ) -> tuple[Array, Array | None]:
        attention_output, probs = self.attention(
            self.layernorm_before(hidden_states), output_attentions, deterministic=deterministic
        )
        hidden_states = attention_output + hidden_states
        intermediate = self.intermediate(self.layernorm_after(hidden_states))
        return self.output(intermediate, hidden_states, deterministic=deterministic), probs


class FlaxViTEncoder(nn.Module):
    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.layer = FlaxModuleList(
            FlaxViTLayer, self.config, self.config.num_hidden_layers, dtype=self.dtype
        )

    def __call__(
        self,
        hidden_states: Array,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        deterministic: bool = True,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, probs = layer(hidden_states, output_attentions, deterministic=deterministic)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class FlaxViTPooler(nn.Module):
    """The CLS token's final hidden state through a dense layer and `pooler_act`."""

    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.pooler_output_size, self.dtype)
        self.activation = get_activation(self.config.pooler_act)

    def __call__(self, hidden_states: Array) -> Array:
        return self.activation(self.dense(hidden_states[:, 0]))


class FlaxViTPreTrainedModel(FlaxPreTrainedModel):
    config_class = ViTConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"

    def _dummy_inputs(self, input_shape: tuple[int, ...]) -> dict[str, Array]:
        """Float pixel_values [batch, channels, height, width]; a shape that is not 4-d gives one image of
        the config's size (the base's default `input_shape` is a text model's)."""
        config = self.config
        if len(input_shape) != 4:
            input_shape = (1, config.num_channels, config.image_size, config.image_size)
        return {"pixel_values": jnp.zeros(input_shape, dtype=self.dtype)}

    def _init_weights(self, rng: np.random.Generator, path: Path, leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        """The shared rules; the CLS token and position embeddings Normal(0, initializer_range) clipped at
        two standard deviations (transformers draws them truncated there)."""
        if path[-1] in ("cls_token", "position_embeddings"):
            std = self.config.initializer_range
            return (np.clip(rng.standard_normal(leaf.shape, dtype=np.float32), -2.0, 2.0) * std).astype(
                leaf.dtype
            )
        return super()._init_weights(rng, path, leaf)

    def __call__(self, *args: Any, interpolate_pos_encoding: bool | None = None, **kwargs: Any) -> Any:
        """As every Flax model's call; `interpolate_pos_encoding=True` takes images of another size (a
        Python flag, like `output_attentions`: each value compiles once)."""
        flag = bool(interpolate_pos_encoding)
        compiled = self.__dict__.setdefault("_forward_by_interpolation", {})
        if self._jitted_forward is None:  # the module was (re)built: earlier compilations are stale
            compiled.clear()
        if flag not in compiled:
            forward = functools.partial(self._forward, interpolate_pos_encoding=flag)
            compiled[flag] = jax.jit(forward, static_argnames=_STATIC_ARGS)
        self._jitted_forward = compiled[flag]
        return super().__call__(*args, **kwargs)

    def _forward(
        self,
        params: Params,
        inputs: dict[str, Array],
        dropout_rng: Array | None,
        train: bool,
        output_attentions: bool,
        output_hidden_states: bool,
        return_dict: bool,
        interpolate_pos_encoding: bool = False,
    ) -> Any:
        return self.module.apply(
            {"params": params},
            **inputs,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=return_dict,
            deterministic=not train,
            rngs={"dropout": dropout_rng} if dropout_rng is not None else {},
        )


class FlaxViTModule(nn.Module):
    """The bare ViT encoder; `add_pooling_layer=False` leaves out the pooler (the classification head)."""

    config: ViTConfig
    dtype: Any = jnp.float32
    add_pooling_layer: bool = True

    def setup(self) -> None:
        self.embeddings = FlaxViTEmbeddings(self.config, dtype=self.dtype)
        self.encoder = FlaxViTEncoder(self.config, dtype=self.dtype)
        self.layernorm = _layer_norm(self.config, self.dtype)
        self.pooler = FlaxViTPooler(self.config, dtype=self.dtype) if self.add_pooling_layer else None

    def __call__(
        self,
        pixel_values: Array | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if pixel_values is None:
            raise InputError("ViT needs pixel_values: pass the image processor's output.")
        embedding_output = self.embeddings(
            pixel_values.astype(self.dtype), bool(interpolate_pos_encoding), deterministic=deterministic
        )
        encoder_outputs = self.encoder(
            embedding_output, output_attentions, output_hidden_states, deterministic=deterministic
        )
        sequence_output = self.layernorm(encoder_outputs.last_hidden_state)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=pooled_output,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class FlaxViTModel(FlaxViTPreTrainedModel):
    module_class = FlaxViTModule


class FlaxViTForImageClassificationModule(nn.Module):
    """A linear classifier on the CLS token's final hidden state (no pooler)."""

    config: ViTConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.vit = FlaxViTModule(self.config, dtype=self.dtype, add_pooling_layer=False)
        self.classifier = _dense(self.config.num_labels, self.dtype) if self.config.num_labels > 0 else None

    def __call__(
        self,
        pixel_values=None,
        labels=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> ImageClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.vit(
            pixel_values,
            interpolate_pos_encoding,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        cls_state = outputs.last_hidden_state[:, 0]
        logits = self.classifier(cls_state) if self.classifier is not None else cls_state
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            ImageClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxViTForImageClassification(FlaxViTPreTrainedModel):
    module_class = FlaxViTForImageClassificationModule
    _keys_to_ignore_on_load_unexpected = [r"^vit\.pooler\."]
