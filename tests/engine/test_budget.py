"""Scattering1D under a memory budget: calls in passes equal the whole call.

A call that would not fit ``memory_budget`` runs in passes (time blocks overlapping by the
filters' reach, or groups of signals: `engine._blocked`); outputs and gradients must equal
the unblocked transform's (``memory_budget=math.inf``) per order.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from engine import BudgetError, Scattering1D, _s1d_model
from engine._blocked import scatter_in_passes
from tests.conftest import REFERENCE_DIR

REFERENCE = sorted(REFERENCE_DIR.glob("s1d_*.npz"))


def _rel_per_order(S, a, b):
    order = S.meta()["order"]
    return {int(o): float((a[..., order == o, :] - b[..., order == o, :]).norm()
                          / b[..., order == o, :].norm()) for o in np.unique(order)}


def _minimum_budget(**kwargs):
    """The smallest budget that works for this call (from the error of a 1-byte one)."""
    batch = kwargs.pop("batch")
    S = Scattering1D(**kwargs, memory_budget=1)
    with pytest.raises(BudgetError, match="smallest budget that works") as e:
        S.plan_call(batch, torch.float64)
    assert e.value.minimum_bytes > 1
    return e.value.minimum_bytes


def _budget_between(**kwargs):
    """A budget between the smallest that works and the whole call's peak (float64)."""
    batch = kwargs["batch"]
    low = _minimum_budget(**kwargs)
    kwargs.pop("batch")
    high = Scattering1D(**kwargs, memory_budget=math.inf).plan_call(batch, torch.float64)[0]
    assert low < high.peak
    return int(math.sqrt(low * high.peak))


def _smallest_passes(S, B):
    """The finest passes of a call: the shortest time blocks, one per pass (or one signal per
    pass when blocks would not be shorter than the padded signal)."""
    st = _s1d_model.structure_of(S)
    stride = 2**S.log2_stride
    R = -(-_s1d_model.reach(st) // stride) * stride
    L = 1 << (2 * R + stride - 1).bit_length()
    if L >= S.N_padded:
        L, R = S.N_padded, 0
    H, a0, nb = _s1d_model.geometry(st, S.shape[0], S.N_padded, L, R)
    return _s1d_model.BlockChoice(L, R, H, a0, nb, 1, None)


@pytest.mark.parametrize("path", [p.name for p in REFERENCE])
def test_reference_cases_in_passes(path):
    data = np.load(REFERENCE_DIR / path)
    params = json.loads(str(data["params"]))
    if isinstance(params.get("Q"), list):
        params["Q"] = tuple(params["Q"])
    x = torch.from_numpy(data["x"]).double()
    S = Scattering1D(**params, memory_budget=math.inf).double()
    whole = S(x)
    passes = _smallest_passes(S, x.shape[0])
    got = scatter_in_passes(S, x.reshape(-1, x.shape[-1]), passes, array=True)
    got, want = got.reshape(whole.shape), whole
    for o, err in _rel_per_order(S, got, want).items():
        assert err < 1e-10, f"order {o}: {err:.2e}"
    for o, err in _rel_per_order(S, got.float(), torch.from_numpy(data["Sx"])).items():
        assert err < 1e-5, f"order {o} against Kymatio: {err:.2e}"
    blocks = scatter_in_passes(S, x.reshape(-1, x.shape[-1]), passes)   # list/dict path
    listed = S._format(blocks, x.shape[:-1])
    assert float((listed - want).norm() / want.norm()) < 1e-10


def test_reference_case_under_its_minimum_budget():
    data = np.load(REFERENCE_DIR / "s1d_J6_Q16_N8192_chirp.npz")
    x = torch.from_numpy(data["x"]).double()
    params = json.loads(str(data["params"]))
    budget = _budget_between(batch=x.shape[0], **params)
    S = Scattering1D(**params, memory_budget=budget).double()
    assert S.plan_call(x.shape[0])[1] is not None
    want = Scattering1D(**params, memory_budget=math.inf).double()(x)
    for o, err in _rel_per_order(S, S(x), want).items():
        assert err < 1e-10, f"order {o}: {err:.2e}"


@pytest.mark.parametrize("J,Q,N,B", [(6, 8, 2**14, 2), (5, (4, 2), 3000, 3)])
def test_gradients_equal_in_time_blocks(J, Q, N, B):
    torch.manual_seed(0)
    budget = _minimum_budget(J=J, shape=N, Q=Q, batch=B)
    S = Scattering1D(J, N, Q, memory_budget=budget).double()
    passes = S.plan_call(B)[1]
    assert passes is not None and passes.L < S.N_padded     # time blocks
    if passes.rows == 1 and B * passes.n_blocks > 4:            # fewer passes: cheaper test
        S.memory_budget = _budget_between(J=J, shape=N, Q=Q, batch=B)
        passes = S.plan_call(B)[1]
        assert passes is not None and passes.L < S.N_padded
    whole = Scattering1D(J, N, Q, memory_budget=math.inf).double()
    x = torch.randn(B, N, dtype=torch.float64)
    w = None
    grads = []
    for module in (S, whole):
        xi = x.clone().requires_grad_(True)
        y = module(xi)
        w = torch.randn_like(y) if w is None else w
        (y * w).sum().backward()
        grads.append(xi.grad)
    err = float((grads[0] - grads[1]).norm() / grads[1].norm())
    assert err < 1e-10, err


def test_batch_in_groups_of_signals():
    torch.manual_seed(1)
    N, B = 2048, 40
    S = Scattering1D(6, N, 8, memory_budget=_budget_between(J=6, shape=N, Q=8, batch=B))
    S = S.double()
    passes = S.plan_call(B)[1]
    assert passes is not None and passes.L == S.N_padded and passes.rows < B
    x = torch.randn(B, N, dtype=torch.float64)
    want = Scattering1D(6, N, 8, memory_budget=math.inf).double()(x)
    assert float((S(x) - want).norm() / want.norm()) < 1e-13


def _long_case(n, J=8, Q=8, budget=48 * 2**20):
    torch.manual_seed(2)
    S = Scattering1D(J, n, Q, memory_budget=budget).double()
    assert S.plan_call(1)[1] is not None
    x = torch.randn(1, n, dtype=torch.float64)
    want = Scattering1D(J, n, Q, memory_budget=math.inf).double()(x)
    got = S(x)
    for o, err in _rel_per_order(S, got, want).items():
        assert err < 1e-10, f"order {o}: {err:.2e}"


def test_long_signal_equal():
    _long_case(2**17 + 123, J=6, Q=4, budget=12 * 2**20)


@pytest.mark.slow
def test_long_signal_2_18_equal():
    _long_case(2**18 + 123)


@pytest.mark.slow
def test_very_long_signal_equal():
    _long_case(2**20, J=10, Q=12, budget=160 * 2**20)


def test_out_types_and_float32_in_passes():
    N = 2**15
    S = Scattering1D(6, N, 4, memory_budget=3 * 2**20, out_type="dict")
    whole = Scattering1D(6, N, 4, memory_budget=math.inf, out_type="dict")
    assert S.plan_call(1)[1] is not None
    x = torch.randn(N)
    a, b = S(x), whole(x)
    assert list(a) == list(b)
    num = sum(float((a[k] - b[k]).square().sum()) for k in a)
    den = sum(float(b[k].square().sum()) for k in a)
    assert math.sqrt(num / den) < 1e-6


def test_budget_too_small_names_minimum():
    S = Scattering1D(8, 2**16, 8, memory_budget=2**20)
    with pytest.raises(BudgetError) as e:
        S(torch.randn(2**16))
    minimum = e.value.minimum_bytes
    assert minimum > 2**20 and str(minimum) in str(e.value)
    S = Scattering1D(8, 2**16, 8, memory_budget=minimum)
    assert S.estimate_cost().peak_bytes <= minimum
    assert S(torch.randn(2**16)).shape[-1] == 2**16 // 2**8


def test_impossible_length_refused_before_allocating():
    t = time.perf_counter()
    with pytest.raises(BudgetError, match="too long for any memory budget"):
        Scattering1D(6, 2**44)
    assert time.perf_counter() - t < 5     # nothing of size N was built


def test_bad_budget():
    with pytest.raises(ValueError, match="memory_budget must be"):
        Scattering1D(6, 1024, memory_budget=-1)
    with pytest.raises(ValueError, match="memory_budget must be"):
        Scattering1D(6, 1024, memory_budget="big")


def test_deferred_plans_and_inference_mode():
    """A long module under a small budget defers its full-length plans (every call runs in
    blocks); they are built when a call runs whole. Calls under inference_mode and outside
    it share the workers' scratch buffers."""
    N = 2**16
    S = Scattering1D(8, N, 8, memory_budget=20 * 2**20).double()
    assert S._dry and sum(b.numel() for b in S.buffers()) < 10_000
    x = torch.randn(1, N, dtype=torch.float64)
    with torch.inference_mode():
        a = S(x)
    want = Scattering1D(8, N, 8, memory_budget=math.inf).double()(x)
    assert float((a - want).norm() / want.norm()) < 1e-10
    S.memory_budget = math.inf
    with torch.inference_mode():
        b = S(x)
    assert not S._dry
    assert float((b - want).norm() / want.norm()) < 1e-12
    xg = x.clone().requires_grad_(True)
    S(xg).sum().backward()
    assert xg.grad is not None and len(S.psi1_f) == len(S.bank.psi1)
