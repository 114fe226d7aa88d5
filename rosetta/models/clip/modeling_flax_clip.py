"""CLIP in JAX/Flax: configs -> embeddings -> attention -> layer -> encoder -> towers -> CLIPModel and projections.

Class for class and attribute for attribute the torch file (`modeling_clip.py`), as linen modules: the params
tree reads `text_model/encoder/layers/0/self_attn/q_proj/kernel` where torch's state dict reads
`text_model.encoder.layers.0.self_attn.q_proj.weight`, and the patch convolution's HWIO kernel is torch's OIHW
weight by the generic layout rule, so the one canonical checkpoint loads here. `pixel_values` are
[batch, channels, height, width] as in torch. `FlaxCLIP*Module` are the linen modules of the `FlaxCLIP*` models.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ...backends.flax.activations import get_activation
from ...backends.flax.flax_utils import FlaxModuleList, resize_patch_position_embeddings
from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel, Params, Path, jax_input_view
from ...core.errors import InputError
from ...core.inputs import CHECKED_INPUTS, check_model_inputs
from ...core.outputs import BaseModelOutput, BaseModelOutputWithPooling, finish_output
from .configuration_clip import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from .outputs_clip import CLIPOutput, CLIPTextModelOutput, CLIPVisionModelOutput

Array = jax.Array
_STATIC_ARGS = ("train", "output_attentions", "output_hidden_states", "return_dict", "return_loss")
_PYTHON_FLAGS = ("return_loss", "interpolate_pos_encoding")  # compile-time flags, not array inputs
_TEXT_PARTS = [r"^vision_model\.", r"^visual_projection\.", r"^logit_scale$"]
_VISION_PARTS = [r"^text_model\.", r"^text_projection\.", r"^logit_scale$"]


def _dense(features: int, dtype: Any, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=dtype)


def _layer_norm(config: CLIPTextConfig | CLIPVisionConfig, dtype: Any) -> nn.LayerNorm:
    # Two-pass variance, as torch computes it.
    return nn.LayerNorm(
        epsilon=config.layer_norm_eps, dtype=dtype, param_dtype=dtype, use_fast_variance=False
    )


def pooled_at_eos(last_hidden_state: Array, input_ids: Array, eos_token_id: int | None) -> Array:
    """The hidden state at the end-of-text token: the largest id when `eos_token_id` is 2 (configs from before
    transformers' fix), else the first `eos_token_id` of each row."""
    ids = input_ids.astype(jnp.int32)
    positions = (
        ids.argmax(axis=-1) if eos_token_id == 2 else (ids == eos_token_id).astype(jnp.int32).argmax(axis=-1)
    )
    return last_hidden_state[jnp.arange(last_hidden_state.shape[0]), positions]


def contrastive_loss(logits_per_text: Array) -> Array:
    """The mean of the text->image and image->text cross-entropies, matching pairs on the diagonal."""

    def cross_entropy(logits: Array) -> Array:
        return -jnp.mean(jnp.diagonal(jax.nn.log_softmax(logits, axis=-1)))

    return (cross_entropy(logits_per_text) + cross_entropy(logits_per_text.T)) / 2.0


def _normalised(embeds: Array) -> Array:
    return embeds / jnp.power(jnp.sum(jnp.power(embeds, 2), axis=-1, keepdims=True), 0.5)


def check_pixel_values(
    shape: tuple, num_channels: int, image_size: int, interpolate_pos_encoding: bool = False
) -> None:
    """Refuse pixel_values that are not [batch, num_channels, image_size, image_size] (any height and width
    with `interpolate_pos_encoding`), naming what to do."""
    if len(shape) != 4 or shape[1] != num_channels:
        raise InputError(
            f"pixel_values must be [batch, {num_channels}, height, width] (config.num_channels = {num_channels}), "
            f"got shape {shape}. Pass the image processor's output."
        )
    if not interpolate_pos_encoding and (shape[2] != image_size or shape[3] != image_size):
        raise InputError(
            f"Input image size ({shape[2]}*{shape[3]}) doesn't match the model's ({image_size}*{image_size}). "
            "Resize the image with CLIPImageProcessor (crop_size = the config's image_size), or pass "
            "interpolate_pos_encoding=True to resize the position embeddings."
        )


class FlaxCLIPVisionEmbeddings(nn.Module):
    """Class embedding + patch embeddings (a strided conv without bias), plus learned positions."""

    config: CLIPVisionConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        patch = config.patch_size
        self.class_embedding = self.param(
            "class_embedding", nn.initializers.zeros, (config.hidden_size,), self.dtype
        )
        self.patch_embedding = nn.Conv(
            config.hidden_size,
            kernel_size=(patch, patch),
            strides=(patch, patch),
            padding="VALID",
            use_bias=False,
            dtype=self.dtype,
            param_dtype=self.dtype,
        )
        self.num_positions = (config.image_size // patch) ** 2 + 1
        self.position_embedding = nn.Embed(
            self.num_positions, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )

    def interpolate_pos_encoding(self, embeddings: Array, height: int, width: int) -> Array:
        """The position embeddings resized to the patch grid of a height x width image, as torch's bicubic."""
        num_patches = embeddings.shape[1] - 1
        num_positions = self.num_positions - 1
        positions = self.position_embedding(jnp.arange(self.num_positions))[None]
        if num_patches == num_positions and height == width:
            return positions
        patch = self.config.patch_size
        return resize_patch_position_embeddings(positions, height // patch, width // patch)

    def __call__(self, pixel_values: Array, interpolate_pos_encoding: bool = False) -> Array:
        shape = tuple(pixel_values.shape)
        check_pixel_values(shape, self.config.num_channels, self.config.image_size, interpolate_pos_encoding)
        patches = self.patch_embedding(pixel_values.transpose(0, 2, 3, 1))  # [batch, h, w, hidden]
        batch, height, width, hidden = patches.shape
        patches = patches.reshape(batch, height * width, hidden)
        class_embeds = jnp.broadcast_to(self.class_embedding.astype(patches.dtype), (batch, 1, hidden))
        embeddings = jnp.concatenate([class_embeds, patches], axis=1)
        if interpolate_pos_encoding:
            return embeddings + self.interpolate_pos_encoding(embeddings, shape[2], shape[3])
        return embeddings + self.position_embedding(jnp.arange(self.num_positions))[None]


class FlaxCLIPTextEmbeddings(nn.Module):
    config: CLIPTextConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.token_embedding = nn.Embed(
            config.vocab_size, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )
        self.position_embedding = nn.Embed(
            config.max_position_embeddings, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )

    def __call__(self, input_ids: Array, position_ids: Array | None = None) -> Array:
        if position_ids is None:
            position_ids = jnp.arange(input_ids.shape[-1])[None]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)


class FlaxCLIPAttention(nn.Module):
    """Multi-head self-attention with an additive mask (causal and padding in the text tower)."""

    config: CLIPTextConfig | CLIPVisionConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        if self.embed_dim % self.num_heads:
            raise InputError(
                f"hidden_size ({self.embed_dim}) must be a multiple of num_attention_heads ({self.num_heads})."
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.k_proj = _dense(self.embed_dim, self.dtype)
        self.v_proj = _dense(self.embed_dim, self.dtype)
        self.q_proj = _dense(self.embed_dim, self.dtype)
        self.out_proj = _dense(self.embed_dim, self.dtype)
        self.dropout = nn.Dropout(config.attention_dropout)

    def split_heads(self, x: Array) -> Array:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None]:
        query = self.split_heads(self.q_proj(hidden_states))
        key = self.split_heads(self.k_proj(hidden_states))
        value = self.split_heads(self.v_proj(hidden_states))
        scores = (query @ key.swapaxes(-1, -2)) * self.scale
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(jax.nn.softmax(scores, axis=-1), deterministic=deterministic)
        context = probs @ value
        batch, _, seq, _ = context.shape
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, self.embed_dim)
        return self.out_proj(context), probs if output_attentions else None


class FlaxCLIPMLP(nn.Module):
    config: CLIPTextConfig | CLIPVisionConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.activation_fn = get_activation(self.config.hidden_act)
        self.fc1 = _dense(self.config.intermediate_size, self.dtype)
        self.fc2 = _dense(self.config.hidden_size, self.dtype)

    def __call__(self, hidden_states: Array) -> Array:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class FlaxCLIPEncoderLayer(nn.Module):
    """Pre-norm block: x + attention(LN(x)), then h + MLP(LN(h))."""

    config: CLIPTextConfig | CLIPVisionConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.self_attn = FlaxCLIPAttention(self.config, dtype=self.dtype)
        self.layer_norm1 = _layer_norm(self.config, self.dtype)
        self.mlp = FlaxCLIPMLP(self.config, dtype=self.dtype)
        self.layer_norm2 = _layer_norm(self.config, self.dtype)

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None]:
        attention_output, probs = self.self_attn(
            self.layer_norm1(hidden_states), attention_mask, output_attentions, deterministic=deterministic
        )
        hidden_states = hidden_states + attention_output
        return hidden_states + self.mlp(self.layer_norm2(hidden_states)), probs


class FlaxCLIPEncoder(nn.Module):
    config: CLIPTextConfig | CLIPVisionConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.layers = FlaxModuleList(
            FlaxCLIPEncoderLayer, self.config, self.config.num_hidden_layers, dtype=self.dtype
        )

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        deterministic: bool = True,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            hidden_states, probs = layer(
                hidden_states, attention_mask, output_attentions, deterministic=deterministic
            )
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


def causal_padding_mask(attention_mask: Array | None, batch: int, seq: int, dtype: Any) -> Array:
    """Additive [batch, 1, seq, seq] mask: 0 where a query may attend (earlier, unpadded keys), dtype-min elsewhere."""
    allowed = jnp.tril(jnp.ones((seq, seq), dtype=bool))[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask.astype(bool)[:, None, None, :]
    allowed = jnp.broadcast_to(allowed, (batch, 1, seq, seq))
    return jnp.where(allowed, jnp.zeros((), dtype), jnp.finfo(dtype).min)


def _flags(config, output_attentions, output_hidden_states, return_dict) -> tuple[bool, bool, bool]:
    return (
        config.output_attentions if output_attentions is None else output_attentions,
        config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        config.return_dict if return_dict is None else return_dict,
    )


class FlaxCLIPTextModule(nn.Module):
    """The text tower, pooled at the end-of-text token; no projection."""

    config: CLIPTextConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.embeddings = FlaxCLIPTextEmbeddings(self.config, dtype=self.dtype)
        self.encoder = FlaxCLIPEncoder(self.config, dtype=self.dtype)
        self.final_layer_norm = _layer_norm(self.config, self.dtype)

    def __call__(
        self,
        input_ids: Array | None = None,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions, output_hidden_states, return_dict = _flags(
            self.config, output_attentions, output_hidden_states, return_dict
        )
        if input_ids is None:
            raise InputError("CLIP's text model needs input_ids: pass the tokenizer's output.")
        input_ids = input_ids.reshape(-1, input_ids.shape[-1])
        hidden_states = self.embeddings(input_ids, position_ids)
        mask = causal_padding_mask(attention_mask, *input_ids.shape, hidden_states.dtype)
        encoder_outputs = self.encoder(
            hidden_states, mask, output_attentions, output_hidden_states, deterministic=deterministic
        )
        last_hidden_state = self.final_layer_norm(encoder_outputs.last_hidden_state)
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=pooled_at_eos(last_hidden_state, input_ids, self.config.eos_token_id),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class FlaxCLIPVisionModule(nn.Module):
    """The vision tower, pooled at the class token (post-LayerNorm); no projection."""

    config: CLIPVisionConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.embeddings = FlaxCLIPVisionEmbeddings(self.config, dtype=self.dtype)
        self.pre_layrnorm = _layer_norm(self.config, self.dtype)  # transformers' spelling
        self.encoder = FlaxCLIPEncoder(self.config, dtype=self.dtype)
        self.post_layernorm = _layer_norm(self.config, self.dtype)

    def __call__(
        self,
        pixel_values: Array | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions, output_hidden_states, return_dict = _flags(
            self.config, output_attentions, output_hidden_states, return_dict
        )
        if pixel_values is None:
            raise InputError("CLIP's vision model needs pixel_values: pass the image processor's output.")
        embeddings = self.embeddings(pixel_values.astype(self.dtype), bool(interpolate_pos_encoding))
        hidden_states = self.pre_layrnorm(embeddings)
        encoder_outputs = self.encoder(
            hidden_states, None, output_attentions, output_hidden_states, deterministic=deterministic
        )
        last_hidden_state = encoder_outputs.last_hidden_state
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.post_layernorm(last_hidden_state[:, 0, :]),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class FlaxCLIPModule(nn.Module):
    """Both towers, their projections into one space, and `logit_scale`: image-text similarity logits."""

    config: CLIPConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.text_model = FlaxCLIPTextModule(config.text_config, dtype=self.dtype)
        self.vision_model = FlaxCLIPVisionModule(config.vision_config, dtype=self.dtype)
        self.visual_projection = _dense(config.projection_dim, self.dtype, use_bias=False)
        self.text_projection = _dense(config.projection_dim, self.dtype, use_bias=False)
        self.logit_scale = self.param("logit_scale", nn.initializers.zeros, (), self.dtype)

    def get_text_features(
        self,
        input_ids: Array,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPooling:
        """The text tower's output with `pooler_output` projected into the shared space (transformers 5)."""
        outputs = self.text_model(
            input_ids,
            attention_mask,
            position_ids,
            output_attentions,
            output_hidden_states,
            True,
            deterministic,
        )
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return outputs

    def get_image_features(
        self,
        pixel_values: Array,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPooling:
        """The vision tower's output with `pooler_output` projected into the shared space (transformers 5)."""
        outputs = self.vision_model(
            pixel_values,
            interpolate_pos_encoding,
            output_attentions,
            output_hidden_states,
            True,
            deterministic,
        )
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return outputs

    def __call__(
        self,
        input_ids: Array | None = None,
        pixel_values: Array | None = None,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        return_loss: bool | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> CLIPOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        vision_outputs = self.get_image_features(
            pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states, deterministic
        )
        text_outputs = self.get_text_features(
            input_ids, attention_mask, position_ids, output_attentions, output_hidden_states, deterministic
        )
        image_embeds = _normalised(vision_outputs.pooler_output)
        text_embeds = _normalised(text_outputs.pooler_output)
        logits_per_text = (text_embeds @ image_embeds.T) * jnp.exp(self.logit_scale.astype(text_embeds.dtype))
        outputs = CLIPOutput(
            loss=contrastive_loss(logits_per_text) if return_loss else None,
            logits_per_image=logits_per_text.T,
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return finish_output(outputs, return_dict)


class FlaxCLIPTextModelWithProjectionModule(nn.Module):
    """The text tower and `text_projection`: `text_embeds` in the shared space (not normalised)."""

    config: CLIPTextConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.text_model = FlaxCLIPTextModule(self.config, dtype=self.dtype)
        self.text_projection = _dense(self.config.projection_dim, self.dtype, use_bias=False)

    def __call__(
        self,
        input_ids: Array | None = None,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> CLIPTextModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.text_model(
            input_ids,
            attention_mask,
            position_ids,
            output_attentions,
            output_hidden_states,
            True,
            deterministic,
        )
        result = CLIPTextModelOutput(
            text_embeds=self.text_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return finish_output(result, return_dict)


class FlaxCLIPVisionModelWithProjectionModule(nn.Module):
    """The vision tower and `visual_projection`: `image_embeds` in the shared space (not normalised)."""

    config: CLIPVisionConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.vision_model = FlaxCLIPVisionModule(self.config, dtype=self.dtype)
        self.visual_projection = _dense(self.config.projection_dim, self.dtype, use_bias=False)

    def __call__(
        self,
        pixel_values: Array | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> CLIPVisionModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.vision_model(
            pixel_values,
            interpolate_pos_encoding,
            output_attentions,
            output_hidden_states,
            True,
            deterministic,
        )
        result = CLIPVisionModelOutput(
            image_embeds=self.visual_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return finish_output(result, return_dict)


class FlaxCLIPPreTrainedModel(FlaxPreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"

    def _dummy_inputs(self, input_shape: tuple[int, ...]) -> dict[str, Array]:
        """Token ids and/or one black image of the config's size, by which towers the model has."""
        config = self.config
        text = config.text_config if isinstance(config, CLIPConfig) else config
        vision = config.vision_config if isinstance(config, CLIPConfig) else config
        inputs = {}
        if isinstance(text, CLIPTextConfig):
            inputs["input_ids"] = jnp.zeros((1, 1), dtype=jnp.int32)
        if isinstance(vision, CLIPVisionConfig):
            shape = (1, vision.num_channels, vision.image_size, vision.image_size)
            inputs["pixel_values"] = jnp.zeros(shape, dtype=self.dtype)
        return inputs

    def _init_weights(self, rng: np.random.Generator, path: Path, leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        """The shared rules; the class embedding Normal(0, hidden**-0.5) and logit_scale its configured value."""
        if path[-1] == "class_embedding":
            std = leaf.shape[0] ** -0.5 * self.config.initializer_factor
            return (rng.standard_normal(leaf.shape, dtype=np.float32) * std).astype(leaf.dtype)
        if path[-1] == "logit_scale":
            return np.full(leaf.shape, self.config.logit_scale_init_value, dtype=leaf.dtype)
        return super()._init_weights(rng, path, leaf)

    def _input_names(self) -> list[str]:
        return [name for name in super()._input_names() if name not in _PYTHON_FLAGS]

    def __call__(
        self,
        *args: Any,
        return_loss: bool | None = None,
        interpolate_pos_encoding: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """As every Flax model's call; `return_loss=True` (CLIPModel) adds the contrastive loss and
        `interpolate_pos_encoding=True` (the vision towers) takes images of another size (Python flags: each
        value compiles once). A flag the model's module does not declare is refused."""
        flags = {"return_loss": bool(return_loss), "interpolate_pos_encoding": bool(interpolate_pos_encoding)}
        declared = inspect.signature(self.module_class.__call__).parameters
        for name, value in flags.items():
            if value and name not in declared:
                raise InputError(f"{type(self).__name__} does not take {name}; leave it out.")
        key = tuple(flags.values())
        compiled = self.__dict__.setdefault("_forward_by_flags", {})
        if self._jitted_forward is None:  # the module was (re)built: earlier compilations are stale
            compiled.clear()
        if key not in compiled:
            extra = {name: True for name, value in flags.items() if value}
            forward = functools.partial(self._forward, **extra) if extra else self._forward
            compiled[key] = jax.jit(forward, static_argnames=_STATIC_ARGS[:4])
        self._jitted_forward = compiled[key]
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
        return_loss: bool = False,
        interpolate_pos_encoding: bool = False,
    ) -> Any:
        flags = {"return_loss": return_loss, "interpolate_pos_encoding": interpolate_pos_encoding}
        extra = {name: True for name, value in flags.items() if value}
        return self.module.apply(
            {"params": params},
            **inputs,
            **extra,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=return_dict,
            deterministic=not train,
            rngs={"dropout": dropout_rng} if dropout_rng is not None else {},
        )


class FlaxCLIPTextModel(FlaxCLIPPreTrainedModel):
    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    module_class = FlaxCLIPTextModule
    _input_embeddings_path = ("embeddings", "token_embedding", "embedding")
    _keys_to_ignore_on_load_unexpected = [*_TEXT_PARTS, r"^text_projection\."]


class FlaxCLIPVisionModel(FlaxCLIPPreTrainedModel):
    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    module_class = FlaxCLIPVisionModule
    _keys_to_ignore_on_load_unexpected = [*_VISION_PARTS, r"^visual_projection\."]


class FlaxCLIPTextModelWithProjection(FlaxCLIPPreTrainedModel):
    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    module_class = FlaxCLIPTextModelWithProjectionModule
    _input_embeddings_path = ("embeddings", "token_embedding", "embedding")
    _keys_to_ignore_on_load_unexpected = _TEXT_PARTS


class FlaxCLIPVisionModelWithProjection(FlaxCLIPPreTrainedModel):
    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    module_class = FlaxCLIPVisionModelWithProjectionModule
    _keys_to_ignore_on_load_unexpected = _VISION_PARTS


class FlaxCLIPModel(FlaxCLIPPreTrainedModel):
    module_class = FlaxCLIPModule

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """As every Flax model's call; the text inputs are checked against the text tower's config."""
        names = self._input_names()
        inputs = {**dict(zip(names, args)), **kwargs}
        views = {k: jax_input_view(v) for k, v in inputs.items() if k in CHECKED_INPUTS and v is not None}
        check_model_inputs(self.config.text_config, type(self).__name__, views)
        return super().__call__(*args, **kwargs)

    def get_text_features(
        self,
        input_ids: Array,
        attention_mask: Array | None = None,
        position_ids: Array | None = None,
        params: Params | None = None,
    ) -> BaseModelOutputWithPooling:
        """The text tower's output with `pooler_output` projected into the shared space (compiled once)."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
        views = {k: jax_input_view(v) for k, v in inputs.items() if v is not None}
        check_model_inputs(self.config.text_config, type(self).__name__, views)
        return self._features("get_text_features", inputs, params)

    def get_image_features(
        self, pixel_values: Array, params: Params | None = None, interpolate_pos_encoding: bool = False
    ) -> BaseModelOutputWithPooling:
        """The vision tower's output with `pooler_output` projected into the shared space (compiled once per
        `interpolate_pos_encoding` value)."""
        extra = {"interpolate_pos_encoding": True} if interpolate_pos_encoding else {}
        return self._features("get_image_features", {"pixel_values": pixel_values}, params, **extra)

    def _features(
        self, method: str, inputs: dict[str, Any], params: Params | None, **flags: bool
    ) -> BaseModelOutputWithPooling:
        compiled = self.__dict__.setdefault("_features_compiled", {})
        key = (method, *sorted(flags))
        if key not in compiled:

            def run(params: Params, inputs: dict[str, Array]) -> Any:
                return self.module.apply(
                    {"params": params}, **inputs, **flags, method=getattr(FlaxCLIPModule, method)
                )

            compiled[key] = jax.jit(run)
        inputs = {k: jnp.asarray(v) for k, v in inputs.items() if v is not None}
        return compiled[key](self.params if params is None else params, inputs)
