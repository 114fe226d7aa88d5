"""Generation for TensorFlow causal LMs: logits processors and `GenerationMixin.generate` (XLA loop)."""

from .logits_process import PROCESSORS, build_processor
from .utils import GenerationMixin

__all__ = ["PROCESSORS", "GenerationMixin", "build_processor"]
