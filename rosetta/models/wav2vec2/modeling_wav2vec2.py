"""Wav2Vec2 in PyTorch: config -> feature encoder -> projection -> positional conv -> encoder -> base -> heads.

Parameter names are transformers 5's checkpoint names (`wav2vec2.feature_extractor.conv_layers.0.conv.weight`,
`wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0`, ...), so its checkpoints load here
and ours load there; checkpoints with the older `weight_g` / `weight_v` names load too (see
`checkpoint_wav2vec2`). Audio comes in as `input_values` [batch, samples]; `attention_mask` [batch, samples]
marks the real samples and becomes a mask over the output frames as transformers computes it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from ...backends.torch.activations import get_activation
from ...backends.torch.losses import cross_entropy
from ...backends.torch.modeling_utils import PreTrainedModel, checkpointed_call
from ...core.errors import ConfigError, InputError
from ...core.outputs import BaseModelOutput, CausalLMOutput, SequenceClassifierOutput, finish_output
from .checkpoint_wav2vec2 import LegacyWeightNormReader
from .configuration_wav2vec2 import Wav2Vec2Config
from .outputs_wav2vec2 import Wav2Vec2BaseModelOutput


# -- feature encoder ---------------------------------------------------------------------------------------
def _conv(config: Wav2Vec2Config, layer_id: int) -> nn.Conv1d:
    in_dim = config.conv_dim[layer_id - 1] if layer_id > 0 else 1
    return nn.Conv1d(
        in_dim,
        config.conv_dim[layer_id],
        kernel_size=config.conv_kernel[layer_id],
        stride=config.conv_stride[layer_id],
        bias=config.conv_bias,
    )


class Wav2Vec2NoLayerNormConvLayer(nn.Module):
    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0):
        super().__init__()
        self.conv = _conv(config, layer_id)
        self.activation = get_activation(config.feat_extract_activation)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv(hidden_states))


class Wav2Vec2LayerNormConvLayer(nn.Module):
    """Convolution, LayerNorm over the channels of each frame, activation."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0):
        super().__init__()
        self.conv = _conv(config, layer_id)
        self.layer_norm = nn.LayerNorm(config.conv_dim[layer_id], elementwise_affine=True)
        self.activation = get_activation(config.feat_extract_activation)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.layer_norm(self.conv(hidden_states).transpose(-2, -1)).transpose(-2, -1)
        return self.activation(hidden_states)


class Wav2Vec2GroupNormConvLayer(nn.Module):
    """Convolution, GroupNorm with one group per channel (over time), activation."""

    def __init__(self, config: Wav2Vec2Config, layer_id: int = 0):
        super().__init__()
        self.conv = _conv(config, layer_id)
        self.activation = get_activation(config.feat_extract_activation)
        dim = config.conv_dim[layer_id]
        self.layer_norm = nn.GroupNorm(num_groups=dim, num_channels=dim, affine=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.layer_norm(self.conv(hidden_states)))


class Wav2Vec2FeatureEncoder(nn.Module):
    """The raw waveform [batch, samples] through the convolutions: [batch, conv_dim[-1], frames]."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        count = config.num_feat_extract_layers
        if config.feat_extract_norm == "group":
            layers = [Wav2Vec2GroupNormConvLayer(config, 0)]
            layers += [Wav2Vec2NoLayerNormConvLayer(config, i) for i in range(1, count)]
        else:
            layers = [Wav2Vec2LayerNormConvLayer(config, i) for i in range(count)]
        self.conv_layers = nn.ModuleList(layers)

    def _freeze_parameters(self) -> None:
        for param in self.parameters():
            param.requires_grad = False

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        hidden_states = input_values[:, None]
        for conv_layer in self.conv_layers:
            hidden_states = conv_layer(hidden_states)
        return hidden_states


class Wav2Vec2FeatureProjection(nn.Module):
    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.layer_norm = nn.LayerNorm(config.conv_dim[-1], eps=config.layer_norm_eps)
        self.projection = nn.Linear(config.conv_dim[-1], config.hidden_size)
        self.dropout = nn.Dropout(config.feat_proj_dropout)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        norm_hidden_states = self.layer_norm(hidden_states)
        return self.dropout(self.projection(norm_hidden_states)), norm_hidden_states


# -- encoder -------------------------------------------------------------------------------------------------
class Wav2Vec2PositionalConvEmbedding(nn.Module):
    """A grouped convolution over time whose weight is weight-normed (g * v / ||v||, norm over all but time)."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel_size=config.num_conv_pos_embeddings,
            padding=config.num_conv_pos_embeddings // 2,
            groups=config.num_conv_pos_embedding_groups,
        )
        self.conv = nn.utils.parametrizations.weight_norm(self.conv, name="weight", dim=2)
        self.num_pad_remove = 1 if config.num_conv_pos_embeddings % 2 == 0 else 0
        self.activation = get_activation(config.feat_extract_activation)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv(hidden_states.transpose(1, 2))
        if self.num_pad_remove > 0:
            hidden_states = hidden_states[:, :, : -self.num_pad_remove]
        return self.activation(hidden_states).transpose(1, 2)


class Wav2Vec2Attention(nn.Module):
    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        if self.head_dim * self.num_heads != self.embed_dim:
            raise ConfigError(
                f"hidden_size ({self.embed_dim}) must be a multiple of num_attention_heads ({self.num_heads})."
            )
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.eager = getattr(config, "_attn_implementation", None) == "eager"

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        query = self.split_heads(self.q_proj(hidden_states))
        key = self.split_heads(self.k_proj(hidden_states))
        value = self.split_heads(self.v_proj(hidden_states))
        dropout = self.dropout if self.training else 0.0
        if output_attentions or self.eager:
            scores = query @ key.transpose(-1, -2) * self.head_dim**-0.5
            if attention_mask is not None:
                scores = scores + attention_mask
            probs = nn.functional.dropout(
                nn.functional.softmax(scores, dim=-1), p=dropout, training=self.training
            )
            context = probs @ value
        else:
            probs = None
            context = nn.functional.scaled_dot_product_attention(
                query, key, value, attn_mask=attention_mask, dropout_p=dropout
            )
        batch, _, seq, _ = context.shape
        context = context.transpose(1, 2).reshape(batch, seq, self.embed_dim)
        return self.out_proj(context), probs


class Wav2Vec2FeedForward(nn.Module):
    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.intermediate_dropout = nn.Dropout(config.activation_dropout)
        self.intermediate_dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.output_dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.intermediate_dropout(
            self.intermediate_act_fn(self.intermediate_dense(hidden_states))
        )
        return self.output_dropout(self.output_dense(hidden_states))


class Wav2Vec2EncoderLayer(nn.Module):
    """Post-norm block: LN(x + attention(x)), then LN(h + FF(h)); with `stable`, pre-norm instead."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.attention = Wav2Vec2Attention(config)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = Wav2Vec2FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.stable = config.do_stable_layer_norm

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        residual = hidden_states
        if self.stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states, probs = self.attention(hidden_states, attention_mask, output_attentions)
        hidden_states = residual + self.dropout(hidden_states)
        if self.stable:
            return hidden_states + self.feed_forward(self.final_layer_norm(hidden_states)), probs
        hidden_states = self.layer_norm(hidden_states)
        return self.final_layer_norm(hidden_states + self.feed_forward(hidden_states)), probs


class Wav2Vec2Encoder(nn.Module):
    """Positional conv, then the layers; the final LayerNorm comes first (post-norm) or last (stable)."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.pos_conv_embed = Wav2Vec2PositionalConvEmbedding(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([Wav2Vec2EncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.stable = config.do_stable_layer_norm
        self.layerdrop = config.layerdrop

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        additive = None
        if attention_mask is not None:  # padded frames are zeroed and never attended to
            hidden_states = hidden_states * attention_mask[..., None].to(hidden_states.dtype)
            additive = (1.0 - attention_mask[:, None, None, :].to(hidden_states.dtype)) * torch.finfo(
                hidden_states.dtype
            ).min
        hidden_states = hidden_states + self.pos_conv_embed(hidden_states)
        if not self.stable:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if self.training and self.layerdrop > 0.0 and torch.rand([]) < self.layerdrop:
                continue
            hidden_states, probs = checkpointed_call(self, layer, hidden_states, additive, output_attentions)
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
def feat_extract_output_lengths(config: Wav2Vec2Config, input_lengths: torch.Tensor) -> torch.Tensor:
    """Frames the feature encoder makes of `input_lengths` samples."""
    for kernel_size, stride in zip(config.conv_kernel, config.conv_stride):
        input_lengths = torch.div(input_lengths - kernel_size, stride, rounding_mode="floor") + 1
    return input_lengths


def feature_vector_attention_mask(
    config: Wav2Vec2Config, num_frames: int, attention_mask: torch.Tensor
) -> torch.Tensor:
    """The sample-level mask as a bool mask over output frames: the first `output length` frames are real."""
    lengths = feat_extract_output_lengths(config, attention_mask.sum(-1)).to(torch.long)
    return torch.arange(num_frames, device=attention_mask.device)[None, :] < lengths[:, None]


class Wav2Vec2PreTrainedModel(PreTrainedModel):
    config_class = Wav2Vec2Config
    supports_gradient_checkpointing = True
    base_model_prefix = "wav2vec2"
    main_input_name = "input_values"

    def _load_from_reader(self, reader: Any, *args: Any) -> Any:
        """Checkpoints with the old `weight_g` / `weight_v` names load under the canonical ones."""
        return super()._load_from_reader(LegacyWeightNormReader.wrap(reader), *args)

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' rules: Kaiming convolutions, the weight-normed positional conv, uniform projection."""
        std = self.config.initializer_range
        if isinstance(module, parametrize.ParametrizationList) and hasattr(module, "original1"):
            kernel, in_channels = module.original1.shape[-1], module.original1.shape[1]
            nn.init.normal_(module.original1.data, mean=0.0, std=2 * math.sqrt(1 / (kernel * in_channels)))
            norm = module.original1.data.norm(dim=(0, 1), keepdim=True)
            module.original0.data.copy_(norm)
        elif isinstance(module, Wav2Vec2FeatureProjection):
            bound = math.sqrt(1 / module.projection.in_features)
            nn.init.uniform_(module.projection.weight.data, a=-bound, b=bound)
            nn.init.uniform_(module.projection.bias.data, a=-bound, b=bound)
        elif isinstance(module, nn.Conv1d) and not parametrize.is_parametrized(module):
            nn.init.kaiming_normal_(module.weight.data)
            if module.bias is not None:
                bound = math.sqrt(module.groups / (module.in_channels * module.kernel_size[0]))
                nn.init.uniform_(module.bias.data, a=-bound, b=bound)
        elif isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()
        elif isinstance(module, Wav2Vec2Model) and module.masked_spec_embed is not None:
            nn.init.uniform_(module.masked_spec_embed.data)

    def _get_feat_extract_output_lengths(self, input_lengths: torch.Tensor | int) -> torch.Tensor | int:
        if isinstance(input_lengths, int):
            return int(feat_extract_output_lengths(self.config, torch.tensor(input_lengths)))
        return feat_extract_output_lengths(self.config, input_lengths)

    def _get_feature_vector_attention_mask(
        self, num_frames: int, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        return feature_vector_attention_mask(self.config, num_frames, attention_mask)


class Wav2Vec2Model(Wav2Vec2PreTrainedModel):
    """The bare encoder: `last_hidden_state` [batch, frames, hidden] and `extract_features` [batch, frames, conv_dim[-1]]."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__(config)
        self.feature_extractor = Wav2Vec2FeatureEncoder(config)
        self.feature_projection = Wav2Vec2FeatureProjection(config)
        self.masked_spec_embed = None
        if config.mask_time_prob > 0.0 or config.mask_feature_prob > 0.0:
            self.masked_spec_embed = nn.Parameter(torch.zeros(config.hidden_size))
        self.encoder = Wav2Vec2Encoder(config)
        self.post_init()

    def freeze_feature_encoder(self) -> None:
        """No gradient for the convolutional feature encoder (as fine-tuning recipes do)."""
        self.feature_extractor._freeze_parameters()

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mask_time_indices: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Wav2Vec2BaseModelOutput | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if input_values is None or input_values.dim() != 2:
            raise InputError(
                "Wav2Vec2 needs input_values [batch, samples] (raw audio): pass the feature extractor's output, "
                f"got {None if input_values is None else tuple(input_values.shape)}."
            )
        input_values = input_values.to(self.feature_projection.projection.weight.dtype)
        extract_features = self.feature_extractor(input_values).transpose(1, 2)
        frame_mask = None
        if attention_mask is not None:
            frame_mask = feature_vector_attention_mask(self.config, extract_features.shape[1], attention_mask)
        hidden_states, extract_features = self.feature_projection(extract_features)
        if mask_time_indices is not None and self.masked_spec_embed is not None:
            spec = self.masked_spec_embed.to(hidden_states.dtype)
            hidden_states = torch.where(mask_time_indices.bool()[..., None], spec, hidden_states)
        encoder_outputs = self.encoder(hidden_states, frame_mask, output_attentions, output_hidden_states)
        outputs = Wav2Vec2BaseModelOutput(
            last_hidden_state=encoder_outputs.last_hidden_state,
            extract_features=extract_features,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


# -- heads ---------------------------------------------------------------------------------------------------
def ctc_loss(
    config: Wav2Vec2Config, logits: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """torch's CTC loss as transformers calls it: the blank is `pad_token_id`; labels equal to -100 or the
    blank are padding; `ctc_loss_reduction` and `ctc_zero_infinity` from the config."""
    labels_mask = (labels != -100) & (labels != config.pad_token_id)
    log_probs = nn.functional.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
    with torch.backends.cudnn.flags(enabled=False):
        return nn.functional.ctc_loss(
            log_probs,
            labels.masked_select(labels_mask),
            lengths,
            labels_mask.sum(-1),
            blank=config.pad_token_id,
            reduction=config.ctc_loss_reduction,
            zero_infinity=config.ctc_zero_infinity,
        )


class Wav2Vec2ForCTC(Wav2Vec2PreTrainedModel):
    """A linear layer over every frame's final hidden state: per-frame logits over the CTC vocabulary."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__(config)
        if config.vocab_size is None:
            raise ConfigError(
                "Wav2Vec2ForCTC needs config.vocab_size (the CTC vocabulary): pass vocab_size=len(tokenizer)."
            )
        self.wav2vec2 = Wav2Vec2Model(config)
        self.dropout = nn.Dropout(config.final_dropout)
        self.lm_head = nn.Linear(config.output_hidden_size, config.vocab_size)
        self.post_init()

    def freeze_feature_encoder(self) -> None:
        self.wav2vec2.feature_extractor._freeze_parameters()

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CausalLMOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if labels is not None and labels.max() >= self.config.vocab_size:
            raise InputError(
                f"CTC labels must be < vocab_size ({self.config.vocab_size}), got {int(labels.max())}."
            )
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            mask = (
                attention_mask
                if attention_mask is not None
                else torch.ones_like(input_values, dtype=torch.long)
            )
            lengths = feat_extract_output_lengths(self.config, mask.sum(-1)).to(torch.long)
            loss = ctc_loss(self.config, logits, labels, lengths)
        return finish_output(
            CausalLMOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class Wav2Vec2ForSequenceClassification(Wav2Vec2PreTrainedModel):
    """Project every frame, mean-pool over the real frames, classify (keyword spotting, speaker id, ...)."""

    def __init__(self, config: Wav2Vec2Config):
        super().__init__(config)
        self.wav2vec2 = Wav2Vec2Model(config)
        num_layers = config.num_hidden_layers + 1  # the layers + the encoder's input
        self.layer_weights = None
        if config.use_weighted_layer_sum:
            self.layer_weights = nn.Parameter(torch.ones(num_layers) / num_layers)
        self.projector = nn.Linear(config.hidden_size, config.classifier_proj_size)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.post_init()

    def freeze_feature_encoder(self) -> None:
        self.wav2vec2.feature_extractor._freeze_parameters()

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        weighted = self.layer_weights is not None
        outputs = self.wav2vec2(
            input_values,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=True if weighted else output_hidden_states,
            return_dict=True,
        )
        if weighted:
            stacked = torch.stack(outputs.hidden_states, dim=1)
            norm_weights = nn.functional.softmax(self.layer_weights, dim=-1)
            hidden_states = (stacked * norm_weights.view(-1, 1, 1)).sum(dim=1)
        else:
            hidden_states = outputs.last_hidden_state
        hidden_states = self.projector(hidden_states)
        if attention_mask is None:
            pooled_output = hidden_states.mean(dim=1)
        else:
            frames = feature_vector_attention_mask(self.config, hidden_states.shape[1], attention_mask)
            frames = frames[..., None].to(hidden_states.dtype)
            pooled_output = (hidden_states * frames).sum(dim=1) / frames.sum(dim=1)
        logits = self.classifier(pooled_output)
        loss = cross_entropy(logits, labels) if labels is not None else None
        wanted = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        hidden = outputs.hidden_states if wanted else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=logits, hidden_states=hidden, attentions=outputs.attentions
            ),
            return_dict,
        )
