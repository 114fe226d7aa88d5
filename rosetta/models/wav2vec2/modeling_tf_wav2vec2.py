"""Wav2Vec2 in TensorFlow/Keras: config -> feature encoder -> projection -> positional conv -> encoder -> heads.

The torch file, layer for layer: attributes carry the torch module names, so every weight's path maps to
transformers' parameter name by the generic rules (Conv1D WIO kernels to OIW). The positional convolution
holds its weight-norm pair as torch does (`conv.parametrizations.weight.original0` = g [1, 1, kernel],
`original1` = v [out, in / groups, kernel], both in torch's layout) and computes g * v / ||v|| each call.
Activations run channels-last: [batch, frames, channels].
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ...backends.tf.activations import get_tf_activation
from ...backends.tf.losses import cross_entropy
from ...backends.tf.modeling_tf_utils import TFLayer, TFPreTrainedModel
from ...backends.tf.tf_utils import get_initializer, shape_list
from ...core.errors import ConfigError, InputError
from ...core.outputs import BaseModelOutput, CausalLMOutput, SequenceClassifierOutput, finish_output
from .checkpoint_wav2vec2 import LegacyWeightNormReader
from .configuration_wav2vec2 import Wav2Vec2Config
from .outputs_wav2vec2 import Wav2Vec2BaseModelOutput


# -- feature encoder ---------------------------------------------------------------------------------------
def _conv(config: Wav2Vec2Config, layer_id: int) -> keras.layers.Conv1D:
    return keras.layers.Conv1D(
        config.conv_dim[layer_id],
        kernel_size=config.conv_kernel[layer_id],
        strides=config.conv_stride[layer_id],
        use_bias=config.conv_bias,
        kernel_initializer="he_normal",
    )


class TFWav2Vec2NoLayerNormConvLayer(TFLayer):
    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.conv = _conv(config, layer_id)
        self.activation = get_tf_activation(config.feat_extract_activation)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.activation(self.conv(hidden_states))


class TFWav2Vec2LayerNormConvLayer(TFLayer):
    """Convolution, LayerNorm over the channels of each frame, activation."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.conv = _conv(config, layer_id)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.activation = get_tf_activation(config.feat_extract_activation)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.activation(self.layer_norm(self.conv(hidden_states)))


class TFWav2Vec2GroupNormConvLayer(TFLayer):
    """Convolution, GroupNorm with one group per channel (each channel normalised over time), activation."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.conv = _conv(config, layer_id)
        self.activation = get_tf_activation(config.feat_extract_activation)
        dim = config.conv_dim[layer_id]
        self.layer_norm = keras.layers.GroupNormalization(groups=dim, epsilon=1e-5)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.activation(self.layer_norm(self.conv(hidden_states)))


class TFWav2Vec2FeatureEncoder(TFLayer):
    """The raw waveform [batch, samples] through the convolutions: [batch, frames, conv_dim[-1]]."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        count = config.num_feat_extract_layers
        if config.feat_extract_norm == "group":
            layers = [TFWav2Vec2GroupNormConvLayer(config, 0)]
            layers += [TFWav2Vec2NoLayerNormConvLayer(config, i) for i in range(1, count)]
        else:
            layers = [TFWav2Vec2LayerNormConvLayer(config, i) for i in range(count)]
        self.conv_layers = layers

    def call(self, input_values: tf.Tensor) -> tf.Tensor:
        hidden_states = input_values[:, :, None]
        for conv_layer in self.conv_layers:
            hidden_states = conv_layer(hidden_states)
        return hidden_states


class TFWav2Vec2FeatureProjection(TFLayer):
    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.projection = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.dropout = keras.layers.Dropout(config.feat_proj_dropout)

    def call(self, hidden_states: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        norm_hidden_states = self.layer_norm(hidden_states)
        return self.dropout(self.projection(norm_hidden_states), training=training), norm_hidden_states


# -- encoder -------------------------------------------------------------------------------------------------
class TFWav2Vec2WeightNormPair(TFLayer):
    """torch's `parametrizations.weight`: g (`original0`, [1, 1, kernel]) and v (`original1`), torch layout."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        hidden, kernel = config.hidden_size, config.num_conv_pos_embeddings
        per_group = hidden // config.num_conv_pos_embedding_groups
        std = 2 * np.sqrt(1 / (kernel * hidden))
        self.original0 = self.add_weight(name="original0", shape=(1, 1, kernel), initializer="ones")
        self.original1 = self.add_weight(
            name="original1",
            shape=(hidden, per_group, kernel),
            initializer=keras.initializers.RandomNormal(stddev=std),
        )

    def kernel(self) -> tf.Tensor:
        """g * v / ||v|| (the norm over all but the kernel axis) as a WIO kernel [kernel, in / groups, out]."""
        v = tf.cast(self.original1, self.compute_dtype)
        norm = tf.sqrt(tf.reduce_sum(tf.square(v), axis=(0, 1), keepdims=True))
        weight = tf.cast(self.original0, self.compute_dtype) * v / norm
        return tf.transpose(weight, (2, 1, 0))


class TFWav2Vec2WeightNormParametrizations(TFLayer):
    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.weight = TFWav2Vec2WeightNormPair(config)


class TFWav2Vec2WeightNormConv1D(TFLayer):
    """The positional convolution: grouped, "same" padded by kernel // 2, weight-normed."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.groups = config.num_conv_pos_embedding_groups
        self.padding = config.num_conv_pos_embeddings // 2
        self.bias = self.add_weight(name="bias", shape=(config.hidden_size,), initializer="zeros")
        self.parametrizations = TFWav2Vec2WeightNormParametrizations(config)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        kernel = self.parametrizations.weight.kernel()
        padded = tf.pad(hidden_states, ((0, 0), (self.padding, self.padding), (0, 0)))
        in_per_group = kernel.shape[1]
        out_per_group = kernel.shape[2] // self.groups
        outputs = [
            tf.nn.conv1d(
                padded[:, :, g * in_per_group : (g + 1) * in_per_group],
                kernel[:, :, g * out_per_group : (g + 1) * out_per_group],
                stride=1,
                padding="VALID",
            )
            for g in range(self.groups)
        ]
        return tf.concat(outputs, axis=-1) + tf.cast(self.bias, hidden_states.dtype)


class TFWav2Vec2PositionalConvEmbedding(TFLayer):
    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.conv = TFWav2Vec2WeightNormConv1D(config)
        self.num_pad_remove = 1 if config.num_conv_pos_embeddings % 2 == 0 else 0
        self.activation = get_tf_activation(config.feat_extract_activation)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        hidden_states = self.conv(hidden_states)
        if self.num_pad_remove > 0:
            hidden_states = hidden_states[:, : -self.num_pad_remove]
        return self.activation(hidden_states)


class TFWav2Vec2Attention(TFLayer):
    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        if self.head_dim * self.num_heads != self.embed_dim:
            raise ConfigError(
                f"hidden_size ({self.embed_dim}) must be a multiple of num_attention_heads ({self.num_heads})."
            )
        initializer = get_initializer(config.initializer_range)
        self.k_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=initializer)
        self.v_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=initializer)
        self.q_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=initializer)
        self.out_proj = keras.layers.Dense(self.embed_dim, kernel_initializer=initializer)
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
        scores = tf.matmul(query, key, transpose_b=True) * self.head_dim**-0.5
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        context = tf.matmul(probs, value)
        batch, _, seq, _ = shape_list(context)
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.embed_dim))
        return self.out_proj(context), probs if output_attentions else None


class TFWav2Vec2FeedForward(TFLayer):
    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        initializer = get_initializer(config.initializer_range)
        self.intermediate_dropout = keras.layers.Dropout(config.activation_dropout)
        self.intermediate_dense = keras.layers.Dense(config.intermediate_size, kernel_initializer=initializer)
        self.intermediate_act_fn = get_tf_activation(config.hidden_act)
        self.output_dense = keras.layers.Dense(config.hidden_size, kernel_initializer=initializer)
        self.output_dropout = keras.layers.Dropout(config.hidden_dropout)

    def call(self, hidden_states: tf.Tensor, training: bool = False) -> tf.Tensor:
        hidden_states = self.intermediate_act_fn(self.intermediate_dense(hidden_states))
        hidden_states = self.intermediate_dropout(hidden_states, training=training)
        return self.output_dropout(self.output_dense(hidden_states), training=training)


class TFWav2Vec2EncoderLayer(TFLayer):
    """Post-norm block: LN(x + attention(x)), then LN(h + FF(h)); with `stable`, pre-norm instead."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.attention = TFWav2Vec2Attention(config)
        self.dropout = keras.layers.Dropout(config.hidden_dropout)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.feed_forward = TFWav2Vec2FeedForward(config)
        self.final_layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.stable = config.do_stable_layer_norm

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        residual = hidden_states
        if self.stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states, probs = self.attention(
            hidden_states, attention_mask, output_attentions=output_attentions, training=training
        )
        hidden_states = residual + self.dropout(hidden_states, training=training)
        if self.stable:
            feed_forward = self.feed_forward(self.final_layer_norm(hidden_states), training=training)
            return hidden_states + feed_forward, probs
        hidden_states = self.layer_norm(hidden_states)
        feed_forward = self.feed_forward(hidden_states, training=training)
        return self.final_layer_norm(hidden_states + feed_forward), probs


class TFWav2Vec2Encoder(TFLayer):
    """Positional conv, then the layers; the final LayerNorm comes first (post-norm) or last (stable)."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(**kwargs)
        self.pos_conv_embed = TFWav2Vec2PositionalConvEmbedding(config)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.dropout = keras.layers.Dropout(config.hidden_dropout)
        self.layers = [TFWav2Vec2EncoderLayer(config) for _ in range(config.num_hidden_layers)]
        self.stable = config.do_stable_layer_norm
        self.layerdrop = config.layerdrop

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        training: bool = False,
    ) -> BaseModelOutput:
        additive = None
        if attention_mask is not None:  # padded frames are zeroed and never attended to
            mask = tf.cast(attention_mask, hidden_states.dtype)
            hidden_states = hidden_states * mask[..., None]
            additive = (1.0 - mask[:, None, None, :]) * hidden_states.dtype.min
        hidden_states = hidden_states + self.pos_conv_embed(hidden_states)
        if not self.stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states, training=training)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if training and self.layerdrop > 0.0 and np.random.uniform() < self.layerdrop:
                continue
            hidden_states, probs = layer(
                hidden_states, additive, output_attentions=output_attentions, training=training
            )
            if output_attentions:
                all_attentions += (probs,)
        if output_hidden_states:  # (stable: before the final LayerNorm, as transformers 5 records them)
            all_hidden_states += (hidden_states,)
        if self.stable:
            hidden_states = self.layer_norm(hidden_states)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


# -- pretrained base -----------------------------------------------------------------------------------------
def feat_extract_output_lengths(config: Wav2Vec2Config, input_lengths: tf.Tensor) -> tf.Tensor:
    """Frames the feature encoder makes of `input_lengths` samples."""
    for kernel_size, stride in zip(config.conv_kernel, config.conv_stride):
        input_lengths = (input_lengths - kernel_size) // stride + 1
    return input_lengths


def feature_vector_attention_mask(
    config: Wav2Vec2Config, num_frames: int, attention_mask: tf.Tensor
) -> tf.Tensor:
    """The sample-level mask as a bool mask over output frames: the first `output length` frames are real."""
    lengths = feat_extract_output_lengths(config, tf.reduce_sum(tf.cast(attention_mask, tf.int64), axis=-1))
    return tf.range(num_frames, dtype=tf.int64)[None, :] < lengths[:, None]


class TFWav2Vec2PreTrainedModel(TFPreTrainedModel):
    config_class = Wav2Vec2Config
    base_model_prefix = "wav2vec2"
    main_input_name = "input_values"

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """One silent clip long enough for every convolution (and a few frames): creates every weight."""
        samples = 1
        for kernel, stride in zip(reversed(self.config.conv_kernel), reversed(self.config.conv_stride)):
            samples = (samples - 1) * stride + kernel
        samples += 2 * self.config.inputs_to_logits_ratio
        return {"input_values": tf.constant(np.zeros((1, samples), dtype=np.float32))}

    def _load_from_reader(self, reader: Any, *args: Any) -> Any:
        """Checkpoints with the old `weight_g` / `weight_v` names load under the canonical ones."""
        return super()._load_from_reader(LegacyWeightNormReader.wrap(reader), *args)


class TFWav2Vec2Model(TFWav2Vec2PreTrainedModel):
    """The bare encoder: `last_hidden_state` [batch, frames, hidden] and `extract_features` [batch, frames, conv_dim[-1]]."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.feature_extractor = TFWav2Vec2FeatureEncoder(config)
        self.feature_projection = TFWav2Vec2FeatureProjection(config)
        self.masked_spec_embed = None
        if config.mask_time_prob > 0.0 or config.mask_feature_prob > 0.0:
            self.masked_spec_embed = self.add_weight(
                name="masked_spec_embed",
                shape=(config.hidden_size,),
                initializer=keras.initializers.RandomUniform(0.0, 1.0),
            )
        self.encoder = TFWav2Vec2Encoder(config)
        self.post_init()

    def call(
        self,
        input_values: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        mask_time_indices: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> Wav2Vec2BaseModelOutput | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if input_values is None or input_values.shape.rank != 2:
            raise InputError(
                "Wav2Vec2 needs input_values [batch, samples] (raw audio): pass the feature extractor's output, "
                f"got {None if input_values is None else tuple(input_values.shape)}."
            )
        extract_features = self.feature_extractor(tf.cast(input_values, self.compute_dtype))
        frame_mask = None
        if attention_mask is not None:
            frame_mask = feature_vector_attention_mask(
                self.config, shape_list(extract_features)[1], attention_mask
            )
        hidden_states, extract_features = self.feature_projection(extract_features, training=training)
        if mask_time_indices is not None and self.masked_spec_embed is not None:
            spec = tf.cast(self.masked_spec_embed, hidden_states.dtype)
            hidden_states = tf.where(tf.cast(mask_time_indices, tf.bool)[..., None], spec, hidden_states)
        encoder_outputs = self.encoder(
            hidden_states,
            frame_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
        )
        outputs = Wav2Vec2BaseModelOutput(
            last_hidden_state=encoder_outputs.last_hidden_state,
            extract_features=extract_features,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


# -- heads ---------------------------------------------------------------------------------------------------
def _compact_labels(labels: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    """Each row's kept labels moved to its front (the rest 0), as torch's flattened targets are per row."""
    return tf.ragged.boolean_mask(labels, keep).to_tensor(default_value=0, shape=tf.shape(labels))


def ctc_loss(config: Wav2Vec2Config, logits: tf.Tensor, labels: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """torch's CTC loss as transformers calls it (blank `pad_token_id`; -100 and blank labels are padding;
    `ctc_loss_reduction`, `ctc_zero_infinity`): an alignment that cannot exist costs inf (0 when zeroed)."""
    labels = tf.cast(labels, tf.int32)
    keep = (labels != -100) & (labels != config.pad_token_id)
    target_lengths = tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1)
    targets = _compact_labels(labels, keep)
    lengths = tf.cast(lengths, tf.int32)
    losses = tf.nn.ctc_loss(
        targets,
        tf.cast(logits, tf.float32),
        target_lengths,
        lengths,
        logits_time_major=False,
        blank_index=config.pad_token_id,
    )
    positions = tf.range(tf.shape(targets)[1])[None, 1:]
    repeats = tf.reduce_sum(
        tf.cast((targets[:, 1:] == targets[:, :-1]) & (positions < target_lengths[:, None]), tf.int32),
        axis=-1,
    )
    infinite = lengths < target_lengths + repeats
    losses = tf.where(infinite, 0.0 if config.ctc_zero_infinity else float("inf"), losses)
    if config.ctc_loss_reduction == "sum":
        return tf.reduce_sum(losses)
    if config.ctc_loss_reduction == "mean":
        return tf.reduce_mean(losses / tf.cast(tf.maximum(target_lengths, 1), tf.float32))
    return losses


class TFWav2Vec2ForCTC(TFWav2Vec2PreTrainedModel):
    """A linear layer over every frame's final hidden state: per-frame logits over the CTC vocabulary."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(config, **kwargs)
        if config.vocab_size is None:
            raise ConfigError(
                "Wav2Vec2ForCTC needs config.vocab_size (the CTC vocabulary): pass vocab_size=len(tokenizer)."
            )
        self.wav2vec2 = TFWav2Vec2Model(config)
        self.dropout = keras.layers.Dropout(config.final_dropout)
        self.lm_head = keras.layers.Dense(
            config.vocab_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.post_init()

    def call(
        self,
        input_values: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        labels: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> CausalLMOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        logits = self.lm_head(self.dropout(outputs.last_hidden_state, training=training))
        loss = None
        if labels is not None:
            mask = attention_mask if attention_mask is not None else tf.ones(tf.shape(input_values), tf.int64)
            lengths = feat_extract_output_lengths(
                self.config, tf.reduce_sum(tf.cast(mask, tf.int64), axis=-1)
            )
            loss = ctc_loss(self.config, logits, labels, lengths)
        return finish_output(
            CausalLMOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class TFWav2Vec2ForSequenceClassification(TFWav2Vec2PreTrainedModel):
    """Project every frame, mean-pool over the real frames, classify (keyword spotting, speaker id, ...)."""

    def __init__(self, config: Wav2Vec2Config, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.wav2vec2 = TFWav2Vec2Model(config)
        num_layers = config.num_hidden_layers + 1
        self.layer_weights = None
        if config.use_weighted_layer_sum:
            self.layer_weights = self.add_weight(
                name="layer_weights",
                shape=(num_layers,),
                initializer=keras.initializers.Constant(1.0 / num_layers),
            )
        initializer = get_initializer(config.initializer_range)
        self.projector = keras.layers.Dense(config.classifier_proj_size, kernel_initializer=initializer)
        self.classifier = keras.layers.Dense(config.num_labels, kernel_initializer=initializer)
        self.post_init()

    def call(
        self,
        input_values: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        labels: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        wanted = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        weighted = self.layer_weights is not None
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=wanted or weighted,
            return_dict=True,
            training=training,
        )
        if weighted:
            norm_weights = tf.nn.softmax(tf.cast(self.layer_weights, outputs.last_hidden_state.dtype))
            hidden_states = tf.einsum("l,lbtd->btd", norm_weights, tf.stack(outputs.hidden_states))
        else:
            hidden_states = outputs.last_hidden_state
        hidden_states = self.projector(hidden_states)
        if attention_mask is None:
            pooled_output = tf.reduce_mean(hidden_states, axis=1)
        else:
            frames = feature_vector_attention_mask(self.config, shape_list(hidden_states)[1], attention_mask)
            frames = tf.cast(frames, hidden_states.dtype)[..., None]
            pooled_output = tf.reduce_sum(hidden_states * frames, axis=1) / tf.reduce_sum(frames, axis=1)
        logits = self.classifier(pooled_output)
        loss = cross_entropy(logits, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss,
                logits=logits,
                hidden_states=outputs.hidden_states if wanted else None,
                attentions=outputs.attentions,
            ),
            return_dict,
        )
