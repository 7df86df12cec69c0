"""The psi_t branches' frequential stage in time blocks, exact, in memory bounded by a budget.

Unstreamed, a psi_t branch (`engine.jtfs.forward._ForwardPass._frequential`) holds the moduli
of every frequential filter at every time sample of ``Y2``, ``rows x M`` values, before the
time low-pass ``phi_t`` averages them; that array, and its ``rfft``, are most of JTFS's memory at
long ``N`` (at N = 2^20, J=12 Q=16 J_fr=5 F=16, about 1 GB for the finest ``n2``).

The low-pass cannot be cut into time blocks as such: the ``"tight"`` ``phi_t`` is compact in
frequency, so its impulse response decays only polynomially (its tail above 1e-4 of its peak
spans the whole padded axis). But because it is compact (or, for Gaussians, negligible beyond
``f_pass``), ``phi_t = phi_t * h`` for any low-pass ``h`` that is exactly 1 up to ``f_pass``:
the averaging equals ``phi_t`` applied to ``h * v`` -- and ``h * v`` may be decimated by
``D = 2**d`` without aliasing when ``h`` is zero beyond ``1 / (2 D)``. ``h`` (`prefilter`) has
a C-infinity transition from ``f_pass`` to ``1 / (2 D)``, so its impulse response decays faster
than any power: ``R`` samples of margin hold it to `PREFILTER_TAIL` of its peak. So:

* per block of ``P`` samples of ``Y2`` (``P - 2 R`` new ones, ``R`` of margin each side, read
  circularly as the unstreamed FFTs do), the pointwise frequential stage (FFT along ``n1``,
  filters, modulus, frequential averaging), then ``h`` on the block's spectrum and the
  decimation by ``D``; the block's central ``(P - 2 R) / D`` samples are kept;
* on the decimated rows (``D`` times fewer samples), ``phi_t``'s own plan at resolution
  ``2**(k2 + d)`` (`_phi_plan`): the same low-pass, periodised where it has no support.

The results equal the unstreamed ones up to ``h``'s truncated tail (relative 1e-10) and
rounding. With gradients each block is checkpointed (`torch.utils.checkpoint`): recomputed in
the backward pass, so that the forward and backward passes keep one block's intermediates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.utils.checkpoint

__all__ = ["StreamPlan", "prefilter", "PREFILTER_TAIL", "STREAM_SHARE"]

#: A branch streams when its unstreamed rows (held twice, with their rfft) would take more
#: than ``memory_budget / STREAM_SHARE``. Streaming costs time (about 2x for that branch at
#: N = 2^16, measured under load), so short signals keep the unstreamed path.
STREAM_SHARE = 2

#: The prefilter's margin ``R`` holds its impulse response to this fraction of its peak.
PREFILTER_TAIL = 1e-11
#: A block is at least this many margins long (the margins' recomputed share <= 2 / 8).
BLOCK_MARGINS = 8


@dataclass
class StreamPlan:
    """How a psi_t branch at resolution ``2**k2`` is streamed: decimation ``2**d``, margin
    ``R`` and block length ``P`` (samples at ``2**k2``), ``H`` the name of the prefilter's
    buffer (``P // (2 D) + 1`` bins of the block's half spectrum, over ``D``), ``batch`` the
    signals streamed together (a block's intermediates grow with them: a call streams its
    batch in groups of ``batch`` signals, so that a block stays within the share of the
    budget it was sized for, whatever the call's batch)."""

    d: int
    R: int
    P: int
    H: str
    batch: int = 1


def _smooth_step(x: np.ndarray) -> np.ndarray:
    """0 for ``x <= 0``, 1 for ``x >= 1``, C-infinity between."""
    x = np.clip(x, 0.0, 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        a = np.where(x > 0, np.exp(-1.0 / np.maximum(x, 1e-300)), 0.0)
        b = np.where(x < 1, np.exp(-1.0 / np.maximum(1.0 - x, 1e-300)), 0.0)
    return a / (a + b)


def prefilter(f: np.ndarray, f_pass: float, f_stop: float) -> np.ndarray:
    """The prefilter's response at frequencies ``f`` (cycles per sample): 1 up to ``f_pass``,
    0 from ``f_stop``, a C-infinity step between."""
    return 1.0 - _smooth_step((np.abs(f) - f_pass) / (f_stop - f_pass))


def _margin(f_pass: float, f_stop: float) -> int:
    """Samples beyond which the prefilter's impulse response stays under `PREFILTER_TAIL`
    of its peak (on a grid long enough to hold it: 200 transition widths)."""
    n = 1 << int(math.ceil(math.log2(200.0 / (f_stop - f_pass))))
    h = np.abs(np.fft.ifft(prefilter(np.fft.fftfreq(n), f_pass, f_stop)))
    return int(np.flatnonzero(h[:n // 2] > PREFILTER_TAIL * h.max()).max()) + 1


def plan_stream(f_pass: float, d_max: int, M_full: int, block_hint: int):
    """``(d, R, P)`` for a branch whose low-pass has no support beyond ``f_pass`` (cycles per
    sample at its resolution) and whose output stride allows ``2**d_max``, or None when
    streaming would not pay (no decimation of at least 4, or a block as long as the axis).

    ``d`` is the largest with ``1 / 2**(d+1) >= 2 f_pass`` (the transition at least as wide
    as the pass band) and the margin at most ``block_hint / BLOCK_MARGINS``; ``P`` is the power
    of two holding ``BLOCK_MARGINS`` margins, at least ``block_hint``."""
    for d in range(d_max, 1, -1):
        f_stop = 0.5 / 2**d
        if f_stop < 2 * f_pass:
            continue
        R = _margin(f_pass, f_stop)
        R = -(-R // 2**d) * 2**d                               # a whole number of outputs
        P = max(block_hint, 1 << int(math.ceil(math.log2(BLOCK_MARGINS * R))))
        if R * BLOCK_MARGINS > max(block_hint, 2 ** 12) * 2:
            continue
        if P >= M_full:
            return None
        return d, R, P
    return None


def prefilter_bins(f_pass: float, d: int, P: int) -> np.ndarray:
    """The prefilter on the ``P // (2 D) + 1`` lowest bins of a ``P``-sample block, over
    ``D`` (the decimation's scale): what multiplies the block's ``rfft``."""
    D = 2**d
    f = np.arange(P // (2 * D) + 1) / P
    return prefilter(f, f_pass, 0.5 / D) / D


def streamed_rows(pointwise, y: torch.Tensor, window, sp: StreamPlan, H: torch.Tensor,
                  m_full: int | None = None) -> torch.Tensor:
    """``h * v`` decimated by ``2**d``, ``(B, rows, M / D)``, where ``v = pointwise(y)`` are
    the frequential stage's rows of ``y`` ``(B, n, M)`` (zero outside ``window``:
    ``[c0, c1)`` or None), computed block by block. ``pointwise`` maps ``(B, m, n)`` samples
    (time-major) to ``(B, m, rows)``. ``m_full``: ``y`` holds only the window's samples
    ``(B, n, c1 - c0)`` of an axis of ``M = m_full`` (the same result)."""
    B, n, M = y.shape
    if m_full is not None:
        M = m_full
    D, R, P = 2**sp.d, sp.R, sp.P
    step = P - 2 * R                                           # new samples per block
    c0, c1 = window if window is not None else (0, M)
    offset = c0 if m_full is not None else 0
    grad = torch.is_grad_enabled() and y.requires_grad
    blocks = []
    # Without gradients each block is written into one output array (zeros where a block
    # sees only zeros): no list of blocks beside their concatenation.
    out = None
    for a in range(0, M, step):
        keep = min(step, M - a) // D
        idx = torch.arange(a - R, a - R + P, device=y.device) % M
        inside = (idx >= c0) & (idx < c1)
        if window is not None and not bool(inside.any()):
            blocks.append(None)                                # the block sees only zeros
            continue

        sel = idx if m_full is None else (idx - offset).clamp_(0, y.shape[-1] - 1)

        def block(yy, idx=sel, inside=inside, keep=keep):
            yb = yy.index_select(2, idx) * inside.to(yy.real.dtype if yy.is_complex()
                                                     else yy.dtype)
            v = pointwise(yb.transpose(1, 2)).transpose(1, 2)            # (B, rows, P)
            spec = torch.fft.rfft(v)[..., :P // (2 * D) + 1] * H
            w = torch.fft.irfft(spec, n=P // D)
            return w[..., R // D:R // D + keep]

        if grad:
            blocks.append(torch.utils.checkpoint.checkpoint(block, y, use_reentrant=False))
            continue
        w = block(y)
        if out is None:
            total = sum(min(step, M - s) // D for s in range(0, M, step))
            out = w.new_zeros(w.shape[:-1] + (total,))
        t = sum(min(step, M - s) // D for s in range(0, a, step))
        out[..., t:t + w.shape[-1]].copy_(w)
        del w
    if not grad:
        return out
    ref = next(b for b in blocks if b is not None)
    parts = [b if b is not None else ref.new_zeros(ref.shape[:-1] + (min(step, M - a) // D,))
             for b, a in zip(blocks, range(0, M, step))]
    return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
