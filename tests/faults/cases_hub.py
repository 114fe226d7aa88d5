"""Fault-injection rows: sources that are neither a local folder nor a reachable Hub repository.

Each row: `id`, `fault`, `prepare(folder, monkeypatch) -> src` (sets up the environment, e.g. a dead
endpoint, and returns what to pass to `from_pretrained` / `rosetta convert` / `rosetta verify`), the
error class `expect`, a substring `match` of its message, and `max_seconds`: the answer must come
within that time (huggingface_hub alone retries a dead endpoint for 20+ s per file).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rosetta.core.errors import HubUnreachableError, MissingFileError, PathNotFoundError

ENTRY_POINTS = ("config", "torch", "tf", "flax", "convert", "verify")


def closed_port_endpoint() -> str:
    """An endpoint where nothing listens: a port bound, never listened on, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def point_hub_at(monkeypatch: Any, url: str) -> None:
    """Send rosetta's (and huggingface_hub's) requests to `url` for one test."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )


def _missing_path(relative: str) -> Callable[[Path, Any], str]:
    def prepare(folder: Path, monkeypatch: Any) -> str:
        point_hub_at(monkeypatch, closed_port_endpoint())  # asking the Hub would fail differently
        return relative if not relative.startswith("/") else str(folder / relative.lstrip("/"))

    return prepare


def _dead_hub(folder: Path, monkeypatch: Any) -> str:
    point_hub_at(monkeypatch, closed_port_endpoint())
    return "does-not-exist"


def _offline(folder: Path, monkeypatch: Any) -> str:
    point_hub_at(monkeypatch, closed_port_endpoint())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return "user/never-downloaded"


def _row(
    id: str, fault: str, prepare: Callable[[Path, Any], str], expect: type, match: str
) -> dict[str, Any]:
    return {"id": id, "fault": fault, "prepare": prepare, "expect": expect, "match": match, "max_seconds": 10,
            "entry_points": ENTRY_POINTS}  # fmt: skip


CASES: list[dict[str, Any]] = [
    _row(
        "hub-missing-relative-path",
        "./does-not-exist",
        _missing_path("./does-not-exist"),
        PathNotFoundError,
        "does not exist",
    ),
    _row(
        "hub-missing-absolute-path",
        "an absolute path that does not exist",
        _missing_path("/no/such/folder"),
        PathNotFoundError,
        "does not exist",
    ),
    _row(
        "hub-missing-nested-path",
        "a/b/c (no repo id has two slashes)",
        _missing_path("a/b/c"),
        PathNotFoundError,
        "does not exist",
    ),
    _row(
        "hub-invalid-repo-id",
        "'bad name!' (not a valid repo id)",
        _missing_path("bad name!"),
        PathNotFoundError,
        "does not exist",
    ),
    _row(
        "hub-unreachable",
        "a repo id while nothing answers at HF_ENDPOINT",
        _dead_hub,
        HubUnreachableError,
        "could not be reached",
    ),
    _row(
        "hub-offline-not-cached",
        "HF_HUB_OFFLINE=1 and a repo never downloaded",
        _offline,
        MissingFileError,
        "Offline mode",
    ),
]
