"""The XLA flags tests/conftest.py adds for the suite, and an environment without them for a subprocess that
must run with XLA's defaults (an older jax, or a check of what users run)."""

from __future__ import annotations

import os

# Classic emitters at LLVM -O0: XLA:CPU compiles the suite's tiny programs about 2.5x faster.
TEST_XLA_FLAGS = ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=0")


def with_test_xla_flags(flags: str) -> str:
    """`flags` (a user's XLA_FLAGS) with the suite's flags added after them, once."""
    user = flags.split()
    return " ".join([*user, *(f for f in TEST_XLA_FLAGS if f not in user)])


def without_test_xla_flags() -> dict[str, str]:
    """A copy of this process's environment whose XLA_FLAGS keeps only the user's own flags."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split() if f not in TEST_XLA_FLAGS)
    return env
