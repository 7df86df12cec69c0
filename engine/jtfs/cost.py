"""What a `TimeFrequencyScattering` forward call will cost, said before anything is built.

`estimate_jtfs_cost` predicts the peak working memory of one forward call (the bytes the
process grows by while it runs, the output included; the input and the transform's own
filters excluded), the output's size and shape, and a rough time, from the constructor's
parameters, the length and the batch.

It builds no filter at full size. A `_Skeleton` is the transform's constructor run with two
of its steps replaced: the padded length is sized from the low-pass at a short length (its
support does not depend on ``N``), and the time filter bank is built at a short padded length
(``_SKELETON_LENGTH``; the wavelets' number and subsamplings do not depend on ``N``, their
reaches only once ``N`` exceeds them). Its plans then hold sizes only: the time groups, the
second-order paths with their time windows, and the frequential plans (the real ones: they
live along ``n1`` and are small). The memory model walks the forward pass of
`engine.jtfs.forward` stage by stage on those sizes (see `_peak_bytes`).
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np
import torch

from engine._costs import BudgetError, Cost
from engine.filterbank import build_filterbank, temporal_support
from engine.jtfs.plans import SecondOrderPart, SecondOrderPath, TimeGroup
from engine.jtfs.stream import STREAM_SHARE
from engine.jtfs.transform import TimeFrequencyScattering

__all__ = ["estimate_jtfs_cost"]

#: Log2 of the padded length at which the skeleton builds its time filter bank (at least
#: ``J + 3``): the filters' reaches (`engine.jtfs.frequential._reaches`) are exact up to half
#: of it; beyond, they only size the time windows of the coarsest paths, which then barely
#: change the estimate.
_SKELETON_LENGTH = 15

#: Fixed growth of a forward call (bytes): the worker threads' first allocations, FFT plans,
#: the Python objects of the plans' results. Calibrated on the grid of
#: ``tests/engine/test_jtfs_cost.py`` (measured 22-37 MiB in all at N = 2**13, batch 1, of
#: which about 12 MiB for the largest task: `TASK_BYTES` counts the rest but about 1 MiB).
FIXED_BYTES = 2**20

#: Rough CPU throughput (seconds per byte of intermediates written), calibrated on the same
#: grid on two cores; a time estimate within a factor of two or three, load permitting.
SECONDS_PER_BYTE = 2.0e-9

#: The share of the other workers' task peaks counted with the largest one: their peaks do
#: not all coincide (fitted on the grid of the test: 0.6).
CONCURRENT = 0.6

#: A task's fixed growth (bytes) beyond its arrays: FFT plans and workspaces, the allocator's
#: slack (measured 7-14 MiB on the small psi_t branches, one thread, N = 2^15 to 2^17), at
#: most half of its arrays (a task of a few MiB grows by 1.2-2 times them).
TASK_BYTES = 8 * 2**20


def _task(arrays: float) -> float:
    """A task's growth from the peak of its arrays."""
    return arrays + min(TASK_BYTES, arrays / 2)


class _Skeleton(TimeFrequencyScattering):
    """`TimeFrequencyScattering`'s parameters and plan sizes, without its time filters at
    full size (see the module docstring). Not callable."""

    _enforce_budget = False            # the skeleton is what checks a transform's budget

    def _padded_length(self, N: int) -> int:
        # The low-pass's support at criterion 1e-3 is that of its first crossing: the same
        # on any grid of more than a few supports.
        n = min(N, 2 ** (self.log2_T + 6))
        phi = self.design.lowpass(n, self.T)
        min_to_pad = 3 * temporal_support(phi[None], criterion=1e-3)
        J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                    int(math.floor(math.log2(3 * N - 2))))
        return 2**max(J_pad, int(math.ceil(math.log2(N))))

    def _filterbank(self):
        n = min(self.N_padded, 2 ** max(_SKELETON_LENGTH, self.J + 3))
        return build_filterbank(n, self.J, self.Q, self.T, self.filterbank)

    def _build(self) -> None:
        bank = self.bank
        self._plans = {}
        self._reach1 = self._reach2 = None
        j1s = [p.j for p in bank.psi1]
        k1s = [self._k(j) for j in j1s]
        self._groups = [TimeGroup(k1, [n for n, k in enumerate(k1s) if k == k1], "", None)
                        for k1 in sorted(set(k1s))]
        self._order2 = []
        for n2, psi2 in enumerate(bank.psi2):
            def valid(j1, j2=psi2.j):
                return j1 < j2 or not self.average
            n_valid = sum(valid(j) for j in j1s)
            if n_valid == 0:
                continue
            k2 = self._k(psi2.j)
            parts = [SecondOrderPart(g, c, "") for g, grp in enumerate(self._groups)
                     if (c := sum(valid(j1s[n]) for n in grp.n1))]
            fr = self._fr_plan(f"fr{n2}", n_valid, spinned=True)
            self._order2.append(SecondOrderPath(n2, psi2.j, k2, n_valid, parts, None, fr,
                                                self._time_window(n2, k2),
                                                self._stream_plan(k2, fr)))
        if not self._order2:
            raise ValueError("No second-order path: every psi2 has j2 <= j1; increase J.")
        self._fr_s1 = self._fr_plan("frs1", self.N1, spinned=False)
        self._spec1_bins = self._spec1_tops()

    def _spec1_tops(self) -> list[int]:
        """`_Planner._spec1_reads` from the skeleton's short bank: per group, the highest
        frequency of the psi2 that read it (their significant support), at its length."""
        top = [0.0] * len(self._groups)
        for o in self._order2:
            c = self.bank.psi2[o.n2].compact[0]
            big = np.abs(c.val) > 1e-12 * np.abs(c.val).max()
            k = np.asarray(c.idx)[big]
            f = (float(np.minimum(k, c.N - k).max()) + 1) / c.N     # cycles per sample
            for p in o.parts:
                top[p.g] = max(top[p.g], f)
        full = [(self.N_padded >> g.k1) // 2 + 1 for g in self._groups]
        # (bin q of a group's spectrum is q / N_padded cycles per sample, whatever its k1)
        return [min(f, math.ceil(t * self.N_padded) + 2) for f, t in zip(full, top)]

    def _phi_plan(self, level: int):
        return f"phi_{level}"                     # sizes only: no low-pass plan is built

    def forward(self, x):
        raise TypeError("a cost skeleton computes nothing; build TimeFrequencyScattering")


_PARAMS = ("J", "J_fr", "Q", "T", "stride", "Q_fr", "F", "stride_fr", "out_type", "format",
           "filterbank", "average", "average_fr", "pad_mode", "chunk_bytes", "sample_rate",
           "memory_budget")


def _freeze(value):
    return tuple(value) if isinstance(value, list) else value


@lru_cache(maxsize=64)
def _skeleton(N: int, items: tuple) -> _Skeleton:
    return _Skeleton(shape=N, **dict(items))


def _output(sk: _Skeleton, B: int) -> tuple[tuple, int]:
    """Output shape (channels stacked) and element count, batch ``B``."""
    t = 1 if sk._t_mode == "global" else sk.ind_end[sk.log2_stride] - sk.ind_start[
        sk.log2_stride]
    if not sk.average:
        t = sk.shape[0]
    n_fr = len(sk._fr_s1.filters) - 1
    n2 = len(sk._order2)
    K2 = 2 * n_fr
    joint = sk.F_bins * (1 + n_fr + n2 * (1 + K2))
    if sk.format == "time":
        shape = (B, 1 + sk.N1 + joint, t)
    else:
        shape = (B, 1 + n_fr + n2 * (1 + K2), sk.F_bins, t)
    return shape, math.prod(shape)


def _branch_bytes(sk: _Skeleton, o: SecondOrderPath, b: int, rs: int) -> tuple[int, int]:
    """Peak bytes of one psi_t branch task on ``b`` signals, and the bytes it writes."""
    c = 2 * rs
    Np = sk.N_padded
    M_full = Np >> o.k2
    lo, hi = o.crop or (0, M_full)
    M = hi - lo
    y2 = b * o.n * M_full * c
    pre = 2 * y2 if len(o.parts) > 1 else y2                  # the parts and their concatenation
    plan = o.fr
    late = sk._late_fr_average(plan, M, M_full)
    nf = sum(g.nf for g in plan.groups)
    rows = sum(g.nf * g.Lk for g in plan.groups) if late else nf * sk.F_bins
    per_t = b * (2 * plan.L + 4 * plan.cols) * 2 * rs
    step = max(1, sk.chunk_bytes // per_t)
    widest = max(g.nf * g.Lk for g in plan.groups)
    rows_max = max(nf * sk.F_bins, sum(g.nf * g.Lk for g in plan.groups))
    sp = o.stream
    if sp is not None and (2 * b * rows_max * M_full * rs > sk.memory_budget // STREAM_SHARE
                           or sk._force_stream):
        # Streamed (engine.jtfs.stream), ``sp.batch`` signals at a time: per block of P
        # samples, the block of Y2 and its masked copy, the pointwise stage's chunks and
        # their concatenation (or one chunk's work), then the rows' rfft; the decimated rows
        # of the blocks so far, their concatenation, then their rfft.
        P, D, bs = sp.P, 2**sp.d, min(b, sp.batch)
        if o.crop is not None:
            # Y2 on the window only, each row folded and inverse-transformed into two rows
            # of scratch (`_second_order_window`)
            y2 = b * o.n * M * c
            pre = y2 + 2 * b * M_full * c
        per_t_s = bs * (2 * plan.L + 4 * plan.cols) * 2 * rs
        m = min(max(1, sk.chunk_bytes // per_t_s), P)
        v_blk = bs * P * rows * rs
        work_s = m * bs * (2 * plan.L * c + 2 * widest * c + rows * rs)
        block = bs * P * 2 * o.n * c + max(v_blk + work_s, 2 * v_blk)
        w = b * rows * (M_full // D) * rs
        freq = y2 + w + block         # the rows written into one array, averaged a few at a time
        blocks = -(-M_full // (P - 2 * sp.R))
        written = y2 * 2 + blocks * b * P * ((plan.L + plan.cols) * c + 3 * rows * rs)
        return _task(max(pre, freq)), written
    v_M = b * rows * M * rs
    v_full = b * rows * M_full * rs
    # One chunk of time samples: the n1 spectrum (and its circular extension), the largest
    # group's products and their inverse FFT, every group's moduli.
    work = min(step, M) * b * (2 * plan.L * c + 2 * widest * c + rows * rs)
    # The rows (written chunk by chunk into one array), then (windowed) the rows padded to
    # the whole time axis, then the padded rows and their rfft (measured: no other buffer).
    padded = v_full if o.crop else 0
    freq = y2 + max(v_M + work, v_M + padded, 2 * v_full)
    written = y2 * 2 + b * M * (plan.L + plan.cols) * c + v_full * 3
    return _task(max(pre, freq)), written


def _peak_bytes(sk: _Skeleton, B: int, rs: int) -> tuple[int, int]:
    """Peak working bytes and bytes written of a forward call on ``B`` signals with reals of
    ``rs`` bytes: ``xp`` (the padded input), its ``rfft``, the first order's kept spectra,
    then the two stages' concurrent tasks (two halves of the batch, `torch.get_num_threads`
    workers, the costliest first: `engine._parallel.run_keyed`)."""
    c = 2 * rs
    Np = sk.N_padded
    W = max(1, min(torch.get_num_threads(), 2 if B >= 2 else 2))
    b = -(-B // 2) if B >= 2 else B
    base = B * Np * rs + B * (Np // 2 + 1) * c
    s1 = B * sk.N1 * (Np >> sk.log2_stride) * rs if sk._t_mode == "local" else 0
    # First order: per group task, the fold and its ifft (complex), then kept rfft(U1); with
    # local averaging (no gradient) a group is filtered `_first_order_rows` wavelets at a time.
    tasks1, kept1, written = [], 0, 0
    for i, g in enumerate(sk._groups):
        m1 = Np >> g.k1
        G = rows = len(g.n1)
        if sk.average and sk._t_mode == "local":
            rows = min(G, sk._first_order_rows(i, b))
        tasks1 += [2 * b * rows * m1 * c] * (2 if B >= 2 else 1)
        # chunked, a group keeps the bins of its spectra that the second order reads
        chunked = rows < G
        kept1 += B * G * (sk._spec1_bins[i] if chunked else m1 // 2 + 1) * c
        written += 4 * B * G * m1 * c
    tasks1.sort(reverse=True)
    stage1 = base + max(kept1 + tasks1[0] + CONCURRENT * sum(tasks1[1:W]), 2 * kept1) + s1
    # Second order: per n2 (and half batch) a branch.
    branch = []
    for o in sk._order2:
        peak, w = _branch_bytes(sk, o, b, rs)
        branch += [peak] * (2 if B >= 2 else 1)
        written += w * (2 if B >= 2 else 1)
    branch.sort(reverse=True)
    _, n_out = _output(sk, B)
    out = n_out * rs
    # (the padded input and its spectrum are dropped before the second order)
    stage2 = kept1 + s1 + branch[0] + CONCURRENT * sum(branch[1:W]) + out
    final = kept1 + 3 * out
    return FIXED_BYTES + max(stage1, stage2, final), written


def _physical_memory() -> int | None:
    """The machine's physical memory in bytes (None where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_jtfs_cost(shape: int, batch: int = 1, *, memory_budget=None,
                       dtype=torch.float32, **params) -> Cost:
    """Predict the cost of ``TimeFrequencyScattering(shape=shape, **params)(x)`` on ``x`` of
    shape ``(batch, shape)``.

    Parameters
    ----------
    shape : int
        Signal length ``N`` (samples).
    batch : int
        Number of signals in the call.
    memory_budget : int, optional
        Working-memory budget in bytes: also the transform's own ``memory_budget`` (which
        decides what streams); a `BudgetError` is raised when the predicted peak exceeds it
        (``minimum_bytes``: the budget that would do), or exceeds the machine's physical
        memory (``minimum_bytes=None``: no budget would do).
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64``.
    **params
        `TimeFrequencyScattering`'s other constructor arguments (``J``, ``J_fr``, ``Q`` are
        required; ``Q_fr``, ``F``, ``T``, ``average_fr``, ``format``, ``out_type``,
        ``filterbank``, ...), validated as the constructor does.

    Returns
    -------
    Cost
        ``peak_bytes`` (process growth during the call, output included, input and filters
        excluded), ``output_bytes``, ``output_shape`` (channels stacked, as
        ``out_type="array"``), ``seconds`` (rough: a factor of two or three either way,
        more under load), ``budget_bytes``.

    Example
    -------
    >>> c = estimate_jtfs_cost(2**16, J=12, Q=16, J_fr=5, Q_fr=2, F=16)
    >>> c.output_shape[0], c.peak_bytes > c.output_bytes
    (1, True)
    """
    unknown = set(params) - set(_PARAMS)
    if unknown:
        raise TypeError(f"estimate_jtfs_cost got unknown parameters {sorted(unknown)}; "
                        f"it takes TimeFrequencyScattering's: {', '.join(_PARAMS)}.")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be a positive integer; got {batch!r}.")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype}.")
    if isinstance(shape, (tuple, list)):
        (shape,) = shape
    if memory_budget is not None:
        params = dict(params, memory_budget=int(memory_budget))
    sk = _skeleton(int(shape), tuple(sorted((k, _freeze(v)) for k, v in params.items())))
    rs = 4 if dtype == torch.float32 else 8
    peak, written = _peak_bytes(sk, int(batch), rs)
    out_shape, n_out = _output(sk, int(batch))
    cost = Cost(int(peak), int(n_out * rs), out_shape, written * SECONDS_PER_BYTE,
                None if memory_budget is None else int(memory_budget))
    ram = _physical_memory()
    if memory_budget is not None and ram and peak > ram:
        raise BudgetError(f"JTFS at N={shape}, batch {batch} needs about {cost.peak_bytes} "
                          f"bytes of working memory, more than this machine's {ram} bytes: "
                          f"no memory_budget can hold it (its first and second orders keep "
                          f"full-length arrays). Split the signal (e.g. engine.blocks) or "
                          f"lower the batch.", minimum_bytes=None)
    if memory_budget is not None and peak > memory_budget:
        # The smallest budget that holds its own plan: a larger budget streams less, so
        # look for a fixed point from the peak under the budget given.
        need = math.ceil(peak)
        for _ in range(6):
            p2, _ = _peak_bytes(_skeleton(int(shape), tuple(sorted(
                (k, _freeze(v)) for k, v in dict(params, memory_budget=need).items()))),
                int(batch), rs)
            if p2 <= need:
                break
            need = math.ceil(p2)
        raise BudgetError(f"JTFS at N={shape}, batch {batch} needs about {peak:.0f} bytes "
                          f"({peak / 2**20:.0f} MiB) of working memory, over memory_budget="
                          f"{memory_budget}; raise the budget to at least {need} "
                          f"({need / 2**20:.0f} MiB), or lower the batch.",
                          minimum_bytes=need)
    return cost


TimeFrequencyScattering._cost_model = staticmethod(estimate_jtfs_cost)
