# This file was generated from rosetta/models/mistral/modular_mistral.py by `python -m rosetta modular`.
# Do not edit it: edit the modular source and run that command again.
"""Mistral's configuration (Hugging Face field names and defaults)."""

from __future__ import annotations

from typing import Any

from ...core.configuration import PretrainedConfig
from ...core.errors import ConfigError

# Spelled out here: renaming Llama's tuple would turn the rope type "llama3" into "mistral3".
ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


class MistralConfig(PretrainedConfig):
    """Configuration of a Mistral model; the defaults give Mistral-7B's shape.

    Args:
        vocab_size: Number of tokens in the vocabulary.
        hidden_size: Width of the residual stream.
        intermediate_size: Width of the SwiGLU feed-forward block.
        num_hidden_layers: Number of decoder layers.
        num_attention_heads: Query heads per layer.
        num_key_value_heads: Key/value heads per layer (grouped-query attention); None: as many as query heads.
        head_dim: Width of one head; None: hidden_size // num_attention_heads.
        hidden_act: Activation of the gate projection ("silu").
        max_position_embeddings: The context length the model was trained for (rotary: not a hard limit).
        initializer_range: Standard deviation of the normal weight initialiser.
        rms_norm_eps: Epsilon of every RMSNorm.
        rope_theta: Base of the rotary frequencies.
        rope_scaling: None, or {"rope_type": "linear" | "dynamic" | "llama3", "factor": ..., ...}.
        attention_bias: Whether q/k/v/o projections have biases.
        attention_dropout: Dropout on attention probabilities.
        mlp_bias: Whether the MLP projections have biases.
        tie_word_embeddings: Whether the LM head reuses the input embeddings.
        sliding_window: How many keys (the query's own included) each query attends to; None: all before it.
    """

    model_type = "mistral"

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 4096,
        intermediate_size: int = 14336,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = 8,
        head_dim: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 4096 * 32,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        rope_theta: float = 10000.0,
        rope_scaling: dict[str, Any] | None = None,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        mlp_bias: bool = False,
        tie_word_embeddings: bool = False,
        pad_token_id: int | None = None,
        bos_token_id: int | None = 1,
        eos_token_id: int | list[int] | None = 2,
        sliding_window: int | None = 4096,
        **kwargs: Any,
    ):
        rope_parameters = kwargs.pop("rope_parameters", None)  # transformers 5 writes these
        if rope_parameters:
            rope_theta = rope_parameters.get("rope_theta", rope_theta)
            scaling = {k: v for k, v in rope_parameters.items() if k != "rope_theta"}
            if scaling.get("rope_type", scaling.get("type", "default")) != "default":
                rope_scaling = scaling
        kwargs.pop("use_cache", None)
        kwargs.pop("pretraining_tp", None)
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.head_dim = hidden_size // num_attention_heads if head_dim is None else head_dim
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = float(rope_theta)
        self.rope_scaling = _checked_rope_scaling(rope_scaling)
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.mlp_bias = mlp_bias
        if self.num_attention_heads % self.num_key_value_heads != 0:
            raise ConfigError(
                f"num_attention_heads ({num_attention_heads}) must be a multiple of num_key_value_heads "
                f"({self.num_key_value_heads}): each key/value head serves a whole group of query heads."
            )
        self.sliding_window = sliding_window


def _checked_rope_scaling(rope_scaling: dict[str, Any] | None) -> dict[str, Any] | None:
    """rope_scaling with `rope_type` set (older checkpoints write `type`); unsupported types refused."""
    if not rope_scaling:
        return None
    scaling = dict(rope_scaling)
    rope_type = scaling.setdefault("rope_type", scaling.pop("type", "default"))
    if rope_type not in ROPE_TYPES:
        raise ConfigError(
            f"rope_scaling type {rope_type!r} is not supported; use one of {', '.join(ROPE_TYPES)}."
        )
    if rope_type != "default" and "factor" not in scaling:
        raise ConfigError(f"rope_scaling of type {rope_type!r} needs a 'factor' (e.g. {{'factor': 2.0}}).")
    return scaling
