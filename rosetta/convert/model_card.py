"""Temporary re-export (the backends still import it here); the card lives in rosetta.verify."""

from ..verify.model_card import ModelCardMixin, model_card  # noqa: F401
