"""Settings of a long-running process that serves scatviz (the dashboard's server).

Process-wide, so never applied by the engine (a library does not change its host process)
nor on import: `apply_server_settings` applies them once, when the server starts
(``panel serve --setup scatviz/serve_setup.py``).
"""

from __future__ import annotations

import ctypes
import gc
import sys

__all__ = ["apply_server_settings", "freeze_startup_objects", "retain_freed_memory"]

#: glibc's ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_retained = False
_frozen = False


def retain_freed_memory(mmap_below: int = 32 << 20, trim_above: int = 256 << 20) -> bool:
    """Make glibc's malloc keep freed memory in the process for reuse (``mallopt``), once per
    process; True when set (False on a second call, or where malloc is not glibc's).

    By default glibc maps each request above a threshold (128 KiB, raised to the size of the
    largest block freed so far, at most 32 MiB) afresh and unmaps it when freed, and returns
    the free top of its heap to the system: the next transform's temporaries of the same sizes
    are new pages, each a page fault, and on the shared virtual machines this runs on a fault
    costs microseconds. Requests under ``mmap_below`` bytes (32 MiB, glibc's largest) then
    come from the heap and up to ``trim_above`` free bytes stay mapped: the server's resident
    size stays near its peak instead of shrinking between updates.

    Measured with `benchmarks/bench_server_update.py` (20 new settings at N=8192; five
    runs each, interleaved, on a noisy shared host): page faults per change ~4,500 against
    ~7,500-15,400; CPU per change 123-140 ms against 140-168 ms (one pair equal). The app
    calls this at start-up."""
    global _retained
    if _retained or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):          # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _retained = bool(mallopt(_M_MMAP_THRESHOLD, mmap_below)
                     and mallopt(_M_TRIM_THRESHOLD, trim_above))
    return _retained


def freeze_startup_objects() -> bool:
    """Exempt the objects alive now, once per process, from Python's cyclic garbage collector
    (`gc.freeze`, after a last collection); True the first time.

    A server process holds ~330,000 objects of torch, Bokeh and Panel for its whole life; each
    full collection walked them all, 0.18-0.34 s in the server (measured with gc callbacks:
    ``SCATVIZ_DEBUG=1``, see `scatviz.views.dashboard`), and one landed in the middle of an
    update every few dozen: the slowest changes of the latency benchmark. With them frozen a
    full collection takes 0.035-0.10 s (the sessions' objects). Frozen objects are still freed
    by reference counting; only reference cycles among them would stay, and they are the
    libraries' own. The app calls this before it builds a session."""
    global _frozen
    if _frozen:
        return False
    gc.collect()
    gc.freeze()
    _frozen = True
    return True


def apply_server_settings() -> dict[str, bool]:
    """The serving process's settings, applied once when the server starts (not per
    session): ``OMP_WAIT_POLICY=PASSIVE`` unless set (idle OpenMP workers must not spin
    beside the server; effective when torch starts OpenMP later), `retain_freed_memory`
    and `freeze_startup_objects` (call it after importing what every session uses, so that
    those libraries' objects are the ones frozen).

    ``panel serve --setup scatviz/serve_setup.py`` calls this (``scripts/serve.sh``,
    ``scatviz serve`` and the tests' ``panel_server`` pass it). Returns which settings
    this call applied: ``{"retain_freed_memory": bool, "freeze_startup_objects": bool}``."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    return {"retain_freed_memory": retain_freed_memory(),
            "freeze_startup_objects": freeze_startup_objects()}
