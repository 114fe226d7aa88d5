"""Handing memory the process no longer uses back to the operating system."""

from __future__ import annotations

import ctypes
import functools
import sys


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_freed_memory() -> bool:
    """Return the free pages of the C heap to the OS (glibc's `malloc_trim(0)`); False where there is none.

    Compiling a decode loop with XLA (TF `jit_compile`, `jax.jit`) frees 100-200 MB of compiler memory
    that glibc keeps mapped for reuse; the process then holds it for as long as it lives. Called once
    after each new compilation, not per call: a trim walks the whole heap.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
