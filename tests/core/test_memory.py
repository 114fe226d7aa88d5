"""`rosetta.core.memory`: handing freed C-heap memory back to the operating system."""

import ctypes
import sys

from rosetta.core.memory import release_freed_memory


def test_release_freed_memory_lowers_rss_after_a_large_free():
    if not sys.platform.startswith("linux"):
        assert release_freed_memory() is False
        return

    def rss_kb() -> int:
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 * 1024) for _ in range(1601)]  # 100 MB below the mmap threshold: on the heap
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)
    keep = blocks.pop()  # the last block pins the top of the heap, so free() alone cannot shrink it
    for block in blocks:
        libc.free(block)
    held = rss_kb()
    assert release_freed_memory() is True
    released = held - rss_kb()
    libc.free(keep)
    assert released > 50_000, f"{released} kB released"
