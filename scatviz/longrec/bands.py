"""The ``"bands"`` coarse scalogram of `scatviz.longrec.overview`: each column's RMS of
``x * psi1`` for every first-order wavelet of the engine's filter bank, from Hann frames.

Frames of ``frame`` samples at hop ``frame / 2`` (centred on samples ``0, hop, 2 hop, ...``;
zeros beyond the ends) are Fourier transformed; their power ``|X(f)|**2`` weighted by each
wavelet's squared frequency response ``|psi1_hat(f)|**2`` (`engine.build_filterbank`) and
divided by ``frame * sum(window**2)`` is, by Parseval, the frame's mean of ``|x * psi1|**2``.
`BandAccumulator` sums these per column of the overview as blocks of the recording arrive and
returns the root of each column's mean.

>>> acc = BandAccumulator(n=8000, spc=1000, frame=1024, J=5, Q=2, sample_rate=8000)
>>> acc.feed(np.zeros(8000, np.float32), last=True)
>>> acc.result().shape
(11, 8)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from engine import build_filterbank

__all__ = ["BandAccumulator", "band_weights"]


@lru_cache(maxsize=8)
def band_weights(frame: int, J: int, Q: int, sample_rate: float
                 ) -> tuple[torch.Tensor, np.ndarray]:
    """``|psi1_hat|**2`` of the first-order wavelets on the ``frame``-point FFT grid, ``(F,
    K)`` for ``F = frame // 2 + 1`` bins (the wavelets are analytic: nothing above), columns
    low to high frequency, and their centre frequencies (Hz)."""
    bank = build_filterbank(frame, J, (Q, 1), frame)
    xi = np.array([p.xi for p in bank.psi1])
    order = np.argsort(xi)
    F = frame // 2 + 1
    W = np.stack([np.abs(bank.psi1[k].response[:F]) ** 2 for k in order], axis=1)
    return torch.from_numpy(W.astype(np.float32)), xi[order] * sample_rate


class BandAccumulator:
    """The ``"bands"`` accumulator: frames of ``frame`` samples at hop ``frame / 2``, centred
    on samples ``0, hop, 2 hop, ...``, their band powers summed per column."""

    def __init__(self, n: int, spc: int, frame: int, J: int, Q: int, sample_rate: float):
        self.n, self.spc, self.L, self.H = n, spc, frame, frame // 2
        self.weights, self.freqs = band_weights(frame, J, Q, float(sample_rate))
        self.win = torch.hann_window(frame, periodic=True, dtype=torch.float32)
        self.norm = float(frame * (self.win ** 2).sum())
        W, K = -(-n // spc), self.weights.shape[1]
        self.acc = np.zeros((W, K), np.float64)
        self.count = np.zeros(W, np.int64)
        self.buf = np.zeros(frame // 2, np.float32)   # zeros before the first sample
        self.pos = -(frame // 2)                      # sample index of buf[0]

    def feed(self, x: np.ndarray, last: bool = False) -> None:
        buf = np.concatenate([self.buf, x, np.zeros(self.L // 2 if last else 0, np.float32)])
        nf = (len(buf) - self.L) // self.H + 1 if len(buf) >= self.L else 0
        if nf > 0:
            frames = np.lib.stride_tricks.sliding_window_view(buf, self.L)[::self.H][:nf]
            with torch.no_grad():
                spec = torch.fft.rfft(torch.from_numpy(np.ascontiguousarray(frames)) * self.win)
                band = ((spec.real ** 2 + spec.imag ** 2) @ self.weights).numpy()
            centres = self.pos + self.L // 2 + self.H * np.arange(nf)
            keep = (centres >= 0) & (centres < self.n)
            cols = centres[keep] // self.spc
            np.add.at(self.acc, cols, band[keep])
            np.add.at(self.count, cols, 1)
        self.buf = buf[nf * self.H:].copy()
        self.pos += nf * self.H

    def result(self) -> np.ndarray:
        """``(K, W)`` float32: each column's RMS of ``x * psi1`` per wavelet (low to high);
        a column narrower than the hop takes its nearest frame's value."""
        have = np.flatnonzero(self.count)
        cols = np.arange(len(self.count))
        near = have[np.clip(np.searchsorted(have, cols), 0, len(have) - 1)]
        mean = self.acc[near] / self.count[near, None]
        return np.sqrt(mean / self.norm).T.astype(np.float32)
