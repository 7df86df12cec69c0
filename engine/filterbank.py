"""Filter bank design for 1-D wavelet scattering, in float64 numpy.

A filter bank is a low-pass ``phi`` and two wavelet families ``psi1`` (order 1) and ``psi2``
(order 2), each filter given by its frequency response on the FFT grid of the padded length
``N`` (``np.fft.fftfreq(N)`` order, frequencies in cycles per sample), plus its centre
frequency ``xi``, bandwidth ``sigma`` and the dyadic subsampling ``j`` it tolerates.

The ``"kymatio"`` design reproduces Kymatio's (main branch) numbers:

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

Everything here is cached by its parameters: building a bank twice costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

#: Kymatio's constants: crossing ratio of neighbouring wavelets, low-pass width constant and
#: the aliasing tolerance (in units of sigma) used to choose each filter's subsampling.
R_PSI = math.sqrt(0.5)
SIGMA0 = 0.1
ALPHA = 5.0


@dataclass(frozen=True, eq=False)
class Filter:
    """One filter of a bank.

    Attributes
    ----------
    xi : float
        Centre frequency in cycles per sample (0.5 is Nyquist); 0 for the low-pass.
    sigma : float
        Frequency width (standard deviation of the Gaussian) in cycles per sample.
    j : int
        log2 of the largest subsampling after filtering that does not alias.
    levels : tuple of np.ndarray
        ``levels[k]`` is the frequency response at resolution ``N / 2**k`` (float64, real:
        every filter here is zero-phase).
    """

    xi: float
    sigma: float
    j: int
    levels: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def response(self) -> np.ndarray:
        """Frequency response at full resolution, shape ``(N,)``."""
        return self.levels[0]


@dataclass(frozen=True, eq=False)
class FilterBank:
    """A low-pass and the first- and second-order wavelet families on a padded length ``N``."""

    N: int
    J: int
    Q: tuple[int, int]
    T: int
    design: str
    phi: Filter
    psi1: tuple[Filter, ...]
    psi2: tuple[Filter, ...]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Full-resolution responses: ``{"phi": (N,), "psi1": (n1, N), "psi2": (n2, N)}``,
        read-only (the bank is cached and shared)."""
        return {"phi": self.phi.response, "psi1": self._psi1_rows, "psi2": self._psi2_rows}

    @cached_property
    def _psi1_rows(self) -> np.ndarray:
        return _family_rows(self.psi1, self.N)

    @cached_property
    def _psi2_rows(self) -> np.ndarray:
        return _family_rows(self.psi2, self.N)


def _family_rows(family: tuple[Filter, ...], N: int) -> np.ndarray:
    """``(K, N)``, read-only, whose rows are the family's full-resolution responses: the
    array they already are the rows of, in order (the designs build a family as one
    array), or else a stacked copy. A copy of a first-order bank is ~10 MB at N=16384, and
    fresh memory of that size cost 5-20 ms of page faults on the shared hosts."""
    rows = [f.response for f in family]
    base = rows[0].base if rows else None
    if (isinstance(base, np.ndarray) and base.ndim == 2 and base.shape[0] == len(rows)
            and base.dtype == rows[0].dtype and base.flags.c_contiguous
            and all(r.base is base and r.ctypes.data == base[i].ctypes.data
                    for i, r in enumerate(rows))):
        out = base
    else:
        out = np.stack(rows) if rows else np.zeros((0, N))
    out.flags.writeable = False
    return out


# --------------------------------------------------------------------------------------------
# Building blocks of the Kymatio design
# --------------------------------------------------------------------------------------------

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
# Designs
# --------------------------------------------------------------------------------------------

#: A design maps ``(N, J, Q, T)`` to ``(phi, psi1, psi2)`` full-resolution responses with
#: their parameters; `build_filterbank` adds the lower-resolution levels.
Design = Callable[[int, int, tuple[int, int], int],
                  tuple[tuple[float, np.ndarray], list[tuple[float, float, int, np.ndarray]],
                        list[tuple[float, float, int, np.ndarray]]]]

_DESIGNS: dict[str, Design] = {}


def register_design(name: str) -> Callable[[Design], Design]:
    """Register a filter bank design under ``name`` (see `Design`)."""
    def decorator(fn: Design) -> Design:
        _DESIGNS[name] = fn
        return fn
    return decorator


def available_designs() -> tuple[str, ...]:
    """Names accepted by ``filterbank=``."""
    _load_builtin_designs()
    return tuple(sorted(_DESIGNS))


def _load_builtin_designs() -> None:
    # Designs living in other modules register themselves on import.
    try:
        from engine import tight  # noqa: F401
    except ImportError:  # the tight design is optional until its module exists
        pass


@register_design("kymatio")
def _kymatio_design(N, J, Q, T):
    def family(Qk):
        params = list(kymatio_frequencies(J, Qk))
        return [(xi, sigma, max_subsampling(xi, sigma), psi)
                for (xi, sigma), psi in zip(params, morlets_1d(N, params))]
    sigma_low = SIGMA0 / T
    return (sigma_low, gauss_1d(N, sigma_low)), family(Q[0]), family(Q[1])


@lru_cache(maxsize=64)
def build_filterbank(N: int, J: int, Q: tuple[int, int], T: int,
                     design: str = "kymatio") -> FilterBank:
    """Build (once, cached) the filter bank on a padded length ``N``.

    Parameters
    ----------
    N : int
        Padded signal length, a power of two.
    J : int
        Number of octaves: the largest wavelet has a support of about ``2**J`` samples.
    Q : (int, int)
        Wavelets per octave at orders 1 and 2.
    T : int
        Support of the low-pass in samples; its width is ``sigma0 / T``.
    design : str
        One of `available_designs()`.

    Returns
    -------
    FilterBank
        Levels are built as Kymatio main does: a second-order wavelet gets the resolutions
        that first-order outputs can have when it is applied (``j1 < j2``), the low-pass
        every resolution up to ``max(j, log2 T)``.

    Example
    -------
    >>> fb = build_filterbank(1024, 5, (1, 1), 32)
    >>> len(fb.psi1), fb.phi.levels[0].shape
    (6, (1024,))
    """
    _load_builtin_designs()
    if design not in _DESIGNS:
        raise ValueError(f"filterbank={design!r} is not a known design; choose one of "
                         f"{sorted(_DESIGNS)}.")
    (sigma_low, phi_f), fam1, fam2 = _DESIGNS[design](N, J, Q, T)
    log2_T = int(math.floor(math.log2(T)))

    def with_levels(family, n_levels_fn):
        out, max_j = [], 0
        for xi, sigma, j, h_f in family:
            h_f = np.ascontiguousarray(h_f, dtype=np.float64)
            n_levels = n_levels_fn(j)
            levels = (h_f,) + tuple(periodise(h_f, k) for k in range(1, n_levels))
            out.append(Filter(float(xi), float(sigma), int(j), levels))
            max_j = max(max_j, j)
        return tuple(out), max_j

    psi1, max_j1 = with_levels(fam1, lambda j: 1)
    psi2, max_j2 = with_levels(fam2, lambda j: max(1, min(max_j1, j, 1 + log2_T)))
    n_phi = max(max_j2, 1 + log2_T)
    phi_f = np.ascontiguousarray(phi_f, dtype=np.float64)
    phi = Filter(0.0, float(sigma_low), log2_T,
                 (phi_f,) + tuple(periodise(phi_f, k) for k in range(1, n_phi)))
    return FilterBank(N, J, tuple(Q), T, design, phi, psi1, psi2)
