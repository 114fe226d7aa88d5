"""CLIP in TensorFlow/Keras: configs -> embeddings -> attention -> layer -> encoder -> towers -> CLIPModel and projections.

The torch file, layer for layer: attributes carry the torch module names, so every weight's path maps to
transformers' parameter name by the generic rules (the patch convolution's HWIO kernel to OIHW) and the
same checkpoint loads here, in torch and in Flax. `pixel_values` are [batch, channels, height, width] as in
torch; the convolution runs channels-last. Dropout is active only in calls with `training=True`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ...backends.tf.activations import get_tf_activation
from ...backends.tf.modeling_tf_utils import TFLayer, TFPreTrainedModel
from ...backends.tf.tf_utils import get_initializer, resize_patch_position_embeddings, shape_list
from ...core.errors import InputError
from ...core.outputs import BaseModelOutput, BaseModelOutputWithPooling, finish_output
from .configuration_clip import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from .outputs_clip import CLIPOutput, CLIPTextModelOutput, CLIPVisionModelOutput

_TEXT_PARTS = [r"^vision_model\.", r"^visual_projection\.", r"^logit_scale$"]
_VISION_PARTS = [r"^text_model\.", r"^text_projection\.", r"^logit_scale$"]


def pooled_at_eos(last_hidden_state: tf.Tensor, input_ids: tf.Tensor, eos_token_id: int | None) -> tf.Tensor:
    """The hidden state at the end-of-text token: the largest id when `eos_token_id` is 2 (configs from before
    transformers' fix), else the first `eos_token_id` of each row."""
    ids = tf.cast(input_ids, tf.int32)
    if eos_token_id == 2:
        positions = tf.argmax(ids, axis=-1, output_type=tf.int32)
    else:
        positions = tf.argmax(tf.cast(ids == eos_token_id, tf.int32), axis=-1, output_type=tf.int32)
    return tf.gather(last_hidden_state, positions, axis=1, batch_dims=1)


def contrastive_loss(logits_per_text: tf.Tensor) -> tf.Tensor:
    """The mean of the text->image and image->text cross-entropies, matching pairs on the diagonal."""
    targets = tf.range(shape_list(logits_per_text)[0])
    caption = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits_per_text)
    image = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.transpose(logits_per_text))
    return (tf.reduce_mean(caption) + tf.reduce_mean(image)) / 2.0


def _normalised(embeds: tf.Tensor) -> tf.Tensor:
    return embeds / tf.pow(tf.reduce_sum(tf.pow(embeds, 2), axis=-1, keepdims=True), 0.5)


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


class TFCLIPVisionEmbeddings(TFLayer):
    """Class embedding + patch embeddings (a strided conv without bias), plus learned positions."""

    def __init__(self, config: CLIPVisionConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        factor = config.initializer_factor
        self.class_embedding = self.add_weight(
            name="class_embedding",
            shape=(config.hidden_size,),
            initializer=get_initializer(config.hidden_size**-0.5 * factor),
        )
        self.patch_embedding = keras.layers.Conv2D(
            config.hidden_size,
            kernel_size=config.patch_size,
            strides=config.patch_size,
            padding="valid",
            use_bias=False,
            data_format="channels_last",
            kernel_initializer=get_initializer(config.initializer_range * factor),
        )
        self.num_positions = (config.image_size // config.patch_size) ** 2 + 1
        self.position_embedding = keras.layers.Embedding(
            self.num_positions,
            config.hidden_size,
            embeddings_initializer=get_initializer(config.initializer_range * factor),
        )

    def interpolate_pos_encoding(self, embeddings: tf.Tensor, height: int, width: int) -> tf.Tensor:
        """The position embeddings resized to the patch grid of a height x width image, as torch's bicubic."""
        num_patches = embeddings.shape[1] - 1
        num_positions = self.num_positions - 1
        positions = self.position_embedding(tf.range(self.num_positions))[None]
        if num_patches == num_positions and height == width:
            return positions
        patch = self.config.patch_size
        return resize_patch_position_embeddings(positions, height // patch, width // patch)

    def call(self, pixel_values: tf.Tensor, interpolate_pos_encoding: bool = False) -> tf.Tensor:
        shape = tuple(pixel_values.shape)
        check_pixel_values(shape, self.config.num_channels, self.config.image_size, interpolate_pos_encoding)
        patches = self.patch_embedding(tf.transpose(pixel_values, (0, 2, 3, 1)))  # [batch, h, w, hidden]
        batch, height, width, hidden = shape_list(patches)
        patches = tf.reshape(patches, (batch, height * width, hidden))
        class_embeds = tf.tile(tf.cast(self.class_embedding, patches.dtype)[None, None, :], (batch, 1, 1))
        embeddings = tf.concat([class_embeds, patches], axis=1)
        if interpolate_pos_encoding:
            return embeddings + self.interpolate_pos_encoding(embeddings, shape[2], shape[3])
        return embeddings + self.position_embedding(tf.range(self.num_positions))[None]


class TFCLIPTextEmbeddings(TFLayer):
    def __init__(self, config: CLIPTextConfig, **kwargs):
        super().__init__(**kwargs)
        std = config.initializer_factor * 0.02
        self.token_embedding = keras.layers.Embedding(
            config.vocab_size, config.hidden_size, embeddings_initializer=get_initializer(std)
        )
        self.position_embedding = keras.layers.Embedding(
            config.max_position_embeddings, config.hidden_size, embeddings_initializer=get_initializer(std)
        )

    def call(self, input_ids: tf.Tensor, position_ids: tf.Tensor | None = None) -> tf.Tensor:
        if position_ids is None:
            position_ids = tf.range(shape_list(input_ids)[-1])[None]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)


class TFCLIPAttention(TFLayer):
    """Multi-head self-attention with an additive mask (causal and padding in the text tower)."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        if self.embed_dim % self.num_heads:
            raise InputError(
                f"hidden_size ({self.embed_dim}) must be a multiple of num_attention_heads ({self.num_heads})."
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        factor = config.initializer_factor
        in_std = self.embed_dim**-0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor
        self.k_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=get_initializer(in_std))
        self.v_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=get_initializer(in_std))
        self.q_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=get_initializer(in_std))
        self.out_proj = keras.layers.Dense(
            self.embed_dim, kernel_initializer=get_initializer(self.embed_dim**-0.5 * factor)
        )
        self.dropout = keras.layers.Dropout(config.attention_dropout)

    def split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq, _ = shape_list(x)
        return tf.transpose(tf.reshape(x, (batch, seq, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        query = self.split_heads(self.q_proj(hidden_states))
        key = self.split_heads(self.k_proj(hidden_states))
        value = self.split_heads(self.v_proj(hidden_states))
        scores = tf.matmul(query, key, transpose_b=True) * self.scale
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        context = tf.matmul(probs, value)
        batch, _, seq, _ = shape_list(context)
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.embed_dim))
        return self.out_proj(context), probs if output_attentions else None


class TFCLIPMLP(TFLayer):
    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, **kwargs):
        super().__init__(**kwargs)
        factor, hidden = config.initializer_factor, config.hidden_size
        self.activation_fn = get_tf_activation(config.hidden_act)
        self.fc1 = keras.layers.Dense(
            config.intermediate_size, kernel_initializer=get_initializer((2 * hidden) ** -0.5 * factor)
        )
        fc2_std = hidden**-0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor
        self.fc2 = keras.layers.Dense(hidden, kernel_initializer=get_initializer(fc2_std))

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class TFCLIPEncoderLayer(TFLayer):
    """Pre-norm block: x + attention(LN(x)), then h + MLP(LN(h))."""

    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, **kwargs):
        super().__init__(**kwargs)
        self.self_attn = TFCLIPAttention(config)
        self.layer_norm1 = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.mlp = TFCLIPMLP(config)
        self.layer_norm2 = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        attention_output, probs = self.self_attn(
            self.layer_norm1(hidden_states),
            attention_mask,
            output_attentions=output_attentions,
            training=training,
        )
        hidden_states = hidden_states + attention_output
        return hidden_states + self.mlp(self.layer_norm2(hidden_states)), probs


class TFCLIPEncoder(TFLayer):
    def __init__(self, config: CLIPTextConfig | CLIPVisionConfig, **kwargs):
        super().__init__(**kwargs)
        self.layers = [TFCLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)]

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        training: bool = False,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            hidden_states, probs = layer(
                hidden_states, attention_mask, output_attentions=output_attentions, training=training
            )
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


def causal_padding_mask(attention_mask: tf.Tensor | None, batch: int, seq: int, dtype: tf.DType) -> tf.Tensor:
    """Additive [batch, 1, seq, seq] mask: 0 where a query may attend (earlier, unpadded keys), dtype-min elsewhere."""
    allowed = tf.linalg.band_part(tf.ones((seq, seq), dtype=tf.bool), -1, 0)[None, None]
    if attention_mask is not None:
        allowed = tf.logical_and(allowed, tf.cast(attention_mask, tf.bool)[:, None, None, :])
    allowed = tf.broadcast_to(allowed, (batch, 1, seq, seq))
    return tf.where(allowed, tf.zeros((), dtype), tf.constant(dtype.min, dtype))


def _flags(config, output_attentions, output_hidden_states, return_dict) -> tuple[bool, bool, bool]:
    return (
        config.output_attentions if output_attentions is None else output_attentions,
        config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        config.return_dict if return_dict is None else return_dict,
    )


class TFCLIPPreTrainedModel(TFPreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """Token ids of the text tower's vocabulary and/or one black image of the config's size."""
        config = self.config
        inputs = {}
        text = config.text_config if isinstance(config, CLIPConfig) else config
        vision = config.vision_config if isinstance(config, CLIPConfig) else config
        if isinstance(text, CLIPTextConfig):
            inputs["input_ids"] = tf.constant([[0, 1, 2], [2, 1, 0]], dtype=tf.int32) % text.vocab_size
        if isinstance(vision, CLIPVisionConfig):
            shape = (1, vision.num_channels, vision.image_size, vision.image_size)
            inputs["pixel_values"] = tf.constant(np.zeros(shape, dtype=np.float32))
        return inputs


class TFCLIPTextModel(TFCLIPPreTrainedModel):
    """The text tower, pooled at the end-of-text token; no projection."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _keys_to_ignore_on_load_unexpected = [*_TEXT_PARTS, r"^text_projection\."]

    def __init__(self, config: CLIPTextConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.embeddings = TFCLIPTextEmbeddings(config)
        self.encoder = TFCLIPEncoder(config)
        self.final_layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.eos_token_id = config.eos_token_id
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.embeddings.token_embedding

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.embeddings.token_embedding = value

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions, output_hidden_states, return_dict = _flags(
            self.config, output_attentions, output_hidden_states, return_dict
        )
        if input_ids is None:
            raise InputError("CLIP's text model needs input_ids: pass the tokenizer's output.")
        input_ids = tf.reshape(input_ids, (-1, shape_list(input_ids)[-1]))
        hidden_states = self.embeddings(input_ids, position_ids)
        batch, seq = shape_list(input_ids)
        mask = causal_padding_mask(attention_mask, batch, seq, hidden_states.dtype)
        encoder_outputs = self.encoder(
            hidden_states,
            mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
        )
        last_hidden_state = self.final_layer_norm(encoder_outputs.last_hidden_state)
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=pooled_at_eos(last_hidden_state, input_ids, self.eos_token_id),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class TFCLIPVisionModel(TFCLIPPreTrainedModel):
    """The vision tower, pooled at the class token (post-LayerNorm); no projection."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    _keys_to_ignore_on_load_unexpected = [*_VISION_PARTS, r"^visual_projection\."]

    def __init__(self, config: CLIPVisionConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.embeddings = TFCLIPVisionEmbeddings(config)
        self.pre_layrnorm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_eps
        )  # transformers' spelling
        self.encoder = TFCLIPEncoder(config)
        self.post_layernorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Layer:
        return self.embeddings.patch_embedding

    def call(
        self,
        pixel_values: tf.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions, output_hidden_states, return_dict = _flags(
            self.config, output_attentions, output_hidden_states, return_dict
        )
        if pixel_values is None:
            raise InputError("CLIP's vision model needs pixel_values: pass the image processor's output.")
        embeddings = self.embeddings(
            tf.cast(pixel_values, self.compute_dtype), interpolate_pos_encoding=bool(interpolate_pos_encoding)
        )
        hidden_states = self.pre_layrnorm(embeddings)
        encoder_outputs = self.encoder(
            hidden_states,
            None,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
        )
        last_hidden_state = encoder_outputs.last_hidden_state
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.post_layernorm(last_hidden_state[:, 0, :]),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


def _projection(features: int, std: float) -> keras.layers.Dense:
    return keras.layers.Dense(features, use_bias=False, kernel_initializer=get_initializer(std))


class TFCLIPModel(TFCLIPPreTrainedModel):
    """Both towers, their projections into one space, and `logit_scale`: image-text similarity logits."""

    def __init__(self, config: CLIPConfig, **kwargs):
        super().__init__(config, **kwargs)
        text_config, vision_config = config.text_config, config.vision_config
        factor = config.initializer_factor
        self.text_model = TFCLIPTextModel(text_config)
        self.vision_model = TFCLIPVisionModel(vision_config)
        self.visual_projection = _projection(config.projection_dim, vision_config.hidden_size**-0.5 * factor)
        self.text_projection = _projection(config.projection_dim, text_config.hidden_size**-0.5 * factor)
        self.logit_scale = self.add_weight(
            name="logit_scale",
            shape=(),
            initializer=keras.initializers.Constant(config.logit_scale_init_value),
        )
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.text_model.set_input_embeddings(value)

    def get_text_features(
        self,
        input_ids: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling:
        """The text tower's output with `pooler_output` projected into the shared space (transformers 5)."""
        outputs = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return outputs

    def get_image_features(
        self,
        pixel_values: tf.Tensor,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling:
        """The vision tower's output with `pooler_output` projected into the shared space (transformers 5)."""
        outputs = self.vision_model(
            pixel_values=pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return outputs

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        pixel_values: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        return_loss: bool | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> CLIPOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        flags = dict(
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, training=training
        )
        vision_outputs = self.get_image_features(pixel_values, interpolate_pos_encoding, **flags)
        text_outputs = self.get_text_features(input_ids, attention_mask, position_ids, **flags)
        image_embeds = _normalised(vision_outputs.pooler_output)
        text_embeds = _normalised(text_outputs.pooler_output)
        scale = tf.exp(tf.cast(self.logit_scale, text_embeds.dtype))
        logits_per_text = tf.matmul(text_embeds, image_embeds, transpose_b=True) * scale
        outputs = CLIPOutput(
            loss=contrastive_loss(logits_per_text) if return_loss else None,
            logits_per_image=tf.transpose(logits_per_text),
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return finish_output(outputs, return_dict)


class TFCLIPTextModelWithProjection(TFCLIPPreTrainedModel):
    """The text tower and `text_projection`: `text_embeds` in the shared space (not normalised)."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"
    _keys_to_ignore_on_load_unexpected = _TEXT_PARTS

    def __init__(self, config: CLIPTextConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.text_model = TFCLIPTextModel(config)
        std = config.hidden_size**-0.5 * config.initializer_factor
        self.text_projection = _projection(config.projection_dim, std)
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.text_model.set_input_embeddings(value)

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> CLIPTextModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        result = CLIPTextModelOutput(
            text_embeds=self.text_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return finish_output(result, return_dict)


class TFCLIPVisionModelWithProjection(TFCLIPPreTrainedModel):
    """The vision tower and `visual_projection`: `image_embeds` in the shared space (not normalised)."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    _keys_to_ignore_on_load_unexpected = _VISION_PARTS

    def __init__(self, config: CLIPVisionConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.vision_model = TFCLIPVisionModel(config)
        std = config.hidden_size**-0.5 * config.initializer_factor
        self.visual_projection = _projection(config.projection_dim, std)
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Layer:
        return self.vision_model.get_input_embeddings()

    def call(
        self,
        pixel_values: tf.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> CLIPVisionModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.vision_model(
            pixel_values=pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        result = CLIPVisionModelOutput(
            image_embeds=self.visual_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return finish_output(result, return_dict)
