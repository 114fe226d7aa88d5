"""The README.md pushed with a model, rendered from its config: no framework, no verification run.

`rosetta.verify.model_card` runs the cross-framework verification first and passes what it
confirmed here; without it the card says that verification was not run.
"""

from __future__ import annotations

from collections.abc import Sequence

from .configuration import PretrainedConfig
from .frameworks import FRAMEWORKS

PEER_NAMES = {"transformers": "Hugging Face transformers"}  # reference implementations verify may run
NOT_VERIFIED = "Cross-framework verification was not run (`rosetta verify` or `push_to_hub(..., verify=True)` runs it).\n"


def _display_name(framework: str) -> str:
    return (
        FRAMEWORKS[framework].display_name
        if framework in FRAMEWORKS
        else PEER_NAMES.get(framework, framework)
    )


def render_model_card(
    repo_id: str,
    config: PretrainedConfig,
    trained_in: str,
    verified: Sequence[str] | None = None,
    verification: str | None = None,
) -> str:
    """The card text. `verified`: frameworks whose outputs agreed (None: verification not run);
    `verification`: the Markdown section of the verification report."""
    architectures = ", ".join(config.architectures or []) or type(config).__name__
    tags = [f"- {FRAMEWORKS[f].hub_tag}" for f in verified or () if f in FRAMEWORKS]
    lines = ["---", "library_name: rosetta", "tags:", "- rosetta", *tags, "---", "", f"# {repo_id}", ""]
    lines += [
        f"A `{config.model_type}` model ({architectures}) saved by rosetta from {trained_in}, as one canonical",
        "safetensors checkpoint that PyTorch, TensorFlow and JAX/Flax load natively.",
        "",
    ]
    if verified is not None:
        lines += [f"Verified in: {', '.join(map(_display_name, verified)) or 'none'}.", ""]
    lines += [
        "```python",
        "from rosetta import AutoModel, TFAutoModel, FlaxAutoModel",
        f'model = AutoModel.from_pretrained("{repo_id}")',
        "```",
        "",
        verification if verification is not None else NOT_VERIFIED,
    ]
    return "\n".join(lines)
