"""The results of the compute pipeline: plain numpy (float32 data, float64 axes in Hz and
seconds), with no torch tensors and no view objects, shared by every view and session that shows
the same setting.

`Transforms` gathers one setting's results: the `Scalogram`, the `Scattering`, the filter bank
(`FilterBankArrays`) and the `JTFSResult` (or the message that says why there is none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Scalogram", "Scattering", "FilterBankArrays", "JTFSResult", "Transforms",
           "JTFS_UNAVAILABLE"]

#: Shown by every JTFS view when a result holds no JTFS and no error says why (a session
#: started with ``with_jtfs=False``).
JTFS_UNAVAILABLE = ("JTFS engine not available in this session: it computes Scattering1D only "
                    "(with_jtfs=False). The Scattering1D views work without it.")


@dataclass(frozen=True, eq=False)
class Scalogram:
    """``|x * psi1|`` on a common time grid.

    mag ``(n1, M)`` float32 (rows in the engine's order: highest frequency first), freqs
    ``(n1,)`` Hz (the engine's ``xi_hz``), bandwidths ``(n1,)`` Hz, times ``(M,)`` s (start of
    each column), hop (samples per column), duration (s).
    """

    mag: np.ndarray
    freqs: np.ndarray
    bandwidths: np.ndarray
    times: np.ndarray
    hop: int
    duration: float


@dataclass(frozen=True, eq=False)
class Scattering:
    """Averaged scattering (orders 0-2): coefs ``(C, L)``, order ``(C,)``, times ``(L,)`` s,
    ``xi_hz`` ``(C, 2)`` and the per-order energies (sum of squares times the hop)."""

    coefs: np.ndarray
    order: np.ndarray
    times: np.ndarray
    xi_hz: np.ndarray
    energy_per_order: dict[int, float]
    T: int
    stride: int


@dataclass(frozen=True, eq=False)
class FilterBankArrays:
    """The engine's filter bank on its padded grid: freqs ``(K,)`` Hz (non-negative half);
    xi1/xi2 in Hz; ``full`` the engine's ``as_arrays()`` (full grid, for the time-domain and
    Littlewood-Paley views) and ``phi`` ``(K,)``, ``psi1`` ``(n1, K)``, ``psi2`` ``(n2, K)``
    the non-negative half, all built on demand from the engine's (cached) `FilterBank`, so
    that cached results do not hold copies of large banks."""

    freqs: np.ndarray
    xi1_hz: np.ndarray
    xi2_hz: np.ndarray
    N_padded: int
    sample_rate: float
    bank: Any = field(repr=False)

    @property
    def full(self) -> dict:
        return self.bank.as_arrays()

    def half(self) -> dict:
        """``{"phi": (K,), "psi1": (n1, K), "psi2": (n2, K)}`` on ``freqs``."""
        K = len(self.freqs)
        return {k: (v[..., :K]) for k, v in self.full.items()}

    @property
    def psi1(self) -> np.ndarray:
        return self.half()["psi1"]

    @property
    def psi2(self) -> np.ndarray:
        return self.half()["psi2"]

    @property
    def phi(self) -> np.ndarray:
        return self.half()["phi"]


@dataclass(frozen=True, eq=False)
class JTFSResult:
    """JTFS of the signal: ``pairs`` (name -> numpy array, batch dropped), ``meta`` (the
    engine's), ``times`` ``(L,)`` s of the spinned pairs, ``n1_hz`` ``(n1,)`` and the spinned
    4-D tensors ``up``/``dn`` ``(n2, n1_fr, n1, L)``, ``n2_hz`` and ``n1_fr`` labels, and the
    frequential filters (``fr_filters``: dict or None)."""

    pairs: dict
    meta: Any
    times: np.ndarray
    up: np.ndarray
    dn: np.ndarray
    n1_hz: np.ndarray
    n2_hz: np.ndarray
    n1_fr_labels: list
    fr_filters: dict | None

    def __reduce__(self):
        """Pickled (a worker's result through its pipe) with ``up``/``dn`` left out when they
        are views of a ``pairs`` entry (as `scatviz.pipeline.adapt_jtfs` makes them): the
        spin arrays cross once, inside ``pairs``, and are views of it again on arrival."""
        state = {f: getattr(self, f) for f in self.__dataclass_fields__}
        views = {}
        for name in ("up", "dn"):
            key = _view_of(state[name], self.pairs)
            if key is not None:
                views[name] = (key, state[name].ndim)
                state[name] = None
        return (_jtfs_from_pickle, (state, views))


def _squeezed(a: np.ndarray, ndim: int) -> np.ndarray:
    """``a`` without its leading length-1 axes down to ``ndim`` axes (a view)."""
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    return a


def _view_of(a, pairs: dict):
    """The key of the ``pairs`` entry whose squeezed view is ``a`` itself (same memory,
    shape, strides and dtype), or None."""
    if not isinstance(a, np.ndarray) or not isinstance(pairs, dict):
        return None
    ptr = a.__array_interface__["data"][0]
    for key, p in pairs.items():
        if not isinstance(p, np.ndarray) or p.dtype != a.dtype:
            continue
        v = _squeezed(p, a.ndim)
        if (v.shape == a.shape and v.strides == a.strides
                and v.__array_interface__["data"][0] == ptr):
            return key
    return None


def _jtfs_from_pickle(state: dict, views: dict) -> JTFSResult:
    for name, (key, ndim) in views.items():
        state[name] = _squeezed(state["pairs"][key], ndim)
    return JTFSResult(**state)


@dataclass(frozen=True, eq=False)
class Transforms:
    """Everything the views show for one setting. ``jtfs`` is None with ``jtfs_error`` set
    when the JTFS of this setting is invalid (the engine's message), None with no error when
    JTFS was not asked for (``with_jtfs=False``) or is still computing (``jtfs_pending``)."""

    key: tuple
    x: np.ndarray
    sample_rate: float
    name: str
    scalogram: Scalogram
    scattering: Scattering
    bank: FilterBankArrays
    jtfs: JTFSResult | None
    jtfs_error: str | None
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    jtfs_pending: bool = False
