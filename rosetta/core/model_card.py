"""The README.md pushed with a model: what it is and which frameworks load it."""

from __future__ import annotations

from .configuration import PretrainedConfig


def model_card(repo_id: str, config: PretrainedConfig, trained_in: str, verified_in: tuple[str, ...] = ()) -> str:
    architectures = ", ".join(config.architectures or []) or type(config).__name__
    frameworks = verified_in or ("PyTorch", "TensorFlow", "JAX/Flax")
    lines = [
        "---",
        "library_name: rosetta",
        "tags:",
        "- rosetta",
        *[f"- {f.lower().replace('jax/flax', 'flax').replace('tensorflow', 'tf').replace('pytorch', 'pytorch')}" for f in frameworks],
        "---",
        "",
        f"# {repo_id}",
        "",
        f"A `{config.model_type}` model ({architectures}) saved by rosetta from {trained_in}.",
        "",
        "One canonical safetensors checkpoint, loadable natively in: " + ", ".join(frameworks) + ".",
        "",
        "```python",
        "from rosetta import AutoModel, TFAutoModel, FlaxAutoModel",
        f'model = AutoModel.from_pretrained("{repo_id}")',
        "```",
        "",
    ]
    return "\n".join(lines)
