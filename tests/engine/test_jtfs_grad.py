"""JTFS with gradients in bounded memory (`engine.jtfs.grad`): the recomputed stages give
plain autograd's gradients, gradcheck passes, and the cost model with gradients names the
schedule, and refuses a budget too small "with gradients", naming the minimum."""

from __future__ import annotations

import pytest
import torch

import engine.jtfs.grad as jgrad
import engine.jtfs.grad_cost as jcost
from engine import BudgetError, estimate_cost
from engine.jtfs import PAIRS, TimeFrequencyScattering

SMALL = dict(J=8, Q=8, J_fr=4, Q_fr=1, F=8)
ISSUE = dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16)


class _Unchecked(TimeFrequencyScattering):
    """A transform whose budget only sizes its blocks and chunks (not enforced)."""

    _enforce_budget = False


def _grads(S, x, mode, reference=False, monkeypatch=None):
    """Output and input gradient of a fixed random projection of ``S(x)``: ``mode`` is the
    transform's ``_grad_mode`` (True: stages recomputed); ``reference``: plain autograd
    through every operation (no recomputed frequential stage, no streaming for gradients:
    the computation before `engine.jtfs.grad`)."""
    S._grad_mode = mode
    with monkeypatch.context() as m:
        if reference:
            m.setattr(jgrad, "pointwise", lambda *a: None)
            m.setattr(jgrad, "stream_for_grad", lambda *a: None)
        xi = x.clone().requires_grad_(True)
        out = S(xi)
        g = torch.Generator().manual_seed(1)
        loss = sum((out[p] * torch.randn(out[p].shape, generator=g, dtype=out[p].dtype)).sum()
                   for p in PAIRS)
        loss.backward()
    return torch.cat([out[p].detach().flatten() for p in PAIRS]), xi.grad


def _rel(a, b):
    return float((a - b).norm() / b.norm())


#: (constructor arguments, N, batch, budget): local and global averaging, no averaging,
#: Morlets, Q2 > 1, odd N, a batch split in halves, and a small budget (its chunks of
#: wavelets, its branches in time blocks and recomputed alone).
CASES = [
    pytest.param(SMALL, 2**13, 2, 2**22, marks=pytest.mark.slow),
    pytest.param(dict(J=7, Q=(8, 2), J_fr=3, Q_fr=2, F=4), 5001, 3, 2**21,
                 marks=pytest.mark.slow),
    (dict(J=6, Q=4, J_fr=2, T="global"), 1500, 1, None),
    (dict(J=6, Q=4, J_fr=2, average=False, stride=1), 1024, 2, None),
    (dict(SMALL, filterbank="kymatio"), 2**12, 1, 2**21),
    pytest.param(SMALL, 2**14, 2, 2**22, marks=pytest.mark.slow),     # time blocks
]


@pytest.mark.parametrize("kw,N,B,budget", CASES)
def test_recomputed_gradients_equal_plain_autograd(kw, N, B, budget, monkeypatch):
    S = _Unchecked(shape=N, out_type="pairs", memory_budget=budget, **kw).double()
    if N == 2**14:               # its branches stream for gradients: check they do
        y2 = torch.zeros(1, 1, 1, dtype=torch.complex128, requires_grad=True)
        assert any(jgrad.stream_for_grad(S, o, y2) is not None for o in S._order2)
    x = torch.randn(B, N, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y0, g0 = _grads(S, x, False, reference=True, monkeypatch=monkeypatch)
    for mode in (True, False):
        y, g = _grads(S, x, mode, monkeypatch=monkeypatch)
        assert _rel(y, y0) < 1e-9, mode
        assert _rel(g, g0) < 1e-9, (mode, _rel(g, g0))


def test_small_budget_recomputes_in_chunks_and_streams(monkeypatch):
    """The first case's budget exercises the schedule's pieces: wavelets recomputed a few
    at a time, branches recomputed alone and side by side."""
    S = _Unchecked(shape=2**13, memory_budget=2**22, **SMALL)
    b = 1
    assert any(jgrad.first_chunk_rows(S, g, b, 8) < len(grp.n1)
               for g, grp in enumerate(S._groups))
    keys = [None, *range(len(S._order2))]
    solo, shared = jgrad._schedule(S, keys, 2, 8, 0)
    assert solo and len(solo) + len(shared) == len(keys)
    S.memory_budget = 2**30                  # room for two at a time: side by side
    assert jgrad._schedule(S, keys, 2, 8, 0) == ([], keys)


def test_gradcheck_small():
    S = TimeFrequencyScattering(shape=256, J=4, Q=2, J_fr=1, F=2).double()
    S._grad_mode = True
    x = torch.randn(1, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64,
                    requires_grad=True)
    w = torch.randn(S(x.detach()).shape, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    # (nondet_tol: the workers add their gradients into the input's in either order)
    assert torch.autograd.gradcheck(lambda v: (S(v) * w).sum(-1), (x,), eps=1e-6,
                                    atol=1e-6, rtol=1e-4, nondet_tol=1e-12)


def test_a_second_backward_recomputes_the_same_gradient():
    """``retain_graph=True`` (as gradcheck): the stages are recomputed again, the same
    gradient up to the order the workers add theirs in."""
    S = TimeFrequencyScattering(shape=2**11, J=6, Q=4, J_fr=2).double()
    S._grad_mode = True
    x = torch.randn(1, 2**11, dtype=torch.float64, requires_grad=True)
    y = S(x).sum()
    (g1,) = torch.autograd.grad(y, x, retain_graph=True)
    (g2,) = torch.autograd.grad(y, x)
    assert _rel(g1, g2) < 1e-14


@pytest.mark.slow                              # (skeletons at 2^18: 10-30 s under load)
def test_cost_with_gradients_names_schedule_and_is_larger_than_forward():
    fwd = estimate_cost("jtfs", 2**16, **ISSUE)
    c = estimate_cost("jtfs", 2**16, requires_grad=True, **ISSUE)
    assert c.output_shape == fwd.output_shape and c.peak_bytes > fwd.peak_bytes
    S = TimeFrequencyScattering(shape=2**16, **ISSUE)
    assert S.estimate_cost(1, requires_grad=True).peak_bytes == c.peak_bytes
    # plain autograd fits the default budget at 2^16; at 2^18 the stages are recomputed
    sk = jcost._skeleton_of(2**16, ISSUE, S.memory_budget)
    assert not jcost.grad_peak(sk, 1, 4)[1]
    sk = jcost._skeleton_of(2**18, ISSUE, S.memory_budget)
    assert jcost.grad_peak(sk, 1, 4)[1]


@pytest.mark.slow
def test_budget_too_small_with_gradients_names_minimum():
    with pytest.raises(BudgetError, match="with gradients.*at least") as e:
        estimate_cost("jtfs", 2**18, requires_grad=True, memory_budget=2**27, **ISSUE)
    need = e.value.minimum_bytes
    assert need > 2**27
    c = estimate_cost("jtfs", 2**18, requires_grad=True, memory_budget=need, **ISSUE)
    assert c.peak_bytes <= need
    # a budget that holds the forward but not its backward: refused before computing
    budget = int(1.05 * estimate_cost("jtfs", 2**13, 8, **SMALL).peak_bytes)
    S = TimeFrequencyScattering(shape=2**13, memory_budget=budget, **SMALL)
    x = torch.randn(8, 2**13, requires_grad=True)
    with pytest.raises(BudgetError, match="with gradients"):
        S(x)
