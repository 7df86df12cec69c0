"""The checks of `validate_filterbank`, one function per check, listed in `CHECKS`.

Every check takes a `FamilyMeasures` (the measurements on one family that several checks
share, computed once) and returns its `Finding`, or None when it does not apply (``spacing``
and ``constant_q`` need three peaks on their side of the frequency axis). `check_family` runs
the table in order: the findings of a family come in the order of `CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np
from scipy.signal import find_peaks

from engine.toolkit._spectra import _bandwidths, _names, _peak_freqs, _spacing_runs
from engine.toolkit.energies import lp_sum
from engine.toolkit.report import FamilyData, Finding

__all__ = ["FamilyMeasures", "CHECKS", "check_family"]


@dataclass
class FamilyMeasures:
    """One family ``name``: responses ``psi`` ``(K, N)``, low-pass ``phi`` ``(N,)`` or None,
    thresholds ``th``, and what the checks measure on it (each computed once)."""

    name: str
    psi: np.ndarray
    phi: np.ndarray | None
    th: dict
    _spacing: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.K, self.N = self.psi.shape
        self.mag = np.abs(self.psi)
        peak_val = self.mag.max(axis=1)
        self.peak_val = np.where(peak_val > 0, peak_val, 1.0)
        self.f = np.fft.fftfreq(self.N)
        self.peaks = _peak_freqs(self.mag)
        self.sides = np.sign(self.peaks)
        self.analytic = bool(np.all(self.sides > 0))
        self.two_sided = bool(np.any(self.sides > 0) and np.any(self.sides < 0))
        self.bws = _bandwidths(self.mag, self.peaks)

    @cached_property
    def lp(self) -> tuple[np.ndarray, float, float, np.ndarray]:
        """``(A, lo, hi, band)``: the Littlewood-Paley sum ``(N,)``, the band ``[lo, hi]``
        (cycles/sample) the family tiles and its mask on the grid."""
        f, peaks, phi, N = self.f, self.peaks, self.phi, self.N
        A = lp_sum(self.psi, phi, fold=self.analytic)
        if self.analytic:
            lo = 0.0 if phi is not None else float(peaks.min())
            hi = float(peaks.max())
            band = (f >= lo) & (f <= hi)
        elif self.two_sided:
            lo, hi = float(peaks.min()), float(peaks.max())
            band = (f >= lo) & (f <= hi) if phi is not None else (
                ((f >= lo) & (f <= -np.abs(peaks).min()))
                | ((f <= hi) & (f >= np.abs(peaks).min())))
        else:      # anti-analytic only
            lo, hi = float(peaks.min()), (0.0 if phi is not None else float(peaks.max()))
            band = (f >= lo) & (f <= hi)
        if not band.any():
            band = np.ones(N, bool)
        return A, lo, hi, band

    @cached_property
    def time(self) -> tuple[np.ndarray, np.ndarray]:
        """``(|psi(t)|, its peak per filter)``: ``(K, N)`` and ``(K,)``."""
        h = np.abs(np.fft.ifft(self.psi, axis=1))
        return h, h.max(axis=1) + 1e-300

    def spacing(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """For the ``"positive"`` or ``"negative"`` peaks: ``(srt, geo, lin)``, their indices
        sorted by ``|peak|`` and the masks of geometric and linear runs (`_spacing_runs`);
        None with fewer than three peaks on that side."""
        if side not in self._spacing:
            sel = np.flatnonzero(self.peaks > 0 if side == "positive" else self.peaks < 0)
            if sel.size < 3:
                self._spacing[side] = None
            else:
                srt = sel[np.argsort(np.abs(self.peaks[sel]))]
                geo, lin = _spacing_runs(np.abs(self.peaks[srt]), self.th["spacing"])
                self._spacing[side] = (srt, geo, lin)
        return self._spacing[side]

    def finding(self, check: str, bad, value, message_ok: str, message_bad: str,
                severity: str = "warning", thr: float | None = None) -> Finding:
        """The `Finding` of ``check``: ``message_bad`` (with ``{names}`` the offending filters)
        when ``bad`` names any, else ``"ok"`` with ``message_ok``."""
        thr = self.th.get(check) if thr is None else thr
        bad = [int(i) for i in bad]
        if bad:
            return Finding(check, severity, message_bad.format(names=_names(bad)), bad,
                           float(value), thr, self.name)
        return Finding(check, "ok", message_ok, [], float(value), thr, self.name)


def analyticity(c: FamilyMeasures) -> Finding:
    """Energy on the side opposite to the filter's peak (Nyquist counts half)."""
    N, f = c.N, c.f
    e = c.mag**2
    w_neg = (f < 0).astype(float)
    w_pos = (f > 0).astype(float)
    w_neg[N // 2] = w_pos[N // 2] = 0.5
    tot = e.sum(1) + 1e-300
    wrong = np.where(c.sides >= 0, e @ w_neg, e @ w_pos) / tot
    t = c.th["analyticity"]
    bad = np.flatnonzero(wrong > t)
    return c.finding(
        "analyticity", bad, wrong.max(),
        f"every filter keeps its energy on one side of the frequency axis (worst "
        f"{wrong.max():.1e} <= {t:.0e} of its energy on the other side)",
        f"filters {{names}} leak up to {wrong.max():.1e} of their energy (> {t:.0e}) to the "
        f"frequencies of the other sign: not analytic (worst: filter "
        f"{int(np.argmax(wrong))}); for a real input this mixes in the conjugate band")


def zero_mean(c: FamilyMeasures) -> Finding:
    """``|psi(0)|`` relative to the peak."""
    dc = c.mag[:, 0] / c.peak_val
    t = c.th["zero_mean"]
    bad = np.flatnonzero(dc > t)
    return c.finding(
        "zero_mean", bad, dc.max(),
        f"every filter has |psi(0)| <= {t:.0e} of its peak (worst {dc.max():.1e})",
        f"filters {{names}} have a mean (|psi(0)| up to {dc.max():.2e} of their peak, "
        f"> {t:.0e}): they pass DC, so they respond to constant offsets")


def _lp_extremes(c: FamilyMeasures):
    """Where the Littlewood-Paley sum is worst: ``(a_min, a_max, flat, w_min, w_max,
    near_min, over, near_max, conv)``."""
    A, lo, hi, band = c.lp
    f, N, mag, th = c.f, c.N, c.mag, c.th
    a_min, a_max = float(A[band].min()), float(A[band].max())
    flat = a_min / a_max if a_max > 0 else 0.0
    w_min = float(f[band][np.argmin(A[band])])
    w_max = float(f[band][np.argmax(A[band])])
    bins_min = int(round(w_min * N)) % N
    # the filters that dominate where the sum is worst
    near_min = sorted(set(np.argsort(-mag[:, bins_min])[:2].tolist()))
    over = np.flatnonzero(A[band] > th["lp_max"])
    over_bins = np.flatnonzero(band)[over]
    near_max = sorted(set(np.argmax(mag[:, over_bins], axis=0).tolist())) if over.size else []
    if c.analytic:
        kym = 2 * A - (0 if c.phi is None else np.abs(c.phi) ** 2)
        conv = (f" (in Kymatio's convention, without the 1/2 for real inputs: "
                f"{kym[band].min():.2f}..{kym[band].max():.2f})")
    else:
        conv = ""
    return a_min, a_max, flat, w_min, w_max, near_min, over, near_max, conv


def lp_max(c: FamilyMeasures) -> Finding:
    """The Littlewood-Paley sum's maximum over the band the family tiles."""
    a_min, a_max, flat, w_min, w_max, near_min, over, near_max, conv = _lp_extremes(c)
    th = c.th
    return c.finding(
        "lp_max", near_max, a_max,
        f"the Littlewood-Paley sum stays <= {th['lp_max']} (max {a_max:.3f} at "
        f"{w_max:.4f} cycles/sample): the bank does not amplify energy",
        f"the Littlewood-Paley sum reaches {a_max:.3f} (> {th['lp_max']}) at {w_max:.4f} "
        f"cycles/sample, on {over.size} bins where filters {{names}} overlap: the transform "
        f"amplifies energy there (frame bound B = {a_max:.3f})")


def lp_flatness(c: FamilyMeasures) -> Finding:
    """The Littlewood-Paley sum's min/max over the band the family tiles."""
    a_min, a_max, flat, w_min, w_max, near_min, over, near_max, conv = _lp_extremes(c)
    _, lo, hi, _ = c.lp
    th = c.th
    return c.finding(
        "lp_flatness", near_min if flat < th["lp_flatness"] else [], flat,
        f"the Littlewood-Paley sum is flat within its band [{lo:.4f}, {hi:.4f}]: "
        f"min/max = {a_min:.3f}/{a_max:.3f} = {flat:.2f} >= {th['lp_flatness']}{conv}",
        f"the Littlewood-Paley sum ranges {a_min:.3f}..{a_max:.3f} over [{lo:.4f}, {hi:.4f}] "
        f"cycles/sample (min/max {flat:.2f} < {th['lp_flatness']}); its dip at {w_min:.4f} "
        f"lies between filters {{names}}: frequencies there are under-represented{conv}")


def redundancy(c: FamilyMeasures) -> Finding:
    """Duplicate peaks, or neighbours whose magnitudes overlap too much."""
    mag, peaks, N, th = c.mag, c.peaks, c.N, c.th
    order = np.argsort(peaks)
    unit = mag / (np.linalg.norm(mag, axis=1, keepdims=True) + 1e-300)
    bad, worst = [], 0.0
    for a, b in zip(order[:-1], order[1:]):
        overlap = float(unit[a] @ unit[b])
        worst = max(worst, overlap)
        if overlap > th["redundancy"] or abs(peaks[a] - peaks[b]) < 1.0 / N:
            bad += [a, b]
    return c.finding(
        "redundancy", sorted(set(bad)), worst,
        f"no two neighbouring filters overlap by more than {th['redundancy']} (worst "
        f"{worst:.2f}) and no peaks coincide",
        f"filters {{names}} duplicate a neighbour (peaks less than one bin apart or overlap "
        f"{worst:.2f} > {th['redundancy']}): redundant channels")


def time_decay(c: FamilyMeasures) -> Finding:
    """Decay in time over the 5 % of the circle farthest from ``t = 0`` (boundary effects)."""
    h, hmax = c.time
    N = c.N
    n_edge = max(1, int(round(0.05 * N)))
    far = np.r_[N // 2 - n_edge:N // 2 + n_edge]
    tail = h[:, far].max(axis=1) / hmax
    t = c.th["time_decay"]
    bad = np.flatnonzero(tail > t)
    return c.finding(
        "time_decay", bad, tail.max(),
        f"every filter decays in time to <= {t:.0e} of its peak within the circle of "
        f"{N} samples (worst {tail.max():.1e})",
        f"filters {{names}} have not decayed at the ends of the {N}-sample circle "
        f"(|psi(t)| up to {tail.max():.1e} of its peak > {t:.0e}): they wrap around, so "
        f"outputs suffer boundary effects; use a longer N (more padding) or shorter filters")


def frequency_decay(c: FamilyMeasures) -> Finding:
    """Decay in frequency at Nyquist (truncation)."""
    N = c.N
    nyq = c.mag[:, N // 2 - 1:N // 2 + 2].max(axis=1) / c.peak_val     # the bins at Nyquist
    t = c.th["frequency_decay"]
    bad = np.flatnonzero(nyq > t)
    return c.finding(
        "frequency_decay", bad, nyq.max(),
        f"every filter has decayed at Nyquist to <= {t:.0e} of its peak "
        f"(worst {nyq.max():.1e})",
        f"filters {{names}} are still at up to {nyq.max():.1e} of their peak at Nyquist "
        f"(> {t:.0e}): they are cut by the frequency grid, so in time they alias (ring)")


def spacing(c: FamilyMeasures, side: str) -> Finding | None:
    """Aliasing: every peak of ``side`` on a geometric or a linear progression of its
    neighbours."""
    runs = c.spacing(side)
    if runs is None:
        return None
    srt, geo, lin = runs
    th = c.th
    bad = srt[~(geo | lin)]
    frac_bad = len(bad) / len(srt)
    return c.finding(
        "spacing", sorted(bad), frac_bad,
        f"the {len(srt)} {side}-frequency peaks are spaced geometrically "
        f"({int(geo.sum())}) or linearly ({int((lin & ~geo).sum())}) within "
        f"{th['spacing']:.0%}",
        f"the peaks of filters {{names}} are spaced neither geometrically nor linearly "
        f"(tolerance {th['spacing']:.0%}): a sign of aliasing (a peak that wrapped "
        f"around the frequency axis) or of an irregular design")


def constant_q(c: FamilyMeasures, side: str) -> Finding | None:
    """Constant quality factor in the geometric region of ``side``."""
    runs = c.spacing(side)
    if runs is None:
        return None
    srt, geo, _ = runs
    cq = srt[geo]
    if cq.size < 3:
        return None
    th, peaks, bws = c.th, c.peaks, c.bws
    qf = np.abs(peaks[cq]) / np.maximum(bws[cq], 1e-300)
    med = float(np.median(qf))
    dev = np.abs(qf / med - 1)
    bad = cq[dev > th["constant_q"]]
    return c.finding(
        "constant_q", sorted(bad), dev.max(),
        f"the {cq.size} geometrically spaced {side} filters have a constant quality "
        f"factor xi/bandwidth = {med:.2f} within {th['constant_q']:.0%} "
        f"(worst {dev.max():.1%})",
        f"filters {{names}} of the constant-Q region deviate by up to {dev.max():.0%} "
        f"(> {th['constant_q']:.0%}) from its quality factor xi/bandwidth = {med:.2f}: "
        f"the tiling is not constant-Q there")


def temporal_peaks(c: FamilyMeasures) -> Finding:
    """A single peak of ``|psi(t)|``."""
    h, hmax = c.time
    th = c.th
    hs = np.fft.fftshift(h, axes=1)
    counts = np.zeros(c.K, int)
    for k in range(c.K):
        pk, _ = find_peaks(np.r_[0.0, hs[k], 0.0],
                           prominence=th["temporal_peaks"] * hmax[k])
        counts[k] = len(pk)
    bad = np.flatnonzero(counts > 1)
    return c.finding(
        "temporal_peaks", bad, counts.max(),
        "every filter has a single peak in time (|psi(t)|)",
        f"filters {{names}} have {counts.max()} peaks in time (secondary maxima above "
        f"{th['temporal_peaks']:.0%} of the main one): their impulse responses ring or split")


#: The checks, in the order their findings come: ``(check name, function)``.
CHECKS: tuple[tuple[str, Callable[[FamilyMeasures], Finding | None]], ...] = (
    ("analyticity", analyticity),
    ("zero_mean", zero_mean),
    ("lp_max", lp_max),
    ("lp_flatness", lp_flatness),
    ("redundancy", redundancy),
    ("time_decay", time_decay),
    ("frequency_decay", frequency_decay),
    ("spacing", partial(spacing, side="positive")),
    ("constant_q", partial(constant_q, side="positive")),
    ("spacing", partial(spacing, side="negative")),
    ("constant_q", partial(constant_q, side="negative")),
    ("temporal_peaks", temporal_peaks),
)


def check_family(name: str, psi: np.ndarray, phi: np.ndarray | None, th: dict
                 ) -> tuple[list[Finding], FamilyData]:
    """Every check of `CHECKS` on one family ``(K, N)`` (low-pass ``phi`` ``(N,)`` or None)
    with thresholds ``th``: its findings, in table order, and its `FamilyData`."""
    c = FamilyMeasures(name, psi, phi, th)
    findings = [f for _, check in CHECKS if (f := check(c)) is not None]
    A, lo, hi, _ = c.lp
    return findings, FamilyData(name, psi, phi, c.peaks, c.bws, A, (lo, hi), c.analytic)
