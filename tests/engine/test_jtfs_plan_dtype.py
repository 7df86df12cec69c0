"""JTFS keeps no float64 copies of its plans: a float32 module holds float32 buffers only,
and a cast to float64 rebuilds the exact float64 plans (`engine._module.PlannedTransform`'s
recipes) -- bit for bit those a float64 build computes."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from engine.jtfs import TimeFrequencyScattering


class _Unchecked(TimeFrequencyScattering):
    """Budget not enforced: a small one makes a streamed branch (its prefilter plan)."""

    _enforce_budget = False


# Streamed branches, phi_t gains, windowed and folded frequential groups: every recipe kind.
KW = dict(J=8, Q=8, J_fr=4, Q_fr=1, F=8, shape=2**14, memory_budget=2**22,
          out_type="pairs")


def _float64_arrays(obj, path="S", seen=None):
    """Paths of the float64 tensors and numpy arrays reachable from ``obj`` through
    attributes, dicts, lists, tuples and dataclasses (the filter bank excluded: it is the
    recipe the plans are rebuilt from)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return [path] if obj.dtype == torch.float64 else []
    if isinstance(obj, np.ndarray):
        return [path] if obj.dtype == np.float64 and obj.size > 0 else []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = ((f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj))
    elif isinstance(obj, torch.nn.Module):
        items = ((k, v) for k, v in vars(obj).items() if k not in ("bank", "design"))
    else:
        return []
    found = []
    for k, v in items:
        found += _float64_arrays(v, f"{path}.{k}", seen)
    return found


def test_float32_module_holds_no_float64_plans():
    S = _Unchecked(**KW)
    assert any(o.stream is not None for o in S._order2)
    assert S._masters == {}
    assert all(b.dtype != torch.float64 for b in S.buffers())
    assert _float64_arrays(S) == []
    # the plans' structures keep no weights: the buffers hold them
    assert all(plan.weights is None for plan, _ in S._plans.values())


def test_cast_to_float64_rebuilds_the_exact_float64_plans():
    torch.set_default_dtype(torch.float64)
    try:
        ref = _Unchecked(**KW)                  # built in float64: the exact values
    finally:
        torch.set_default_dtype(torch.float32)
    S = _Unchecked(**KW)
    f32 = {k: b.clone() for k, b in S.named_buffers()}
    S.double()
    got, want = dict(S.named_buffers()), dict(ref.named_buffers())
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert torch.equal(got[k], want[k]), k
    x = torch.randn(2, KW["shape"], dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y, y_ref = S(x), ref(x)
    assert all(torch.equal(y[p], y_ref[p]) for p in y_ref)
    # back to float32: the float32 plans of a float32 build
    S.float()
    assert all(torch.equal(b, f32[k]) for k, b in S.named_buffers())
    # through float16 and back: exact again (rebuilt, not upcast)
    S.half().to(torch.float64)
    assert all(torch.equal(b, want[k]) for k, b in S.named_buffers())
    assert _float64_arrays(S.float()) == []
