"""engine._malloc.trim: glibc keeps freed heap memory resident until malloc_trim."""

from __future__ import annotations

import ctypes
import sys
import threading

import pytest

from engine import _malloc


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _malloc.available(),
                    reason="malloc_trim is glibc's")
def test_trim_returns_freed_heap_pages():
    """In a worker thread's arena, freed blocks below the (raised) mmap threshold, pinned
    between small live ones, stay resident until `trim` (why calls in passes trim between
    passes: the transform's temporaries live in its worker threads). If glibc ever returns
    them by itself, the first assertion fails and `engine._malloc` can go."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    seen, keep = {}, []

    def work():
        big = libc.malloc(8 << 20)        # freeing a mapped block raises the mmap threshold
        ctypes.memset(big, 1, 8 << 20)
        libc.free(big)
        free = []
        for _ in range(40):               # 1 MiB blocks, now on this thread's heap
            p = libc.malloc(1 << 20)
            ctypes.memset(p, 1, 1 << 20)
            free.append(p)
            keep.append(libc.malloc(64))
        seen["held"] = _rss()
        for p in free:
            libc.free(p)
        seen["freed"] = _rss()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["freed"] > seen["held"] - (20 << 20), "glibc returned them by itself"
    _malloc.trim()
    assert _rss() < seen["freed"] - (20 << 20)
    for p in keep:
        libc.free(p)


def test_trim_is_safe_to_call():
    _malloc.trim()
    _malloc.trim()
