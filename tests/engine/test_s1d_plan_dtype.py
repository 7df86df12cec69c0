"""Scattering1D keeps no float64 copies of its plans: a float32 module holds float32 buffers
only, and a cast to float64 rebuilds the exact float64 plans from the filter bank
(`engine._module.PlannedTransform`'s recipes) -- bit for bit those a float64 build computes,
for the module, its deferred plans and its time-block modules."""

from __future__ import annotations

import math

import torch

from engine import Scattering1D
from tests.engine.test_jtfs_plan_dtype import _float64_arrays

KW = dict(J=6, shape=2**12, Q=(8, 2))


def _float64_build(**kw):
    torch.set_default_dtype(torch.float64)
    try:
        return Scattering1D(**kw)
    finally:
        torch.set_default_dtype(torch.float32)


def test_float32_module_holds_no_float64_plans():
    S = Scattering1D(**KW)
    assert S._masters == {} and S._recipes
    assert all(b.dtype != torch.float64 for b in S.buffers())
    assert _float64_arrays(S) == []
    assert all(p.weights is None for p in S._fold_plans.values())


def test_cast_to_float64_rebuilds_the_exact_float64_plans():
    ref = _float64_build(**KW)
    S = Scattering1D(**KW)
    f32 = {k: b.clone() for k, b in S.named_buffers()}
    S.double()
    got, want = dict(S.named_buffers()), dict(ref.named_buffers())
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k
    x = torch.randn(2, KW["shape"], dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    assert torch.equal(S(x), ref(x))
    S.float()
    assert all(torch.equal(b, f32[k]) for k, b in S.named_buffers())
    S.half().to(torch.float64)                    # rebuilt, not upcast from float16
    assert all(torch.equal(b, want[k]) for k, b in S.named_buffers())
    # max_order re-plans on the module's dtype: exact again
    S.max_order = 1
    ref.max_order = 1
    assert all(torch.equal(b, dict(ref.named_buffers())[k]) for k, b in S.named_buffers())
    assert _float64_arrays(S.float()) == []


def test_deferred_plans_and_time_blocks_in_float64_are_exact():
    """A long module under a small budget (plans deferred, calls in time blocks) cast to
    float64 gives a float64 build's numbers exactly, and the whole call's to 1e-10."""
    kw = dict(J=6, shape=2**15, Q=4, memory_budget=6 * 2**20)
    S = Scattering1D(**kw).double()
    ref = _float64_build(**kw)
    assert S.plan_call(1)[1] is not None and S._dry
    x = torch.randn(1, kw["shape"], dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    got = S(x)
    assert torch.equal(got, ref(x))
    whole = Scattering1D(**dict(kw, memory_budget=math.inf)).double()(x)
    assert float((got - whole).norm() / whole.norm()) < 1e-10
