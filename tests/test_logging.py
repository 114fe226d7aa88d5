"""`rosetta.logging`: the verbosity and progress-bar switches users of transformers reach for."""

from __future__ import annotations

import importlib
import logging as std_logging
import os
import subprocess
import sys

import pytest

from rosetta import logging


@pytest.fixture(autouse=True)
def restore_level(monkeypatch):
    library = std_logging.getLogger("rosetta")
    level = library.level
    monkeypatch.setattr(logging, "_progress_bars", logging.is_progress_bar_enabled())  # restored after
    yield
    library.setLevel(level)


@pytest.mark.parametrize(
    ("setter", "level"),
    [
        (logging.set_verbosity_debug, logging.DEBUG),
        (logging.set_verbosity_info, logging.INFO),
        (logging.set_verbosity_warning, logging.WARNING),
        (logging.set_verbosity_error, logging.ERROR),
    ],
)
def test_verbosity_setters_govern_every_rosetta_logger(setter, level, caplog):
    setter()
    assert logging.get_verbosity() == level
    logger = logging.get_logger("rosetta.core.something")
    assert logger.getEffectiveLevel() == level
    with caplog.at_level(std_logging.NOTSET, logger="tests"):
        logger.info("an info line")
        logger.error("an error line")
    messages = [r.getMessage() for r in caplog.records if r.name == "rosetta.core.something"]
    assert messages == (["an info line"] if level <= logging.INFO else []) + ["an error line"]


def test_set_verbosity_takes_an_int_and_get_logger_defaults_to_the_library():
    logging.set_verbosity(logging.CRITICAL)
    assert logging.get_verbosity() == 50
    assert logging.get_logger().name == "rosetta"


def test_progress_bar_switch_reaches_huggingface_hub(monkeypatch):
    from huggingface_hub.utils import are_progress_bars_disabled

    hf_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")
    monkeypatch.setattr(hf_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", None)  # conftest's env var would win
    logging.enable_progress_bar()
    assert logging.is_progress_bar_enabled() and not are_progress_bars_disabled()
    logging.disable_progress_bar()  # and the tests' state (bars off) is back
    assert not logging.is_progress_bar_enabled() and are_progress_bars_disabled()


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSETTA_")} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_info_reaches_stderr_once_without_any_logging_setup():
    code = (
        "from rosetta import logging\n"
        "logging.set_verbosity_info()\n"
        "logging.get_logger('rosetta.x').info('hello')\n"
        "logging.get_logger('rosetta.x').debug('hidden')\n"
    )
    result = _run(code)
    assert result.stderr.count("hello") == 1 and "hidden" not in result.stderr
    with_root = _run("import logging as l; l.basicConfig()\n" + code)  # the application's handler prints it
    assert with_root.stderr.count("hello") == 1


def test_rosetta_verbosity_environment_variable():
    code = "from rosetta import logging; print(logging.get_verbosity())"
    assert _run(code, ROSETTA_VERBOSITY="error").stdout.strip() == "40"
    assert _run(code).stdout.strip() == "30"
    assert (
        _run(
            "from rosetta import logging; print(logging.is_progress_bar_enabled())",
            ROSETTA_DISABLE_PROGRESS_BAR="1",
        ).stdout.strip()
        == "False"
    )
