"""Scattering1D's long-signal schedule: groups cut into parts of their first-order wavelets
(`engine._s1d_group`) and time blocks of ``c * 2**m`` samples chosen by estimated time
(`engine._s1d_model.choose_blocks`) give the whole, unsplit call's coefficients."""

from __future__ import annotations

import math

import numpy as np
import torch

from engine import Scattering1D, _s1d_group, _s1d_model
from engine._s1d_group import n1_parts, task_layout


def _rel_per_order(S, a, b):
    order = S.meta()["order"]
    return {int(o): float((a[..., order == o, :] - b[..., order == o, :]).norm()
                          / b[..., order == o, :].norm()) for o in np.unique(order)}


def test_n1_parts_cover_the_group_in_balanced_parts():
    assert n1_parts(14, 14 * 100, 10**6) == [(0, 14)]
    parts = n1_parts(14, 14 * 100, 700)               # 7 wavelets fit
    assert parts == [(0, 7), (7, 14)]
    parts = n1_parts(14, 14 * 100, 50)                # not even one: one per part
    assert parts == [(i, i + 1) for i in range(14)]
    parts = n1_parts(12, 12 * 100, 500)               # 5 fit: 3 parts of 4
    assert [b - a for a, b in parts] == [4, 4, 4] and parts[-1][1] == 12
    # with gradients (split=False) or several signals per task, never parts
    assert task_layout(1400, 14, 1, 100, 8, split=False) == (1, [(0, 14)])
    assert task_layout(100, 14, 5, 10_000, 8, split=True) == (12, [(0, 14)])


def test_group_parts_equal_the_whole_group(monkeypatch):
    """Parts (forced small) give the unsplit call's numbers, in the same order, for every
    out_type and for forward_with_u1."""
    torch.manual_seed(0)
    N = 2**13
    x = torch.randn(2, N, dtype=torch.float64)
    whole = Scattering1D(6, N, 8, memory_budget=math.inf).double()
    want, want_u1 = whole.forward_with_u1(x)
    want_dict = Scattering1D(6, N, 8, memory_budget=math.inf, out_type="dict").double()(x)
    monkeypatch.setattr(_s1d_group, "PART_BYTES", 2**10)
    S = Scattering1D(6, N, 8, memory_budget=math.inf, chunk_bytes=2**12).double()
    g0 = S._groups[0]
    step, parts = task_layout(g0["values"], len(g0["n1"]), 2, 2**12, 16, True)
    assert len(parts) > 1                              # the schedule really splits
    got, got_u1 = S.forward_with_u1(x)
    assert got.shape == want.shape
    for o, err in _rel_per_order(S, got, want).items():
        assert err < 1e-13, f"order {o}: {err:.2e}"
    for a, b in zip(got_u1, want_u1):
        assert float((a - b).norm() / b.norm()) < 1e-13
    S.out_type = "dict"
    got_dict = S(x)
    assert list(got_dict) == list(want_dict)
    assert all(torch.allclose(got_dict[k], want_dict[k], rtol=1e-12, atol=1e-14)
               for k in want_dict)


def test_block_lengths_are_powers_of_two_with_whole_grids():
    S = Scattering1D(8, 2**16, 8)
    st = _s1d_model.structure_of(S)
    Ls = _s1d_model.block_lengths(st, S.N_padded, 2048)
    assert Ls == sorted(Ls, reverse=True) and max(Ls) < S.N_padded
    assert all(L & (L - 1) == 0 and L % (2 << S.log2_stride) == 0 and L >= 2 * 2048
               for L in Ls)


def test_long_call_in_time_blocks_when_predicted_faster_than_whole():
    """J=12, Q=12 on 2**20 samples under the default budget: the whole call would fit, but
    time blocks of 2**19 (rows in the cache) are predicted faster, so the call runs in them;
    without a budget it runs whole (arithmetic only: nothing of that length is built)."""
    S = Scattering1D(12, 2**20, 12)
    st = _s1d_model.structure_of(S)
    out = sum(_s1d_model.output_lengths(st, 2**20, S.N_padded)) * 4
    whole = _s1d_model.unblocked(st, 1, S.N_padded, 4, out, S.chunk_bytes,
                                 max(1, torch.get_num_threads()))
    est, passes = S.plan_call(1)
    assert whole.peak <= S.memory_budget                  # it would fit
    assert passes is not None and passes.L < S.N_padded
    assert est.seconds < _s1d_model.BLOCKS_OVER_WHOLE * whole.seconds
    assert est.peak <= S.memory_budget
    assert Scattering1D(12, 2**20, 12, memory_budget=math.inf).plan_call(1)[1] is None
