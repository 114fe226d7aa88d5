"""Wav2Vec2's configuration (transformers' field names and defaults: facebook/wav2vec2-base-960h)."""

from __future__ import annotations

import functools
import operator
from typing import Any

from ...core.configuration import PretrainedConfig
from ...core.errors import ConfigError

# Field -> default, as transformers' Wav2Vec2Config has them (pretraining-only fields kept for round trips).
_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout": 0.1,
    "activation_dropout": 0.1,
    "attention_dropout": 0.1,
    "feat_proj_dropout": 0.0,
    "feat_quantizer_dropout": 0.0,
    "final_dropout": 0.1,
    "layerdrop": 0.1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-5,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "conv_dim": (512, 512, 512, 512, 512, 512, 512),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_bias": False,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False,
    "apply_spec_augment": True,
    "mask_time_prob": 0.05,
    "mask_time_length": 10,
    "mask_time_min_masks": 2,
    "mask_feature_prob": 0.0,
    "mask_feature_length": 10,
    "mask_feature_min_masks": 0,
    "num_codevectors_per_group": 320,
    "num_codevector_groups": 2,
    "contrastive_logits_temperature": 0.1,
    "num_negatives": 100,
    "codevector_dim": 256,
    "proj_codevector_dim": 256,
    "diversity_loss_weight": 0.1,
    "ctc_loss_reduction": "sum",
    "ctc_zero_infinity": False,
    "use_weighted_layer_sum": False,
    "classifier_proj_size": 256,
    "tdnn_dim": (512, 512, 512, 512, 1500),
    "tdnn_kernel": (5, 3, 3, 1, 1),
    "tdnn_dilation": (1, 2, 3, 1, 1),
    "xvector_output_dim": 512,
    "add_adapter": False,
    "adapter_kernel_size": 3,
    "adapter_stride": 2,
    "num_adapter_layers": 3,
    "output_hidden_size": None,
    "adapter_attn_dim": None,
}
_LIST_FIELDS = ("conv_dim", "conv_stride", "conv_kernel", "tdnn_dim", "tdnn_kernel", "tdnn_dilation")


class Wav2Vec2Config(PretrainedConfig):
    """Configuration of a Wav2Vec2 model; every field is transformers' (see `_DEFAULTS` for the defaults).

    The ones that shape the model: `conv_dim` / `conv_kernel` / `conv_stride` (the feature encoder's
    convolutions), `feat_extract_norm` ("group": a GroupNorm after the first convolution only; "layer":
    a LayerNorm after each), `num_conv_pos_embeddings` / `num_conv_pos_embedding_groups` (the weight-normed
    positional convolution), `do_stable_layer_norm` (pre-norm encoder layers), `hidden_size`,
    `num_hidden_layers`, `num_attention_heads`, `intermediate_size`, `vocab_size` (the CTC head's output,
    `pad_token_id` its blank), `ctc_loss_reduction` ("sum" or "mean"), `ctc_zero_infinity`,
    `classifier_proj_size` and `use_weighted_layer_sum` (the sequence-classification head).
    """

    model_type = "wav2vec2"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("pad_token_id", 0)
        kwargs.setdefault("bos_token_id", 1)
        kwargs.setdefault("eos_token_id", 2)
        values = {name: kwargs.pop(name, default) for name, default in _DEFAULTS.items()}
        super().__init__(**kwargs)
        for name, value in values.items():
            setattr(self, name, list(value) if name in _LIST_FIELDS else value)
        self.num_feat_extract_layers = len(self.conv_dim)
        self.output_hidden_size = self.output_hidden_size or self.hidden_size
        self._validate()

    def _validate(self) -> None:
        lengths = {name: len(getattr(self, name)) for name in ("conv_dim", "conv_stride", "conv_kernel")}
        if len(set(lengths.values())) != 1:
            raise ConfigError(
                f"conv_dim, conv_stride and conv_kernel must have one length (one entry per feature-encoder "
                f"convolution), got {lengths}."
            )
        if self.feat_extract_norm not in ("group", "layer"):
            raise ConfigError(
                f"feat_extract_norm is {self.feat_extract_norm!r}; it must be 'group' or 'layer'."
            )
        if self.ctc_loss_reduction not in ("sum", "mean", "none"):
            raise ConfigError(
                f"ctc_loss_reduction is {self.ctc_loss_reduction!r}; it must be 'sum', 'mean' or 'none'."
            )
        if self.add_adapter or self.adapter_attn_dim is not None:
            raise ConfigError(
                "Wav2Vec2 adapters (add_adapter=True or adapter_attn_dim) are not supported by rosetta; "
                "use a checkpoint without adapters."
            )

    @property
    def inputs_to_logits_ratio(self) -> int:
        """Audio samples per output frame (the product of the convolution strides)."""
        return functools.reduce(operator.mul, self.conv_stride, 1)
