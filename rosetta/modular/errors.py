"""The error the modular generator raises: it names the modular source and says what to change."""

from __future__ import annotations

from ..core.errors import RosettaError


class ModularError(RosettaError, ValueError):
    """A modular source cannot be turned into standalone files (the message says why and what to do)."""
