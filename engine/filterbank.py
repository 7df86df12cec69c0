"""Filter banks for 1-D wavelet scattering: the `FilterBank` type and the design registry.

A filter bank is a low-pass ``phi`` and two wavelet families ``psi1`` (order 1) and ``psi2``
(order 2), each filter given by its frequency response on the FFT grid of the padded length
``N`` (``np.fft.fftfreq(N)`` order, frequencies in cycles per sample), plus its centre
frequency ``xi``, bandwidth ``sigma`` and the dyadic subsampling ``j`` it tolerates.

A design (`engine.design.Design`) gives the filters; the registry here maps the names that
``filterbank=`` accepts to designs: ``"kymatio"`` (`engine.morlet`, Kymatio's Morlets) and
``"tight"`` (`engine.tight`), plus any added with `register_design`. `build_filterbank` adds
the lower-resolution levels. Every filter is kept on its support (`engine._sparse.Sparse`);
full-length responses are built on request. Lower resolutions ("levels") of a filter are its
frequency response periodised by *sum*, so that subsampled paths keep the energy scaling of
Kymatio main (its PR 1005).

Banks are cached by their parameters (bounded in bytes): building a bank twice costs nothing.
The Kymatio design's building blocks (`gauss_1d`, `morlets_1d`, `kymatio_frequencies`, ...) live in
`engine.morlet` and are re-exported here.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine._sparse import Sparse
from engine.design import Design
from engine.morlet import (
    ALPHA,
    R_PSI,
    SIGMA0,
    KymatioDesign,
    gauss_1d,
    half_magnitude_l1,
    half_time_magnitudes,
    kymatio_frequencies,
    max_subsampling,
    morlet_1d,
    morlets_1d,
    periodise,
    periods_needed,
    sigma_for_q,
    temporal_support,
    xi_max,
)
from engine.tight import TightDesign

__all__ = [
    "Filter", "FilterBank", "Design", "Sparse", "build_filterbank", "register_design",
    "available_designs", "get_design",
    # re-exported from engine.morlet
    "ALPHA", "R_PSI", "SIGMA0", "gauss_1d", "half_magnitude_l1", "half_time_magnitudes",
    "kymatio_frequencies", "max_subsampling", "morlet_1d", "morlets_1d", "periodise",
    "periods_needed", "sigma_for_q", "temporal_support", "xi_max",
]


@dataclass(frozen=True, eq=False)
class Filter:
    """One filter of a bank, kept on its support.

    Attributes
    ----------
    xi : float
        Centre frequency in cycles per sample (0.5 is Nyquist); 0 for the low-pass.
    sigma : float
        Frequency width (standard deviation of the Gaussian) in cycles per sample.
    j : int
        log2 of the largest subsampling after filtering that does not alias.
    compact : tuple of Sparse
        ``compact[k]``: the frequency response at resolution ``N / 2**k`` on its support
        (`engine._sparse.Sparse`: float64, real, every filter here is zero-phase).
    """

    xi: float
    sigma: float
    j: int
    compact: tuple[Sparse, ...] = field(repr=False)

    @property
    def levels(self) -> tuple[np.ndarray, ...]:
        """``levels[k]``: the full response at resolution ``N / 2**k``, shape
        ``(N / 2**k,)``, float64; built on each access (not kept)."""
        return tuple(c.dense() for c in self.compact)

    @property
    def response(self) -> np.ndarray:
        """Frequency response at full resolution, shape ``(N,)``; built on each access."""
        return self.compact[0].dense()

    @property
    def nbytes(self) -> int:
        """Bytes held by the compact levels."""
        return sum(c.nbytes for c in self.compact)


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
        float64, read-only, built on each call (``n_filters x N`` values: for plots and
        checks, not for long ``N``)."""
        out = {"phi": self.phi.response, "psi1": _family_rows(self.psi1, self.N),
               "psi2": _family_rows(self.psi2, self.N)}
        for a in out.values():
            a.flags.writeable = False
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held by the bank's compact filters."""
        return sum(f.nbytes for f in (self.phi, *self.psi1, *self.psi2))


def _family_rows(family: tuple[Filter, ...], N: int) -> np.ndarray:
    """``(K, N)``: the family's full-resolution responses, one row each."""
    out = np.zeros((len(family), N))
    for row, f in zip(out, family):
        row[f.compact[0].idx] = f.compact[0].val
    return out


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

#: The designs ``filterbank=`` accepts, by name.
_DESIGNS: dict[str, Design] = {"kymatio": KymatioDesign(), "tight": TightDesign()}


class _TimeOnlyDesign(Design):
    """A design given as a function ``(N, J, Q, T) -> (phi, psi1, psi2)`` (see
    `Design.time_filters`): time filters only, for Scattering1D."""

    def __init__(self, name: str, fn: Callable) -> None:
        self.name, self._fn = name, fn

    def time_filters(self, N, J, Q, T):
        return self._fn(N, J, Q, T)


def register_design(name: str, design: Design | None = None):
    """Register a filter bank design under ``name``, replacing any design of that name.

    ``register_design(name, design)`` registers a `Design` instance and returns it; as a
    decorator, ``@register_design(name)`` registers a `Design` subclass (instantiated without
    arguments) or instance, or a function ``(N, J, Q, T) -> (phi, psi1, psi2)`` (time filters
    only: usable by Scattering1D, not by JTFS). The design's ``name`` is set to ``name``.

    >>> class Wide(KymatioDesign):
    ...     def lowpass(self, N, T):
    ...         return gauss_1d(N, SIGMA0 / (2 * T))
    >>> _ = register_design("wide", Wide())
    >>> "wide" in available_designs()
    True
    >>> _ = _DESIGNS.pop("wide")
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A design's name must be a non-empty string; got {name!r}.")

    def add(obj):
        if isinstance(obj, type) and issubclass(obj, Design):
            d = obj()
        elif isinstance(obj, Design):
            d = obj
        elif callable(obj):
            d = _TimeOnlyDesign(name, obj)
        else:
            raise TypeError(f"register_design({name!r}) needs an engine.design.Design "
                            f"instance or subclass, or a function (N, J, Q, T) -> (phi, "
                            f"psi1, psi2); got {type(obj).__name__}.")
        d.name = name
        _DESIGNS[name] = d
        build_filterbank.cache_clear()          # a bank of that name may be cached
        return obj

    return add if design is None else add(design)


def available_designs() -> tuple[str, ...]:
    """Names accepted by ``filterbank=``."""
    return tuple(sorted(_DESIGNS))


def get_design(design: str | Design) -> Design:
    """The registered `Design` of name ``design`` (a `Design` is returned as is)."""
    if isinstance(design, Design):
        return design
    try:
        return _DESIGNS[design]
    except (KeyError, TypeError):
        raise ValueError(f"filterbank={design!r} is not a known design; choose one of "
                         f"{sorted(_DESIGNS)}, or add one with "
                         f"engine.filterbank.register_design.") from None


#: Cached banks are evicted, least recently used first, beyond this many bytes in all.
CACHE_BYTES = 256 * 2**20
_cache: OrderedDict = OrderedDict()


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
    design : str or Design
        One of `available_designs()` (or a `Design`).

    Returns
    -------
    FilterBank
        Every filter on its support (`Design.compact_time_filters`): memory and time follow
        the bank's total support, not ``n_filters x N``. Levels are built as Kymatio main
        does: a second-order wavelet gets the resolutions that first-order outputs can have
        when it is applied (``j1 < j2``), the low-pass every resolution up to
        ``max(j, log2 T)``. Banks are cached by their arguments, up to `CACHE_BYTES` in all.

    Example
    -------
    >>> fb = build_filterbank(1024, 5, (1, 1), 32)
    >>> len(fb.psi1), fb.phi.levels[0].shape
    (6, (1024,))
    """
    key = (N, J, tuple(Q), T, design)
    bank = _cache.get(key)
    if bank is not None:
        _cache.move_to_end(key)
        return bank
    bank = _build(N, J, tuple(Q), T, design)
    _cache[key] = bank
    total = sum(b.nbytes for b in _cache.values())
    while total > CACHE_BYTES and len(_cache) > 1:
        _, old = _cache.popitem(last=False)
        total -= old.nbytes
    return bank


def _cache_clear() -> None:
    _cache.clear()


build_filterbank.cache_clear = _cache_clear


def _build(N: int, J: int, Q: tuple[int, int], T: int, design) -> FilterBank:
    spec = get_design(design)
    (sigma_low, phi_f), fam1, fam2 = spec.compact_time_filters(N, J, Q, T)
    log2_T = int(math.floor(math.log2(T)))

    def with_levels(family, n_levels_fn):
        out, max_j = [], 0
        for xi, sigma, j, h_f in family:
            n_levels = n_levels_fn(j)
            levels = (h_f,) + tuple(h_f.periodise(k) for k in range(1, n_levels))
            out.append(Filter(float(xi), float(sigma), int(j), levels))
            max_j = max(max_j, j)
        return tuple(out), max_j

    psi1, max_j1 = with_levels(fam1, lambda j: 1)
    psi2, max_j2 = with_levels(fam2, lambda j: max(1, min(max_j1, j, 1 + log2_T)))
    n_phi = max(max_j2, 1 + log2_T)
    phi = Filter(0.0, float(sigma_low), log2_T,
                 (phi_f,) + tuple(phi_f.periodise(k) for k in range(1, n_phi)))
    return FilterBank(N, J, tuple(Q), T, spec.name, phi, psi1, psi2)
