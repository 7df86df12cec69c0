"""Energies: the Littlewood-Paley sum of a family, and coefficients' energies, distances and
energy conservation, per scattering order or per JTFS pair (numpy, float64)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from engine.toolkit._arrays import _np
from engine.toolkit._spectra import _peak_freqs

__all__ = ["lp_sum", "energy_conservation", "coeff_energy", "coeff_distance"]


def lp_sum(psi_f, phi_f=None, fold: bool | None = None) -> np.ndarray:
    """Littlewood-Paley sum of a family, in the convention where 1 conserves energy.

    * ``fold=True`` (default for analytic-only families, meant for **real** signals):
      ``A(w) = |phi(w)|^2 + 1/2 sum_k (|psi_k(w)|^2 + |psi_k(-w)|^2)``, even in ``w``. A real
      signal's spectrum is even, so ``||x * psi||^2`` weighs ``|X(w)|^2`` by the mean of the
      two sides: analytic wavelets conserve energy with a peak of ``sqrt 2``.
    * ``fold=False`` (families with both spins, meant for complex inputs such as JTFS's
      frequential axis): ``A(w) = |phi(w)|^2 + sum_k |psi_k(w)|^2``.

    ``a <= A(w) <= b`` for all ``w`` means every input keeps between ``a`` and ``b`` of its
    energy in the outputs; ``A = 1`` is a tight frame. Kymatio's convention omits the
    ``1/2`` (each analytic Morlet counted at its peak 1); its sum is ``2 A - |phi|^2``.
    Shape ``(N,)``, on the FFT grid.

    >>> from engine.filterbank import build_filterbank
    >>> fb = build_filterbank(1024, 5, (8, 1), 32)
    >>> float(lp_sum(fb.as_arrays()["psi1"]).max()) < 0.6   # Kymatio keeps about half
    True
    """
    psi = np.atleast_2d(_np(psi_f))
    N = psi.shape[-1]
    if fold is None:
        fold = bool(np.all(_peak_freqs(np.abs(psi)) > 0))
    A = _power_sum(psi)
    if fold:
        A = 0.5 * (A + A[(-np.arange(N)) % N])
    if phi_f is not None:
        A = A + np.abs(_np(phi_f)) ** 2
    return A


def _power_sum(psi: np.ndarray) -> np.ndarray:
    """``sum_k |psi_k|^2`` over the first axis of ``(K, N)`` responses, without a ``(K, N)``
    temporary (``np.abs(psi) ** 2`` made two, ~20x slower for a 68 x 16384 bank)."""
    if np.iscomplexobj(psi):
        re, im = psi.real, psi.imag
        return np.einsum("kn,kn->n", re, re) + np.einsum("kn,kn->n", im, im)
    return np.einsum("kn,kn->n", psi, psi)


def _energy(c) -> float:
    c = _np(c)
    return float(np.sum(np.abs(c.astype(np.float64)) ** 2))


def _groups(Sx, meta=None, transform=None) -> dict[str, list]:
    """Coefficients grouped by order (``"order0"``, ...) or by JTFS pair."""
    if isinstance(Sx, Mapping):
        keys = list(Sx)
        if keys and all(isinstance(k, str) for k in keys):          # JTFS pairs
            return {k: [v] for k, v in Sx.items()}
        groups: dict[str, list] = {}
        for k, v in Sx.items():                                      # Scattering1D dict
            groups.setdefault(f"order{len(k)}", []).append(v)
        return groups
    if isinstance(Sx, list) and Sx and isinstance(Sx[0], Mapping) and "coef" in Sx[0]:
        groups = {}
        for c in Sx:
            groups.setdefault(f"order{c['order']}", []).append(c["coef"])
        return groups
    arr = _np(Sx)
    if meta is None and transform is not None and hasattr(transform, "meta"):
        meta = transform.meta()
    if meta is None:
        return {"all": [arr]}
    order = np.asarray(meta["order"])
    if arr.shape[-2] != len(order):
        raise ValueError(f"Coefficients have {arr.shape[-2]} channels but meta describes "
                         f"{len(order)}.")
    return {f"order{o}": [arr[..., order == o, :]] for o in np.unique(order)}


def coeff_energy(Sx, meta=None, transform=None) -> dict[str, float]:
    """Energy (sum of squares) of coefficients per scattering order or per JTFS pair.

    ``Sx``: a Scattering1D output (array ``(..., C, T)`` with ``meta`` or ``transform``,
    "dict" or "list") or a JTFS "dict" output. Returns ``{"order0": e0, "order1": ...}`` or
    ``{pair: e}``, plus ``"total"``.

    >>> coeff_energy({"S0": np.ones(4), "S1": 2 * np.ones(4)})["total"]
    20.0
    """
    out = {k: sum(_energy(c) for c in v) for k, v in _groups(Sx, meta, transform).items()}
    out["total"] = sum(out.values())
    return out


def coeff_distance(Sx0, Sx1, meta=None, transform=None) -> dict[str, float]:
    """Relative distance ``||S1 - S0|| / ||S0||`` per order or per JTFS pair (and ``"total"``).

    Mallat's (2012) distance between scattering representations, pair by pair: which
    coefficients tell two signals apart.

    >>> coeff_distance({"S0": np.ones(4)}, {"S0": np.zeros(4)})["S0"]
    1.0
    """
    g0, g1 = _groups(Sx0, meta, transform), _groups(Sx1, meta, transform)
    if set(g0) != set(g1):
        raise ValueError(f"The two outputs hold different groups: {sorted(g0)} vs "
                         f"{sorted(g1)}; compute both with the same transform.")
    out, num_tot, den_tot = {}, 0.0, 0.0
    for k in g0:
        num = sum(_energy(_np(b) - _np(a)) for a, b in zip(g0[k], g1[k]))
        den = sum(_energy(a) for a in g0[k])
        out[k] = math.sqrt(num / den) if den > 0 else (0.0 if num == 0 else math.inf)
        num_tot += num
        den_tot += den
    out["total"] = math.sqrt(num_tot / den_tot) if den_tot > 0 else 0.0
    return out


def energy_conservation(x, transform) -> dict[str, float]:
    """Output energy over input energy, per order (Scattering1D) or per JTFS pair.

    Each output sample stands for ``N / n_t`` input samples (``n_t`` the number of time
    samples of that coefficient: the stride, or ``N`` for ``T="global"``, or ``2**j`` for
    unaveraged paths), so a coefficient's energy is counted as ``N / n_t * sum |S|^2``; JTFS's
    joint pairs (a "dict" output) are also multiplied by ``stride_fr`` (each row along ``n1``
    stands for that many). The input energy is ``sum x^2``.

    For analytic wavelets, a real input keeps about half of its energy in the wavelet outputs
    when the Littlewood-Paley sum (see `lp_sum`) is 1, since the negative frequencies are
    discarded (Kymatio's Morlets: order 1 of white noise unaveraged, about 0.49).

    Parameters
    ----------
    x : array or tensor ``(N,)`` or ``(B, N)``
        Input signal(s), as the transform takes it.
    transform : Scattering1D or TimeFrequencyScattering

    Returns
    -------
    dict
        ``{"order0": r0, "order1": r1, "order2": r2, "total": r}`` or ``{pair: r, "total"}``.

    >>> import torch
    >>> from engine import Scattering1D
    >>> r = energy_conservation(torch.randn(2048), Scattering1D(5, 2048, 8))
    >>> sorted(r)
    ['order0', 'order1', 'order2', 'total']
    """
    ref = next((b for b in transform.buffers() if b.is_floating_point()), None)
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if ref is not None:
        x = x.to(device=ref.device, dtype=ref.dtype)
    with torch.no_grad():
        out = transform(x)
    Ex = _energy(x)
    if Ex == 0:
        raise ValueError("The input has zero energy; pass a non-zero signal.")
    N = int(x.shape[-1])
    meta = transform.meta() if isinstance(out, torch.Tensor) else None
    stride_fr = 1
    if hasattr(transform, "J_fr") and isinstance(out, Mapping):
        stride_fr = int(transform.meta().get("stride_fr", 1)) if transform.average_fr else 1
    res = {}
    for k, coefs in _groups(out, meta).items():
        # each output sample stands for N / (number of time samples) input samples, and each
        # JTFS row along n1 for stride_fr rows
        fr = stride_fr if k not in ("S0", "S1") else 1
        res[k] = sum(_energy(c) * N / _np(c).shape[-1] * fr for c in coefs) / Ex
    res["total"] = sum(res.values())
    return res
