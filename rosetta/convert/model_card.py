"""The README.md pushed with a model: what it is, and the frameworks it was verified in.

The card is written from the folder about to be pushed: `rosetta verify` loads it in every
installed framework (and in Hugging Face transformers when it knows the architecture), and
only the frameworks whose outputs agreed are listed as verified, with the verification table.
"""

from __future__ import annotations

import os

from ..core.configuration import PretrainedConfig

_FRAMEWORK_NAMES = {"torch": "PyTorch", "tf": "TensorFlow", "flax": "JAX/Flax", "transformers": "Hugging Face transformers"}
_TAGS = {"torch": "pytorch", "tf": "tf", "flax": "jax"}


def model_card(repo_id: str, config: PretrainedConfig, trained_in: str, folder: str | os.PathLike | None = None) -> str:
    verified: list[str] = []
    section = "Cross-framework verification was not run.\n"
    if folder is not None:
        try:
            from .verify import format_markdown, verify

            report = verify(os.fspath(folder))
            verified = [r.framework for r in report.results if r.status in ("ok", "reference")]
            section = format_markdown(report)
        except Exception as err:  # noqa: BLE001 - a card without the table beats a failed push
            section = f"Cross-framework verification could not run: {type(err).__name__}: {err}\n"
    architectures = ", ".join(config.architectures or []) or type(config).__name__
    verified_text = ", ".join(_FRAMEWORK_NAMES[f] for f in verified) or "none"
    lines = [
        "---",
        "library_name: rosetta",
        "tags:",
        "- rosetta",
        *[f"- {_TAGS[f]}" for f in verified if f in _TAGS],
        "---",
        "",
        f"# {repo_id}",
        "",
        f"A `{config.model_type}` model ({architectures}) saved by rosetta from {trained_in}, as one canonical",
        "safetensors checkpoint that PyTorch, TensorFlow and JAX/Flax load natively.",
        "",
        f"Verified in: {verified_text}.",
        "",
        "```python",
        "from rosetta import AutoModel, TFAutoModel, FlaxAutoModel",
        f'model = AutoModel.from_pretrained("{repo_id}")',
        "```",
        "",
        section,
    ]
    return "\n".join(lines)


class ModelCardMixin:
    """The card `push_to_hub` writes for a model of any backend, verified from the pushed folder."""

    trained_in: str = "PyTorch"

    def _model_card(self, repo_id: str, folder: str) -> str:
        return model_card(repo_id, self.config, trained_in=self.trained_in, folder=folder)
