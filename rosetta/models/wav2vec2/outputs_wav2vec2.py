"""Wav2Vec2's output classes: framework-free dataclasses every backend's Wav2Vec2 returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.outputs import ModelOutput


@dataclass
class Wav2Vec2BaseModelOutput(ModelOutput):
    last_hidden_state: Any = None
    extract_features: Any = None
    hidden_states: Any = None
    attentions: Any = None
