"""ViT's configuration."""

from __future__ import annotations

from typing import Any

from ...core.configuration import PretrainedConfig


class ViTConfig(PretrainedConfig):
    """Configuration of a Vision Transformer; the defaults give google/vit-base-patch16-224.

    Args:
        hidden_size: Width of the patch embeddings and of every layer.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the feed-forward block.
        hidden_act: Activation of the feed-forward block ("gelu", "relu", "gelu_new", "silu", "tanh").
        hidden_dropout_prob: Dropout on embeddings and sub-layer outputs.
        attention_probs_dropout_prob: Dropout on attention probabilities.
        initializer_range: Standard deviation of the (truncated) normal weight initialiser.
        layer_norm_eps: Epsilon of every LayerNorm.
        image_size: Height and width of the images the position embeddings are learned for.
        patch_size: Height and width of each patch (the stride of the patch convolution).
        num_channels: Channels of the input images.
        qkv_bias: Whether the query, key and value projections have a bias.
        encoder_stride: Upsampling factor of a masked-image-modeling decoder (kept for checkpoints).
        pooler_output_size: Width of the pooler's output (defaults to hidden_size).
        pooler_act: Activation of the pooler.
    """

    model_type = "vit"

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        image_size: int = 224,
        patch_size: int = 16,
        num_channels: int = 3,
        qkv_bias: bool = True,
        encoder_stride: int = 16,
        pooler_output_size: int | None = None,
        pooler_act: str = "tanh",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.encoder_stride = encoder_stride
        self.pooler_output_size = pooler_output_size if pooler_output_size is not None else hidden_size
        self.pooler_act = pooler_act
