"""The ``"tight"`` filter bank: analytic, compactly supported, energy-conserving wavelets.

Kymatio's Morlet bank is close to, but not, what JTFS needs: its wavelets leak into negative
frequencies (so the frequential spins mix), its Littlewood-Paley (LP) sum swings between 0.45
and 1.13 (so energy is not conserved) and its Gaussians never vanish (so every subsampling
aliases a little). This design keeps Kymatio's centre frequencies (`kymatio_frequencies`: same
number of filters, same ``xi`` and ``sigma`` in `meta()`) and replaces the filter shapes by a
smooth partition of unity:

* **Low-pass.** ``phi(w) = cos(pi/2 nu(|w| / b))`` with ``nu`` a smooth step from 0 to 1
  on ``[0, 1]`` (a normalised erf). It is exactly 1 at DC, exactly 0 beyond ``b``, and
  ``phi^2 = 1/2`` at ``b / 2``, which we place where Kymatio's Gaussian of width
  ``sigma0 / T`` has its half power: ``b = 2 sqrt(ln 2) sigma0 / T``. Because
  ``b <= 0.5 / T``, subsampling by ``T`` does not alias at all.
* **Wavelets.** On ``w > 0`` the complement ``H(w)^2 = 1 - phi(w)^2`` (times a taper to 0
  over the last ``delta`` below Nyquist, see below) is split between the wavelets by
  neighbouring pairs: between two consecutive centres ``c_{n+1} < w < c_n`` the weights are
  ``sin^2(pi/2 nu(t))`` and ``cos^2(pi/2 nu(t))`` with ``t`` the position of ``w`` between
  them on a log axis. So ``psi_n`` lives on ``[c_{n+1}, c_{n-1}]`` (the top one extends to
  Nyquist, the lowest one down to DC, where ``H`` takes it smoothly to 0), neighbours cross
  at ``1/sqrt 2`` of their peak like Kymatio's (``r_psi``), and every filter is smooth,
  so it decays fast in time.
* **Analytic.** ``psi_n(w) = 0`` for ``w <= 0``: exactly zero at DC and for every negative
  frequency.
* **Normalisation.** For a real signal ``x``, ``|X(w)| = |X(-w)|``, so ``||x * psi||^2``
  weighs ``|X|^2`` by ``(|psi(w)|^2 + |psi(-w)|^2) / 2``. The LP condition that conserves
  energy for real inputs is therefore ``phi(w)^2 + 1/2 sum_n (|psi_n(w)|^2 +
  |psi_n(-w)|^2) = 1``; analytic wavelets meet it with a peak of ``sqrt 2`` (``gain``).
  With ``gain=1`` the same shapes satisfy ``phi^2 + sum_n (|psi_n(w)|^2 + |psi_n(-w)|^2)
  = 1``, the condition for complex inputs when each wavelet is used with both spins: that is
  the frequential bank of JTFS.
* **Nyquist.** A wavelet that stays at its peak up to Nyquist would jump to 0 at the
  negative side of the (periodic) frequency axis and ring like a sinc in time. The
  complement is tapered smoothly to 0 over ``[0.5 - delta, 0.5]`` (``delta = 0.02``): the
  only energy the bank does not conserve, ``delta`` of white noise's energy (2 %), none for
  signals below ``0.48`` cycles per sample.

The subsampling ``j`` of a wavelet follows from its exact upper edge ``u``:
``j = floor(-log2 u) - 1`` (its support stays under the subsampled Nyquist).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from engine._sparse import Sparse, unique_sorted
from engine.design import Design
from engine.morlet import SIGMA0, kymatio_frequencies

__all__ = ["smooth_step", "tight_lowpass", "tight_wavelets", "lowpass_cutoff",
           "NYQUIST_TAPER", "FREQUENTIAL_CROSSFADE", "tight_design", "TightDesign"]

#: Width (cycles per sample) of the taper that takes the wavelets to 0 at Nyquist.
NYQUIST_TAPER = 0.02
#: Half-width (cycles per bin) of the crossfade between spins at the frequential Nyquist.
FREQUENTIAL_CROSSFADE = 0.1


#: Steepness of `smooth_step`: its kinks at 0 and 1 are ~1e-4 of its slope, and its Fourier
#: transform decays like a Gaussian, so filters built with it are short in time.
STEP_ALPHA = 6.0


def smooth_step(t: np.ndarray) -> np.ndarray:
    """Smooth step: exactly 0 for ``t <= 0`` and 1 for ``t >= 1``, ``nu(t) + nu(1 - t) = 1``;
    a normalised error function in between."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    e = erf(STEP_ALPHA / 2)
    return (erf(STEP_ALPHA * (t - 0.5)) + e) / (2 * e)


def lowpass_cutoff(T: float) -> float:
    """Frequency (cycles per sample) beyond which the low-pass of support ``T`` is exactly 0."""
    return 2.0 * math.sqrt(math.log(2.0)) * SIGMA0 / T


def tight_lowpass(N: int, T: float) -> np.ndarray:
    """Real, even, compactly supported low-pass of support ``T`` on the FFT grid of ``N``.

    ``phi(0) = 1``, ``phi(w) = 0`` for ``|w| >= lowpass_cutoff(T)``. Shape ``(N,)``.

    >>> phi = tight_lowpass(256, 8); float(phi[0]), float(phi[128])
    (1.0, 0.0)
    """
    w = np.abs(np.fft.fftfreq(N))
    b = lowpass_cutoff(T)
    return np.where(w < b, np.cos(0.5 * np.pi * smooth_step(w / b)), 0.0)


#: Half-width of each wavelet's bump on the log-frequency axis, in units of its width ``s``.
BUMP_HALF_WIDTH = 4.0


def _log_widths(centres: np.ndarray, sigmas: np.ndarray | None) -> np.ndarray:
    """Width ``s_n`` of each bump on the ``ln w`` axis: ``sigma_n / xi_n`` (Kymatio's
    relative bandwidth), or, without sigmas, the width at which neighbours cross at
    ``1/sqrt 2``."""
    if sigmas is not None:
        return np.asarray(sigmas, dtype=float) / centres
    gaps = -np.diff(np.log(centres))
    gaps = np.concatenate([gaps[:1], gaps]) if gaps.size else np.array([math.log(2)])
    return gaps / (2 * math.sqrt(math.log(2)))


def tight_wavelets(N: int, centres: list[float], T: float, gain: float = math.sqrt(2),
                   sigmas: list[float] | None = None, delta: float = NYQUIST_TAPER,
                   crossfade: bool = False) -> np.ndarray:
    """Analytic wavelets centred at ``centres`` (decreasing, cycles per sample) that
    complement `tight_lowpass` ``(N, T)`` to a tight frame (see the module docstring).

    Returns ``(len(centres), N)`` real responses on the FFT grid, zero for ``w <= 0``.
    With ``gain = sqrt 2``: ``phi^2 + 1/2 sum |psi|^2 = 1`` on ``(0, 0.5 - delta)``.

    ``crossfade=True`` (for a bank used with both spins, ``gain = 1``): instead of tapering
    to 0 at Nyquist, the wavelets fade out over ``[0.5 - delta, 0.5 + delta]`` (the part
    beyond 0.5 wraps to ``[-0.5, -0.5 + delta]``) while their mirrors fade in, so that
    ``phi^2 + sum |psi(w)|^2 + |psi(-w)|^2 = 1`` holds everywhere, with smooth filters. Near
    Nyquist, up and down cannot be told apart anyway.
    """
    c = np.asarray(centres, dtype=float)
    if c.ndim != 1 or c.size == 0 or np.any(np.diff(c) >= 0) or c[-1] <= 0 or c[0] >= 0.5:
        raise ValueError(f"centres must decrease strictly within (0, 0.5); got {centres}.")
    w = np.fft.fftfreq(N)
    if crossfade:                       # frequencies just past Nyquist, wrapped to -0.5
        w = np.where(w < -0.5 + delta, w + 1.0, w)
    pos = w > 0
    out = np.zeros((c.size, N))
    out[:, pos] = _tight_values(w[pos], c, T, gain, sigmas, delta, crossfade)
    return out


def _tight_values(wp: np.ndarray, c: np.ndarray, T: float, gain: float, sigmas, delta: float,
                  crossfade: bool) -> np.ndarray:
    """`tight_wavelets` at positive frequencies ``wp``: ``(len(c), len(wp))``. Every column
    depends on its own frequency only, so any subset of the grid gives the same values."""
    s = _log_widths(c, sigmas)
    # Raw bumps: Gaussians on ln w, smoothly cut to 0 between BUMP_HALF_WIDTH - 2 and
    # BUMP_HALF_WIDTH widths. The top one levels off to 1 above its centre and the lowest one
    # below its centre (smoothly: a softplus in place of |x|), so they extend to Nyquist and
    # to DC, where H takes over.
    x = (np.log(wp)[None, :] - np.log(c)[:, None]) / s[:, None]
    cut = np.cos(0.5 * np.pi * smooth_step((np.abs(x) - (BUMP_HALF_WIDTH - 2.0)) / 2.0))
    raw = np.exp(-0.5 * x**2) * cut
    raw[0] = np.exp(-0.5 * np.logaddexp(0.0, -x[0]) ** 2) * np.where(x[0] < 0, cut[0], 1.0)
    raw[-1] = np.exp(-0.5 * np.logaddexp(0.0, x[-1]) ** 2) * np.where(x[-1] > 0, cut[-1], 1.0)
    share = raw / np.sqrt((raw**2).sum(axis=0))[None, :]
    h_low = np.sin(0.5 * np.pi * smooth_step(wp / lowpass_cutoff(T)))
    if crossfade:
        h_top = np.cos(0.5 * np.pi * smooth_step((wp - (0.5 - delta)) / (2 * delta)))
    else:
        h_top = np.cos(0.5 * np.pi * smooth_step((wp - (0.5 - delta)) / delta))
    return gain * (h_low * h_top)[None, :] * share


def upper_edge(n: int, centres: list[float], sigmas: list[float] | None = None) -> float:
    """Upper edge of the support of wavelet ``n`` (Nyquist for the top one)."""
    if n == 0:
        return 0.5
    c = np.asarray(centres, dtype=float)
    s = _log_widths(c, sigmas)[n]
    return float(min(0.5, c[n] * math.exp(BUMP_HALF_WIDTH * s)))


def subsampling(n: int, centres: list[float], sigmas: list[float] | None = None) -> int:
    """log2 of the largest subsampling that keeps wavelet ``n`` under the new Nyquist."""
    return max(0, int(math.floor(-math.log2(upper_edge(n, centres, sigmas)))) - 1)


def tight_family(N: int, J: int, Q: int, T: float, gain: float = math.sqrt(2)):
    """``[(xi, sigma, j, response)]`` of one wavelet family (Kymatio's centres, tight shapes)."""
    freqs = list(kymatio_frequencies(J, Q))
    centres = [xi for xi, _ in freqs]
    sigmas = [sg for _, sg in freqs]
    psi = tight_wavelets(N, centres, T, gain=gain, sigmas=sigmas)
    return [(xi, sigma, subsampling(n, centres, sigmas), psi[n])
            for n, (xi, sigma) in enumerate(freqs)]


def tight_design(N, J, Q, T):
    """The ``"tight"`` time filters (see `engine.design.Design.time_filters`)."""
    phi = tight_lowpass(N, T)
    return (SIGMA0 / T, phi), tight_family(N, J, Q[0], T), tight_family(N, J, Q[1], T)


#: Bins per block when the compact bank is built (a block of all wavelets is ~8 MB at 128).
_BLOCK_BINS = 8192


def tight_lowpass_sparse(N: int, T: float) -> Sparse:
    """`tight_lowpass` ``(N, T)`` on its support (``|w| < lowpass_cutoff(T)``), the same
    values."""
    b = lowpass_cutoff(T)
    k = np.arange(int(math.ceil(b * N)) + 2)
    k = k[k * (1.0 / N) < b]                              # fftfreq's values: k * (1 / N)
    idx = unique_sorted(np.concatenate([k, (N - k[1:]) % N]))
    freq = np.where(idx <= (N - 1) // 2, idx, idx - N) * (1.0 / N)
    w = np.abs(freq)
    return Sparse(N, idx, np.where(w < b, np.cos(0.5 * np.pi * smooth_step(w / b)), 0.0))


def tight_family_sparse(N: int, J: int, Q: int, T: float, gain: float = math.sqrt(2)):
    """`tight_family` with `Sparse` responses, built ``_BLOCK_BINS`` positive frequencies at
    a time (the same values: every bin depends on its own frequency only)."""
    freqs = list(kymatio_frequencies(J, Q))
    c = np.asarray([xi for xi, _ in freqs], dtype=float)
    sigmas = [sg for _, sg in freqs]
    idx, val = [[] for _ in freqs], [[] for _ in freqs]
    floor = 1e-22 * gain                 # the STORE_THRESHOLD of a peak near gain, or below
    for a in range(1, (N - 1) // 2 + 1, _BLOCK_BINS):
        k = np.arange(a, min(a + _BLOCK_BINS, (N - 1) // 2 + 1))
        block = _tight_values(k * (1.0 / N), c, T, gain, sigmas, NYQUIST_TAPER, False)
        for n, row in enumerate(block):
            keep = np.abs(row) > floor
            if keep.any():
                idx[n].append(k[keep])
                val[n].append(row[keep])
    out = []
    for n, (xi, sigma) in enumerate(freqs):
        i = np.concatenate(idx[n]) if idx[n] else np.zeros(0, dtype=np.int64)
        v = np.concatenate(val[n]) if val[n] else np.zeros(0)
        out.append((xi, sigma, subsampling(n, list(c), sigmas), Sparse.trimmed(N, i, v)))
    return out


class TightDesign(Design):
    """The ``"tight"`` design: in time, `tight_lowpass` and analytic `tight_wavelets`
    (``gain = sqrt 2``); along ``n1``, the same shapes with ``gain = 1`` and a crossfade
    between spins at the frequential Nyquist (`FREQUENTIAL_CROSSFADE`), so that the
    frequential bank with both spins is a tight frame for complex inputs. Compactly
    supported (`lowpass_cutoff`)."""

    name = "tight"
    compact = True

    def time_filters(self, N, J, Q, T):
        return tight_design(N, J, Q, T)

    def compact_time_filters(self, N, J, Q, T):
        return ((SIGMA0 / T, tight_lowpass_sparse(N, T)), tight_family_sparse(N, J, Q[0], T),
                tight_family_sparse(N, J, Q[1], T))

    def lowpass(self, N, T):
        return tight_lowpass(N, T)

    def frequential_filters(self, J_fr, Q_fr, L):
        freqs = list(kymatio_frequencies(J_fr, Q_fr))
        centres = [xi for xi, _ in freqs]
        sigmas = [sg for _, sg in freqs]
        psi = tight_wavelets(L, centres, 2**J_fr, gain=1.0, sigmas=sigmas,
                             delta=FREQUENTIAL_CROSSFADE, crossfade=True)
        js = [subsampling(n, centres, sigmas) for n in range(len(centres))]
        return freqs, psi, js

    def lowpass_cutoff(self, width):
        return lowpass_cutoff(width)
