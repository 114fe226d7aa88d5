"""CLIP's output classes: framework-free dataclasses every backend's CLIP returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.outputs import ModelOutput


@dataclass
class CLIPTextModelOutput(ModelOutput):
    text_embeds: Any = None
    last_hidden_state: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class CLIPVisionModelOutput(ModelOutput):
    image_embeds: Any = None
    last_hidden_state: Any = None
    hidden_states: Any = None
    attentions: Any = None


@dataclass
class CLIPOutput(ModelOutput):
    """CLIPModel's output: the similarity logits, both embeddings and each tower's own output (nested)."""

    loss: Any = None
    logits_per_image: Any = None
    logits_per_text: Any = None
    text_embeds: Any = None
    image_embeds: Any = None
    text_model_output: Any = None
    vision_model_output: Any = None

    def to_tuple(self) -> tuple[Any, ...]:
        """The fields as a tuple, each tower's output as its own tuple."""
        return tuple(self[k].to_tuple() if isinstance(self[k], ModelOutput) else self[k] for k in self.keys())
