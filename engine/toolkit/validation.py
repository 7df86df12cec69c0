"""`validate_filterbank`: the families of a bank, a transform or raw arrays, checked one by
one by the checks of `engine.toolkit.checks`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.filterbank import FilterBank
from engine.jtfs import frequential_responses
from engine.toolkit._arrays import _np
from engine.toolkit.checks import check_family
from engine.toolkit.report import THRESHOLDS, Report

__all__ = ["validate_filterbank"]


def _families_of(obj, phi_f=None) -> tuple[dict[str, tuple[np.ndarray, np.ndarray | None]],
                                         dict]:
    """``{family: (psi_f (K, N), phi_f (N,) or None)}`` and parameters, from any input."""
    if isinstance(obj, FilterBank):
        arr = obj.as_arrays()
        params = dict(design=obj.design, N=obj.N, J=obj.J, Q=obj.Q, T=obj.T)
        return {"psi1": (arr["psi1"], arr["phi"]), "psi2": (arr["psi2"], arr["phi"])}, params
    if hasattr(obj, "bank") and isinstance(obj.bank, FilterBank):      # a transform
        fams, params = _families_of(obj.bank)
        params = {"transform": type(obj).__name__, "shape": getattr(obj, "shape", None),
                  **params}
        if hasattr(obj, "J_fr") and hasattr(obj, "N1"):                 # JTFS
            fams["psi_fr"] = _frequential_family(obj)
            params.update(J_fr=obj.J_fr, Q_fr=obj.Q_fr, F=getattr(obj, "F", None))
        return fams, params
    if isinstance(obj, Mapping):
        return ({k: (_np(v), None if phi_f is None else _np(phi_f)) for k, v in obj.items()}, {})
    psi = _np(obj)
    if psi.ndim == 1:
        psi = psi[None]
    if psi.ndim != 2:
        raise ValueError(f"psi_f must have shape (K, N) (K filters' frequency responses on an "
                         f"N-point FFT grid); got shape {psi.shape}.")
    return {"psi": (psi, None if phi_f is None else _np(phi_f))}, {}


def _frequential_family(jtfs) -> tuple[np.ndarray, np.ndarray]:
    """JTFS's frequential wavelets (both spins: ``(2 n_fr, L)``, spin up then down) and
    ``|phi_f|`` ``(L,)`` as complex frequency responses along ``n1``
    (`engine.jtfs.frequential_responses`), on a grid of ``L >= 1024`` bins, at least four
    times the longest kernel."""
    H = frequential_responses(jtfs, centred=False)["taps"] // 2
    r = frequential_responses(jtfs, L=1 << max(10, (4 * H + 1).bit_length()), centred=False)
    return np.concatenate([r["up"], r["dn"]]), np.abs(r["phi"])


def validate_filterbank(bank, phi_f=None, families: Sequence[str] | None = None,
                        thresholds: Mapping[str, float] | None = None) -> Report:
    """Check a filter bank and report its problems, naming the offending filters.

    Parameters
    ----------
    bank : FilterBank, Scattering1D, TimeFrequencyScattering, array or dict of arrays
        What to check: an ``engine.filterbank.FilterBank`` (families ``psi1`` and ``psi2``
        with ``phi``), a transform (its banks; JTFS adds its frequential family ``psi_fr``),
        an array ``psi_f`` ``(K, N)`` of frequency responses (family ``psi``), or a dict
        ``{family: psi_f}``.
    phi_f : array (N,), optional
        The low-pass, for raw arrays.
    families : sequence of str, optional
        Check only these families.
    thresholds : dict, optional
        Overrides of `THRESHOLDS`.

    Returns
    -------
    Report
        ``findings`` (one `Finding` per check and family), ``families`` (the measured
        `FamilyData`), ``params``, and ``.text()``.

    The checks and their thresholds (`THRESHOLDS`)
    ----------------------------------------------
    analyticity (1e-5)
        Energy of a filter on the side of the frequency axis opposite to its peak, over its
        total energy. Morlet wavelets fail for the lowest filters (the ``kappa`` Gaussian that
        cancels the mean spills into negative frequencies) and for the highest (periodisation
        past Nyquist).
    zero_mean (1e-3)
        ``|psi(0)| / max |psi|``.
    lp_max (1.05), lp_flatness (0.8)
        Littlewood-Paley sum (see `lp_sum`; the low-pass included when given) over the band
        the family tiles: from 0 (with a low-pass) or the lowest peak to the highest peak.
        ``lp_max`` fails when the sum exceeds 1.05 (the bank amplifies energy: a tight frame is
        1), naming the filters that dominate the excess; ``lp_flatness`` fails when
        min/max < 0.8, naming the two filters around the deepest dip.
    redundancy (0.95)
        Cosine similarity of the magnitudes of neighbours in frequency, or peaks less than one
        FFT bin apart.
    time_decay (1e-3)
        ``|psi(t)|`` over the 5 % of the circular time axis farthest from ``t = 0``, relative
        to its peak: a filter that has not decayed there wraps around (boundary effects).
    frequency_decay (1e-3)
        ``|psi|`` at Nyquist relative to its peak: a filter cut by the grid rings in time.
    spacing (10 %)
        Peaks sorted by frequency must lie in runs of three whose ratios (geometric) or
        differences (linear) agree within 10 %; a peak in neither is a sign of aliasing.
    constant_q (10 %)
        In the geometric run, ``xi / bandwidth`` (-3 dB bandwidth) of every filter within 10 %
        of the median.
    temporal_peaks (1 %)
        ``|psi(t)|`` may have one local maximum; others with a prominence above 1 % of the peak
        fail.

    Example
    -------
    >>> from engine import Scattering1D
    >>> report = validate_filterbank(Scattering1D(6, 4096, Q=16))
    >>> [f.check for f in report.problems if f.family == "psi1"][:2]
    ['analyticity', 'lp_flatness']
    """
    th = dict(THRESHOLDS)
    if thresholds:
        unknown = set(thresholds) - set(THRESHOLDS)
        if unknown:
            raise ValueError(f"Unknown thresholds {sorted(unknown)}; known: "
                             f"{sorted(THRESHOLDS)}.")
        th.update(thresholds)
    fams, params = _families_of(bank, phi_f)
    if families is not None:
        missing = set(families) - set(fams)
        if missing:
            raise ValueError(f"No families {sorted(missing)} in this bank; it has "
                             f"{sorted(fams)}.")
        fams = {k: v for k, v in fams.items() if k in families}
    findings, data = [], {}
    for name, (psi, phi) in fams.items():
        psi = np.asarray(psi)
        if psi.ndim != 2 or psi.shape[0] < 1 or psi.shape[1] < 4:
            raise ValueError(f"Family {name!r}: psi_f must have shape (K, N) with K >= 1, "
                             f"N >= 4; got {psi.shape}.")
        if phi is not None and np.shape(phi) != (psi.shape[1],):
            raise ValueError(f"Family {name!r}: phi_f must have shape ({psi.shape[1]},) like "
                             f"the wavelets; got {np.shape(phi)}.")
        if not np.all(np.isfinite(psi)):
            raise ValueError(f"Family {name!r} holds NaN or inf.")
        f, d = check_family(name, psi, phi, th)
        findings += f
        data[name] = d
    return Report(findings, data, params)
