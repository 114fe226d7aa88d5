"""ViT in TensorFlow/Keras: config -> embeddings -> attention -> layer -> encoder -> pretrained base -> heads.

The torch file, layer for layer: attributes carry the torch module names, so every weight's path maps
to Hugging Face's parameter name by the generic rules (the patch convolution's HWIO kernel to OIHW) and
the same checkpoint loads here, in torch and in Flax. `pixel_values` are [batch, channels, height, width]
as in torch; the convolution runs channels-last. Dropout is active only in calls with `training=True`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from ...backends.tf.activations import get_tf_activation
from ...backends.tf.losses import sequence_classification_loss
from ...backends.tf.modeling_tf_utils import TFLayer, TFPreTrainedModel
from ...backends.tf.tf_utils import get_initializer, resize_patch_position_embeddings, shape_list
from ...core.errors import InputError
from ...core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    ImageClassifierOutput,
    finish_output,
)
from .configuration_vit import ViTConfig


class TFViTPatchEmbeddings(TFLayer):
    """Cut the image into patches and project each (a strided conv): [batch, patches, hidden]."""

    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.num_channels = config.num_channels
        self.num_patches = (config.image_size // config.patch_size) ** 2
        self.projection = keras.layers.Conv2D(
            config.hidden_size,
            kernel_size=config.patch_size,
            strides=config.patch_size,
            padding="valid",
            data_format="channels_last",
            kernel_initializer=get_initializer(config.initializer_range),
        )

    def call(self, pixel_values: tf.Tensor) -> tf.Tensor:
        if pixel_values.shape.rank != 4 or pixel_values.shape[1] != self.num_channels:
            raise InputError(
                f"pixel_values must be [batch, {self.num_channels}, height, width] (config.num_channels = "
                f"{self.num_channels}), got shape {tuple(pixel_values.shape)}. Pass the image processor's output."
            )
        patches = self.projection(tf.transpose(pixel_values, (0, 2, 3, 1)))  # [batch, h, w, hidden]
        batch, height, width, hidden = shape_list(patches)
        return tf.reshape(patches, (batch, height * width, hidden))


class TFViTEmbeddings(TFLayer):
    """CLS token + patch embeddings, plus learned positions (resized for another image size on request)."""

    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.patch_embeddings = TFViTPatchEmbeddings(config)
        initializer = get_initializer(config.initializer_range)
        self.cls_token = self.add_weight(
            name="cls_token", shape=(1, 1, config.hidden_size), initializer=initializer
        )
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(1, self.patch_embeddings.num_patches + 1, config.hidden_size),
            initializer=initializer,
        )
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)
        self.patch_size = config.patch_size
        self.image_size = config.image_size

    def interpolate_pos_encoding(self, embeddings: tf.Tensor, height: int, width: int) -> tf.Tensor:
        """The position embeddings resized to the patch grid of a height x width image, as torch's bicubic."""
        num_patches = embeddings.shape[1] - 1
        num_positions = self.position_embeddings.shape[1] - 1
        positions = tf.cast(self.position_embeddings, embeddings.dtype)
        if num_patches == num_positions and height == width:
            return positions
        return resize_patch_position_embeddings(
            positions, height // self.patch_size, width // self.patch_size
        )

    def call(
        self, pixel_values: tf.Tensor, interpolate_pos_encoding: bool = False, training: bool = False
    ) -> tf.Tensor:
        height, width = pixel_values.shape[2], pixel_values.shape[3]
        embeddings = self.patch_embeddings(pixel_values)
        batch = shape_list(embeddings)[0]
        cls_tokens = tf.tile(tf.cast(self.cls_token, embeddings.dtype), (batch, 1, 1))
        embeddings = tf.concat([cls_tokens, embeddings], axis=1)
        if interpolate_pos_encoding:
            embeddings = embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        else:
            if height != self.image_size or width != self.image_size:
                raise InputError(
                    f"Input image size ({height}*{width}) doesn't match the model's "
                    f"({self.image_size}*{self.image_size}). Resize the image with the image processor, or pass "
                    "interpolate_pos_encoding=True to resize the position embeddings."
                )
            embeddings = embeddings + tf.cast(self.position_embeddings, embeddings.dtype)
        return self.dropout(embeddings, training=training)


class TFViTSelfAttention(TFLayer):
    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        if config.hidden_size % config.num_attention_heads != 0:
            raise InputError(
                f"hidden_size ({config.hidden_size}) must be a multiple of num_attention_heads "
                f"({config.num_attention_heads})."
            )
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        initializer = get_initializer(config.initializer_range)
        self.query = keras.layers.Dense(
            self.all_head_size, use_bias=config.qkv_bias, kernel_initializer=initializer
        )
        self.key = keras.layers.Dense(
            self.all_head_size, use_bias=config.qkv_bias, kernel_initializer=initializer
        )
        self.value = keras.layers.Dense(
            self.all_head_size, use_bias=config.qkv_bias, kernel_initializer=initializer
        )
        self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq, _ = shape_list(x)
        x = tf.reshape(x, (batch, seq, self.num_attention_heads, self.attention_head_size))
        return tf.transpose(x, (0, 2, 1, 3))

    def call(
        self, hidden_states: tf.Tensor, output_attentions: bool = False, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        query = self.split_heads(self.query(hidden_states))
        key = self.split_heads(self.key(hidden_states))
        value = self.split_heads(self.value(hidden_states))
        scores = tf.matmul(query, key, transpose_b=True) / math.sqrt(self.attention_head_size)
        probs = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        context = tf.matmul(probs, value)
        batch, _, seq, _ = shape_list(context)
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.all_head_size))
        return context, probs if output_attentions else None


class TFViTSelfOutput(TFLayer):
    """The attention's output projection; the residual is added by the layer (pre-norm)."""

    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def call(self, hidden_states: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dropout(self.dense(hidden_states), training=training)


class TFViTAttention(TFLayer):
    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.attention = TFViTSelfAttention(config)
        self.output = TFViTSelfOutput(config)

    def call(
        self, hidden_states: tf.Tensor, output_attentions: bool = False, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        context, probs = self.attention(hidden_states, output_attentions=output_attentions, training=training)
        return self.output(context, training=training), probs


class TFViTIntermediate(TFLayer):
    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.intermediate_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.intermediate_act_fn = get_tf_activation(config.hidden_act)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class TFViTOutput(TFLayer):
    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def call(self, hidden_states: tf.Tensor, input_tensor: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.dropout(self.dense(hidden_states), training=training) + input_tensor


class TFViTLayer(TFLayer):
    """Pre-norm block: x + attention(LN(x)), then h + MLP(LN(h))."""

    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.attention = TFViTAttention(config)
        self.intermediate = TFViTIntermediate(config)
        self.output = TFViTOutput(config)
        self.layernorm_before = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.layernorm_after = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)

    def call(
        self, hidden_states: tf.Tensor, output_attentions: bool = False, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        attention_output, probs = self.attention(
            self.layernorm_before(hidden_states), output_attentions=output_attentions, training=training
        )
        hidden_states = attention_output + hidden_states
        intermediate = self.intermediate(self.layernorm_after(hidden_states))
        return self.output(intermediate, hidden_states, training=training), probs


class TFViTEncoder(TFLayer):
    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.layer = [TFViTLayer(config) for _ in range(config.num_hidden_layers)]

    def call(
        self,
        hidden_states: tf.Tensor,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        training: bool = False,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, probs = layer(
                hidden_states, output_attentions=output_attentions, training=training
            )
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class TFViTPooler(TFLayer):
    """The CLS token's final hidden state through a dense layer and `pooler_act`."""

    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.pooler_output_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.activation = get_tf_activation(config.pooler_act)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class TFViTPreTrainedModel(TFPreTrainedModel):
    config_class = ViTConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """One black image of the config's size: enough to create every weight."""
        config = self.config
        shape = (1, config.num_channels, config.image_size, config.image_size)
        return {"pixel_values": tf.constant(np.zeros(shape, dtype=np.float32))}


class TFViTModel(TFViTPreTrainedModel):
    """The bare ViT encoder; `add_pooling_layer=False` leaves out the pooler (the classification head)."""

    def __init__(self, config: ViTConfig, add_pooling_layer: bool = True, **kwargs):
        super().__init__(config, **kwargs)
        self.embeddings = TFViTEmbeddings(config)
        self.encoder = TFViTEncoder(config)
        self.layernorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.pooler = TFViTPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Layer:
        return self.embeddings.patch_embeddings

    def call(
        self,
        pixel_values: tf.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if pixel_values is None:
            raise InputError("ViT needs pixel_values: pass the image processor's output.")
        pixel_values = tf.cast(pixel_values, self.compute_dtype)
        embedding_output = self.embeddings(
            pixel_values, interpolate_pos_encoding=bool(interpolate_pos_encoding), training=training
        )
        encoder_outputs = self.encoder(
            embedding_output,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
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


class TFViTForImageClassification(TFViTPreTrainedModel):
    """A linear classifier on the CLS token's final hidden state (no pooler)."""

    _keys_to_ignore_on_load_unexpected = [r"^vit\.pooler\."]

    def __init__(self, config: ViTConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.vit = TFViTModel(config, add_pooling_layer=False)
        if config.num_labels > 0:
            self.classifier = keras.layers.Dense(
                config.num_labels, kernel_initializer=get_initializer(config.initializer_range)
            )
        else:
            self.classifier = keras.layers.Identity()
        self.post_init()

    def call(
        self,
        pixel_values: tf.Tensor | None = None,
        labels: tf.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> ImageClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.vit(
            pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        logits = self.classifier(outputs.last_hidden_state[:, 0])
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            ImageClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )
