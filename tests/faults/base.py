"""What a row of the fault-injection suite is: a fault, the outcome expected, and where it is checked.

Each `tests/faults/cases_<area>.py` module holds `CASES`, a list of `FaultCase` objects;
`test_faults.py` runs every case of every module in every target the case names. A case
subclass says how to inject its fault and check its target in `check(target, tmp_path)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FaultCase:
    id: str  # short, unique across the suite: the test id
    fault: str  # what is done wrong, in words
    error: type[BaseException] | None  # the named error expected (None: the operation succeeds)
    message: str = ""  # a fragment the error message must hold
    targets: tuple[str, ...] = field(default=(), kw_only=True)

    def check(self, target: str, tmp_path: Path) -> None:
        raise NotImplementedError


def rosetta_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m rosetta ARGS` in a fresh process, as a user runs it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "rosetta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )
