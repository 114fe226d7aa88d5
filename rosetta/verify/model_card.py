"""The model card with the frameworks a cross-framework verification confirmed."""

from __future__ import annotations

import os

from ..core.configuration import PretrainedConfig
from ..core.errors import InputError
from ..core.model_card import render_model_card
from .report import format_markdown
from .verifier import verify as run_verification


def model_card(
    repo_id: str,
    config: PretrainedConfig,
    trained_in: str,
    folder: str | os.PathLike | None = None,
    verify: bool = False,
) -> str:
    """The README.md text for `repo_id`. With verify=True, the saved `folder` is first run in every
    installed framework, and only the frameworks whose outputs agreed are listed as verified, with
    the verification table; an error of the verification is raised, not hidden in the card."""
    if not verify:
        return render_model_card(repo_id, config, trained_in)
    if folder is None:
        raise InputError("model_card(..., verify=True) needs `folder`, the saved checkpoint to verify.")
    report = run_verification(os.fspath(folder))
    return render_model_card(
        repo_id, config, trained_in, verified=report.confirmed, verification=format_markdown(report)
    )
