"""Whisper's configuration (transformers' field names; the defaults give openai/whisper-tiny)."""

from __future__ import annotations

from typing import Any

from ...core.configuration import PretrainedConfig


class WhisperConfig(PretrainedConfig):
    """Configuration of a Whisper encoder-decoder.

    Args:
        vocab_size: Decoder vocabulary size.
        num_mel_bins: Mel channels of `input_features`.
        encoder_layers / decoder_layers: Transformer layers of each stack.
        encoder_attention_heads / decoder_attention_heads: Heads per attention of each stack.
        encoder_ffn_dim / decoder_ffn_dim: Width of each stack's feed-forward block.
        d_model: Width of every layer.
        activation_function: Activation of the feed-forward blocks (the conv front end always uses exact GELU).
        max_source_positions: Encoder positions (input frames / 2).
        max_target_positions: Decoder positions.
        scale_embedding: Multiply token embeddings by sqrt(d_model).
        suppress_tokens / begin_suppress_tokens: Tokens generation never emits / never emits first.
    """

    model_type = "whisper"
    attribute_map = {
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
        "num_hidden_layers": "encoder_layers",
    }

    def __init__(
        self,
        vocab_size: int = 51865,
        num_mel_bins: int = 80,
        encoder_layers: int = 4,
        encoder_attention_heads: int = 6,
        decoder_layers: int = 4,
        decoder_attention_heads: int = 6,
        decoder_ffn_dim: int = 1536,
        encoder_ffn_dim: int = 1536,
        encoder_layerdrop: float = 0.0,
        decoder_layerdrop: float = 0.0,
        decoder_start_token_id: int = 50257,
        use_cache: bool = True,
        is_encoder_decoder: bool = True,
        activation_function: str = "gelu",
        d_model: int = 384,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        scale_embedding: bool = False,
        max_source_positions: int = 1500,
        max_target_positions: int = 448,
        pad_token_id: int = 50256,
        bos_token_id: int = 50256,
        eos_token_id: int = 50256,
        suppress_tokens: list[int] | None = None,
        begin_suppress_tokens: list[int] | None = None,
        **kwargs: Any,
    ):
        self.vocab_size = vocab_size
        self.num_mel_bins = num_mel_bins
        self.d_model = d_model
        self.encoder_layers = encoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.encoder_ffn_dim = encoder_ffn_dim
        self.encoder_layerdrop = encoder_layerdrop
        self.decoder_layerdrop = decoder_layerdrop
        self.use_cache = use_cache
        self.is_encoder_decoder = is_encoder_decoder
        self.activation_function = activation_function
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.init_std = init_std
        self.scale_embedding = scale_embedding
        self.max_source_positions = max_source_positions
        self.max_target_positions = max_target_positions
        self.suppress_tokens = suppress_tokens
        self.begin_suppress_tokens = [220, 50256] if begin_suppress_tokens is None else begin_suppress_tokens
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            decoder_start_token_id=decoder_start_token_id,
            **kwargs,
        )
