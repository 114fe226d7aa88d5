"""Generation for torch causal LMs: logits processors and `GenerationMixin.generate`."""

from .logits_process import PROCESSORS, build_processor
from .utils import GenerationMixin

__all__ = ["PROCESSORS", "GenerationMixin", "build_processor"]
