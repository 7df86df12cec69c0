"""The C allocator's cached memory, handed back to the system between passes.

glibc's ``malloc`` raises its mmap threshold (up to 32 MiB) whenever a mapped block is freed,
so a transform's temporaries soon come from its heaps, one per worker thread; what they free
stays resident, and a long call's resident set grows well beyond the tensors alive at any
moment. A budgeted call (`engine._blocked`) runs in passes: between two passes nothing of the
previous pass's temporaries is alive, so `trim` hands the heaps' free pages back
(``malloc_trim(0)``: every arena). Elsewhere (musl, macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["trim", "available"]


def _load():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        fn = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


_malloc_trim = _load()


def available() -> bool:
    """Whether this C library has ``malloc_trim`` (glibc)."""
    return _malloc_trim is not None


def trim() -> None:
    """Return the C heaps' free memory to the system (no-op without glibc)."""
    if _malloc_trim is not None:
        _malloc_trim(0)
