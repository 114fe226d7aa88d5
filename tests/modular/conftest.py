"""Fixtures: a fresh fake model package per test, under its own import name."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from .fake_bert import MODULAR_ROBERTA, add_modular, make_package

_COUNTER = itertools.count()


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """`tmp_path/<unique name>/models`, holding `bert/` (config, torch, TF, Flax)."""
    return make_package(tmp_path, f"fakepkg{os.getpid()}_{next(_COUNTER)}")


@pytest.fixture
def roberta(models: Path) -> Path:
    """The RoBERTa modular source of fake_bert.MODULAR_ROBERTA, next to the fake BERT."""
    return add_modular(models, "roberta", MODULAR_ROBERTA)
