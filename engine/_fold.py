"""Filtering followed by subsampling, done in the Fourier domain on the bins that matter.

Kymatio computes a subsampled band-pass output as ``ifft(periodise(X * h, r))``: multiply the
whole spectrum, then average its ``r`` periods. For a band-limited ``h`` almost all of those
products are zeros. A *fold plan* precomputes, for each output bin ``m``, the few input bins
``m + q M_out`` where ``h`` is non-negligible, with the filter values already scaled by
``1 / r``, so that the same result costs one gather and one multiply per kept bin.

The input is the half spectrum (``rfft``) of a real signal: bins above Nyquist are read as
conjugates of their mirror, which the plan encodes as a sign on the imaginary weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Blocks whose largest filter value is below this fraction of the filter's peak are skipped.
#: Morlet and Gaussian tails fall from 1e-12 to 1e-20 within a few bins of any block edge,
#: so this changes results by far less than float32 rounding.
BLOCK_THRESHOLD = 1e-12


@dataclass
class FoldPlan:
    """Gather indices and weights for ``Y[..., m] = sum_q X[..., idx[q, m]] * w[q, m]``.

    ``idx``: int64 ``(F, nq, M)`` into the half spectrum; ``w_re``, ``w_im``: float64
    ``(F, nq, M)``, where ``w_im`` carries the conjugation sign. ``F`` filters, ``M`` output
    bins (``M_out`` for a complex output, ``M_out // 2 + 1`` for a real one).
    """

    idx: np.ndarray
    w_re: np.ndarray
    w_im: np.ndarray


def fold_plan(filters: list[np.ndarray], m_out: int, half: bool,
              threshold: float = BLOCK_THRESHOLD) -> FoldPlan:
    """Plan the filtering of a real signal's spectrum by each of ``filters`` (real responses
    of one length ``M_in``) and the periodisation of the product to ``m_out`` bins.

    ``half=True`` plans only the bins ``0..m_out // 2`` (the output is real, read back with
    ``irfft``); ``half=False`` plans all ``m_out`` bins (complex output, read with ``ifft``).
    """
    m_in = filters[0].shape[0]
    r = m_in // m_out
    cols = np.arange(m_out // 2 + 1 if half else m_out)
    plans = []
    for h in filters:
        blocks = h.reshape(r, m_out)[:, cols]
        peak = np.abs(h).max()
        keep = np.flatnonzero(np.abs(blocks).max(axis=1) > threshold * peak)
        f = keep[:, None] * m_out + cols[None, :]            # input bins, (nq, M)
        mirrored = f > m_in // 2
        idx = np.where(mirrored, m_in - f, f)
        w = blocks[keep] / r
        plans.append((idx, w, np.where(mirrored, -w, w)))
    nq = max(p[0].shape[0] for p in plans)

    def stack(i):
        out = np.zeros((len(plans), nq, cols.size), dtype=plans[0][i].dtype)
        for n, p in enumerate(plans):
            out[n, : p[i].shape[0]] = p[i]
        return out
    return FoldPlan(stack(0), stack(1), stack(2))


def apply_fold(spec: torch.Tensor, idx: torch.Tensor, w_re: torch.Tensor,
               w_im: torch.Tensor) -> torch.Tensor:
    """Apply a plan to half spectra ``spec`` of shape ``(..., M_in // 2 + 1)``.

    ``idx``, ``w_re``, ``w_im`` broadcast against the batch: ``(F, nq, M)`` or ``(nq, M)``.
    Returns the complex folded spectrum ``(..., F, M)`` or ``(..., M)``.
    """
    re = spec.real[..., idx]
    im = spec.imag[..., idx]
    if idx.shape[-2] == 1:
        return torch.complex((re * w_re).squeeze(-2), (im * w_im).squeeze(-2))
    return torch.complex((re * w_re).sum(-2), (im * w_im).sum(-2))
