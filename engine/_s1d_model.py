"""The Scattering1D cost model: memory and time of a forward call from the transform's shape.

Pure arithmetic on a `Structure` (what a Scattering1D computes, independent of the signal's
length) and the sizes of a call: `engine.cost.estimate_cost` uses it to answer before
anything is built, `engine.scattering1d` to decide, before it allocates, whether a call fits
its memory budget whole or must run in time blocks (`engine._blocked`), and how to cut them.
The constants are calibrated on measurements (see each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine import _params
from engine._costs import BudgetError, Cost
from engine._s1d_group import task_layout
from engine._s1d_limits import (  # noqa: F401  (re-exported: Scattering1D's call checks)
    DEFAULT_BUDGET,
    MAX_LENGTH,
    _ram,
    check_feasible,
    padded_length_fast,
    parse_budget,
)
from engine._scratch import KEEP_BYTES

__all__ = ["Structure", "structure_of", "padded_length_fast", "unblocked", "BlockChoice",
           "choose_blocks", "reach", "Estimate", "Model", "FORWARD"]

#: Fixed growth of a forward call beyond its tensors: the allocator's arenas for the worker
#: threads, the FFT library's plans and work buffers, small tensors (measured as the growth of
#: the smallest calls: 1 to 3 MiB).
OVERHEAD_BYTES = 1 * 2**20

#: Memory the allocator keeps resident after the call's temporaries are freed, in units of
#: the padded signal's size (``batch x N_padded`` values): glibc's dynamic mmap threshold
#: puts temporaries of up to 32 MiB on its heaps once one of that size was freed, and the
#: holes they leave between the outputs stay resident. Calibrated on the measured growth in
#: fresh processes (J=6..12, N=2^13..2^18, batch 1 and 16): 4 to 14 padded signals, more
#: when the machine is loaded (the workers then overlap longer).
RETAINED_ROWS = 7

#: Effective floating-point rate of the forward pass (flops per second, by element size) on
#: the 2-core development machine: ``sum(5 n log2 n)`` over the FFTs plus 8 per folded
#: complex value, divided by the call's CPU time per thread (Scattering1D J=6..12, Q=4..16,
#: N=2^13..2^18, batch 1 and 16; CPU time, because the machine was shared, load average 8:
#: wall time there was up to 10x longer). The estimate is the unloaded machine's wall time;
#: a loaded or slower machine takes proportionally longer.
FLOPS_PER_SECOND = {4: 2.0e10, 8: 1.1e10}

#: Fixed time per task (a group of paths on a chunk of signals: a dozen tensor operations and
#: their Python), seconds.
SECONDS_PER_TASK = 3e-4

#: A call in passes holds more than its first pass's tensors: each worker's scratch buffers
#: and the FFT library's plans for the block's shapes stay between passes, and the allocator
#: keeps part of what a pass freed even after `engine._malloc.trim`. Measured (VmHWM growth
#: over the first pass's estimate, J=6..12, time blocks and groups of signals): 1.5x to 2x.
PASS_FACTOR = 1.8

#: Fraction of a filter's energy that may lie beyond the blocks' overlap (`reach`): its
#: amplitude, ``1e-8`` of the filter's, is below float32 rounding.
CRITERION = 1e-16


@dataclass(frozen=True)
class Order2:
    k2: int        # extra log2 subsampling after psi2
    grid: int      # len(n1s) * len(n2s): folded rows
    valid: int     # rows kept (j1 < j2)
    phi: bool      # averaged (local)


@dataclass(frozen=True)
class Group:
    k1: int
    n1: int                     # first-order wavelets in the group
    phi: bool
    order2: tuple[Order2, ...]


@dataclass(frozen=True)
class Structure:
    """The N-independent shape of a Scattering1D: its groups and channels."""

    groups: tuple[Group, ...]
    channels: int
    paths: tuple[tuple[int, ...], ...]   # for unaveraged outputs: resolution per path
    levels: tuple[int, ...]              # log2 subsampling of each path's output
    average: object
    log2_stride: int
    T: int
    max_level: int
    sigmas: tuple[float, float, float]   # narrowest phi, psi1, psi2 (cycles/sample)



def structure_of(S) -> Structure:
    """The `Structure` of a built `engine.Scattering1D` (any length)."""
    groups = tuple(Group(g["k1"], len(g["n1"]), g["phi"] is not None, tuple(
        Order2(o["k2"], len(g["n1"]) * len(o["n2"]),
               len(o["n2"]) * len(g["n1"]) if o["valid"] is None
               else len(getattr(S, o["valid"])), o["phi"] is not None)
        for o in g["order2"])) for g in S._groups)
    # output resolution of each computed block, in `_scatter_blocks`' order
    levels = [S.log2_stride if S._s0 is not None else 0]
    for g in S._groups:
        levels.append(S.log2_stride if g["phi"] else g["k1"])
        levels += [S.log2_stride if o["phi"] else g["k1"] + o["k2"] for o in g["order2"]]
    block_levels = []
    for lvl, block in zip(levels, S._blocks):
        block_levels += [lvl] * len(block)
    bank = S.bank
    sigmas = (bank.phi.sigma, min(f.sigma for f in bank.psi1),
              min((f.sigma for f in bank.psi2), default=math.inf))
    return Structure(groups, len(S._paths), tuple((len(p),) for p in S._paths),
                     tuple(block_levels), S.average, S.log2_stride, S.T,
                     max(S.log2_T, S.J) + 1, sigmas)


def _erfcinv(c: float) -> float:
    lo, hi = 0.0, 30.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.erfc(mid) > c else (lo, mid)
    return hi


def reach(st: Structure, criterion: float = CRITERION) -> int:
    """Samples within which an output frame's cascade (``psi1``, ``psi2``, ``phi``) reads the
    input: the sum over the three filters of the half-width beyond which a Gaussian envelope
    of the family's narrowest width ``sigma`` (time standard deviation ``1 / (2 pi sigma)``)
    holds ``criterion`` of its energy. Morlets and Gaussians have exactly that envelope."""
    k = _erfcinv(criterion)
    return int(sum(math.ceil(k / (2 * math.pi * s)) for s in st.sigmas if math.isfinite(s)))


#: Rows longer than ``2**LARGE_ROW_LOG2`` values cost more per flop: their FFTs, folds and
#: moduli no longer run in the cache (1 thread, this machine: FFTs of ``2**21`` points
#: 1.1x-1.3x the time per point and level of ``2**19`` or ``2**20``, of ``2**22`` 1.3x-3x;
#: the whole call on ``2**21`` padded samples took 1.15x-1.3x the CPU time of 4 blocks of
#: ``2**19``). `row_factor` multiplies their flops by ``1 + LARGE_ROW_SLOPE`` per doubling.
LARGE_ROW_LOG2 = 20
LARGE_ROW_SLOPE = 0.25


def row_factor(n: int) -> float:
    """The cost per flop of rows of ``n`` values relative to rows that fit the cache."""
    return 1.0 + LARGE_ROW_SLOPE * max(0.0, math.log2(max(n, 2)) - LARGE_ROW_LOG2)


def _fft_flops(rows: int, n: int) -> float:
    return 5.0 * rows * n * math.log2(max(n, 2)) * row_factor(n)


@dataclass(frozen=True)
class Estimate:
    """Bytes at the fullest moment of a call (``during``: the tasks running, ``final``: the
    output's last copies), the largest of the two plus overheads (``peak``), seconds."""

    peak: int
    during: int
    final: int
    seconds: float
    n_tasks: int


def output_lengths(st: Structure, N: int, Np: int) -> list[int]:
    """Frames of each output channel, in the computed blocks' order."""
    if st.average == "global":
        return [1] * len(st.levels)
    pad_left, _ = _params.compute_padding(Np, N)
    starts, ends = _params.border_indices(st.max_level, pad_left, pad_left + N)
    return [ends[lvl] - starts[lvl] for lvl in st.levels]


def unblocked(st: Structure, B: int, Np: int, s: int, out_bytes: int, chunk_bytes: int,
              threads: int, split: bool = True) -> Estimate:
    """The forward pass on ``B`` signals padded to ``Np``, element size ``s`` bytes, whose
    output holds ``out_bytes``, as `Scattering1D._scatter_blocks` schedules it (``split``:
    groups too large for one signal cut into parts, as without gradients on CPU)."""
    m_out = Np >> st.log2_stride
    # persistent: padded signal, its half spectrum, order 0
    xp = B * Np * s
    spec0 = B * (Np // 2 + 1) * 2 * s
    s0 = B * (m_out // 2 + 1) * 2 * s + B * m_out * s
    # chunks per group, as _scatter_blocks cuts them
    n_tasks_hint = B * len(st.groups)
    workers = min(threads, n_tasks_hint) if n_tasks_hint > 1 else 1
    per_worker = chunk_bytes // workers
    cb = 2 * s
    task_peaks, flops = [], _fft_flops(B, Np) + _fft_flops(B, m_out)
    uncropped = B * m_out * s                  # order 0's output before the crop
    for g in st.groups:
        m1 = Np >> g.k1
        values = max([g.n1 * m1] + [o.grid * (m1 >> o.k2) for o in g.order2])
        step, parts = task_layout(values, g.n1, B, per_worker, cb, split)
        for n0, n1 in parts:
            gp = g if len(parts) == 1 else _part_group(g, n1 - n0)
            for a in range(0, B, step):
                b = min(step, B - a)
                task_peaks.append(_task_peak(gp, b, m1, m_out, s, st.average))
        # flops of the whole group over the batch
        flops += _fft_flops(B * g.n1, m1) * 2 + 8 * B * g.n1 * m1 * row_factor(m1)
        uncropped += B * g.n1 * (m_out if g.phi else m1) * s
        for o in g.order2:
            m2 = m1 >> o.k2
            flops += (_fft_flops(B * o.valid, m2) * (2 if o.phi else 1)
                      + 8 * B * o.grid * m2 * row_factor(m2))
            if o.phi:
                flops += _fft_flops(B * o.valid, m_out)
            uncropped += B * o.valid * (m_out if o.phi else m2) * s
    if st.average == "global":
        uncropped = B * st.channels * s
    task_peaks.sort(reverse=True)
    running = sum(task_peaks[:workers])
    # the fullest moment: all tasks' buffers while the largest run (plus what the allocator
    # keeps of earlier ones), or the final copies (outputs as returned, their concatenation
    # and its reordering: `_format`)
    during = xp + spec0 + s0 + running + uncropped + RETAINED_ROWS * xp
    final = xp + uncropped + (2 * out_bytes if st.average else 0)
    seconds = flops / FLOPS_PER_SECOND[s] + SECONDS_PER_TASK * len(task_peaks)
    return Estimate(int(max(during, final) + OVERHEAD_BYTES), int(during), int(final),
                    seconds, len(task_peaks))


def _part_group(g: Group, n1: int) -> Group:
    """A part of ``n1`` of the group's first-order wavelets (`engine._s1d_group.n1_parts`),
    with at most all of the group's kept order-2 rows."""
    return Group(g.k1, n1, g.phi, tuple(
        Order2(o.k2, o.grid // g.n1 * n1, min(o.valid, o.grid // g.n1 * n1), o.phi)
        for o in g.order2))


def _task_peak(g: Group, b: int, m1: int, m_out: int, s: int, average) -> int:
    """Bytes one worker holds at its fullest while computing group ``g`` on ``b`` signals:
    its scratch buffers (kept between tasks, see `engine._scratch`) plus the fresh tensors
    alive at once, stage by stage as `Scattering1D._scatter_group` runs."""
    cb = 2 * s
    y1 = b * g.n1 * m1 * cb
    u1 = b * g.n1 * m1 * s
    scratch = {"fold": 0, "mod": 0, "valid": 0}
    fresh_peak = 0

    def use(role, nbytes):
        """A scratch request: kept if small, else a fresh tensor (returned)."""
        if nbytes > KEEP_BYTES:
            return nbytes
        scratch[role] = max(scratch[role], nbytes)
        return 0

    f_y1 = use("fold", y1)
    f_u1 = use("mod", u1) if average is not False else u1
    fresh_peak = max(fresh_peak, f_y1 + y1)           # y1 and z1 = ifft(y1)
    fresh_peak = max(fresh_peak, y1 + f_u1)           # z1 and u1
    spec1 = b * g.n1 * (m1 // 2 + 1) * cb
    if g.phi or g.order2:
        fresh_peak = max(fresh_peak, f_u1 + spec1)
    if g.phi:
        fresh_peak = max(fresh_peak, spec1 + use("fold", b * g.n1 * (m_out // 2 + 1) * cb)
                         + b * g.n1 * m_out * s)
    for o in g.order2:
        m2 = m1 >> o.k2
        y2 = b * o.grid * m2 * cb
        v2 = b * o.valid * m2 * cb
        f_y2 = use("fold", y2)
        f_v2 = use("valid", v2) if o.valid < o.grid else 0
        z2 = v2
        stage = spec1 + f_y2 + f_v2 + z2
        if o.phi:
            u2 = b * o.valid * m2 * s
            f_u2 = use("mod", u2)
            spec2 = b * o.valid * (m2 // 2 + 1) * cb
            stage = max(stage, spec1 + f_u2 + spec2 + b * o.valid * (m_out // 2 + 1) * cb)
        fresh_peak = max(fresh_peak, stage)
    return sum(scratch.values()) + fresh_peak


# --------------------------------------------------------------------------------------------
# Calls in passes: time blocks (long signals) or groups of signals (large batches)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockChoice:
    """How a call runs in passes under a budget.

    Each padded signal is cut into ``n_blocks`` blocks of ``L`` samples (a power of two)
    that overlap by ``R`` on each side and keep ``H = L - 2 R`` samples' worth of frames,
    the first kept sample at padded position ``a0``; ``rows`` blocks (of any signals) are
    transformed per pass. ``L == N_padded`` (``R == 0``, one block per signal): the passes
    are groups of whole signals.
    """

    L: int
    R: int
    H: int
    a0: int
    n_blocks: int
    rows: int
    estimate: Estimate


def geometry(st: Structure, N: int, Np: int, L: int, R: int) -> tuple[int, int, int]:
    """``(H, a0, n_blocks)`` of blocks of ``L`` samples overlapping by ``R`` (see
    `BlockChoice`): the kept samples cover the signal's frames, ``[pad_left, pad_left + N)``
    rounded out to the stride."""
    if L >= Np:
        return Np, 0, 1
    S = 1 << st.log2_stride
    pad_left, _ = _params.compute_padding(Np, N)
    a0 = pad_left // S * S
    a1 = -(-(pad_left + N) // S) * S
    H = L - 2 * R
    return H, a0, -(-(a1 - a0) // H)


def blocked(st: Structure, N: int, Np: int, B: int, s: int, L: int, R: int, rows: int,
            out_bytes: int, chunk_bytes: int, threads: int, array: bool = True) -> Estimate:
    """The call in passes of ``rows`` blocks of ``L`` samples (see `BlockChoice`); with
    ``array`` each pass writes into the output, else the passes' outputs are kept and
    assembled at the end."""
    H, _, nb = geometry(st, N, Np, L, R)
    frames = H >> st.log2_stride
    inner = unblocked(st, rows, L, s, rows * st.channels * frames * s, chunk_bytes, threads)
    index = 3 * rows * L * 8 if L < Np else 0      # the gather's int64 positions
    if array:                                      # the output, and one pass's in order
        kept = out_bytes
        during = PASS_FACTOR * inner.during + index + kept + 2 * rows * st.channels * frames * s
        final = out_bytes
    else:
        kept = B * nb * st.channels * frames * s   # every pass's kept frames, up to all
        during = PASS_FACTOR * inner.during + index + kept
        final = 2 * kept + 2 * out_bytes           # their assembly, then `_format`'s copies
    passes = -(-B * nb // rows)
    return Estimate(int(max(during, final) + OVERHEAD_BYTES), int(during), int(final),
                    inner.seconds * passes, inner.n_tasks * passes)


@dataclass(frozen=True)
class Model:
    """How a kind of call costs: ``whole(st, N, Np, B, s, out_bytes, chunk_bytes, threads)``
    for the call at once, ``passes`` (`blocked`'s signature) for the call in passes, and
    ``label`` for the error messages."""

    whole: object
    passes: object
    label: str = ""


#: A forward call without gradient.
FORWARD = Model(lambda st, N, Np, B, s, out, chunk, threads:
                unblocked(st, B, Np, s, out, chunk, threads), blocked)


#: Factors of the time blocks' lengths besides powers of two (`block_lengths`): none. Blocks
#: of ``3 * 2**m`` or ``5 * 2**m`` samples waste less of the last block (``2**20`` samples,
#: J=12: one of ``5 * 2**18`` instead of 4 of ``2**19``, 38% fewer samples), but torch's
#: CPU FFTs (MKL) of those lengths cost 2.0x to 2.5x more per point than of ``2**m``
#: (measured, 1 thread, ``2**19`` to ``2**21`` points): no gain left.
BLOCK_FACTORS = (1,)

#: Time blocks are chosen over a whole call that fits the budget only when predicted this
#: much faster: the passes' own costs (gathering the blocks, `engine._malloc.trim`, the
#: block module) are not in the estimate.
BLOCKS_OVER_WHOLE = 0.9


def block_lengths(st: Structure, Np: int, R: int) -> list[int]:
    """Lengths ``L`` of time blocks overlapping by ``R`` (`BlockChoice`), shorter than
    ``Np``, longest first: ``c * 2**m`` (``c`` in `BLOCK_FACTORS`) with ``L > 2 R`` and
    ``2**m`` a multiple of twice the stride (every subsampled grid of the block is whole)."""
    S = 1 << st.log2_stride
    out = set()
    for c in BLOCK_FACTORS:
        m = 2 * S
        while c * m < Np:
            if c * m >= 2 * R + S:
                out.add(c * m)
            m *= 2
    return sorted(out, reverse=True)


def choose_blocks(st: Structure, N: int, Np: int, B: int, s: int, budget: int,
                  out_bytes: int, chunk_bytes: int, threads: int, array: bool = True,
                  model: Model | None = None, time_blocks_only: bool = False
                  ) -> BlockChoice | None:
    """The passes that keep the call under ``budget`` bytes: for padded signals longer than
    ``2**LARGE_ROW_LOG2`` those of the least estimated time (ties to the longer blocks),
    else the longest blocks that fit (time blocks of `block_lengths` only for local
    averaging; whole signals otherwise), each with as many rows per pass as fit.
    ``time_blocks_only``: only time blocks, None when none fits (the caller compares them
    with the whole call). Raises `BudgetError` with the smallest budget that works."""
    S = 1 << st.log2_stride
    options = [] if time_blocks_only else [(Np, 0)]
    if st.average == "local":
        R = -(-reach(st) // S) * S
        options += [(L, R) for L in block_lengths(st, Np, R)]
    # by estimated time only where rows outgrow the cache (`row_factor`); below, per-point
    # costs are flat, the estimates' differences within their error: the longest blocks
    by_time = Np > 1 << LARGE_ROW_LOG2
    minimum, best = None, None
    for L, R in options:
        nb = geometry(st, N, Np, L, R)[2]
        total = B * nb

        def est(r, L=L, R=R):
            return (model or FORWARD).passes(st, N, Np, B, s, L, R, r, out_bytes,
                                             chunk_bytes, threads, array)

        one = est(1)
        minimum = one.peak if minimum is None else min(minimum, one.peak)
        if one.peak > budget:
            continue
        lo, hi = 1, total                            # the most rows that fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if est(mid).peak <= budget else (lo, mid - 1)
        e = est(lo)
        if best is None or (by_time and e.seconds < best.estimate.seconds):
            H, a0, nb = geometry(st, N, Np, L, R)
            best = BlockChoice(L, R, H, a0, nb, lo, e)
    if best is not None or time_blocks_only:
        return best
    ram = _ram()
    if ram is not None and minimum > ram:
        raise BudgetError(
            f"{B} x {N} samples are too long for any memory budget on this machine: even in "
            f"blocks the call needs {minimum / 2**30:.1f} GiB (mostly its output) of the "
            f"machine's {ram / 2**30:.1f} GiB. Transform the recording block by block from "
            f"disk (engine.scatter_file, engine.BlockTransform), or shorten it.",
            minimum_bytes=None)
    raise BudgetError(
        f"A memory budget of {budget / 2**20:.1f} MiB is too small for this transform on "
        f"{B} x {N} samples{(model or FORWARD).label}: the smallest budget that "
        f"works is {minimum} bytes "
        f"({minimum / 2**20:.1f} MiB; it holds one block's working set and the output). "
        f"Raise memory_budget to at least that, or shorten the signals, the batch or J.",
        minimum_bytes=minimum)


def plan_call(st: Structure, N: int, Np: int, B: int, s: int, budget: int | None,
              out_bytes: int, chunk_bytes: int, threads: int, array: bool = True,
              model: Model | None = None) -> tuple[Estimate, BlockChoice | None]:
    """The estimate of a call and its passes: ``(estimate, None)`` when the whole call fits
    ``budget`` (or there is none) and no time blocks within it are predicted faster
    (`BLOCKS_OVER_WHOLE`; forward calls on padded signals longer than
    ``2**LARGE_ROW_LOG2`` only), else the passes of `choose_blocks` (which
    raises `BudgetError` when none fit). ``array``: out_type "array" (see `blocked`). ``model``:
    the call's `Model` (default `FORWARD`, no gradient; `engine._s1d_grad.GRAD` for a call
    that records gradients, forward + backward)."""
    model = model or FORWARD
    whole = model.whole(st, N, Np, B, s, out_bytes, chunk_bytes, threads)
    if budget is None or math.isinf(budget):           # no budget: always the whole call
        return whole, None
    if whole.peak <= budget:
        if model is not FORWARD or st.average != "local" or Np <= 1 << LARGE_ROW_LOG2:
            return whole, None
        choice = choose_blocks(st, N, Np, B, s, budget, out_bytes, chunk_bytes, threads,
                               array, model, time_blocks_only=True)
        if choice is None or choice.estimate.seconds >= BLOCKS_OVER_WHOLE * whole.seconds:
            return whole, None
        return choice.estimate, choice
    choice = choose_blocks(st, N, Np, B, s, budget, out_bytes, chunk_bytes, threads, array,
                           model)
    return choice.estimate, choice


def as_cost(est: Estimate, st: Structure, N: int, Np: int, B: int, s: int, budget):
    """An `engine.Cost` from an estimate of a call on ``B`` signals of ``N`` samples."""
    lengths = output_lengths(st, N, Np)
    return Cost(est.peak, B * sum(lengths) * s, (B, st.channels, max(lengths)), est.seconds,
                budget)


def plan_module(S, batch: int, dtype=None, model: Model | None = None
                ) -> tuple[Estimate, BlockChoice | None]:
    """`plan_call` for a built `engine.Scattering1D` ``S`` (its structure cached on it),
    under ``model`` (see `plan_call`)."""
    ref = getattr(S, S._groups[0]["psi1"])
    s = ref.element_size() if dtype is None else (8 if dtype == torch.float64 else 4)
    st = S.__dict__.get("_structure")
    if st is None:
        st = S.__dict__["_structure"] = structure_of(S)
    N, Np = S.shape[0], S.N_padded
    out_bytes = batch * sum(output_lengths(st, N, Np)) * s
    return plan_call(st, N, Np, batch, s, S.memory_budget, out_bytes, S.chunk_bytes,
                     max(1, torch.get_num_threads()), S.out_type == "array", model)


def runs_whole(S) -> bool:
    """Whether a call of ``S`` on one signal runs whole under its budget (a budget too small
    for any call: False; the call will say so)."""
    try:
        return plan_module(S, 1)[1] is None
    except BudgetError:
        return False
