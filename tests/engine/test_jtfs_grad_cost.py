"""The JTFS cost model with gradients (`engine.jtfs.grad.grad_cost`) against measured forward +
backward growth (``tests/engine/jtfs_gradprobe.py``: forked children, ``VmHWM``): within 1.5x
on a small grid of both schedules (plain autograd, and the stages recomputed under a budget),
and a given budget holds the measured growth (to the same band)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from tests.engine.memprobe import probe_quietest

PROBE = Path(__file__).with_name("jtfs_gradprobe.py")
SMALL = dict(J=8, Q=8, J_fr=4, Q_fr=1, F=8)
ISSUE = dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16)
MiB = 2**20

#: (params, N, batch, budget): the default budget (plain autograd fits it) and budgets
#: under which the stages are recomputed.
GRID = [(SMALL, 2**13, 1, None), (SMALL, 2**14, 4, None), (ISSUE, 2**14, 1, None),
        (ISSUE, 2**13, 4, 128 * MiB), (ISSUE, 2**14, 4, 160 * MiB)]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_trim"), reason="needs glibc")
def test_grad_peak_within_factor_1_5_and_budget():
    points = [dict(params=p, N=n, B=b, budget=bud) for p, n, b, bud in GRID]
    rows = probe_quietest(points, PROBE)
    assert {r["recompute"] for r in rows} == {True, False}          # both schedules
    bad = [r for r in rows if not 1 / 1.5 <= r["pred_peak"] / r["peak"] <= 1.5]
    assert not bad, "\n".join(
        f"N={r['N']} B={r['B']} budget={r['budget']}: predicted/measured "
        f"{r['pred_peak'] / r['peak']:.2f} (measured {r['peak'] / MiB:.0f} MiB, "
        f"{r.get('runs', 1)} runs)" for r in bad)
    for r in rows:
        if r["budget"] is not None:
            assert r["pred_peak"] <= r["budget"] and r["peak"] <= 1.5 * r["budget"], r
