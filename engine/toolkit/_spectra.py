"""Measurements on a family's frequency responses that the checks and `lp_sum` share: peak
frequencies, bandwidths, runs of regular spacing, and the names of filters in a message."""

from __future__ import annotations

import math

import numpy as np


def _peak_freqs(mag: np.ndarray) -> np.ndarray:
    """Signed peak frequencies (cycles/sample) of ``|psi_f|`` ``(K, N)``, refined by a
    parabola on the log magnitude (exact for Gaussians)."""
    K, N = mag.shape
    i = np.argmax(mag, axis=1)
    rows = np.arange(K)
    tiny = 1e-300
    lm = np.log(mag[rows, (i - 1) % N] + tiny)
    l0 = np.log(mag[rows, i] + tiny)
    lp = np.log(mag[rows, (i + 1) % N] + tiny)
    denom = lm - 2 * l0 + lp
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(denom < 0, 0.5 * (lm - lp) / denom, 0.0)
    delta = np.clip(np.nan_to_num(delta), -0.5, 0.5)
    f = (i + delta) / N
    return np.where(f >= 0.5, f - 1.0, f)


def _bandwidths(mag: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """-3 dB bandwidths (cycles/sample): the width of the contiguous region around each
    peak where ``|psi| >= peak / sqrt(2)``, with linear interpolation at both edges."""
    K, N = mag.shape
    out = np.empty(K)
    for k in range(K):
        m = mag[k]
        i0 = int(round(peaks[k] * N)) % N
        level = m[i0] / math.sqrt(2)
        edges = []
        for step in (1, -1):
            j = i0
            for _ in range(N // 2):
                nxt = (j + step) % N
                if m[nxt] < level:
                    frac = (m[j] - level) / max(m[j] - m[nxt], 1e-300)
                    edges.append(step * ((j - i0) * step + frac))
                    break
                j = nxt
            else:
                edges.append(step * N / 2)
        out[k] = (edges[0] - edges[1]) / N
    return out


def _spacing_runs(peaks: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (over filters sorted by peak) of filters lying in a geometric or a
    linear run: consecutive triples whose ratios (resp. differences) agree within ``tol``."""
    n = len(peaks)
    geo = np.zeros(n, bool)
    lin = np.zeros(n, bool)
    for i in range(n - 2):
        a, b, c = peaks[i], peaks[i + 1], peaks[i + 2]
        d1, d2 = b - a, c - b
        if d1 > 0 and d2 > 0:
            # a triple close to both (a slow progression) goes to the better fit
            g_err = abs(math.log(b / a) / math.log(c / b) - 1)
            l_err = abs(d1 / d2 - 1)
            if g_err <= tol and g_err <= l_err:
                geo[i:i + 3] = True
            elif l_err <= tol:
                lin[i:i + 3] = True
    return geo, lin


def _names(idx) -> str:
    idx = list(idx)
    shown = ", ".join(str(i) for i in idx[:12])
    return shown + (f", ... ({len(idx)} in all)" if len(idx) > 12 else "")
