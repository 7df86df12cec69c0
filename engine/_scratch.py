"""Reusable buffers for a transform's temporaries, one set per thread.

A forward pass without gradients allocates the same large temporaries chunk after chunk
(the folded spectra, their inverse FFTs, the moduli). Fresh allocations of that size make
glibc map and unmap memory, or keep a heap grown by every size it saw: page faults and a peak
resident size two to three times the live data. `scratch` hands out views of a per-thread,
per-role buffer instead, grown to the largest request and reused.

Only for temporaries that never leave the function that asked for them and are not saved for
a backward pass (check ``not x.requires_grad``), on CPU (CUDA's caching allocator already
reuses memory).
"""

from __future__ import annotations

import math
import threading

import torch

__all__ = ["scratch", "scratch_allowed", "release"]

_local = threading.local()

#: Larger requests get a fresh tensor: a thread never holds more than this per role (the
#: transforms' chunks are far smaller unless one signal alone is huge).
KEEP_BYTES = 32 * 2**20


def scratch_allowed(x: torch.Tensor) -> bool:
    """Whether temporaries derived from ``x`` may live in scratch buffers: ``x`` carries no
    gradient (so nothing is saved for a backward pass) and lives on the CPU."""
    return x.device.type == "cpu" and not (x.requires_grad and torch.is_grad_enabled())


def scratch(role: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor of ``shape`` and ``dtype`` that is this thread's buffer for
    ``role``: the next request for the same role (and dtype) on this thread returns the same
    memory, so the previous one must be dead by then.

    >>> a = scratch("demo", (2, 3), torch.float32)
    >>> b = scratch("demo", (3,), torch.float32)
    >>> a.data_ptr() == b.data_ptr()
    True
    """
    store = getattr(_local, "store", None)
    if store is None:
        store = _local.store = {}
    n = math.prod(shape)
    if n * dtype.itemsize > KEEP_BYTES:     # rare, huge: not worth holding on to
        return torch.empty(shape, dtype=dtype)
    buf = store.get((role, dtype))
    if buf is None or buf.numel() < n:
        # a normal tensor even under inference_mode: it may be written outside it later
        with torch.inference_mode(False):
            buf = store[(role, dtype)] = torch.empty(n, dtype=dtype)
    return buf[:n].view(shape)


def release() -> None:
    """Free this thread's scratch buffers."""
    _local.store = {}
