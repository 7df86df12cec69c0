"""The cost model of a `TimeFrequencyScattering` call with gradients: forward + backward.

`grad_cost` predicts the growth of ``S(x)`` on ``x`` requiring gradients and its
``backward()``, in the schedule `engine.jtfs.grad.grad_plan` picks: plain autograd (the first
order's graph and each branch's ``Y2`` kept from the forward to the backward), or the stages
recomputed in backward (`engine.jtfs.grad`). Pure arithmetic on the forward model's skeleton
(`engine.jtfs.cost`), without building anything of size ``N``.
"""

from __future__ import annotations

import torch

from engine._costs import BudgetError, Cost
from engine.jtfs import grad as _grad
from engine.jtfs.cost import (
    CONCURRENT,
    FIXED_BYTES,
    SECONDS_PER_BYTE,
    _freeze,
    _output,
    _peak_bytes,
    _skeleton,
    estimate_jtfs_cost,
)
from engine.jtfs.grad import _kept_bytes, _schedule, branch_bytes, first_chunk_rows
from engine.jtfs.transform import MEMORY_BUDGET, TimeFrequencyScattering

__all__ = ["grad_cost", "grad_peak", "plain_exceeds", "GRAD_FACTOR"]


def _first_chunk_bytes(sk, g: int, b: int, rs: int) -> float:
    """One recomputed chunk of group ``g``'s wavelets (`_first_rows`): the fold and its
    inverse FFT (complex), the modulus, its ``rfft`` and their gradients."""
    m1 = sk.N_padded >> sk._groups[g].k1
    rows = min(len(sk._groups[g].n1), first_chunk_rows(sk, g, b, rs))
    return 4 * b * rows * m1 * 2 * rs


def _parts(sk, B: int, rs: int) -> dict:
    """The quantities both schedules share (bytes)."""
    c = 2 * rs
    Np = sk.N_padded
    b = -(-B // 2) if B >= 2 else B
    spec0 = B * (Np // 2 + 1) * c
    kept1 = sum(B * len(g.n1) * ((Np >> g.k1) // 2 + 1) * c for g in sk._groups)
    s1 = B * sk.N1 * (Np >> sk.log2_stride) * rs if sk._t_mode == "local" else B * sk.N1 * rs
    out = _output(sk, B)[1] * rs
    fwd, written = _peak_bytes(sk, B, rs)
    keys = [None, *range(len(sk._order2))]
    solo, shared = _schedule(sk, keys, B, rs, _kept_bytes(B, s1, kept1, out))
    alone = max((branch_bytes(sk, i, b, rs) for i in solo), default=0)
    branch = sorted((branch_bytes(sk, i, b, rs) for i in shared
                     for _ in (range(2) if B >= 2 else range(1))), reverse=True) or [0]
    # (the two halves of a batch: the same branch on both workers at once, both counted;
    # measured on ISSUE's configuration at 2^14, batches 2 and 4, 128 MiB)
    conc = max(alone, branch[0] + (1.0 if B >= 2 else CONCURRENT) * sum(branch[1:2]))
    chunks = sorted((_first_chunk_bytes(sk, g, b, rs) for g in range(len(sk._groups))),
                    reverse=True)
    graph1 = sum(B * len(g.n1) * (Np >> g.k1) * 3 * rs for g in sk._groups)
    y2s = sum(B * o.n * (Np >> o.k2) * c for o in sk._order2)
    return dict(spec0=spec0, kept1=kept1, s1=s1, out=out, fwd=fwd, written=written,
                conc=conc, chunk=chunks[0] + CONCURRENT * sum(chunks[1:2]), graph1=graph1,
                y2s=y2s, B=B)


def _recompute_peak(p: dict) -> float:
    """Forward + backward with the stages recomputed (`_FirstOrder`, `_Branches`): the
    no-gradient forward; the branches' backward (what the forward kept, the gradients of
    the first order's outputs, the branches running); the first order's backward."""
    kept = p["spec0"] + p["kept1"] + p["s1"] + 2 * p["out"]
    branches = kept + p["kept1"] + p["s1"] + p["conc"]
    first = 2 * p["spec0"] + p["kept1"] + p["s1"] + 2 * p["out"] + p["chunk"]
    return max(p["fwd"], branches, first)


def _plain(p: dict) -> float:
    """Forward + backward with plain autograd: the first order's graph and each branch's
    ``Y2`` kept from the forward, then the branches' backward on top."""
    graph = p["graph1"] + p["y2s"]
    return graph + max(p["fwd"], p["kept1"] + p["s1"] + 2 * p["out"] + p["conc"])


def _plain_peak(sk, B: int, rs: int) -> float:
    return GRAD_FACTOR * _plain(_parts(sk, B, rs))


#: Measured forward + backward growth over the tensors counted (the allocator's holes, the
#: autograd engine's buffers): at N = 2^16 and 2^18 (J=12 Q=16 J_fr=5 Q_fr=2 F=16, budgets
#: 256 MiB to 512 MiB, under load) 1.0x to 1.2x of them; checked on the grid of
#: ``tests/engine/test_jtfs_grad_cost.py``.
GRAD_FACTOR = 1.15


def grad_peak(sk, B: int, rs: int) -> tuple[float, bool, float]:
    """``(peak bytes, recomputes, bytes written)`` of a call with gradients of skeleton
    ``sk`` on ``B`` signals, in the schedule `grad_plan` picks."""
    p = _parts(sk, B, rs)
    plain = GRAD_FACTOR * _plain(p)
    mode = sk._grad_mode
    if mode is None:
        mode = plain > sk.memory_budget
    peak = GRAD_FACTOR * _recompute_peak(p) if mode else plain
    return peak, bool(mode), p["written"] * (4 if mode else 3)


def grad_cost(shape: int, batch: int = 1, *, memory_budget=None, dtype=torch.float32,
              **params):
    """Predict the cost of a call with gradients, ``TimeFrequencyScattering(shape=shape,
    memory_budget=memory_budget, **params)(x)`` on ``x`` ``(batch, shape)`` requiring
    gradients and its ``backward()``: an `engine.Cost` whose ``peak_bytes`` is the growth
    of forward and backward together (the input's gradient included), in the schedule the
    transform picks (plain autograd, or the stages recomputed in backward: see the module
    docstring). With a ``memory_budget`` given, a predicted peak over it raises
    `engine.BudgetError` naming the smallest budget that works (``minimum_bytes``)."""
    fwd = estimate_jtfs_cost(shape, batch, dtype=dtype, **params)   # checks the arguments
    if isinstance(shape, (tuple, list)):
        (shape,) = shape
    N, B, rs = int(shape), int(batch), 8 if dtype == torch.float64 else 4
    budget = MEMORY_BUDGET if memory_budget is None else int(memory_budget)
    peak, _, written = grad_peak(_skeleton_of(N, params, budget), B, rs)
    peak = int(peak + FIXED_BYTES + B * N * rs)              # and the input's gradient
    cost = Cost(peak, fwd.output_bytes, fwd.output_shape, written * SECONDS_PER_BYTE,
                None if memory_budget is None else budget)
    if memory_budget is not None and peak > budget:
        need = peak
        for _ in range(8):       # a larger budget streams less: its own plan must fit it
            p2 = int(grad_peak(_skeleton_of(N, params, need), B, rs)[0] + FIXED_BYTES
                     + B * N * rs)
            if p2 <= need:
                break
            need = p2
        raise BudgetError(f"JTFS with gradients (forward + backward) at N={N}, batch {B} "
                          f"needs about {peak} bytes ({peak / 2**20:.0f} MiB) of working "
                          f"memory, over memory_budget={budget}; raise the budget to at least "
                          f"{need} ({need / 2**20:.0f} MiB), or lower the batch.",
                          minimum_bytes=need)
    return cost


def _skeleton_of(N: int, params: dict, budget: int):
    """The cost model's skeleton of a transform of these parameters and budget."""
    return _skeleton(int(N), tuple(sorted((k, _freeze(v)) for k, v in
                                          dict(params, memory_budget=int(budget)).items())))


def plain_exceeds(S, batch: int, rs: int) -> bool:
    """Whether plain autograd's forward + backward of ``S`` on ``batch`` signals (reals of
    ``rs`` bytes) would exceed its ``memory_budget`` (`engine.jtfs.grad.grad_plan`)."""
    sk = _skeleton_of(S.shape[0], S._cost_params, S.memory_budget)
    return _plain_peak(sk, batch, rs) > S.memory_budget


_grad._plain_exceeds = plain_exceeds
TimeFrequencyScattering._grad_cost_model = staticmethod(grad_cost)
