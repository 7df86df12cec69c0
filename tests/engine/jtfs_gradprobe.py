"""Measure a JTFS call's forward + backward memory growth, each point in a fresh process.

Run as a script: ``python tests/engine/jtfs_gradprobe.py '<json list of points>'``; prints one
JSON line per point. A point is ``{"params": {...}, "N": int, "B": int, "dtype":
"float32"|"float64", "budget": bytes or None, "mode": null|true|false}`` (``mode``: the
transform's ``_grad_mode``, None its plan's choice, True recompute, False plain autograd).

As ``tests/engine/memprobe.py`` (whose runner it uses), each point runs in a child forked from
this process, which predicts the call (``estimate_cost(..., requires_grad=True)``), builds
the transform, warms up with gradients on a small one of the same configuration, resets the
peak resident size and reads ``VmRSS``, then runs ``S(x).sum().backward()`` (``x``
requiring gradients) and reads ``VmHWM``: the growth is ``VmHWM - VmRSS``, the forward, the
backward and the input's gradient included.

Linux only (``/proc``, ``fork``).
"""

from __future__ import annotations

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memprobe import _libc, _status, main, point_setting, reset_peak  # noqa: E402

from engine.jtfs import TimeFrequencyScattering  # noqa: E402

try:                                   # (absent from a tree before engine.jtfs.grad: A/B)
    from engine.jtfs.grad import grad_plan  # noqa: E402
except ImportError:
    grad_plan = None


def _measure(pt: dict) -> dict:
    # Blocks of 1 MiB and more are mapped and unmapped (as tests/engine/test_jtfs_cost.py and
    # benchmarks/jtfs_peak_probe.py): the resident set follows the live tensors.
    _libc.mallopt(-3, 2**20)                                    # M_MMAP_THRESHOLD
    dtype, params, N, B = point_setting(pt)
    budget = pt.get("budget")
    S = TimeFrequencyScattering(shape=N, memory_budget=budget, **params).to(dtype)
    S._grad_mode = pt.get("mode")
    cost = (S.estimate_cost(B, dtype, requires_grad=True)
            if S._grad_mode is None and grad_plan is not None else None)
    n_small = min(N, 2**14)
    small = TimeFrequencyScattering(shape=n_small, **params).to(dtype)
    small._grad_mode = S._grad_mode
    xs = torch.randn(1, n_small, dtype=dtype, requires_grad=True)
    small(xs).sum().backward()
    del small, xs
    x = torch.randn(B, N, dtype=dtype, requires_grad=True)
    base = reset_peak()
    t, c = time.perf_counter(), time.process_time()
    S(x).sum().backward()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = _status("VmHWM") - base
    return {**pt, "peak": peak, "wall": wall, "cpu": cpu, "threads": torch.get_num_threads(),
            "recompute": grad_plan and grad_plan(S, B, dtype),
            "pred_peak": None if cost is None else cost.peak_bytes,
            "pred_seconds": None if cost is None else cost.seconds,
            "load": os.getloadavg()[0]}


if __name__ == "__main__":
    main(_measure)
