"""Shared fixtures. The Hub environment is set first: huggingface_hub reads it once, at import."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sys
import tempfile

from tests.xla_flags import with_test_xla_flags

if "huggingface_hub" in sys.modules:
    raise RuntimeError(
        "huggingface_hub was imported before tests/conftest.py could point HF_ENDPOINT at the test Hub; "
        "keep imports of huggingface_hub (and transformers) out of tests/__init__.py and pytest plugins."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Each process (every xdist worker included) gets its own Hub port and its own HF_HOME.
HUB_PORT = _free_port()
HF_HOME = tempfile.mkdtemp(prefix="rosetta-hf-home-")
HF_TOKEN = "hf_rosetta_test_token"
atexit.register(shutil.rmtree, HF_HOME, ignore_errors=True)
os.environ.update(
    HF_ENDPOINT=f"http://127.0.0.1:{HUB_PORT}",
    HF_HOME=HF_HOME,
    HF_TOKEN=HF_TOKEN,
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
)
# One XLA compilation cache per test run, shared by the xdist workers and the subprocesses they start: the
# tiny models of many tests compile the very same programs. The controller makes it before the workers
# start (they inherit the variable) and removes it at the end; a run without xdist makes its own.
if "ROSETTA_TEST_XLA_CACHE" not in os.environ:
    os.environ["ROSETTA_TEST_XLA_CACHE"] = tempfile.mkdtemp(prefix="rosetta-xla-cache-")
    atexit.register(shutil.rmtree, os.environ["ROSETTA_TEST_XLA_CACHE"], ignore_errors=True)
os.environ.update(
    JAX_COMPILATION_CACHE_DIR=os.environ["ROSETTA_TEST_XLA_CACHE"],
    JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
)
# The tests' programs are tiny, so XLA:CPU's compile time is most of their cost: tests/xla_flags.py's flags
# compile them about 2.5x faster (the same HLO, the same float semantics: no fast-math either way).
# tests/test_xla_defaults.py checks TF/Flax parity once more under XLA's default flags, as users run them.
os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS", ""))
for _name in (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_OIDC_RESOURCE",
):
    os.environ.pop(_name, None)

# Imports that may pull in huggingface_hub come only after the environment above.
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402

from tests.hub_server import HubServer  # noqa: E402

if TYPE_CHECKING:
    from rosetta.models.bert.configuration_bert import BertConfig


FILE_DURATIONS = Path(__file__).parent / "file_durations.json"
UNRECORDED_SLOW_FILE_SECONDS = 60.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files run longest first, each file's tests in their order: `make test` hands out whole files in this
    order (`--dist loadfile --no-loadscope-reorder`), and a long file handed out last would leave one worker
    running alone at the end. The seconds are those `make test-durations` recorded; a file not recorded yet
    counts as a minute when marked `slow` (real-size checkpoints), else as nothing."""
    recorded = json.loads(FILE_DURATIONS.read_text(encoding="utf-8")) if FILE_DURATIONS.is_file() else {}
    seconds: dict[Path, float] = {}
    for item in items:
        if item.path not in seconds:
            name = item.path.relative_to(config.rootpath).as_posix()
            default = UNRECORDED_SLOW_FILE_SECONDS if item.get_closest_marker("slow") else 0.0
            seconds[item.path] = recorded.get(name, default)
    items.sort(key=lambda item: -seconds[item.path])


@pytest.fixture(scope="session")
def hub_server() -> Iterator[HubServer]:
    """The local Hub that HF_ENDPOINT points at, started on first use and kept for the session.

    It is shared by every test of this process, so each test should push to its own repo:
    `hub_server.new_repo_id("tiny-bert")` gives an id never used before. `.url` is the endpoint,
    `.repo(repo_id)` the stored repo (`.files(revision)`, `.refs`, `.commits`), `.requests` the log.
    """
    server = HubServer("127.0.0.1", HUB_PORT).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty huggingface_hub cache for this test only (the default `cache_dir` of every download)."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def tiny_bert_config() -> BertConfig:
    """A BERT config small enough for fast tests in every backend."""
    from tests.parity import tiny_config

    return tiny_config("bert")
