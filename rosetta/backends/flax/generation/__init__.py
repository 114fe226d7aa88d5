"""Generation for Flax causal LMs: logits processors and `GenerationMixin.generate` (one jax.jit)."""

from .logits_process import PROCESSORS, build_processor
from .utils import GenerationMixin

__all__ = ["PROCESSORS", "GenerationMixin", "build_processor"]
