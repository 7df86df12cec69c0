"""JTFS's frequential filters (along ``n1``): kernels, frequency responses on a grid, and the
helpers that size the frequential grids.

The filters come from the transform's `engine.design.Design` (`Design.frequential_filters`,
`Design.frequential_lowpass`): any registered design works, none is named here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.design import Design
from engine.filterbank import SIGMA0, get_design, half_time_magnitudes

__all__ = ["frequential_filters", "frequential_bank", "frequential_responses",
           "REACH_CRITERION", "TAP_ENERGY", "FR_PAD_FACTOR", "FR_MIN_LENGTH", "FR_ALIAS_GUARD"]

#: Frequential kernels are cut where their tails hold less than this fraction of their energy.
TAP_ENERGY = 1e-7



def _frequential_design(design: Design, J_fr: int, Q_fr: int, L: int):
    """The frequential bank's design on an ``L``-point grid along ``n1``: ``(freqs, phi, psi,
    js)`` with ``freqs`` the ``(xi, sigma)`` of the wavelets (cycles per ``n1`` bin), ``phi``
    the low-pass of width ``2**J_fr`` ``(L,)``, ``psi`` the spin-up wavelets ``(n_fr, L)``
    and ``js`` their subsamplings (`engine.design.Design.frequential_filters`)."""
    freqs, psi, js = design.frequential_filters(J_fr, Q_fr, L)
    return list(freqs), design.frequential_lowpass(L, 2**J_fr), psi, list(js)


def frequential_filters(design: str | Design, J_fr: int, Q_fr: int, F: int | None,
                        n1_max: int):
    """Kernels along ``n1`` of the frequential bank of ``design`` (a registered name or a
    `Design`), cached.

    Returns ``(filters, phi_F)``: ``filters`` a list of dicts (``name`` in ``{"phi_f",
    "psi_f"}``, ``spin``, ``n_fr``, ``xi`` cycles per ``n1`` bin, signed, ``sigma``, ``j``,
    ``taps`` complex ``(2H+1,)`` for offsets ``-H..H``), ordered ``phi_f``, ``psi_f_up`` by
    ``n_fr``, ``psi_f_dn`` by ``n_fr``; ``phi_F`` the real averaging kernel (``None`` when
    ``F`` is ``None``). The filters satisfy ``|phi_f|^2 + sum |psi_up|^2 + |psi_dn|^2 = 1``
    (``"tight"``).
    """
    return _frequential_filters(get_design(design), J_fr, Q_fr, F, n1_max)


@lru_cache(maxsize=32)
def _frequential_filters(design: Design, J_fr: int, Q_fr: int, F: int | None, n1_max: int):
    """`frequential_filters` of a `Design` (cached per design object)."""
    L = max(1024, 64 * 2**J_fr, 4 * n1_max)
    L = 1 << (L - 1).bit_length()
    freqs, phi, psi, js = _frequential_design(design, J_fr, Q_fr, L)
    phi_F = design.frequential_lowpass(L, F) if F is not None else None

    def kernel(resp):
        """Taps at offsets ``-H..H`` of the impulse response of ``resp``, ``H`` the smallest
        half-width that keeps all but `TAP_ENERGY` of the kernel's energy."""
        h = np.fft.ifft(resp)
        dist = np.minimum(np.arange(L), L - np.arange(L))
        e = np.bincount(dist, weights=np.abs(h) ** 2)
        tail = e.sum() - np.cumsum(e)
        H = int(np.flatnonzero(tail <= TAP_ENERGY * e.sum())[0])
        return np.concatenate([h[L - H:], h[:H + 1]])

    filters = [dict(name="phi_f", spin=0, n_fr=-1, xi=0.0, sigma=SIGMA0 / 2**J_fr, j=J_fr,
                    taps=kernel(phi))]
    ups = [kernel(p) for p in psi]
    for spin in (1, -1):
        for n, (taps, (xi, sigma)) in enumerate(zip(ups, freqs)):
            filters.append(dict(name="psi_f", spin=spin, n_fr=n, xi=spin * xi, sigma=sigma,
                                j=js[n], taps=taps if spin == 1 else np.conj(taps)))
    phi_F_taps = kernel(phi_F).real.copy() if phi_F is not None else None
    return filters, phi_F_taps


#: A filter's reach: the time (samples) beyond which its impulse response stays under this
#: fraction of its peak (see ``TimeFrequencyScattering._time_window``).
REACH_CRITERION = 1e-4


def _reaches(h_f: np.ndarray, criterion: float = REACH_CRITERION, rows: int = 8
             ) -> np.ndarray:
    """Per real frequency response of ``h_f`` ``(K, N)``: the largest ``|t|`` (samples) at
    which its impulse response exceeds ``criterion`` times its peak. ``(K,)`` integers, from
    `engine.filterbank.half_time_magnitudes` (``|h[t]|`` for ``t <= N/2``, ``rows`` at a time:
    a copy of a whole ~10 MB bank cost 20-30 ms of page faults on the shared hosts)."""
    return np.array([np.flatnonzero(row)[-1] if row.any() else 0
                     for _, h in half_time_magnitudes(np.atleast_2d(h_f), rows)
                     for row in h > criterion * h.max(axis=1, keepdims=True)], dtype=int)


def _taps_at(taps: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Kernel values at integer offsets ``d`` (zero outside its support)."""
    H = taps.size // 2
    out = np.zeros(d.shape, dtype=taps.dtype)
    inside = np.abs(d) <= H
    out[inside] = taps[d[inside] + H]
    return out


#: Frequential padding: the ``n1`` axis of ``n`` rows is zero-padded to about
#: ``(FR_PAD_FACTOR + 1) n`` rows at most (see ``_fr_length``), fewer when every frequential
#: kernel fits in less.
FR_PAD_FACTOR = 1
#: Smallest frequential grid.
FR_MIN_LENGTH = 16
#: Guard band (cycles per ``n1`` row) between a subsampled frequential filter's support and
#: the subsampled grid's length (see ``TimeFrequencyScattering._fr_window_subsampling``).
FR_ALIAS_GUARD = 0.04


def _fft_size(target: int, multiple: int) -> int:
    """The smallest ``multiple * 2**a 3**b 5**c >= target`` (sizes that FFTs handle fast)."""
    best = multiple << max(0, (-(-target // multiple) - 1).bit_length())
    m = 1
    while m * multiple < best:
        f3 = m
        while f3 * multiple < best:
            f5 = f3
            while f5 * multiple < best:
                if f5 * multiple >= target:
                    best = f5 * multiple
                f5 *= 5
            f3 *= 3
        m *= 2
    return best


def frequential_bank(design: str | Design, J_fr: int, Q_fr: int, L: int):
    """The frequential filters of ``design`` (a registered name or a `Design`) as frequency
    responses on the ``L``-point grid along ``n1``, cached.

    Returns ``(meta, responses)``: ``meta`` the list of dicts of `frequential_filters` without
    ``taps`` (same order: ``phi_f``, ``psi_f`` spin up by ``n_fr``, spin down by ``n_fr``),
    ``responses`` real float64 ``(n_filters, L)`` in ``fftfreq`` order. Sampling the design on
    the grid makes the filtering along ``n1`` a circular convolution of period ``L`` whose
    Littlewood-Paley sum is exactly that of the design at the grid's frequencies
    (``"tight"``: ``|phi_f|^2 + sum |psi_up|^2 + |psi_dn|^2 = 1``).
    """
    return _frequential_bank(get_design(design), J_fr, Q_fr, L)


@lru_cache(maxsize=128)
def _frequential_bank(design: Design, J_fr: int, Q_fr: int, L: int):
    """`frequential_bank` of a `Design` (cached per design object)."""
    freqs, phi, psi, js = _frequential_design(design, J_fr, Q_fr, L)
    mirror = (-np.arange(L)) % L
    meta = [dict(name="phi_f", spin=0, n_fr=-1, xi=0.0, sigma=SIGMA0 / 2**J_fr, j=J_fr)]
    resp = [phi]
    for spin in (1, -1):
        for n, (xi, sigma) in enumerate(freqs):
            meta.append(dict(name="psi_f", spin=spin, n_fr=n, xi=spin * xi, sigma=sigma,
                             j=js[n]))
            resp.append(psi[n] if spin == 1 else psi[n][mirror])
    return meta, np.stack(resp)


#: Default length of the grid of `frequential_responses` (at least the longest kernel).
FR_GRID = 256


def frequential_responses(jtfs, L: int | None = None, centred: bool = True) -> dict:
    """Frequency responses along ``n1`` of a JTFS's frequential filters, from the very kernels
    (taps, `frequential_filters`) the transform applies.

    Parameters
    ----------
    jtfs : TimeFrequencyScattering
        The transform (its ``filterbank``, ``J_fr``, ``Q_fr`` and ``N1`` are used).
    L : int, optional
        Length of the frequency grid; default ``max(FR_GRID, longest kernel)`` (256 for
        usual settings). Must hold the longest kernel (``2H + 1`` taps).
    centred : bool
        True (default): magnitudes ``|h(q)|`` on increasing frequencies ``-0.5 <= q < 0.5``
        (``np.fft.fftshift`` order), for display. False: complex responses in
        ``np.fft.fftfreq(L)`` order, for analysis (`engine.toolkit.validate_filterbank`).

    Returns
    -------
    dict
        ``freqs`` ``(L,)`` the frequential frequencies (cycles per ``n1`` bin) of the grid,
        in the order of the responses; ``up`` ``(n_fr, L)`` the spin-up wavelets
        ``psi_f_up`` by ``n1_fr``; ``dn`` ``(n_fr, L)`` the spin-down wavelets
        ``psi_f_dn`` by ``n1_fr``; ``phi`` ``(L,)`` the frequential low-pass ``phi_f``
        (width ``2**J_fr``), float64 magnitudes (``centred``) or complex128; ``taps`` (int)
        the length ``2H + 1`` of the longest kernel (offsets ``-H..H``).

    >>> from engine.jtfs import TimeFrequencyScattering
    >>> r = frequential_responses(TimeFrequencyScattering(5, 3, 8, 1024))
    >>> r["up"].shape == r["dn"].shape, r["phi"].shape == r["freqs"].shape
    (True, True)
    """
    filters, _ = frequential_filters(jtfs.filterbank, jtfs.J_fr, jtfs.Q_fr, None, jtfs.N1)
    longest = max(f["taps"].size for f in filters)
    if L is None:
        L = max(FR_GRID, longest)
    elif L < longest:
        raise ValueError(f"L={L} is shorter than the longest frequential kernel ({longest} "
                         f"taps); use L >= {longest}, or L=None.")

    def response(taps):
        H = taps.size // 2
        h = np.zeros(L, dtype=complex)
        h[:H + 1] = taps[H:]
        if H:
            h[-H:] = taps[:H]
        h = np.fft.fft(h)
        return np.fft.fftshift(np.abs(h)) if centred else h

    def rows(name, spin):
        return np.stack([response(f["taps"]) for f in filters
                         if f["name"] == name and f["spin"] == spin])

    q = np.fft.fftfreq(L)
    return dict(freqs=np.fft.fftshift(q) if centred else q, up=rows("psi_f", 1),
                dn=rows("psi_f", -1), phi=rows("phi_f", 0)[0], taps=longest)
