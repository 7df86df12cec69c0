"""Scattering1D with gradients under a memory budget: forward + backward within the budget.

A call that records gradients and would not fit ``memory_budget`` (forward and backward
together, `engine._s1d_grad.unblocked_grad`) runs in passes whose backward recomputes them
one at a time (`engine._blocked._Recomputed`). Its gradients must equal the unbudgeted
call's (``memory_budget=math.inf``, plain autograd), and its measured fwd + bwd memory
growth (``tests/engine/gradprobe.py``, forked children, ``VmHWM``) stay within 1.5x of the
prediction and of the budget.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest
import torch

from engine import BudgetError, Scattering1D, _s1d_model, estimate_cost
from engine._blocked import scatter_in_passes
from tests.engine.memprobe import peak_misses, probe_quietest, time_misses

PROBE = Path(__file__).with_name("gradprobe.py")
MiB = 2**20


def _budget_between(B, dtype=torch.float64, low_end=False, **kw):
    """A budget between the smallest that works for a call with gradients and the whole
    call's fwd + bwd peak (so that the call runs in passes, several of them); with
    ``low_end``, the smallest (the shortest time blocks, where the call has any)."""
    with pytest.raises(BudgetError, match="with gradients.*smallest budget") as e:
        Scattering1D(**kw, memory_budget=1).plan_call(B, dtype, grad=True)
    low = e.value.minimum_bytes
    high = Scattering1D(**kw, memory_budget=math.inf).plan_call(B, dtype, grad=True)[0].peak
    assert low < high
    return low if low_end else int(math.sqrt(low * high))


def _grads(S, x, out_type):
    """The output and the input's gradient of ``sum(w * S(x))`` (fixed ``w``)."""
    xi = x.clone().requires_grad_(True)
    y = S(xi)
    if out_type == "list":
        y = torch.cat([d["coef"].reshape(x.shape[0], -1) for d in y], dim=1)
    w = torch.sin(torch.arange(y.numel(), dtype=y.dtype)).reshape(y.shape)
    (y * w).sum().backward()
    return y.detach(), xi.grad


def _rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


#: (constructor arguments, batch, time blocks?) covering J, Q, T, stride, max_order, batch,
#: odd N, out_type, and both kinds of passes.
CASES = [
    (dict(J=6, shape=2**14 + 3, Q=8), 2, True),
    (dict(J=6, shape=5001, Q=(4, 2), T=32, stride=8), 3, True),
    (dict(J=5, shape=2**13 + 1, Q=4, max_order=1), 2, True),
    (dict(J=7, shape=12345, Q=(6, 1), stride=16, out_type="list"), 2, True),
    (dict(J=4, shape=999, Q=4), 40, False),                    # groups of signals
    (dict(J=5, shape=700, Q=2, T="global"), 30, False),
]


@pytest.mark.parametrize("kw,B,blocks", CASES)
def test_gradients_equal_unbudgeted(kw, B, blocks):
    torch.manual_seed(0)
    budget = _budget_between(B, low_end=blocks, **kw)
    S = Scattering1D(**kw, memory_budget=budget).double()
    passes = S.plan_call(B, grad=True)[1]
    assert passes is not None and B * passes.n_blocks > passes.rows     # several passes
    assert (passes.L < S.N_padded) == blocks
    whole = Scattering1D(**kw, memory_budget=math.inf).double()
    x = torch.randn(B, kw["shape"], dtype=torch.float64)
    (ya, ga), (yb, gb) = _grads(S, x, kw.get("out_type")), _grads(whole, x, kw.get("out_type"))
    assert _rel(ya, yb) < 1e-6
    assert _rel(ga, gb) < 1e-6, _rel(ga, gb)


def _finest_blocks(S):
    """The shortest time blocks of ``S``, one per pass (a `BlockChoice`, as
    `engine._s1d_model.choose_blocks` would cut them), without a budget."""
    st = _s1d_model.structure_of(S)
    stride = 2**S.log2_stride
    R = -(-_s1d_model.reach(st) // stride) * stride
    L = 1 << (2 * R + stride - 1).bit_length()
    assert L < S.N_padded
    H, a0, nb = _s1d_model.geometry(st, S.shape[0], S.N_padded, L, R)
    return _s1d_model.BlockChoice(L, R, H, a0, nb, 1, None)


def test_gradcheck_in_time_blocks():
    """torch.autograd.gradcheck of a call in passes of time blocks (the recomputing
    backward) against finite differences, float64, full Jacobian."""
    torch.manual_seed(0)
    S = Scattering1D(2, 200, 1, T=4).double()
    choice = _finest_blocks(S)
    assert choice.n_blocks > 2
    x = torch.randn(1, 200, dtype=torch.float64, requires_grad=True)
    want = Scattering1D(2, 200, 1, T=4, memory_budget=math.inf).double()(x)
    got = scatter_in_passes(S, x, choice, array=True)
    assert _rel(got, want) < 1e-10
    assert torch.autograd.gradcheck(lambda v: scatter_in_passes(S, v, choice, array=True),
                                    (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_fast_groups_and_list():
    torch.manual_seed(1)
    kw = dict(J=4, shape=257, Q=(3, 2), out_type="dict")
    S = Scattering1D(**kw, memory_budget=_budget_between(12, **kw)).double()
    assert S.plan_call(12, grad=True)[1] is not None
    x = torch.randn(12, kw["shape"], dtype=torch.float64, requires_grad=True)
    f = lambda v: tuple(S(v).values())        # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), fast_mode=True)


def test_long_signal_gradients_equal():
    """A long signal (2^17 + 5 samples, batch 2) in time blocks, float64."""
    torch.manual_seed(2)
    kw = dict(J=8, shape=2**17 + 5, Q=8)
    S = Scattering1D(**kw, memory_budget=64 * MiB).double()
    passes = S.plan_call(2, grad=True)[1]
    assert passes is not None and passes.L < S.N_padded
    x = torch.randn(2, kw["shape"], dtype=torch.float64)
    (ya, ga), (yb, gb) = (_grads(M, x, None) for M in
                          (S, Scattering1D(**kw, memory_budget=math.inf).double()))
    assert _rel(ya, yb) < 1e-6 and _rel(ga, gb) < 1e-6


def test_autograd_keeps_only_the_input():
    """Between the forward and the backward of a call in passes, the tensors autograd saves
    are the input alone: no pass's intermediates (saved-tensor hooks see every
    ``save_for_backward``, the moduli's included; they are per thread, so the tasks run
    inline on one thread here)."""
    kw = dict(J=6, shape=2**14, Q=8)
    S = Scattering1D(**kw, memory_budget=_budget_between(1, **kw)).double()
    x = torch.randn(1, kw["shape"], dtype=torch.float64, requires_grad=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for budget in (S.memory_budget, math.inf):
            S.memory_budget = budget
            saved: list[torch.Tensor] = []
            with torch.autograd.graph.saved_tensors_hooks(
                    lambda t, saved=saved: saved.append(t) or t, lambda t: t):
                y = S(x)
            others = sum(t.numel() for t in saved if t.data_ptr() != x.data_ptr())
            if budget == math.inf:              # the whole call keeps its moduli
                assert others > 10 * x.numel()
            else:
                assert S.plan_call(1, grad=True)[1] is not None and others == 0
            y.sum().backward()
    finally:
        torch.set_num_threads(threads)


def test_backward_twice_with_retain_graph():
    kw = dict(J=5, shape=4000, Q=4)
    S = Scattering1D(**kw, memory_budget=_budget_between(1, **kw)).double()
    x = torch.randn(1, kw["shape"], dtype=torch.float64, requires_grad=True)
    y = S(x)
    y.sum().backward(retain_graph=True)
    g = x.grad.clone()
    y.sum().backward()
    assert torch.allclose(x.grad, 2 * g)


def test_estimate_with_gradients():
    fwd = estimate_cost("scattering1d", 2**18, J=6, Q=16, memory_budget=math.inf)
    both = estimate_cost("scattering1d", 2**18, J=6, Q=16, memory_budget=math.inf,
                         requires_grad=True)
    assert both.peak_bytes > 2 * fwd.peak_bytes and both.output_bytes == fwd.output_bytes
    for budget in (128 * MiB, 512 * MiB):
        c = estimate_cost("scattering1d", 2**18, J=6, Q=16, memory_budget=budget,
                          requires_grad=True)
        assert c.peak_bytes <= budget < both.peak_bytes
        S = Scattering1D(6, 2**18, 16, memory_budget=budget)
        assert S.estimate_cost(requires_grad=True).peak_bytes == c.peak_bytes
    with pytest.raises(BudgetError, match="with gradients: the smallest budget"):
        estimate_cost("scattering1d", 2**18, J=6, Q=16, memory_budget=2 * MiB,
                      requires_grad=True)
    # JTFS with gradients has its own model (engine.jtfs.grad, tests/engine/test_jtfs_grad.py)
    jtfs = dict(J=8, Q=8, J_fr=3, Q_fr=1)
    assert estimate_cost("jtfs", 2**14, requires_grad=True, **jtfs).peak_bytes > \
        estimate_cost("jtfs", 2**14, **jtfs).peak_bytes


#: Measured points: (params, N, batch, dtype, budget): whole calls (no budget) and calls in
#: passes (time blocks, groups of signals). Budgets of tens of MiB: below that the
#: allocator's arenas (about 10 MiB, more or less from run to run) dominate the growth.
MEASURED = [
    ({"J": 6, "Q": 8}, 2**14, 1, "float32", "inf"),
    ({"J": 8, "Q": 8}, 2**16, 1, "float64", "inf"),
    ({"J": 6, "Q": 4}, 2**13, 8, "float64", "inf"),
    ({"J": 6, "Q": 16}, 2**18, 1, "float32", 64 * MiB),
    ({"J": 8, "Q": 8}, 2**18, 1, "float32", 64 * MiB),
    ({"J": 10, "Q": 16, "max_order": 1}, 2**18, 1, "float32", 128 * MiB),
    ({"J": 6, "Q": 4}, 2**13, 128, "float32", 96 * MiB),
]


@pytest.fixture(scope="module")
def measured():
    if not os.path.exists("/proc/self/clear_refs") or sys.platform != "linux":
        pytest.skip("memory growth is measured through Linux's /proc")
    points = [{"params": p, "N": n, "B": b, "dtype": d, "budget": m}
              for p, n, b, d, m in MEASURED]
    return probe_quietest(points, PROBE)   # a point above its band: its quietest of 3 runs


def _label(r):
    return f"{r['params']} N={r['N']} B={r['B']} {r['dtype']} budget={r['budget']}"


@pytest.mark.slow
def test_fwd_bwd_peak_within_1p5x_of_prediction(measured):
    bad = peak_misses(measured, _label, band=1.5)
    assert not bad, "\n".join(bad)


@pytest.mark.slow
def test_fwd_bwd_within_budget(measured):
    rows = [r for r in measured if r["budget"] != "inf"]
    assert len(rows) == 4
    for r in rows:
        assert r["passes"], _label(r)
        assert r["pred_peak"] <= r["budget"], _label(r)
        assert r["peak"] <= 1.5 * r["budget"], (_label(r), r["peak"] / MiB)


def test_global_average_in_groups_has_one_frame():
    """With ``T="global"`` a call in groups of signals returns one frame per channel, as the
    whole call (the passes' output used to be as long as the unaveraged signal)."""
    kw = dict(J=5, shape=700, Q=2, T="global")
    with pytest.raises(BudgetError) as e:                   # the forward's smallest budget
        Scattering1D(**kw, memory_budget=1).plan_call(30, torch.float64)
    S = Scattering1D(**kw, memory_budget=2 * e.value.minimum_bytes).double()
    x = torch.randn(30, 700, dtype=torch.float64)
    passes = S.plan_call(30)[1]
    assert passes is not None and passes.rows < 30
    want = Scattering1D(**kw, memory_budget=math.inf).double()(x)
    got = S(x)
    assert got.shape == want.shape == (30, S.output_size(), 1)
    assert _rel(got, want) < 1e-10


@pytest.mark.slow
def test_fwd_bwd_time_loosely(measured):
    """The time of forward + backward (rough, as the forward's: `engine.cost`), within 5x of
    the call's CPU time per thread (`memprobe.time_misses`)."""
    bad = time_misses(measured, _label, factor=5)
    assert not bad, "\n".join(bad)
