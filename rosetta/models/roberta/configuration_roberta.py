# This file was generated from rosetta/models/roberta/modular_roberta.py by `python -m rosetta modular`.
# Do not edit it: edit the modular source and run that command again.
"""RoBERTa's configuration."""

from __future__ import annotations

from typing import Any

from ...core.configuration import PretrainedConfig


class RobertaConfig(PretrainedConfig):
    """Configuration of a RoBERTa model; the defaults give roberta-base.

    Args:
        vocab_size: Number of tokens in the vocabulary.
        hidden_size: Width of the embeddings and of every layer.
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        intermediate_size: Width of the feed-forward block.
        hidden_act: Activation of the feed-forward block ("gelu", "relu", "gelu_new", "silu", "tanh").
        hidden_dropout_prob: Dropout on embeddings and sub-layer outputs.
        attention_probs_dropout_prob: Dropout on attention probabilities.
        max_position_embeddings: Longest sequence the position embeddings cover.
        type_vocab_size: Number of token types (segments).
        initializer_range: Standard deviation of the normal weight initialiser.
        layer_norm_eps: Epsilon of every LayerNorm.
        pad_token_id: Id of the padding token.
        classifier_dropout: Dropout before classification heads (defaults to hidden_dropout_prob).
        bos_token_id: Id of the beginning-of-sequence token (<s>).
        eos_token_id: Id of the end-of-sequence token (</s>).
    """

    model_type = "roberta"

    def __init__(
        self,
        vocab_size: int = 50265,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 514,
        type_vocab_size: int = 1,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-05,
        pad_token_id: int = 1,
        classifier_dropout: float | None = None,
        bos_token_id: int = 0,
        eos_token_id: int = 2,
        **kwargs: Any,
    ):
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout = classifier_dropout
