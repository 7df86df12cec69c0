"""Kymatio's view of a filter bank: the ``phi_f``, ``psi1_f`` and ``psi2_f`` of its front ends.

Kymatio's torch front end exposes its filters as dicts: ``{"levels": [...], "xi", "sigma",
"j"}``, one per wavelet (``psi1_f``, ``psi2_f``: lists of them) and one for the low-pass
(``phi_f``, with the padded length ``"N"`` too). ``levels[k]`` is the frequency response at
resolution ``N / 2**k``, a ``(N / 2**k, 1)`` tensor. Users read them to plot the filters or to
find centre frequencies; the engine computes with its own plans, so these are built on demand
from the `engine.filterbank.FilterBank` and changing them changes nothing.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.filterbank import Filter, FilterBank

__all__ = ["KymatioAttributes", "kymatio_filters", "scattering_meta"]


def _levels(levels: tuple[np.ndarray, ...], dtype: torch.dtype, device) -> list[torch.Tensor]:
    out = []
    for h_f in levels:
        t = torch.as_tensor(h_f)                       # float64, as designed
        if dtype != torch.float64:
            t = t.to(torch.get_default_dtype()).to(dtype)
        out.append(t.to(device).view(-1, 1))
    return out


def _filter_dict(f: Filter, dtype: torch.dtype, device) -> dict:
    return {"levels": _levels(f.levels, dtype, device), "xi": f.xi, "sigma": f.sigma, "j": f.j}


def kymatio_filters(bank: FilterBank, dtype: torch.dtype = torch.float32, device="cpu"
                    ) -> tuple[dict, list[dict], list[dict]]:
    """``(phi_f, psi1_f, psi2_f)`` of ``bank`` as Kymatio's torch front end has them, with
    every level a ``(N / 2**k, 1)`` tensor of ``dtype`` on ``device``.

    >>> from engine.filterbank import build_filterbank
    >>> phi_f, psi1_f, psi2_f = kymatio_filters(build_filterbank(1024, 5, (4, 1), 32))
    >>> sorted(psi1_f[0]), psi1_f[0]["levels"][0].shape, phi_f["N"]
    (['j', 'levels', 'sigma', 'xi'], torch.Size([1024, 1]), 1024)
    """
    phi_f = _filter_dict(bank.phi, dtype, device)
    phi_f["N"] = bank.N
    return (phi_f, [_filter_dict(f, dtype, device) for f in bank.psi1],
            [_filter_dict(f, dtype, device) for f in bank.psi2])


class KymatioAttributes:
    """The attributes of Kymatio's 1-D front end that the engine's plans do not need:
    ``stride``, ``_N_padded`` and the filter dicts ``phi_f``, ``psi1_f``, ``psi2_f`` (built
    on first use, on the device and dtype of the module's plans).

    For a `engine._module.PlannedTransform` with ``bank``, ``N_padded``, ``log2_stride`` and
    ``_groups`` (whose first ``"psi1"`` names a plan buffer).
    """

    @property
    def stride(self) -> int:
        """The output's time step in samples, ``2**log2_stride``."""
        return 2**self.log2_stride

    @property
    def _N_padded(self) -> int:
        """Kymatio's name for the padded length `N_padded`."""
        return self.N_padded

    def _kymatio_filters(self) -> tuple[dict, list[dict], list[dict]]:
        """``(phi_f, psi1_f, psi2_f)``, built once per device and dtype of the plans."""
        ref = getattr(self, self._groups[0]["psi1"])
        key = (ref.device, ref.dtype)
        if getattr(self, "_filters_key", None) != key:
            self._filters, self._filters_key = kymatio_filters(self.bank, ref.dtype,
                                                               ref.device), key
        return self._filters

    @property
    def phi_f(self) -> dict:
        """Kymatio's low-pass dict: ``levels`` (``(N_padded / 2**k, 1)`` tensors), ``xi``,
        ``sigma``, ``j``, ``N``; see `engine._kymatio_compat`. Read-only in effect."""
        return self._kymatio_filters()[0]

    @property
    def psi1_f(self) -> list[dict]:
        """Kymatio's first-order wavelets: one dict per wavelet with ``levels``, ``xi``,
        ``sigma`` and ``j``, in ``bank.psi1``'s order (the ``n1`` of the paths)."""
        return self._kymatio_filters()[1]

    @property
    def psi2_f(self) -> list[dict]:
        """Kymatio's second-order wavelets, as `psi1_f` (the ``n2`` of the paths)."""
        return self._kymatio_filters()[2]


def scattering_meta(paths: list[tuple], bank: FilterBank, max_order: int, T: int,
                    sample_rate: float | None = None) -> dict:
    """`engine.Scattering1D.meta` for output channels ``paths`` (path tuples in output order)
    of ``bank``: Kymatio's keys ``order``, ``key``, ``n``, ``xi``, ``sigma``, ``j`` (arrays
    ``(C, max_order)``, NaN-padded), ``phi``; with ``sample_rate`` (Hz), also ``xi_hz``,
    ``sigma_hz``, ``bandwidth_hz`` (full width at half maximum) and the same for ``phi``."""
    order = np.array([len(p) for p in paths])
    n = np.full((len(paths), max_order), np.nan)
    for c, p in enumerate(paths):
        n[c, : len(p)] = p
    meta = {"order": order, "key": list(paths), "n": n}
    banks = (bank.psi1, bank.psi2)
    for key in ("xi", "sigma", "j"):
        arr = np.full_like(n, np.nan)
        for c, p in enumerate(paths):
            for o, idx in enumerate(p):
                arr[c, o] = getattr(banks[o][idx], key)
        meta[key] = arr
    phi = bank.phi
    meta["phi"] = {"xi": 0.0, "sigma": phi.sigma, "j": phi.j, "T": T}
    if sample_rate is not None:
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
        fwhm = 2 * math.sqrt(2 * math.log(2))
        meta["xi_hz"] = meta["xi"] * sample_rate
        meta["sigma_hz"] = meta["sigma"] * sample_rate
        meta["bandwidth_hz"] = meta["sigma_hz"] * fwhm
        meta["phi"].update(sigma_hz=phi.sigma * sample_rate,
                           bandwidth_hz=phi.sigma * sample_rate * fwhm,
                           T_seconds=T / sample_rate)
    return meta
