"""`TimeFrequencyScattering` with gradients in bounded memory: each stage recomputed in backward.

With plain autograd a call that records gradients keeps, from its forward to its backward,
the graph of every first-order group and of every ``psi_t`` branch: each modulus's complex
input and real output, ``rows x time`` values per branch (at N = 2^18, J=12 Q=16 J_fr=5
Q_fr=2 F=16: 200 MiB for the first order, up to 150 MiB per branch, 1.7 GB of growth in
all). When that would not fit ``memory_budget`` (`grad_plan`), the two stages of
`engine.jtfs.forward` run as two autograd functions that keep no graph:

* `_FirstOrder` (order 1: ``spec0 -> rfft(U1), S1``) saves only ``spec0``, the padded
  signal's half spectrum; its backward recomputes each group's wavelets a few rows at a
  time (`_first_rows`: as many as keep one chunk's graph under a share of the budget), with
  their graph, and adds each chunk's gradient into ``spec0``'s;
* `_Branches` (the ``phi_t`` and ``psi_t`` branches: ``S1, rfft(U1) -> frequential
  scattering``) saves only its inputs, which the first order's outputs already are; its
  backward recomputes one branch (one half of the batch) per worker with its graph, from
  the rows of ``rfft(U1)`` that branch reads, and adds its gradient in; a branch whose
  recomputation (`branch_bytes`) would take more than half of what the budget leaves runs
  alone. A branch whose rows would take more than a share of the budget
  (`GRAD_STREAM_SHARE`) is computed in time blocks (`engine.jtfs.stream`, each block
  checkpointed).

In both schedules (plain autograd too) a branch's frequential stage (`_Pointwise`: FFT
along ``n1``, filters, modulus, frequential averaging, independent per time sample) keeps
only its input, and its backward recomputes it a chunk of time samples at a time: its
moduli's complex inputs, ``rows x time`` values, are never all alive.

Both forwards are the no-gradient forward (its lean paths, its parallel tasks). So the
forward keeps the first order's outputs (``rfft(U1)``, ``S1``) and the output; the backward
adds their gradients and, per worker, one chunk's or one branch's graph: the forward and
the backward stay within the budget. The recomputed pieces are the same operations on the
same inputs, so the gradients equal plain autograd's up to rounding (``1e-12``, float64).

`engine.jtfs.grad_cost` is the cost model of such a call (forward + backward), used by
`TimeFrequencyScattering.estimate_cost(requires_grad=True)` and ``engine.estimate_cost``;
`branch_bytes` (a recomputed branch's peak) is shared by the model and the backward's
schedule.
"""

from __future__ import annotations

import threading

import torch

from engine import _malloc
from engine._blocked import needs_grad
from engine._fold import modulus_, rfft
from engine._parallel import run_keyed, run_tasks

__all__ = ["run_stage", "grad_plan", "branch_bytes", "GRAD_STREAM_SHARE", "RECOMPUTE_SHARE"]

#: With gradients, a branch whose rows at full length (`_rows_bytes`: with their ``rfft``
#: and their gradient, most of its backward) would exceed ``memory_budget /
#: GRAD_STREAM_SHARE`` is computed in checkpointed time blocks, where it has a stream plan.
GRAD_STREAM_SHARE = 4

#: The first order's recomputed chunks: a chunk's graph at most ``memory_budget /
#: RECOMPUTE_SHARE`` (per worker).
RECOMPUTE_SHARE = 16


def run_stage(S, stage: int, xs, tasks) -> dict:
    """`engine._parallel.run_keyed` of the forward's ``stage`` (1: first order on ``spec0``;
    2: the branches on ``(s1_pad, *spec1s)``): plain autograd, or, with gradients under a
    plan that recomputes (`grad_plan`), the stage's recomputing function."""
    xs = (xs,) if torch.is_tensor(xs) else tuple(xs)
    if not needs_grad(*xs):
        return run_keyed(xs if len(xs) > 1 else xs[0], tasks)
    B, dtype = xs[0].shape[0], xs[0].real.dtype
    if stage == 1 and S._budget_set and S._enforce_budget:
        S.estimate_cost(B, dtype, requires_grad=True)    # BudgetError before computing
    if not grad_plan(S, B, dtype):
        return run_keyed(xs if len(xs) > 1 else xs[0], tasks)
    keys = list(dict.fromkeys(key for key, *_ in tasks))
    counts: list[int] = []
    fn = _FirstOrder if stage == 1 else _Branches
    flat = fn.apply(S, tasks, keys, counts, *xs)
    out, a = {}, 0
    for key, c in zip(keys, counts):
        out[key] = list(flat[a:a + c])
        a += c
    return out


def grad_plan(S, batch: int, dtype) -> bool:
    """Whether a call of ``S`` on ``batch`` signals that records gradients recomputes its
    stages in backward (True when plain autograd's forward + backward would exceed
    ``memory_budget``; `engine.jtfs.grad_cost`). Cached per batch and dtype."""
    if S._grad_mode is not None:
        return S._grad_mode
    cache = S.__dict__.setdefault("_grad_plans", {})
    key = (int(batch), dtype)
    if key not in cache:
        cache[key] = _plain_exceeds(S, int(batch), 8 if dtype == torch.float64 else 4)
    return cache[key]


#: `engine.jtfs.grad_cost.plain_exceeds` (whether plain autograd's forward + backward
#: would exceed the budget), set when that module is imported (by `engine.jtfs`).
_plain_exceeds = None


def _flatten(out: dict, keys, counts: list[int]) -> tuple:
    flat = []
    for key in keys:
        counts.append(len(out[key]))
        flat += out[key]
    return tuple(flat)


def _grads_by_key(grads, keys, counts) -> dict:
    per, a = {}, 0
    for key, c in zip(keys, counts):
        per[key] = grads[a:a + c]
        a += c
    return per


# ---- order 1 -------------------------------------------------------------------------------

def _first_rows(S, g: int, spec0: torch.Tensor, r0: int, r1: int) -> list[torch.Tensor]:
    """Group ``g``'s first order for its wavelets ``[r0, r1)`` (as
    `engine.jtfs.forward._ForwardPass._first_order`, with the same fold weights):
    ``[rfft(U1), S1]`` (and ``U1`` without averaging)."""
    grp = S._groups[g]
    u1 = modulus_(torch.fft.ifft(S._psi1_fold(g, spec0, r0, r1)))
    spec1 = rfft(u1)
    if S._t_mode == "global":
        s1 = u1[..., S.ind_start[grp.k1]:S.ind_end[grp.k1]].mean(-1, keepdim=True)
    else:
        s1 = S._lowpass(spec1, grp.k1)
    return [spec1[..., :S._spec1_bins[g]], s1] + ([] if S.average else [u1])


def first_chunk_rows(S, g: int, b: int, rs: int) -> int:
    """Wavelets of group ``g`` recomputed at once for ``b`` signals: a chunk's graph (each
    row's complex ``ifft`` and its modulus, ``3 rs`` bytes a sample) under ``memory_budget /
    RECOMPUTE_SHARE``."""
    m1 = S.N_padded >> S._groups[g].k1
    return max(1, S.memory_budget // RECOMPUTE_SHARE // (b * m1 * 3 * rs))


class _FirstOrder(torch.autograd.Function):
    """Order 1 without a graph; its backward recomputes it in chunks of wavelets."""

    @staticmethod
    def forward(ctx, S, tasks, keys, counts, spec0):
        ctx.set_materialize_grads(False)
        ctx.S, ctx.keys, ctx.counts = S, keys, counts
        ctx.save_for_backward(spec0)
        return _flatten(run_keyed(spec0, tasks), keys, counts)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        (spec0,), S = ctx.saved_tensors, ctx.S
        per = _grads_by_key(grads, ctx.keys, ctx.counts)
        gx = torch.zeros_like(spec0)
        lock = threading.Lock()
        rs = spec0.real.element_size()
        jobs = []
        for rows in S._halves(spec0.shape[0]):
            for g in ctx.keys:
                if all(t is None for t in per[g]):
                    continue
                b = rows.stop - rows.start
                step = first_chunk_rows(S, g, b, rs)
                G = len(S._groups[g].n1)
                jobs += [(g, r0, min(r0 + step, G), rows) for r0 in range(0, G, step)]
        # costliest first: the finest groups
        jobs.sort(key=lambda j: -(j[2] - j[1]) * (S.N_padded >> S._groups[j[0]].k1))

        def job(g, r0, r1, rows):
            def run(part):
                with torch.enable_grad():
                    leaf = part.detach().requires_grad_()
                    outs = _first_rows(S, g, leaf, r0, r1)
                    pairs = [(o, t[rows, r0:r1]) for o, t in zip(outs, per[g])
                             if t is not None]
                    os_, gs_ = zip(*pairs)
                    (gl,) = torch.autograd.grad(os_, leaf, gs_)
                del outs, pairs, os_, gs_
                with lock:
                    gx[rows] += gl
                return []
            return run, rows

        run_tasks(spec0, [job(*j) for j in jobs])
        _malloc.trim()
        return None, None, None, None, gx


# ---- the branches --------------------------------------------------------------------------

class _Branches(torch.autograd.Function):
    """The phi_t and psi_t branches without a graph; the backward recomputes one branch per
    worker with its graph, from the rows of its inputs it reads."""

    @staticmethod
    def forward(ctx, S, tasks, keys, counts, s1_pad, *spec1s):
        ctx.set_materialize_grads(False)
        ctx.S, ctx.keys, ctx.counts = S, keys, counts
        ctx.costs = {key: cost for key, _, _, cost in tasks}
        ctx.save_for_backward(s1_pad, *spec1s)
        return _flatten(run_keyed((s1_pad, *spec1s), tasks), keys, counts)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        (s1_pad, *spec1s), S = ctx.saved_tensors, ctx.S
        per = _grads_by_key(grads, ctx.keys, ctx.counts)
        g_s1 = torch.zeros_like(s1_pad)
        g_spec = [torch.zeros_like(s) for s in spec1s]
        lock = threading.Lock()

        def job(i, rows):
            def run(*_):
                with torch.enable_grad():
                    if i is None:
                        leaves = {None: s1_pad[rows].detach().requires_grad_()}
                        args = (leaves[None],)
                    else:
                        o = S._order2[i]
                        leaves = {p.g: spec1s[p.g][rows, :p.count].detach().requires_grad_()
                                  for p in o.parts}
                        args = (None, *(leaves.get(g, s[rows]) for g, s in enumerate(spec1s)))
                    outs = S._branch(i, *args)
                    pairs = [(o_, t[rows]) for o_, t in zip(outs, per[i]) if t is not None]
                    os_, gs_ = zip(*pairs)
                    got = torch.autograd.grad(os_, list(leaves.values()), gs_)
                del outs, pairs, args, os_, gs_
                with lock:
                    for (g, leaf), gl in zip(leaves.items(), got):
                        if g is None:
                            g_s1[rows] += gl
                        else:
                            g_spec[g][rows, :leaf.shape[1]] += gl
                return []
            return run, rows

        keys = sorted((k for k in ctx.keys if any(t is not None for t in per[k])),
                      key=lambda k: -ctx.costs[k])
        B, rs = s1_pad.shape[0], s1_pad.element_size()
        halves = S._halves(B)
        kept = _kept_bytes(B, s1_pad.nbytes, sum(s.nbytes for s in spec1s),
                           sum(t.nbytes for t in grads if t is not None))
        solo, shared = _schedule(S, keys, B, rs, kept)
        for i in solo:                  # too large to run beside another: one at a time
            for rows in halves:
                run_tasks(s1_pad, [job(i, rows)])
        run_tasks(s1_pad, [job(i, rows) for i in shared for rows in halves])
        _malloc.trim()
        return (None, None, None, None, g_s1, *g_spec)


class _Pointwise(torch.autograd.Function):
    """The frequential stage of one branch (`engine.jtfs.forward._ForwardPass._pointwise`:
    independent per time sample) without a graph: it saves its input only, and its backward
    recomputes it a chunk of time samples at a time."""

    @staticmethod
    def forward(ctx, S, plan, late, step, yt):
        from engine.jtfs.forward import _ForwardPass

        ctx.S, ctx.plan, ctx.late, ctx.step = S, plan, late, step
        ctx.save_for_backward(yt)
        return _ForwardPass._pointwise(S, yt, plan, late, step)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        from engine.jtfs.forward import _ForwardPass

        (yt,) = ctx.saved_tensors
        g = torch.empty_like(yt)
        a = 0
        for part in yt.split(ctx.step, dim=1):
            m = part.shape[1]
            with torch.enable_grad():
                leaf = part.detach().requires_grad_()
                v = _ForwardPass._pointwise(ctx.S, leaf, ctx.plan, ctx.late, ctx.step)
                (gl,) = torch.autograd.grad(v, leaf, grad[:, a:a + m])
            g[:, a:a + m] = gl
            del v, gl, leaf
            a += m
        return None, None, None, None, g


def pointwise(S, yt: torch.Tensor, plan, late: bool, step: int):
    """`_ForwardPass._pointwise`, recomputed in backward chunk by chunk (`_Pointwise`) when
    it records gradients, or None (the caller's own path)."""
    if not (torch.is_grad_enabled() and yt.requires_grad):
        return None
    return _Pointwise.apply(S, plan, late, step, yt)


def _kept_bytes(B: int, s1: int, kept1: int, out: int) -> int:
    """What the branches' backward holds besides the branches: the first order's outputs
    and their gradients, the output's gradient."""
    return 2 * (s1 + kept1) + out


def _schedule(S, keys, B: int, rs: int, kept: int) -> tuple[list, list]:
    """The branches ``keys`` (costliest first) split into those recomputed alone (their
    peak, `branch_bytes`, over half of what the budget leaves beside ``kept``) and those
    recomputed on every worker."""
    b = -(-B // 2) if B >= 2 else B
    room = S.memory_budget - kept
    solo = [i for i in keys if 2 * branch_bytes(S, i, b, rs) > room]
    return solo, [i for i in keys if i not in solo]


def stream_for_grad(S, o, y2: torch.Tensor):
    """With gradients, a branch's `StreamPlan` when its rows at full length (``b x rows x
    M`` reals: they, their ``rfft`` and their gradient are alive together in its backward)
    would exceed ``memory_budget / GRAD_STREAM_SHARE``; else None."""
    if o.stream is None or not (torch.is_grad_enabled() and y2.requires_grad):
        return None
    return o.stream if _rows_bytes(S, o, y2.shape[0], y2.real.element_size()) \
        > S.memory_budget // GRAD_STREAM_SHARE else None


def _rows_bytes(S, o, b: int, rs: int) -> int:
    """Bytes of a branch's unstreamed rows, ``b x rows x M_full`` reals (as
    `engine.jtfs.forward._ForwardPass._stream_for` counts them)."""
    rows = max(sum(g.nf for g in o.fr.groups) * S.F_bins,
               sum(g.nf * g.Lk for g in o.fr.groups))
    return b * rows * (S.N_padded >> o.k2) * rs


# ---- cost model ----------------------------------------------------------------------------

def _branch_features(sk, i, b: int, rs: int) -> dict:
    """The arrays of branch ``i`` (None: the phi_t branch) recomputed with its graph on ``b``
    signals (bytes): ``leaves`` its inputs' rows (their gradient), ``y2`` its ``Y2``, ``v``
    its rows (per time block when it streams), ``chunk`` one time chunk of its frequential
    stage (`engine.jtfs.forward._ForwardPass._pointwise`)."""
    c = 2 * rs
    Np = sk.N_padded
    if i is None:
        plan, Mf, M, n = sk._fr_s1, Np >> sk.log2_stride, Np >> sk.log2_stride, sk.N1
        leaves, y2, late, sp = b * n * Mf * rs, 0, False, None
    else:
        o = sk._order2[i]
        plan, Mf = o.fr, Np >> o.k2
        lo, hi = o.crop or (0, Mf)
        M = hi - lo
        late = sk._late_fr_average(plan, M, Mf)
        leaves = b * sum(p.count * ((Np >> sk._groups[p.g].k1) // 2 + 1) * c for p in o.parts)
        y2 = b * o.n * Mf * c
        sp = o.stream if o.stream is not None and _rows_bytes(sk, o, b, rs) > \
            sk.memory_budget // GRAD_STREAM_SHARE else None
    nf = sum(g.nf for g in plan.groups)
    rows = sum(g.nf * g.Lk for g in plan.groups) if late else nf * sk.F_bins
    widest = max(g.nf * g.Lk for g in plan.groups)
    per_t = b * (2 * plan.L + 4 * plan.cols) * 2 * rs
    step = max(1, sk.chunk_bytes // per_t)
    if sp is not None:
        bs = min(b, sp.batch)
        m = min(step, sp.P)
        v, vs = 0, bs * sp.P * rows * rs + bs * sp.P * 2 * o.n * c
    else:
        bs, m, v, vs = b, min(step, M), b * rows * Mf * rs, 0
    chunk = m * bs * (2 * plan.L * c + 2 * widest * c + rows * rs)
    return dict(leaves=leaves, y2=y2, v=v, vs=vs, chunk=chunk)


#: A recomputed branch's forward + backward peak over its arrays (`_branch_features`;
#: ``vs``: a streamed block's rows and its ``Y2``), plus `BRANCH_FIXED`: fitted on the
#: measured growth of single branches (one thread, VmHWM; J=12 Q=16 J_fr=5 Q_fr=2 F=16 at
#: N = 2^16 and 2^18, J=10 Q=8 J_fr=4 F=8 at 2^17; float32): 0.66x to 1.5x of it.
BRANCH_WEIGHTS = dict(leaves=1.0, y2=2.25, v=2.2, vs=4.0, chunk=0.5)
BRANCH_FIXED = 16 * 2**20


def branch_bytes(sk, i, b: int, rs: int) -> float:
    """Predicted peak bytes of branch ``i`` recomputed with its graph and its backward."""
    f = _branch_features(sk, i, b, rs)
    return sum(BRANCH_WEIGHTS[k] * f[k] for k in f) + BRANCH_FIXED
