"""Wav2Vec2 in JAX/Flax: config -> feature encoder -> projection -> positional conv -> encoder -> heads.

Class for class and attribute for attribute the torch file (`modeling_wav2vec2.py`), as linen modules: the
params tree reads `wav2vec2/feature_extractor/conv_layers/0/conv/kernel` where torch's state dict reads
`wav2vec2.feature_extractor.conv_layers.0.conv.weight` (WIO <-> OIW by the generic rule). The positional
convolution holds its weight-norm pair as torch does (`conv/parametrizations/weight/original0` = g,
`original1` = v, torch's layout) and computes g * v / ||v|| in each call. Activations run channels-last.
Training differs from torch in one point: LayerDrop (`config.layerdrop`) is not applied.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ...backends.flax.activations import get_activation
from ...backends.flax.flax_utils import FlaxModuleList
from ...backends.flax.losses import cross_entropy
from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel, Path
from ...core.errors import ConfigError, InputError
from ...core.outputs import BaseModelOutput, CausalLMOutput, SequenceClassifierOutput, finish_output
from .checkpoint_wav2vec2 import LegacyWeightNormReader
from .configuration_wav2vec2 import Wav2Vec2Config
from .outputs_wav2vec2 import Wav2Vec2BaseModelOutput

Array = jax.Array


def _dense(features: int, dtype: Any) -> nn.Dense:
    return nn.Dense(features, dtype=dtype, param_dtype=dtype)


def _layer_norm(epsilon: float, dtype: Any) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=epsilon, dtype=dtype, param_dtype=dtype, use_fast_variance=False)


# -- feature encoder ---------------------------------------------------------------------------------------
def _conv(config: Wav2Vec2Config, layer_id: int, dtype: Any) -> nn.Conv:
    return nn.Conv(
        config.conv_dim[layer_id],
        kernel_size=(config.conv_kernel[layer_id],),
        strides=(config.conv_stride[layer_id],),
        padding="VALID",
        use_bias=config.conv_bias,
        dtype=dtype,
        param_dtype=dtype,
    )


class FlaxWav2Vec2NoLayerNormConvLayer(nn.Module):
    config: Wav2Vec2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.conv = _conv(self.config, self.layer_idx, self.dtype)
        self.activation = get_activation(self.config.feat_extract_activation)

    def __call__(self, hidden_states: Array) -> Array:
        return self.activation(self.conv(hidden_states))


class FlaxWav2Vec2LayerNormConvLayer(nn.Module):
    """Convolution, LayerNorm over the channels of each frame, activation."""

    config: Wav2Vec2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.conv = _conv(self.config, self.layer_idx, self.dtype)
        self.layer_norm = _layer_norm(1e-5, self.dtype)
        self.activation = get_activation(self.config.feat_extract_activation)

    def __call__(self, hidden_states: Array) -> Array:
        return self.activation(self.layer_norm(self.conv(hidden_states)))


class FlaxWav2Vec2GroupNormConvLayer(nn.Module):
    """Convolution, GroupNorm with one group per channel (each channel normalised over time), activation."""

    config: Wav2Vec2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        dim = self.config.conv_dim[self.layer_idx]
        self.conv = _conv(self.config, self.layer_idx, self.dtype)
        self.activation = get_activation(self.config.feat_extract_activation)
        self.layer_norm = nn.GroupNorm(
            num_groups=dim, epsilon=1e-5, dtype=self.dtype, param_dtype=self.dtype, use_fast_variance=False
        )

    def __call__(self, hidden_states: Array) -> Array:
        return self.activation(self.layer_norm(self.conv(hidden_states)))


class FlaxWav2Vec2ConvLayers(nn.Module):
    """torch's `conv_layers` ModuleList: entries named "0", "1", ... ("group": only the first one normed)."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        count = config.num_feat_extract_layers
        if config.feat_extract_norm == "group":
            layers = [FlaxWav2Vec2GroupNormConvLayer(config, 0, self.dtype, name="0")]
            layers += [
                FlaxWav2Vec2NoLayerNormConvLayer(config, i, self.dtype, name=str(i)) for i in range(1, count)
            ]
        else:
            layers = [
                FlaxWav2Vec2LayerNormConvLayer(config, i, self.dtype, name=str(i)) for i in range(count)
            ]
        self.entries = layers

    def __call__(self, hidden_states: Array) -> Array:
        for conv_layer in self.entries:
            hidden_states = conv_layer(hidden_states)
        return hidden_states


class FlaxWav2Vec2FeatureEncoder(nn.Module):
    """The raw waveform [batch, samples] through the convolutions: [batch, frames, conv_dim[-1]]."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.conv_layers = FlaxWav2Vec2ConvLayers(self.config, dtype=self.dtype)

    def __call__(self, input_values: Array) -> Array:
        return self.conv_layers(input_values[:, :, None])


class FlaxWav2Vec2FeatureProjection(nn.Module):
    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.layer_norm = _layer_norm(self.config.layer_norm_eps, self.dtype)
        self.projection = _dense(self.config.hidden_size, self.dtype)
        self.dropout = nn.Dropout(self.config.feat_proj_dropout)

    def __call__(self, hidden_states: Array, deterministic: bool = True) -> tuple[Array, Array]:
        norm_hidden_states = self.layer_norm(hidden_states)
        return self.dropout(
            self.projection(norm_hidden_states), deterministic=deterministic
        ), norm_hidden_states


# -- encoder -------------------------------------------------------------------------------------------------
class FlaxWav2Vec2WeightNormPair(nn.Module):
    """torch's `parametrizations.weight`: g (`original0`, [1, 1, kernel]) and v (`original1`), torch layout."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self) -> Array:
        """g * v / ||v|| (the norm over all but the kernel axis) as a WIO kernel [kernel, in / groups, out]."""
        config = self.config
        kernel, hidden = config.num_conv_pos_embeddings, config.hidden_size
        per_group = hidden // config.num_conv_pos_embedding_groups
        g = self.param("original0", nn.initializers.ones, (1, 1, kernel), self.dtype)
        v = self.param("original1", nn.initializers.zeros, (hidden, per_group, kernel), self.dtype)
        norm = jnp.sqrt(jnp.sum(jnp.square(v), axis=(0, 1), keepdims=True))
        return (g * v / norm).transpose(2, 1, 0)


class FlaxWav2Vec2WeightNormParametrizations(nn.Module):
    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.weight = FlaxWav2Vec2WeightNormPair(self.config, dtype=self.dtype)

    def __call__(self) -> Array:
        return self.weight()


class FlaxWav2Vec2WeightNormConv(nn.Module):
    """The positional convolution: grouped, "same" padded by kernel // 2, weight-normed."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.bias = self.param("bias", nn.initializers.zeros, (self.config.hidden_size,), self.dtype)
        self.parametrizations = FlaxWav2Vec2WeightNormParametrizations(self.config, dtype=self.dtype)

    def __call__(self, hidden_states: Array) -> Array:
        pad = self.config.num_conv_pos_embeddings // 2
        outputs = jax.lax.conv_general_dilated(
            hidden_states,
            self.parametrizations().astype(hidden_states.dtype),
            window_strides=(1,),
            padding=((pad, pad),),
            dimension_numbers=("NWC", "WIO", "NWC"),
            feature_group_count=self.config.num_conv_pos_embedding_groups,
            precision=jax.lax.Precision.HIGHEST,
        )
        return outputs + self.bias.astype(hidden_states.dtype)


class FlaxWav2Vec2PositionalConvEmbedding(nn.Module):
    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.conv = FlaxWav2Vec2WeightNormConv(self.config, dtype=self.dtype)
        self.activation = get_activation(self.config.feat_extract_activation)

    def __call__(self, hidden_states: Array) -> Array:
        hidden_states = self.conv(hidden_states)
        if self.config.num_conv_pos_embeddings % 2 == 0:
            hidden_states = hidden_states[:, :-1]
        return self.activation(hidden_states)


class FlaxWav2Vec2Attention(nn.Module):
    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.num_heads
        if self.head_dim * self.num_heads != config.hidden_size:
            raise ConfigError(
                f"hidden_size ({config.hidden_size}) must be a multiple of num_attention_heads ({self.num_heads})."
            )
        self.k_proj = _dense(config.hidden_size, self.dtype)
        self.v_proj = _dense(config.hidden_size, self.dtype)
        self.q_proj = _dense(config.hidden_size, self.dtype)
        self.out_proj = _dense(config.hidden_size, self.dtype)
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
        scores = query @ key.swapaxes(-1, -2) * self.head_dim**-0.5
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(jax.nn.softmax(scores, axis=-1), deterministic=deterministic)
        context = probs @ value
        batch, _, seq, _ = context.shape
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, self.config.hidden_size)
        return self.out_proj(context), probs if output_attentions else None


class FlaxWav2Vec2FeedForward(nn.Module):
    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.intermediate_dropout = nn.Dropout(config.activation_dropout)
        self.intermediate_dense = _dense(config.intermediate_size, self.dtype)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.output_dense = _dense(config.hidden_size, self.dtype)
        self.output_dropout = nn.Dropout(config.hidden_dropout)

    def __call__(self, hidden_states: Array, deterministic: bool = True) -> Array:
        hidden_states = self.intermediate_act_fn(self.intermediate_dense(hidden_states))
        hidden_states = self.intermediate_dropout(hidden_states, deterministic=deterministic)
        return self.output_dropout(self.output_dense(hidden_states), deterministic=deterministic)


class FlaxWav2Vec2EncoderLayer(nn.Module):
    """Post-norm block: LN(x + attention(x)), then LN(h + FF(h)); with `stable`, pre-norm instead."""

    config: Wav2Vec2Config
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.attention = FlaxWav2Vec2Attention(config, dtype=self.dtype)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layer_norm = _layer_norm(config.layer_norm_eps, self.dtype)
        self.feed_forward = FlaxWav2Vec2FeedForward(config, dtype=self.dtype)
        self.final_layer_norm = _layer_norm(config.layer_norm_eps, self.dtype)

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None]:
        stable = self.config.do_stable_layer_norm
        residual = hidden_states
        if stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states, probs = self.attention(hidden_states, attention_mask, output_attentions, deterministic)
        hidden_states = residual + self.dropout(hidden_states, deterministic=deterministic)
        if stable:
            feed_forward = self.feed_forward(self.final_layer_norm(hidden_states), deterministic)
            return hidden_states + feed_forward, probs
        hidden_states = self.layer_norm(hidden_states)
        return self.final_layer_norm(hidden_states + self.feed_forward(hidden_states, deterministic)), probs


class FlaxWav2Vec2Encoder(nn.Module):
    """Positional conv, then the layers; the final LayerNorm comes first (post-norm) or last (stable)."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.pos_conv_embed = FlaxWav2Vec2PositionalConvEmbedding(config, dtype=self.dtype)
        self.layer_norm = _layer_norm(config.layer_norm_eps, self.dtype)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = FlaxModuleList(
            FlaxWav2Vec2EncoderLayer, config, config.num_hidden_layers, dtype=self.dtype
        )

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        deterministic: bool = True,
    ) -> BaseModelOutput:
        stable = self.config.do_stable_layer_norm
        additive = None
        if attention_mask is not None:  # padded frames are zeroed and never attended to
            mask = attention_mask.astype(hidden_states.dtype)
            hidden_states = hidden_states * mask[..., None]
            additive = (1.0 - mask[:, None, None, :]) * jnp.finfo(hidden_states.dtype).min
        hidden_states = hidden_states + self.pos_conv_embed(hidden_states)
        if not stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states, deterministic=deterministic)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, probs = layer(hidden_states, additive, output_attentions, deterministic)
            if output_attentions:
                all_attentions += (probs,)
        if output_hidden_states:  # (stable: before the final LayerNorm, as transformers 5 records them)
            all_hidden_states += (hidden_states,)
        if stable:
            hidden_states = self.layer_norm(hidden_states)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


# -- pretrained base -----------------------------------------------------------------------------------------
def feat_extract_output_lengths(config: Wav2Vec2Config, input_lengths: Array) -> Array:
    """Frames the feature encoder makes of `input_lengths` samples."""
    for kernel_size, stride in zip(config.conv_kernel, config.conv_stride):
        input_lengths = (input_lengths - kernel_size) // stride + 1
    return input_lengths


def feature_vector_attention_mask(config: Wav2Vec2Config, num_frames: int, attention_mask: Array) -> Array:
    """The sample-level mask as a bool mask over output frames: the first `output length` frames are real."""
    lengths = feat_extract_output_lengths(config, attention_mask.astype(jnp.int32).sum(-1))
    return jnp.arange(num_frames)[None, :] < lengths[:, None]


class FlaxWav2Vec2Module(nn.Module):
    """The bare encoder: `last_hidden_state` [batch, frames, hidden] and `extract_features` [batch, frames, conv_dim[-1]]."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.feature_extractor = FlaxWav2Vec2FeatureEncoder(config, dtype=self.dtype)
        self.feature_projection = FlaxWav2Vec2FeatureProjection(config, dtype=self.dtype)
        self.masked_spec_embed = None
        if config.mask_time_prob > 0.0 or config.mask_feature_prob > 0.0:
            self.masked_spec_embed = self.param(
                "masked_spec_embed", nn.initializers.uniform(1.0), (config.hidden_size,), self.dtype
            )
        self.encoder = FlaxWav2Vec2Encoder(config, dtype=self.dtype)

    def __call__(
        self,
        input_values: Array | None = None,
        attention_mask: Array | None = None,
        mask_time_indices: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> Wav2Vec2BaseModelOutput | tuple:
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = config.return_dict if return_dict is None else return_dict
        if input_values is None or input_values.ndim != 2:
            raise InputError(
                "Wav2Vec2 needs input_values [batch, samples] (raw audio): pass the feature extractor's output, "
                f"got {None if input_values is None else tuple(input_values.shape)}."
            )
        extract_features = self.feature_extractor(input_values.astype(self.dtype))
        frame_mask = None
        if attention_mask is not None:
            frame_mask = feature_vector_attention_mask(config, extract_features.shape[1], attention_mask)
        hidden_states, extract_features = self.feature_projection(extract_features, deterministic)
        if mask_time_indices is not None and self.masked_spec_embed is not None:
            spec = self.masked_spec_embed.astype(hidden_states.dtype)
            hidden_states = jnp.where(mask_time_indices.astype(bool)[..., None], spec, hidden_states)
        encoder_outputs = self.encoder(
            hidden_states, frame_mask, output_attentions, output_hidden_states, deterministic=deterministic
        )
        outputs = Wav2Vec2BaseModelOutput(
            last_hidden_state=encoder_outputs.last_hidden_state,
            extract_features=extract_features,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class FlaxWav2Vec2PreTrainedModel(FlaxPreTrainedModel):
    config_class = Wav2Vec2Config
    base_model_prefix = "wav2vec2"
    main_input_name = "input_values"

    def _dummy_inputs(self, input_shape: tuple[int, ...]) -> dict[str, Array]:
        """Float input_values [batch, samples]; a shape too short for the convolutions gives one silent clip
        that makes a few frames (the base's default `input_shape` is a text model's)."""
        samples = 1
        for kernel, stride in zip(reversed(self.config.conv_kernel), reversed(self.config.conv_stride)):
            samples = (samples - 1) * stride + kernel
        samples += 2 * self.config.inputs_to_logits_ratio
        if len(input_shape) != 2 or input_shape[1] < samples:
            input_shape = (1, samples)
        return {"input_values": jnp.zeros(input_shape, dtype=self.dtype)}

    def _init_weights(self, rng: np.random.Generator, path: Path, leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        """The shared rules; the positional conv's v Normal(0, 2 / sqrt(kernel * hidden)), its g ones."""
        if path[-1] == "original1":
            std = 2 * np.sqrt(1 / (self.config.num_conv_pos_embeddings * self.config.hidden_size))
            return (rng.standard_normal(leaf.shape, dtype=np.float32) * std).astype(leaf.dtype)
        if path[-1] == "original0":
            return np.ones(leaf.shape, leaf.dtype)
        if path[-1] == "masked_spec_embed":
            return rng.uniform(size=leaf.shape).astype(leaf.dtype)
        if path[-1] == "layer_weights":
            return np.full(leaf.shape, 1.0 / leaf.shape[0], leaf.dtype)
        return super()._init_weights(rng, path, leaf)

    def _load_from_reader(self, reader: Any, *args: Any) -> Any:
        """Checkpoints with the old `weight_g` / `weight_v` names load under the canonical ones."""
        return super()._load_from_reader(LegacyWeightNormReader.wrap(reader), *args)


class FlaxWav2Vec2Model(FlaxWav2Vec2PreTrainedModel):
    module_class = FlaxWav2Vec2Module


# -- heads ---------------------------------------------------------------------------------------------------
def ctc_loss(config: Wav2Vec2Config, logits: Array, labels: Array, lengths: Array) -> Array:
    """torch's CTC loss as transformers calls it (blank `pad_token_id`; -100 and blank labels are padding;
    `ctc_loss_reduction`, `ctc_zero_infinity`): an alignment that cannot exist costs inf (0 when zeroed)."""
    keep = (labels != -100) & (labels != config.pad_token_id)
    target_lengths = keep.sum(-1)
    order = jnp.argsort(~keep, axis=-1, stable=True)  # each row's kept labels first, in their order
    positions = jnp.arange(labels.shape[-1])[None, :]
    targets = jnp.where(positions < target_lengths[:, None], jnp.take_along_axis(labels, order, axis=-1), 0)
    logit_paddings = (jnp.arange(logits.shape[1])[None, :] >= lengths[:, None]).astype(jnp.float32)
    losses = optax.ctc_loss(
        logits.astype(jnp.float32),
        logit_paddings,
        targets.astype(jnp.int32),
        (positions >= target_lengths[:, None]).astype(jnp.float32),
        blank_id=config.pad_token_id,
    )
    repeats = ((targets[:, 1:] == targets[:, :-1]) & (positions[:, 1:] < target_lengths[:, None])).sum(-1)
    infinite = lengths < target_lengths + repeats
    losses = jnp.where(infinite, 0.0 if config.ctc_zero_infinity else jnp.inf, losses)
    if config.ctc_loss_reduction == "sum":
        return losses.sum()
    if config.ctc_loss_reduction == "mean":
        return (losses / jnp.maximum(target_lengths, 1)).mean()
    return losses


class FlaxWav2Vec2ForCTCModule(nn.Module):
    """A linear layer over every frame's final hidden state: per-frame logits over the CTC vocabulary."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        if self.config.vocab_size is None:
            raise ConfigError(
                "Wav2Vec2ForCTC needs config.vocab_size (the CTC vocabulary): pass vocab_size=len(tokenizer)."
            )
        self.wav2vec2 = FlaxWav2Vec2Module(self.config, dtype=self.dtype)
        self.dropout = nn.Dropout(self.config.final_dropout)
        self.lm_head = _dense(self.config.vocab_size, self.dtype)

    def __call__(
        self,
        input_values=None,
        attention_mask=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> CausalLMOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            None,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.lm_head(self.dropout(outputs.last_hidden_state, deterministic=deterministic))
        loss = None
        if labels is not None:
            mask = attention_mask if attention_mask is not None else jnp.ones(input_values.shape, jnp.int32)
            lengths = feat_extract_output_lengths(self.config, mask.astype(jnp.int32).sum(-1))
            loss = ctc_loss(self.config, logits, labels, lengths)
        return finish_output(
            CausalLMOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxWav2Vec2ForCTC(FlaxWav2Vec2PreTrainedModel):
    module_class = FlaxWav2Vec2ForCTCModule


class FlaxWav2Vec2ForSequenceClassificationModule(nn.Module):
    """Project every frame, mean-pool over the real frames, classify (keyword spotting, speaker id, ...)."""

    config: Wav2Vec2Config
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.wav2vec2 = FlaxWav2Vec2Module(config, dtype=self.dtype)
        self.layer_weights = None
        if config.use_weighted_layer_sum:
            num_layers = config.num_hidden_layers + 1
            self.layer_weights = self.param("layer_weights", nn.initializers.ones, (num_layers,), self.dtype)
        self.projector = _dense(config.classifier_proj_size, self.dtype)
        self.classifier = _dense(config.num_labels, self.dtype)

    def __call__(
        self,
        input_values=None,
        attention_mask=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> SequenceClassifierOutput | tuple:
        config = self.config
        return_dict = config.return_dict if return_dict is None else return_dict
        wanted = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        weighted = self.layer_weights is not None
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            None,
            output_attentions,
            wanted or weighted,
            return_dict=True,
            deterministic=deterministic,
        )
        if weighted:
            norm_weights = jax.nn.softmax(self.layer_weights.astype(outputs.last_hidden_state.dtype))
            hidden_states = jnp.einsum("l,lbtd->btd", norm_weights, jnp.stack(outputs.hidden_states))
        else:
            hidden_states = outputs.last_hidden_state
        hidden_states = self.projector(hidden_states)
        if attention_mask is None:
            pooled_output = hidden_states.mean(axis=1)
        else:
            frames = feature_vector_attention_mask(config, hidden_states.shape[1], attention_mask)
            frames = frames.astype(hidden_states.dtype)[..., None]
            pooled_output = (hidden_states * frames).sum(axis=1) / frames.sum(axis=1)
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


class FlaxWav2Vec2ForSequenceClassification(FlaxWav2Vec2PreTrainedModel):
    module_class = FlaxWav2Vec2ForSequenceClassificationModule
