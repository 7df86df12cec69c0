"""`estimate_cost`: what a transform will cost (memory, output, time), said before it runs.

>>> c = estimate_cost("scattering1d", 2**20, batch=4, J=12, Q=12)
>>> c.output_shape[:2], c.peak_bytes > c.output_bytes
((4, 801), True)

The Scattering1D model follows the forward pass's schedule (`engine.scattering1d`) step by
step, without building a filter at the signal's length:

* the *structure* of the transform (which first-order wavelets share a resolution, how many
  second-order wavelets each group meets, how many channels come out) depends on ``J``,
  ``Q``, ``T``, ``stride``, ``max_order`` and the design, not on ``N``: it is read from a
  module built once at a small length (``2**J`` samples, cached) and scaled;
* the padded length is Kymatio's (`engine._params.padded_length`), computed from the
  low-pass's support on a grid a few times ``T`` long (it is the same number);
* memory is the sum of the buffers the forward pass holds at its fullest moment: the padded
  signal and its spectrum, the largest chunks in flight on each worker (their per-thread
  scratch buffers included, see `engine._scratch`) and the outputs with their final copies;
  plus a fixed overhead (`OVERHEAD_BYTES`) for the allocator and the FFT library. Compared
  with ``VmHWM`` growth in a fresh process (``tests/engine/test_cost.py``), within 1.5x;
* time is the transform's FFT and fold work in flops divided by `FLOPS_PER_SECOND`, a rate
  measured once on the development machine (2 cores; see the constant): rough, a factor
  of two either way on another machine or under load.

`Cost` and `BudgetError` are `engine._costs`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from engine import _params
from engine._costs import BudgetError, Cost
from engine._scratch import KEEP_BYTES
from engine.filterbank import SIGMA0, gauss_1d, temporal_support

__all__ = ["estimate_cost", "KINDS", "Cost", "BudgetError", "padded_length_fast"]

#: The transforms `estimate_cost` knows.
KINDS = ("scattering1d", "jtfs")

#: Fixed growth of a forward call beyond its tensors: the allocator's arenas for the worker
#: threads, the FFT library's plans and work buffers, small tensors (measured as the growth of
#: the smallest calls: 2 to 4 MiB).
OVERHEAD_BYTES = 1 * 2**20

#: Effective floating-point rate of the forward pass (flops per second, by dtype) on the
#: 2-core development machine: ``sum(5 n log2 n)`` over the FFTs plus 8 per folded complex
#: value, divided by the call's CPU time per thread (Scattering1D J=6..12, Q=4..16,
#: N=2^13..2^18, batch 1 and 16; CPU time, because the machine was shared, load average 8:
#: wall time there was up to 10x longer). The estimate is the unloaded machine's wall time;
#: a loaded or slower machine takes proportionally longer.
FLOPS_PER_SECOND = {torch.float32: 2.0e10, torch.float64: 1.1e10}

#: Fixed time per task (a group of paths on a chunk of signals: a dozen tensor operations and
#: their Python), seconds.
SECONDS_PER_TASK = 3e-4

#: Memory the allocator keeps resident after the call's temporaries are freed, in units of
#: the padded signal's size (``batch x N_padded`` values): glibc's dynamic mmap threshold
#: puts temporaries of up to 32 MiB on its heaps once one of that size was freed, and the
#: holes they leave between the outputs stay resident. Calibrated on the measured growth in
#: fresh processes (J=6..12, N=2^13..2^18, batch 1 and 16): 4 to 8 padded signals.
RETAINED_ROWS = 6

_S1D_ARGS = ("J", "Q", "T", "stride", "max_order", "oversampling", "out_type", "filterbank",
             "chunk_bytes", "sample_rate")


def estimate_cost(kind: str, shape: int, batch: int = 1, *, memory_budget: int | None = None,
                  dtype: torch.dtype = torch.float32, **params) -> Cost:
    """Predict the cost of one forward call (no gradient) of a transform.

    Parameters
    ----------
    kind : "scattering1d" or "jtfs"
        The transform: `engine.Scattering1D` or `engine.TimeFrequencyScattering`.
    shape : int
        Signal length ``N`` in samples.
    batch : int
        Number of signals in the call (the input's leading dimensions, multiplied).
    memory_budget : int or None
        Bytes the call may use; `BudgetError` (naming the smallest budget that works) when the
        configuration cannot stay under it. None: no budget.
    dtype : torch.float32 or torch.float64
        The transform's dtype.
    **params
        The transform's constructor arguments (``J``, ``Q``, ``T``, ``max_order``,
        ``filterbank``, ... for Scattering1D; ``J``, ``J_fr``, ``Q``, ``Q_fr``, ``F``, ...
        for JTFS), checked as the constructor checks them.

    Returns
    -------
    Cost
        ``peak_bytes`` (growth of the process during the call, output included),
        ``output_bytes``, ``output_shape`` (``(batch, C, time)``), ``seconds``.

    Nothing of size ``N`` is allocated: it is safe to call for lengths no machine could
    transform, to refuse or split the work before it starts.

    >>> estimate_cost("scattering1d", 2**16, J=8, Q=8).output_shape
    (1, 234, 256)
    """
    if kind == "jtfs":
        try:
            from engine.jtfs.cost import estimate_jtfs_cost
        except ImportError as e:   # the JTFS model lives with JTFS
            raise NotImplementedError(f"The JTFS cost model (engine.jtfs.cost) is not "
                                      f"available: {e}") from e
        return estimate_jtfs_cost(shape, batch, memory_budget=memory_budget, dtype=dtype,
                                  **params)
    if kind != "scattering1d":
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}.")
    return _scattering1d_cost(shape, batch, memory_budget, dtype, params)


# --------------------------------------------------------------------------------------------
# Scattering1D
# --------------------------------------------------------------------------------------------

def padded_length_fast(N: int, T: int) -> int:
    """`engine._params.padded_length` ``(N, T)`` without an ``N``-point filter: the low-pass's
    temporal support is measured on a grid of ``64 T`` points (or ``N`` if shorter), where
    its Gaussian impulse response (standard deviation ``T / (2 pi sigma0)``, about ``1.6 T``)
    has long decayed below the criterion, so the support is the same integer."""
    n = min(N, 1 << max(1, (64 * T - 1).bit_length()))
    if n == N:
        return _params.padded_length(N, T)
    min_to_pad = 3 * temporal_support(gauss_1d(n, SIGMA0 / T)[None], criterion=1e-3)
    J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                int(math.floor(math.log2(3 * N - 2))))
    return 2**J_pad


@dataclass(frozen=True)
class _Order2:
    k2: int        # extra log2 subsampling after psi2
    grid: int      # len(n1s) * len(n2s): folded rows
    valid: int     # rows kept (j1 < j2)
    phi: bool      # averaged (local)


@dataclass(frozen=True)
class _Group:
    k1: int
    n1: int                     # first-order wavelets in the group
    phi: bool
    order2: tuple[_Order2, ...]


@dataclass(frozen=True)
class _Structure:
    """The N-independent shape of a Scattering1D: its groups and channels."""

    groups: tuple[_Group, ...]
    channels: int
    paths: tuple[tuple[int, ...], ...]   # for unaveraged outputs: resolution per path
    levels: tuple[int, ...]              # log2 subsampling of each path's output
    average: object
    log2_stride: int
    T: int
    max_level: int


@lru_cache(maxsize=64)
def _structure(J, Q, T, stride, max_order, oversampling, filterbank) -> _Structure:
    """The structure of Scattering1D(J, Q, T, ...) read from a module of ``2**J`` samples
    (its groups and channels do not depend on the length: the wavelets' subsampling ``j``
    depends on their centre and width only)."""
    from engine.scattering1d import Scattering1D

    n = 2**J
    if isinstance(T, int) and not isinstance(T, bool):
        n = max(n, T)
    S = Scattering1D(J, n, Q=Q, T=T, stride=stride, max_order=max_order,
                     oversampling=oversampling, out_type="list" if T == 0 else "array",
                     filterbank=filterbank)
    groups = tuple(_Group(g["k1"], len(g["n1"]), g["phi"] is not None, tuple(
        _Order2(o["k2"], len(g["n1"]) * len(o["n2"]),
                len(o["n2"]) * len(g["n1"]) if o["valid"] is None
                else len(getattr(S, o["valid"])), o["phi"] is not None)
        for o in g["order2"])) for g in S._groups)
    # output resolution of each computed block, in `_scatter_blocks`' order
    levels = [S.log2_stride if S._s0 is not None else 0]
    for g in S._groups:
        levels.append(S.log2_stride if g["phi"] else g["k1"])
        levels += [S.log2_stride if o["phi"] else g["k1"] + o["k2"] for o in g["order2"]]
    paths = tuple((len(p),) for p in S._paths)
    block_levels = []
    for lvl, block in zip(levels, S._blocks):
        block_levels += [lvl] * len(block)
    return _Structure(groups, len(S._paths), paths, tuple(block_levels), S.average,
                      S.log2_stride, S.T, max(S.log2_T, S.J) + 1)


def _fft_flops(rows: int, n: int) -> float:
    return 5.0 * rows * n * math.log2(max(n, 2))


def _scattering1d_cost(N, B, budget, dtype, params) -> Cost:
    unknown = sorted(set(params) - set(_S1D_ARGS))
    if unknown:
        raise TypeError(f"Unknown Scattering1D argument(s) {unknown}; the constructor takes "
                        f"{', '.join(_S1D_ARGS)}.")
    if "J" not in params:
        raise TypeError("estimate_cost('scattering1d', ...) needs J (Scattering1D's J).")
    if isinstance(batch := B, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer; got {B!r}.")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}.")
    N = _params.parse_shape(shape := N)
    J = _params.parse_J(params["J"], N)
    Q = _params.parse_Q(params.get("Q", 1))
    T_arg = params.get("T")
    T, average = _params.parse_T(T_arg, J, N)
    _params.parse_out_type(params.get("out_type", "array"), average)
    if "filterbank" in params:
        from engine.filterbank import get_design
        get_design(params["filterbank"])
    st = _structure(J, Q, T_arg, params.get("stride"), params.get("max_order", 2),
                    params.get("oversampling", 0), params.get("filterbank", "kymatio"))
    del shape
    Np = padded_length_fast(N, T)
    pad_left, _ = _params.compute_padding(Np, N)
    starts, ends = _params.border_indices(st.max_level, pad_left, pad_left + N)
    s = torch.empty((), dtype=dtype).element_size()
    chunk_bytes = int(params.get("chunk_bytes", 8 * 2**20))
    threads = max(1, torch.get_num_threads())

    # the output
    if st.average == "global":
        lengths = [1] * len(st.levels)
    else:
        lengths = [ends[lvl] - starts[lvl] for lvl in st.levels]
    out_bytes = B * sum(lengths) * s
    out_shape = (B, st.channels, max(lengths))
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
        step = max(1, per_worker // (values * cb))
        for a in range(0, B, step):
            b = min(step, B - a)
            task_peaks.append(_task_peak(g, b, m1, m_out, s, st.average))
        # flops of the whole group over the batch
        flops += _fft_flops(B * g.n1, m1) * 2 + 8 * B * g.n1 * m1
        uncropped += B * g.n1 * (m_out if g.phi else m1) * s
        for o in g.order2:
            m2 = m1 >> o.k2
            flops += _fft_flops(B * o.valid, m2) * (2 if o.phi else 1) + 8 * B * o.grid * m2
            if o.phi:
                flops += _fft_flops(B * o.valid, m_out)
            uncropped += B * o.valid * (m_out if o.phi else m2) * s
    if st.average == "global":
        uncropped = B * st.channels * s
    task_peaks.sort(reverse=True)
    running = sum(t for t, _ in task_peaks[:workers])
    # the fullest moment: all tasks' buffers while the largest run, or the final copies
    # (outputs as returned, their concatenation and its reordering: `_format`)
    during = xp + spec0 + s0 + running + uncropped
    final = xp + uncropped + (2 * out_bytes if st.average else 0)
    retained = RETAINED_ROWS * xp
    peak = int(max(during + retained, final) + OVERHEAD_BYTES)
    if budget is not None and peak > budget:
        raise BudgetError(
            f"Scattering1D(J={J}, Q={Q}) on {B} x {N} samples needs about "
            f"{peak / 2**20:.0f} MiB, over the memory budget of {budget / 2**20:.0f} MiB; the "
            f"minimum budget for this call is {peak} bytes. Raise memory_budget, shorten the "
            f"signal or the batch.", minimum_bytes=peak)
    seconds = flops / FLOPS_PER_SECOND[dtype] + SECONDS_PER_TASK * len(task_peaks)
    return Cost(peak, int(out_bytes), out_shape, seconds, budget)


def _task_peak(g: _Group, b: int, m1: int, m_out: int, s: int, average) -> int:
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
    return sum(scratch.values()) + fresh_peak, fresh_peak
