"""CLIP's configurations: one per tower (text, vision) and `CLIPConfig` holding both, as transformers saves them.

A CLIP config.json has `model_type` "clip" and the towers' configs as the dicts `text_config` and
`vision_config` (model_type "clip_text_model" / "clip_vision_model"). A tower's config class reads
its own config.json or, given a whole CLIP folder, the dict of its tower.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from ...core.configuration import CONFIG_NAME, PretrainedConfig, load_json
from ...core.errors import ConfigError
from ...core.hub import HubOptions, resolve_file


class _CLIPTowerConfig(PretrainedConfig):
    """What both towers' configs share: reading the tower's dict out of a whole CLIP config.json."""

    base_config_key: ClassVar[str] = ""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """The tower's config.json, or the `text_config` / `vision_config` of a CLIP folder's config.json."""
        options = HubOptions.pop_from(dict(kwargs))
        path = resolve_file(pretrained_model_name_or_path, CONFIG_NAME, options)
        config_dict = load_json(path)
        if config_dict.get("model_type") != CLIPConfig.model_type:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        HubOptions.pop_from(kwargs)
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        tower = config_dict.get(cls.base_config_key)
        if not isinstance(tower, dict):
            raise ConfigError(
                f"{path} is a CLIP config without a {cls.base_config_key!r} dict; add the tower's config "
                f"under {cls.base_config_key!r}, as transformers writes it."
            )
        config = cls.from_dict(tower, source=f"{path} ({cls.base_config_key})", **kwargs)
        return (config, {}) if return_unused_kwargs else config


class CLIPTextConfig(_CLIPTowerConfig):
    """The text tower: a causal transformer over BPE tokens, pooled at the end-of-text token.

    Args:
        vocab_size: Number of tokens.
        hidden_size: Width of the token embeddings and of every layer.
        intermediate_size: Width of the feed-forward block.
        projection_dim: Width of the shared image-text embedding space (text_projection's output).
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        max_position_embeddings: Longest sequence (77 in OpenAI's CLIP).
        hidden_act: Activation of the feed-forward block ("quick_gelu" in OpenAI's CLIP).
        layer_norm_eps: Epsilon of every LayerNorm.
        attention_dropout: Dropout on attention probabilities.
        initializer_range: Standard deviation of the normal weight initialiser.
        initializer_factor: Scale of every initialiser's standard deviation (1.0; tests use other values).
        pad_token_id, bos_token_id, eos_token_id: Special tokens; the pooled output is taken at the first
            `eos_token_id` (at the largest id when `eos_token_id` is 2, as old configs say).
    """

    model_type = "clip_text_model"
    base_config_key = "text_config"

    def __init__(
        self,
        vocab_size: int = 49408,
        hidden_size: int = 512,
        intermediate_size: int = 2048,
        projection_dim: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 8,
        max_position_embeddings: int = 77,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 49406,
        eos_token_id: int | None = 49407,
        **kwargs: Any,
    ):
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor


class CLIPVisionConfig(_CLIPTowerConfig):
    """The vision tower: a ViT over patches with a class embedding, pooled at the class token.

    Args:
        hidden_size: Width of the patch embeddings and of every layer.
        intermediate_size: Width of the feed-forward block.
        projection_dim: Width of the shared image-text embedding space (visual_projection's output).
        num_hidden_layers: Number of transformer layers.
        num_attention_heads: Attention heads per layer.
        num_channels: Channels of the input images.
        image_size: Height and width of the images the position embeddings are learned for.
        patch_size: Height and width of each patch (the stride of the patch convolution).
        hidden_act: Activation of the feed-forward block.
        layer_norm_eps: Epsilon of every LayerNorm.
        attention_dropout: Dropout on attention probabilities.
        initializer_range: Standard deviation of the normal weight initialiser.
        initializer_factor: Scale of every initialiser's standard deviation.
    """

    model_type = "clip_vision_model"
    base_config_key = "vision_config"

    def __init__(
        self,
        hidden_size: int = 768,
        intermediate_size: int = 3072,
        projection_dim: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        num_channels: int = 3,
        image_size: int = 224,
        patch_size: int = 32,
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor


def _tower(config_class: type[_CLIPTowerConfig], value: Any, legacy: Any) -> _CLIPTowerConfig:
    """A tower's config from a config object, a dict (config.json's), or None (the defaults).

    `legacy` is the `text_config_dict` / `vision_config_dict` old CLIP configs carry: its values win.
    """
    if isinstance(value, config_class):
        return value
    if value is not None and not isinstance(value, dict):
        raise ConfigError(
            f"{config_class.base_config_key} must be a dict or a {config_class.__name__}, got {type(value).__name__}."
        )
    values = {**(value or {}), **(legacy or {})}
    return config_class.from_dict(values, source=f"CLIPConfig.{config_class.base_config_key}")


class CLIPConfig(PretrainedConfig):
    """CLIP: a text tower and a vision tower projected into one embedding space.

    Args:
        text_config: The text tower's config (a `CLIPTextConfig` or its dict).
        vision_config: The vision tower's config (a `CLIPVisionConfig` or its dict).
        projection_dim: Width of the shared embedding space (both projections' output).
        logit_scale_init_value: Initial value of `logit_scale` (log of the softmax temperature's inverse).
        initializer_factor: Scale of every initialiser's standard deviation.
    """

    model_type = "clip"

    def __init__(
        self,
        text_config: dict[str, Any] | CLIPTextConfig | None = None,
        vision_config: dict[str, Any] | CLIPVisionConfig | None = None,
        projection_dim: int = 512,
        logit_scale_init_value: float = 2.6592,
        initializer_factor: float = 1.0,
        **kwargs: Any,
    ):
        text_config_dict = kwargs.pop("text_config_dict", None)
        vision_config_dict = kwargs.pop("vision_config_dict", None)
        super().__init__(**kwargs)
        self.text_config = _tower(CLIPTextConfig, text_config, text_config_dict)
        self.vision_config = _tower(CLIPVisionConfig, vision_config, vision_config_dict)
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.initializer_factor = initializer_factor

    @classmethod
    def from_text_vision_configs(
        cls, text_config: CLIPTextConfig, vision_config: CLIPVisionConfig, **kwargs: Any
    ) -> CLIPConfig:
        return cls(text_config=text_config.to_dict(), vision_config=vision_config.to_dict(), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """As every config's, with the towers as the dicts transformers writes."""
        out = super().to_dict()
        out["text_config"] = self.text_config.to_dict()
        out["vision_config"] = self.vision_config.to_dict()
        return out
