"""`Design`: what a filter-bank design provides, for Scattering1D and for JTFS.

A design is an object kept in the static registry of `engine.filterbank` (``"kymatio"``:
`engine.morlet.KymatioDesign`, ``"tight"``: `engine.tight.TightDesign`; more with
`engine.filterbank.register_design`). The transforms ask it for filters and never branch on
its name:

* **time filters** (`Design.time_filters`): the low-pass and the two wavelet families on the
  padded time axis; `Design.compact_time_filters` gives them on their support only, and
  `engine.filterbank.build_filterbank` turns those into a `FilterBank`;
* **a low-pass of a given support** (`Design.lowpass`): JTFS sizes its time padding with it;
* **frequential filters** (`Design.frequential_filters`, `Design.frequential_lowpass`): the
  wavelets and low-pass along ``n1`` of JTFS (`engine.jtfs`).

Every response is real, float64, on an FFT grid (``np.fft.fftfreq(N)`` order, frequencies in
cycles per sample, or per ``n1`` bin along the frequential axis).
"""

from __future__ import annotations

import numpy as np

from engine._sparse import Sparse

__all__ = ["Design", "TimeFamily"]

#: One wavelet family: ``[(xi, sigma, j, response (N,))]``, highest frequency first, with
#: ``xi`` and ``sigma`` in cycles per sample and ``j`` the log2 subsampling it tolerates.
TimeFamily = list[tuple[float, float, int, np.ndarray]]


class Design:
    """A filter-bank design (subclass it and override every method).

    Attributes
    ----------
    name : str
        The name it is registered under (``filterbank=`` of the transforms).
    compact : bool
        True when every frequential filter is exactly zero outside a band narrower than the
        grid: JTFS may then subsample a frequential filter's output down to the width of that
        band (see ``TimeFrequencyScattering``), using `Design.lowpass_cutoff`.
    """

    name: str = ""
    compact: bool = False

    def time_filters(self, N: int, J: int, Q: tuple[int, int], T: int
                     ) -> tuple[tuple[float, np.ndarray], TimeFamily, TimeFamily]:
        """``((sigma_low, phi (N,)), psi1, psi2)`` on a padded length ``N``: the low-pass of
        support ``T`` samples (``sigma_low`` its width, cycles per sample) and the first- and
        second-order families (`TimeFamily`, ``Q[0]`` and ``Q[1]`` wavelets per octave over
        ``J`` octaves)."""
        raise NotImplementedError(f"design {self.name!r} does not define time_filters")

    def compact_time_filters(self, N: int, J: int, Q: tuple[int, int], T: int):
        """`time_filters` with every response a `engine._sparse.Sparse` (its support only).

        `engine.filterbank.build_filterbank` uses this. The default builds the full
        responses with `time_filters` and keeps their significant bins: override it to build
        long banks in memory proportional to their support (the built-in designs do)."""
        (sigma_low, phi), fam1, fam2 = self.time_filters(N, J, Q, T)

        def fam(family):
            return [(xi, sigma, j, Sparse.from_dense(h)) for xi, sigma, j, h in family]
        return (sigma_low, Sparse.from_dense(phi)), fam(fam1), fam(fam2)

    def lowpass(self, N: int, T: float) -> np.ndarray:
        """The design's low-pass of support ``T`` (samples or bins) on an ``N``-point grid,
        ``(N,)``."""
        raise NotImplementedError(f"design {self.name!r} does not define lowpass")

    def frequential_filters(self, J_fr: int, Q_fr: int, L: int
                            ) -> tuple[list[tuple[float, float]], np.ndarray, list[int]]:
        """The frequential wavelets along ``n1`` on an ``L``-point grid: ``(freqs, psi,
        js)`` with ``freqs`` the ``(xi, sigma)`` of each wavelet (cycles per ``n1`` bin,
        highest first), ``psi`` their spin-up responses ``(n_fr, L)`` (JTFS mirrors them for
        spin down, so the bank with both spins and `frequential_lowpass` of width ``2**J_fr``
        is the frame), and ``js`` their log2 subsamplings."""
        raise NotImplementedError(
            f"design {self.name!r} provides no frequential filters, so JTFS cannot use it; "
            f"define Design.frequential_filters for it")

    def frequential_lowpass(self, L: int, width: int) -> np.ndarray:
        """A frequential low-pass of ``width`` ``n1`` bins on an ``L``-point grid, ``(L,)``:
        by default the design's `lowpass`."""
        return self.lowpass(L, width)

    def lowpass_cutoff(self, width: float) -> float:
        """For a `compact` design: the frequency (cycles per sample or bin) beyond which the
        low-pass of support ``width`` is exactly zero."""
        raise NotImplementedError(f"design {self.name!r} is not compact: its low-pass has "
                                  f"no cutoff")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
