"""The ``"kymatio"`` design (`KymatioDesign`) and its building blocks, in float64 numpy.

It reproduces Kymatio's (main branch) numbers:

* Morlet wavelets ``psi(w) = g(w - xi) - kappa g(w)`` with a Gaussian ``g`` of width
  ``sigma`` in frequency; ``kappa`` makes ``psi(0) = 0``. The Gaussians are sampled on
  ``2P - 1`` periods of the frequency axis and periodised (the FFT of the sampled filter), then
  normalised to unit L1 norm in time.
* Centre frequencies: constant-Q above an "elbow", ``xi_{n+1} = 2^{-1/Q} xi_n`` from
  ``xi_max = max(1 / (1 + 2^{3/Q}), 0.35)``, with ``sigma`` chosen so that neighbours cross at
  ``r_psi = sqrt(1/2)`` of their peak; below the elbow (once ``sigma`` would fall under
  ``sigma0 / 2^J``), ``Q - 1`` filters linearly spaced towards 0 at constant bandwidth.
* Low-pass: a Gaussian of width ``sigma0 / T``.
* Lower resolutions ("levels") of a filter are its frequency response periodised by *sum*,
  so that subsampled paths keep the energy scaling of Kymatio main (its PR 1005).

The same Morlets and Gaussians, on the ``n1`` axis, are its frequential filters for JTFS.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from engine._sparse import STORE_THRESHOLD, Sparse, unique_sorted
from engine.design import Design

#: Kymatio's constants: crossing ratio of neighbouring wavelets, low-pass width constant and
#: the aliasing tolerance (in units of sigma) used to choose each filter's subsampling.
R_PSI = math.sqrt(0.5)
SIGMA0 = 0.1
ALPHA = 5.0


def periods_needed(sigma: float, eps: float = 1e-7) -> int:
    """Number ``P`` such that a Gaussian of width ``sigma`` sampled on ``[1 - P, P)`` has
    dropped below ``eps`` at both ends: ``exp(-(P - 1)^2 / (2 sigma^2)) <= eps``."""
    return int(math.ceil(math.sqrt(-2.0 * sigma**2 * math.log(eps)) + 1))


def _periodised_gaussian(N: int, centre: float, sigma: float, P: int,
                         out: np.ndarray | None = None) -> np.ndarray:
    """``sum_p exp(-(f + p - centre)^2 / (2 sigma^2))`` on the FFT grid of length ``N``,
    summing ``2P - 1`` periods (the FFT of the Gaussian sampled in time). With ``P = 1`` a
    single period is used: ``fftfreq(N)`` for the low-pass, so that it stays continuous
    around 0, and ``[0, 1)`` for a band-pass centred at ``centre > 0``. Written into ``out``
    (float64, ``(N,)``) when given."""
    if P == 1:
        f = np.fft.fftfreq(N) if centre == 0 else np.arange(N) / N
        return np.exp(-((f - centre) ** 2) / (2 * sigma**2), out=out)
    # Each period only where its term is not exactly 0.0 in float64 (exp(-z) underflows to
    # 0.0 for z > 745.2, i.e. beyond _UNDERFLOW sigma): the same sum, added in the same order,
    # as evaluating every period on the whole grid, for a fraction of the work.
    if out is None:
        out = np.zeros(N)
    else:
        out[:] = 0.0
    reach = _UNDERFLOW * sigma
    for p in range(1 - P, P):
        # bins k with |k / N + p - centre| <= reach
        lo = max(0, math.floor((centre - p - reach) * N))
        hi = min(N, math.ceil((centre - p + reach) * N) + 1)
        if lo < hi:
            f = np.arange(p * N + lo, p * N + hi, dtype=float) / N
            out[lo:hi] += np.exp(-((f - centre) ** 2) / (2 * sigma**2))
    out /= 2 * P - 1
    return out


#: exp(-x^2 / 2) is exactly 0.0 in float64 for |x| above sqrt(2 * 745.2) = 38.61.
_UNDERFLOW = 38.7


def _l1_normalise(h_f: np.ndarray, rows: int = 16) -> np.ndarray:
    """Scale real frequency responses ``(..., N)`` **in place** so that each impulse response
    has unit L1 norm; returns ``h_f`` (float64).

    A real response's impulse response satisfies ``h[N - t] = conj(h[t])``, and
    ``N conj(h[t])`` for ``t <= N/2`` is the ``rfft`` of the response: half the work of the
    full inverse FFT (batched, ``rows`` at a time). In place because the callers build the
    responses for it: a scaled copy of a bank (~10 MB at N=16384) cost ~20 ms of page faults
    per bank on the shared hosts, four times the FFTs."""
    flat = h_f.reshape(-1, h_f.shape[-1])
    N = flat.shape[-1]
    for block, mag in half_time_magnitudes(flat, rows):
        block /= half_magnitude_l1(mag, N)[:, None] / N
    return h_f


def half_time_magnitudes(h_f: np.ndarray, rows: int = 16
                         ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For real frequency responses ``h_f`` ``(K, N)``, ``rows`` at a time: ``(block, mag)``
    with ``block`` a view of those rows and ``mag`` ``(rows, N // 2 + 1)`` equal to ``N |h[t]|``
    for ``t = 0 .. N // 2`` (the modulus of the ``rfft`` of a real response is ``N`` times that
    of its impulse response, and ``|h[N - t]| = |h[t]|``): half the work of the inverse FFT,
    and never a temporary the size of the whole bank."""
    for a in range(0, len(h_f), rows):
        block = h_f[a:a + rows]
        yield block, np.abs(np.fft.rfft(block, axis=-1))


def half_magnitude_l1(mag: np.ndarray, N: int) -> np.ndarray:
    """``sum_t |h[t]|`` over ``t = 0 .. N-1`` from ``|h[t]|``, ``t = 0 .. N//2`` (last axis),
    for ``|h[N - t]| = |h[t]|``."""
    total = 2 * mag.sum(axis=-1) - mag[..., 0]
    return total - mag[..., -1] if N % 2 == 0 else total


def morlet_1d(N: int, xi: float, sigma: float) -> np.ndarray:
    """Frequency response of a Morlet wavelet of centre ``xi`` and width ``sigma``.

    ``psi = g_sigma(. - xi) - kappa g_sigma`` with ``kappa`` such that ``psi(0) = 0`` (zero
    mean), unit L1 norm in time. Shape ``(N,)``, real, float64. `morlets_1d` builds several.

    >>> psi = morlet_1d(1024, 0.25, 0.02); abs(psi[0]) < 1e-12
    True
    """
    return morlets_1d(N, [(xi, sigma)])[0]


def morlets_1d(N: int, params) -> np.ndarray:
    """`morlet_1d` for each ``(xi, sigma)`` of ``params``: ``(len(params), N)``.

    Each row is built in place (no full-length temporaries). The low-pass correction
    ``kappa g_sigma`` is computed only where ``kappa`` is not 0.0: a Gabor filter that is
    exactly 0.0 at frequency 0 in float64 would subtract ``0.0 * g_sigma``, which changes no
    value. That is the case of narrow filters only (at J=6, N=16384: none for Q <= 16, 58 of
    the 73 first-order filters for Q=20)."""
    out = np.empty((len(params), N))
    for i, (xi, sigma) in enumerate(params):
        P = min(periods_needed(sigma), 5)
        gabor = _periodised_gaussian(N, xi, sigma, P, out=out[i])
        if gabor[0] != 0.0:
            low = _periodised_gaussian(N, 0.0, sigma, P)
            gabor -= (gabor[0] / low[0]) * low
    return _l1_normalise(out)


#: Candidate bins of a sparse Gaussian reach this many widths from its centre (its terms
#: there are below 1e-22 of its peak, under `STORE_THRESHOLD`).
_SPARSE_REACH = math.sqrt(2 * math.log(1e22))


def _gaussian_terms(N: int, idx: np.ndarray, centre: float, sigma: float, P: int
                    ) -> np.ndarray:
    """`_periodised_gaussian` ``(N, centre, sigma, P >= 2)`` at the bins ``idx`` only: the
    same terms, added in the same order, so the same float64 values."""
    out = np.zeros(len(idx))
    reach = _UNDERFLOW * sigma
    for p in range(1 - P, P):
        lo = max(0, math.floor((centre - p - reach) * N))
        hi = min(N, math.ceil((centre - p + reach) * N) + 1)
        a, b = np.searchsorted(idx, [lo, hi])
        if a < b:
            f = (idx[a:b] + p * N).astype(float) / N
            out[a:b] += np.exp(-((f - centre) ** 2) / (2 * sigma**2))
    out /= 2 * P - 1
    return out


def _near(N: int, centre: float, half_width: float, P: int) -> list[np.ndarray]:
    """Bins ``k`` of the grid with ``|k / N + p - centre| <= half_width`` for some period
    ``p`` of ``1 - P .. P - 1``."""
    parts = []
    for p in range(1 - P, P):
        lo = max(0, math.ceil((centre - p - half_width) * N))
        hi = min(N, math.floor((centre - p + half_width) * N) + 1)
        if lo < hi:
            parts.append(np.arange(lo, hi))
    return parts


#: Up to this length, a sparse filter's L1 norm is computed on the full grid, as
#: `morlets_1d` does (bit-identical values); beyond, on `_coarse_grid`.
EXACT_NORM_MAX = 2**16


def _coarse_grid(N: int, sigma: float) -> int:
    """The grid length ``M`` on which to take the L1 norm in time of a Gaussian-shaped filter
    of width ``sigma``: ``N`` up to `EXACT_NORM_MAX`, else the shortest power of two dividing
    ``N`` whose half holds the impulse response (its envelope ``exp(-2 pi^2 sigma^2 t^2)`` is
    below 1e-24 at ``t = M / 2``). The norms agree to the rounding noise of the full grid's
    (about ``N * 1e-16`` relative: its tail samples are rounding noise, summed in modulus)."""
    need = 2 * math.sqrt(math.log(1e24) / 2) / (math.pi * sigma)
    M = 2 ** max(8, math.ceil(math.log2(need)))
    return N if N <= EXACT_NORM_MAX or M >= N or N % M else M


def _time_l1(h_f: np.ndarray) -> float:
    """``sum_t |h[t]|`` of one real response ``(M,)`` (as `_l1_normalise` computes it)."""
    M = h_f.shape[-1]
    _, mag = next(half_time_magnitudes(h_f[None], 1))
    return float(half_magnitude_l1(mag, M)[0] / M)


def _morlet_unnormalised(N: int, xi: float, sigma: float, P: int) -> np.ndarray:
    """`morlets_1d`'s row before the L1 normalisation (``xi = 0``: the Gaussian)."""
    gabor = _periodised_gaussian(N, xi, sigma, P)
    if xi != 0 and gabor[0] != 0.0:
        low = _periodised_gaussian(N, 0.0, sigma, P)
        gabor -= (gabor[0] / low[0]) * low
    return gabor


def morlets_sparse(N: int, params, threshold: float = STORE_THRESHOLD) -> list[Sparse]:
    """`morlets_1d` ``(N, params)`` on each filter's support only: a list of `Sparse`.

    A filter's values are computed at the bins within reach of its Gaussians (where their
    terms exceed 1e-22 of the peak), with the same float64 operations as `morlets_1d`; its
    L1 norm in time on the coarsest grid that holds its impulse response (`_coarse_grid`;
    the full grid for a narrow filter or a short ``N``, which gives the same values bit for
    bit). Memory and time follow the support, not ``N``. ``xi = 0`` gives `gauss_1d`.
    """
    out = []
    for xi, sigma in params:
        P = min(periods_needed(sigma), 5)
        parts = _near(N, xi, _SPARSE_REACH * sigma, P)
        kappa = 0.0
        if xi != 0:
            zero = np.zeros(1, dtype=np.int64)
            g0 = _gaussian_terms(N, zero, xi, sigma, P)[0]
            if g0 != 0.0:
                kappa = g0 / _gaussian_terms(N, zero, 0.0, sigma, P)[0]
                if kappa * 1e22 > 1:
                    reach = math.sqrt(2 * math.log(kappa * 1e22)) * sigma
                    parts += _near(N, 0.0, reach, P)
        idx = unique_sorted(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        val = _gaussian_terms(N, idx, xi, sigma, P)
        if kappa != 0.0:
            val -= kappa * _gaussian_terms(N, idx, 0.0, sigma, P)
        M = _coarse_grid(N, sigma)
        val /= _time_l1(_morlet_unnormalised(M, xi, sigma, P))
        out.append(Sparse.trimmed(N, idx, val, threshold))
    return out


def gauss_1d(N: int, sigma: float) -> np.ndarray:
    """Frequency response of a Gaussian low-pass of width ``sigma``, unit L1 norm in time."""
    P = min(periods_needed(sigma), 5)
    return _l1_normalise(_periodised_gaussian(N, 0.0, sigma, P))


def sigma_for_q(xi: float, Q: int, r: float = R_PSI) -> float:
    """Width of a Gaussian at ``xi`` whose neighbour at ``xi 2^{-1/Q}`` crosses it at ``r`` of
    the peak (Lostanlen 2017)."""
    ratio = 1.0 / math.pow(2, 1.0 / Q)
    shape = (1 - ratio) / (1 + ratio)
    return xi * shape * (1.0 / math.sqrt(2 * math.log(1.0 / r)))


def xi_max(Q: int) -> float:
    """Centre frequency of the highest wavelet of a family with ``Q`` wavelets per octave."""
    return max(1.0 / (1.0 + 2 ** (3.0 / Q)), 0.35)


def kymatio_frequencies(J: int, Q: int, sigma0: float = SIGMA0, r: float = R_PSI
                        ) -> Iterator[tuple[float, float]]:
    """Centre frequencies and widths ``(xi, sigma)``, highest first, of Kymatio's design:
    geometric spacing while ``sigma > sigma0 / 2^J``, then ``Q - 1`` filters linearly spaced
    towards 0 at the minimal width."""
    xi = xi_max(Q)
    sigma = sigma_for_q(xi, Q, r)
    sigma_min = sigma0 / 2**J
    step = math.pow(2, 1.0 / Q)
    if sigma <= sigma_min:
        xi = sigma
    else:
        yield xi, sigma
        while sigma > sigma_min * step:
            xi /= step
            sigma /= step
            yield xi, sigma
    elbow = xi
    for _ in range(Q - 1):
        xi -= 1 / Q * elbow
        yield xi, sigma_min


def max_subsampling(xi: float, sigma: float, alpha: float = ALPHA) -> int:
    """log2 of the largest subsampling that keeps ``[0, |xi| + alpha sigma]`` below Nyquist."""
    upper = min(abs(xi) + alpha * sigma, 0.5)
    return int(math.floor(-math.log2(upper))) - 1


def periodise(h_f: np.ndarray, level: int) -> np.ndarray:
    """Response at resolution ``N / 2**level``: the sum of the ``2**level`` periods."""
    return h_f.reshape(2**level, -1).sum(axis=0)


def temporal_support(h_f: np.ndarray, criterion: float = 1e-3) -> int:
    """Half-width (samples) beyond which ``|h|`` stays under ``criterion`` times its peak,
    for centred, symmetric filters ``h_f`` of shape ``(K, N)`` given in frequency."""
    h = np.abs(np.fft.ifft(np.atleast_2d(h_f), axis=1))
    half = h.shape[1] // 2
    envelope = h[:, :half].max(axis=0)
    below = np.flatnonzero(envelope <= criterion * envelope.max())
    return int(below.min() + 1) if below.size else half



# --------------------------------------------------------------------------------------------
# The design
# --------------------------------------------------------------------------------------------

class KymatioDesign(Design):
    """Kymatio's Morlet design: Morlet wavelets and Gaussian low-passes, in time and along
    ``n1`` alike (see the module docstring)."""

    name = "kymatio"
    compact = False

    def time_filters(self, N, J, Q, T):
        def family(Qk):
            params = list(kymatio_frequencies(J, Qk))
            return [(xi, sigma, max_subsampling(xi, sigma), psi)
                    for (xi, sigma), psi in zip(params, morlets_1d(N, params))]
        sigma_low = SIGMA0 / T
        return (sigma_low, gauss_1d(N, sigma_low)), family(Q[0]), family(Q[1])

    def compact_time_filters(self, N, J, Q, T):
        def family(Qk):
            params = list(kymatio_frequencies(J, Qk))
            return [(xi, sigma, max_subsampling(xi, sigma), psi)
                    for (xi, sigma), psi in zip(params, morlets_sparse(N, params))]
        sigma_low = SIGMA0 / T
        phi = morlets_sparse(N, [(0.0, sigma_low)])[0]
        return (sigma_low, phi), family(Q[0]), family(Q[1])

    def lowpass(self, N, T):
        return gauss_1d(N, SIGMA0 / T)

    def frequential_filters(self, J_fr, Q_fr, L):
        freqs = list(kymatio_frequencies(J_fr, Q_fr))
        psi = morlets_1d(L, list(freqs))
        js = [max_subsampling(xi, sigma) for xi, sigma in freqs]
        return freqs, psi, js
