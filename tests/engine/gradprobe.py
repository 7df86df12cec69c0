"""Measure a Scattering1D call's forward + backward memory growth, each point in a fresh process.

Run as a script: ``python tests/engine/gradprobe.py '<json list of points>'``; prints one
JSON line per point. A point is ``{"params": {...}, "N": int, "B": int, "dtype":
"float32"|"float64", "budget": bytes or None (the default) or "inf"}``; with ``"steps": k``
the point runs ``k`` steps of gradient descent instead of one call (a reconstruction).

As ``tests/engine/memprobe.py`` (whose helpers it uses), each point runs in a child forked
from this process, which predicts the call (``engine.estimate_cost(...,
requires_grad=True)``), builds the transform and warms up on a small one of the same
configuration (with gradients), resets the peak resident size and reads ``VmRSS``, then
runs ``loss = ||S(x) - target||``, ``loss.backward()`` (``x`` requiring gradients; the
target is computed before the reset) and reads ``VmHWM``: the growth is ``VmHWM - VmRSS``,
the forward, the backward and the input's gradient included.

Linux only (``/proc``, ``fork``).
"""

from __future__ import annotations

import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memprobe import _status, main, point_setting, reset_peak  # noqa: E402

from engine import Scattering1D, estimate_cost  # noqa: E402


def _measure(pt: dict) -> dict:
    dtype, params, N, B = point_setting(pt)
    budget = math.inf if pt.get("budget") == "inf" else pt.get("budget")
    steps = int(pt.get("steps", 0))
    cost = estimate_cost("scattering1d", N, B, dtype=dtype, memory_budget=budget,
                         requires_grad=True, **params)
    n_small = max(2**params["J"], params.get("T") or 0, 4096)
    small = Scattering1D(shape=n_small, **params).to(dtype)
    xs = torch.randn(1, n_small, dtype=dtype, requires_grad=True)
    small(xs).square().sum().backward()
    S = Scattering1D(shape=N, memory_budget=budget, **params).to(dtype)
    passes = S.plan_call(B, dtype, grad=True)[1]
    if passes is not None and passes.L < S.N_padded:   # its filters belong to the module
        from engine._blocked import block_module

        block_module(S, passes.L, passes.R)
    torch.manual_seed(0)
    with torch.no_grad():
        target = S(torch.randn(B, N, dtype=dtype))
    x = torch.randn(B, N, dtype=dtype, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.1) if steps else None
    base = reset_peak()
    t, c = time.perf_counter(), time.process_time()
    losses = []
    for _ in range(max(steps, 1)):
        if opt is not None:
            opt.zero_grad()
        loss = torch.norm(S(x) - target)
        loss.backward()
        losses.append(float(loss.detach()))
        if opt is not None:
            opt.step()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = _status("VmHWM") - base
    return {**pt, "peak": peak, "wall": wall, "cpu": cpu, "losses": losses,
            "threads": torch.get_num_threads(), "pred_peak": cost.peak_bytes,
            "pred_seconds": cost.seconds, "out_bytes": cost.output_bytes, "passes": passes is not None,
            "rows": None if passes is None else passes.rows,
            "L": None if passes is None else passes.L}


if __name__ == "__main__":
    main(_measure)
