"""The JAX/Flax backend. Importing it makes every `ModelOutput` a JAX pytree."""

from ...core.outputs import register_all_with_jax

register_all_with_jax()
