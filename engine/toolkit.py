"""Numerical toolkit: filter bank validation, energies, distances, JTFS packing, normalisation.

* `validate_filterbank` checks a filter bank (an engine `FilterBank`, a `Scattering1D` or
  `TimeFrequencyScattering` instance, or raw arrays) and returns a `Report`: a list of
  `Finding` objects, one per check and family, plus the arrays a plot needs.
* `energy_conservation`, `coeff_energy`, `coeff_distance`: output/input energies and
  distances between coefficients, per scattering order or per JTFS pair.
* `pack_coeffs_jtfs`: JTFS pairs packed into one 4-D (or 3-D) array per sample, for 3-D/4-D
  convolutions.
* `normalize`: ``log1p`` contraction with a sparse mean, then standardisation.

Everything here is numpy in float64 (inputs may be torch tensors; they are moved to the CPU).

Filter conventions
------------------
A family is ``psi_f`` of shape ``(K, N)``: frequency responses on the FFT grid
(``np.fft.fftfreq(N)`` order, cycles per sample), optionally with a low-pass ``phi_f``
``(N,)``. Filters may be complex. An *analytic* family (every peak at a positive frequency) is
meant for real signals: its Littlewood-Paley sum folds negative frequencies onto positive
ones. A family with peaks on both sides (JTFS's frequential up and down wavelets) is checked
over the whole circle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Finding",
    "FamilyData",
    "Report",
    "THRESHOLDS",
    "validate_filterbank",
    "lp_sum",
    "energy_conservation",
    "coeff_energy",
    "coeff_distance",
    "pack_coeffs_jtfs",
    "normalize",
    "sparse_mean",
]

#: Every threshold of `validate_filterbank`, by check. A check fails (names its filters)
#: when its measured value crosses the threshold. Documented in `validate_filterbank`.
THRESHOLDS: dict[str, float] = {
    # energy on the wrong side of the frequency axis / total energy, per filter (-50 dB)
    "analyticity": 1e-5,
    # |psi(0)| / max|psi|, per filter (-60 dB)
    "zero_mean": 1e-3,
    # Littlewood-Paley sum: maximum allowed above the target (1), and the lowest min/max
    # ratio ("flatness") inside the band the family is meant to tile
    "lp_max": 1.05,
    "lp_flatness": 0.8,
    # normalised overlap <|psi_i|, |psi_j|> / (|psi_i| |psi_j|) between neighbours in
    # frequency above which two filters are redundant; peaks closer than one bin are duplicates
    "redundancy": 0.95,
    # |psi(t)| within the outer 5 % of the circular time axis / peak (-60 dB): boundary effects
    "time_decay": 1e-3,
    # |psi| at Nyquist (or at the far end of the filter's side) / peak (-60 dB): truncation
    "frequency_decay": 1e-3,
    # relative tolerance on consecutive peak ratios (geometric) or differences (linear)
    "spacing": 0.1,
    # relative deviation of a filter's quality factor xi / bandwidth from the median of the
    # geometrically spaced (constant-Q) region
    "constant_q": 0.1,
    # prominence, relative to the peak, of a secondary local maximum of |psi(t)|
    "temporal_peaks": 0.01,
}

SEVERITIES = ("ok", "info", "warning", "error")


@dataclass
class Finding:
    """The outcome of one check on one family.

    Attributes
    ----------
    check : str
        Name of the check (a key of `THRESHOLDS` or ``"lp_sum"``).
    severity : str
        ``"ok"``, ``"info"``, ``"warning"`` or ``"error"``.
    message : str
        One readable sentence: what was measured, against what, and which filters fail.
    filters : list of int
        Indices (within ``family``) of the offending filters; empty when none.
    value : float or None
        The measured value (the worst one over the family).
    threshold : float or None
        The threshold it was compared with.
    family : str
        The filter family (``"psi1"``, ``"psi2"``, ``"psi_fr"``, ...).
    """

    check: str
    severity: str
    message: str
    filters: list[int] = field(default_factory=list)
    value: float | None = None
    threshold: float | None = None
    family: str = "psi"

    @property
    def ok(self) -> bool:
        return self.severity in ("ok", "info")


@dataclass
class FamilyData:
    """What the checks measured on one family, for plots and further analysis.

    ``psi_f`` ``(K, N)``, ``phi_f`` ``(N,)`` or None, ``peaks`` (signed peak frequencies,
    cycles/sample, sub-bin accurate), ``bandwidths`` (-3 dB widths), ``lp`` the
    Littlewood-Paley sum ``(N,)`` on the FFT grid, ``lp_band`` the ``(low, high)`` frequencies
    over which it is judged, ``analytic`` whether the family is analytic-only.
    """

    name: str
    psi_f: np.ndarray
    phi_f: np.ndarray | None
    peaks: np.ndarray
    bandwidths: np.ndarray
    lp: np.ndarray
    lp_band: tuple[float, float]
    analytic: bool


@dataclass
class Report:
    """Findings of `validate_filterbank`, with the measured data and the parameters."""

    findings: list[Finding]
    families: dict[str, FamilyData]
    params: dict

    @property
    def ok(self) -> bool:
        """True when no finding is a warning or an error."""
        return all(f.ok for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def offending(self, family: str) -> list[int]:
        """Sorted indices of the filters of ``family`` named by any failed check."""
        return sorted({i for f in self.problems if f.family == family for i in f.filters})

    def get(self, check: str, family: str | None = None) -> list[Finding]:
        return [f for f in self.findings
                if f.check == check and (family is None or f.family == family)]

    def text(self) -> str:
        """A readable summary: parameters, then one line per finding, problems first."""
        lines = ["Filter bank validation"]
        if self.params:
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in self.params.items()))
        n_bad = len(self.problems)
        lines.append(f"  {n_bad} problem(s) in {len(self.findings)} checks over "
                     f"{len(self.families)} famil{'y' if len(self.families) == 1 else 'ies'} "
                     f"({', '.join(self.families)})")
        order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
        for f in sorted(self.findings, key=lambda f: (order[f.severity], f.family)):
            lines.append(f"[{f.severity.upper():7s}] {f.family}.{f.check}: {f.message}")
        return "\n".join(lines)

    __str__ = text


# --------------------------------------------------------------------------------------------
# Input normalisation
# --------------------------------------------------------------------------------------------

def _np(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _families_of(obj, phi_f=None) -> tuple[dict[str, tuple[np.ndarray, np.ndarray | None]],
                                         dict]:
    """``{family: (psi_f (K, N), phi_f (N,) or None)}`` and parameters, from any input."""
    from engine.filterbank import FilterBank

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
    """JTFS's frequential wavelets (both spins) and ``phi_f`` as frequency responses along
    ``n1``, from the very kernels (taps) the transform applies, on a grid of ``L`` bins."""
    from engine.jtfs import frequential_filters

    filters, _ = frequential_filters(jtfs.filterbank, jtfs.J_fr, jtfs.Q_fr, None, jtfs.N1)
    H = max(f["taps"].size // 2 for f in filters)
    L = 1 << max(10, (4 * H + 1).bit_length())

    def response(taps):
        h = np.zeros(L, complex)
        k = taps.size // 2
        h[:k + 1] = taps[k:]
        h[L - k:] = taps[:k]
        return np.fft.fft(h)

    phi = [response(f["taps"]) for f in filters if f["name"] == "phi_f"]
    psi = np.stack([response(f["taps"]) for f in filters if f["name"] == "psi_f"])
    return psi, (np.abs(phi[0]) if phi else None)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------

def _peak_freqs(mag: np.ndarray) -> np.ndarray:
    """Signed peak frequencies (cycles/sample) of ``|psi_f|`` ``(K, N)``, refined by a
    parabola on the log magnitude (exact for Gaussians)."""
    K, N = mag.shape
    i = np.argmax(mag, axis=1)
    rows = np.arange(K)
    tiny = 1e-300
    lm = np.log(mag[rows, (i - 1) % N] + tiny)
    l0 = np.log(mag[rows, i] + tiny)
    lp = np.log(mag[rows, (i + 1) % N] + tiny)
    denom = lm - 2 * l0 + lp
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(denom < 0, 0.5 * (lm - lp) / denom, 0.0)
    delta = np.clip(np.nan_to_num(delta), -0.5, 0.5)
    f = (i + delta) / N
    return np.where(f >= 0.5, f - 1.0, f)


def _bandwidths(mag: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """-3 dB bandwidths (cycles/sample): the width of the contiguous region around each
    peak where ``|psi| >= peak / sqrt(2)``, with linear interpolation at both edges."""
    K, N = mag.shape
    out = np.empty(K)
    for k in range(K):
        m = mag[k]
        i0 = int(round(peaks[k] * N)) % N
        level = m[i0] / math.sqrt(2)
        edges = []
        for step in (1, -1):
            j = i0
            for _ in range(N // 2):
                nxt = (j + step) % N
                if m[nxt] < level:
                    frac = (m[j] - level) / max(m[j] - m[nxt], 1e-300)
                    edges.append(step * ((j - i0) * step + frac))
                    break
                j = nxt
            else:
                edges.append(step * N / 2)
        out[k] = (edges[0] - edges[1]) / N
    return out


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


def _spacing_runs(peaks: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (over filters sorted by peak) of filters lying in a geometric or a
    linear run: consecutive triples whose ratios (resp. differences) agree within ``tol``."""
    n = len(peaks)
    geo = np.zeros(n, bool)
    lin = np.zeros(n, bool)
    for i in range(n - 2):
        a, b, c = peaks[i], peaks[i + 1], peaks[i + 2]
        d1, d2 = b - a, c - b
        if d1 > 0 and d2 > 0:
            # a triple close to both (a slow progression) goes to the better fit
            g_err = abs(math.log(b / a) / math.log(c / b) - 1)
            l_err = abs(d1 / d2 - 1)
            if g_err <= tol and g_err <= l_err:
                geo[i:i + 3] = True
            elif l_err <= tol:
                lin[i:i + 3] = True
    return geo, lin


def _names(idx) -> str:
    idx = list(idx)
    shown = ", ".join(str(i) for i in idx[:12])
    return shown + (f", ... ({len(idx)} in all)" if len(idx) > 12 else "")


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------

def _check_family(name: str, psi: np.ndarray, phi: np.ndarray | None, th: dict
                  ) -> tuple[list[Finding], FamilyData]:
    K, N = psi.shape
    mag = np.abs(psi)
    peak_val = mag.max(axis=1)
    peak_val = np.where(peak_val > 0, peak_val, 1.0)
    f = np.fft.fftfreq(N)
    peaks = _peak_freqs(mag)
    sides = np.sign(peaks)
    analytic = bool(np.all(sides > 0))
    two_sided = bool(np.any(sides > 0) and np.any(sides < 0))
    bws = _bandwidths(mag, peaks)
    out: list[Finding] = []

    def add(check, bad, value, message_ok, message_bad, severity="warning", thr=None):
        thr = th.get(check) if thr is None else thr
        bad = [int(i) for i in bad]
        if bad:
            out.append(Finding(check, severity, message_bad.format(names=_names(bad)), bad,
                               float(value), thr, name))
        else:
            out.append(Finding(check, "ok", message_ok, [], float(value), thr, name))

    # 1. analyticity: energy on the side opposite to the filter's peak (Nyquist counts half).
    e = mag**2
    w_neg = (f < 0).astype(float)
    w_pos = (f > 0).astype(float)
    w_neg[N // 2] = w_pos[N // 2] = 0.5
    tot = e.sum(1) + 1e-300
    wrong = np.where(sides >= 0, e @ w_neg, e @ w_pos) / tot
    t = th["analyticity"]
    bad = np.flatnonzero(wrong > t)
    add("analyticity", bad, wrong.max(),
        f"every filter keeps its energy on one side of the frequency axis (worst "
        f"{wrong.max():.1e} <= {t:.0e} of its energy on the other side)",
        f"filters {{names}} leak up to {wrong.max():.1e} of their energy (> {t:.0e}) to the "
        f"frequencies of the other sign: not analytic (worst: filter "
        f"{int(np.argmax(wrong))}); for a real input this mixes in the conjugate band")

    # 2. zero mean.
    dc = mag[:, 0] / peak_val
    t = th["zero_mean"]
    bad = np.flatnonzero(dc > t)
    add("zero_mean", bad, dc.max(),
        f"every filter has |psi(0)| <= {t:.0e} of its peak (worst {dc.max():.1e})",
        f"filters {{names}} have a mean (|psi(0)| up to {dc.max():.2e} of their peak, "
        f"> {t:.0e}): they pass DC, so they respond to constant offsets")

    # 3. Littlewood-Paley sum over the band the family tiles.
    A = lp_sum(psi, phi, fold=analytic)
    if analytic:
        lo = 0.0 if phi is not None else float(peaks.min())
        hi = float(peaks.max())
        band = (f >= lo) & (f <= hi)
    elif two_sided:
        lo, hi = float(peaks.min()), float(peaks.max())
        band = (f >= lo) & (f <= hi) if phi is not None else (
            ((f >= lo) & (f <= -np.abs(peaks).min())) | ((f <= hi) & (f >= np.abs(peaks).min())))
    else:      # anti-analytic only
        lo, hi = float(peaks.min()), (0.0 if phi is not None else float(peaks.max()))
        band = (f >= lo) & (f <= hi)
    if not band.any():
        band = np.ones(N, bool)
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
    if analytic:
        kym = 2 * A - (0 if phi is None else np.abs(phi) ** 2)
        conv = (f" (in Kymatio's convention, without the 1/2 for real inputs: "
                f"{kym[band].min():.2f}..{kym[band].max():.2f})")
    else:
        conv = ""
    add("lp_max", near_max, a_max,
        f"the Littlewood-Paley sum stays <= {th['lp_max']} (max {a_max:.3f} at "
        f"{w_max:.4f} cycles/sample): the bank does not amplify energy",
        f"the Littlewood-Paley sum reaches {a_max:.3f} (> {th['lp_max']}) at {w_max:.4f} "
        f"cycles/sample, on {over.size} bins where filters {{names}} overlap: the transform "
        f"amplifies energy there (frame bound B = {a_max:.3f})")
    add("lp_flatness", near_min if flat < th["lp_flatness"] else [], flat,
        f"the Littlewood-Paley sum is flat within its band [{lo:.4f}, {hi:.4f}]: "
        f"min/max = {a_min:.3f}/{a_max:.3f} = {flat:.2f} >= {th['lp_flatness']}{conv}",
        f"the Littlewood-Paley sum ranges {a_min:.3f}..{a_max:.3f} over [{lo:.4f}, {hi:.4f}] "
        f"cycles/sample (min/max {flat:.2f} < {th['lp_flatness']}); its dip at {w_min:.4f} "
        f"lies between filters {{names}}: frequencies there are under-represented{conv}")

    # 4. redundancy: duplicate peaks, or neighbours whose magnitudes overlap too much.
    order = np.argsort(peaks)
    unit = mag / (np.linalg.norm(mag, axis=1, keepdims=True) + 1e-300)
    bad, worst = [], 0.0
    for a, b in zip(order[:-1], order[1:]):
        overlap = float(unit[a] @ unit[b])
        worst = max(worst, overlap)
        if overlap > th["redundancy"] or abs(peaks[a] - peaks[b]) < 1.0 / N:
            bad += [a, b]
    add("redundancy", sorted(set(bad)), worst,
        f"no two neighbouring filters overlap by more than {th['redundancy']} (worst "
        f"{worst:.2f}) and no peaks coincide",
        f"filters {{names}} duplicate a neighbour (peaks less than one bin apart or overlap "
        f"{worst:.2f} > {th['redundancy']}): redundant channels")

    # 5. decay in time (boundary effects) and in frequency (truncation).
    h = np.abs(np.fft.ifft(psi, axis=1))
    hmax = h.max(axis=1) + 1e-300
    n_edge = max(1, int(round(0.05 * N)))
    far = np.r_[N // 2 - n_edge:N // 2 + n_edge]
    tail = h[:, far].max(axis=1) / hmax
    t = th["time_decay"]
    bad = np.flatnonzero(tail > t)
    add("time_decay", bad, tail.max(),
        f"every filter decays in time to <= {t:.0e} of its peak within the circle of "
        f"{N} samples (worst {tail.max():.1e})",
        f"filters {{names}} have not decayed at the ends of the {N}-sample circle "
        f"(|psi(t)| up to {tail.max():.1e} of its peak > {t:.0e}): they wrap around, so "
        f"outputs suffer boundary effects; use a longer N (more padding) or shorter filters")
    nyq = mag[:, N // 2 - 1:N // 2 + 2].max(axis=1) / peak_val     # the bins at Nyquist
    t = th["frequency_decay"]
    bad = np.flatnonzero(nyq > t)
    add("frequency_decay", bad, nyq.max(),
        f"every filter has decayed at Nyquist to <= {t:.0e} of its peak "
        f"(worst {nyq.max():.1e})",
        f"filters {{names}} are still at up to {nyq.max():.1e} of their peak at Nyquist "
        f"(> {t:.0e}): they are cut by the frequency grid, so in time they alias (ring)")

    # 6. aliasing: every peak on a geometric or a linear progression of its neighbours.
    for side, sel in (("positive", np.flatnonzero(peaks > 0)),
                      ("negative", np.flatnonzero(peaks < 0))):
        if sel.size < 3:
            continue
        srt = sel[np.argsort(np.abs(peaks[sel]))]
        geo, lin = _spacing_runs(np.abs(peaks[srt]), th["spacing"])
        bad = srt[~(geo | lin)]
        frac_bad = len(bad) / len(srt)
        add("spacing", sorted(bad), frac_bad,
            f"the {len(srt)} {side}-frequency peaks are spaced geometrically "
            f"({int(geo.sum())}) or linearly ({int((lin & ~geo).sum())}) within "
            f"{th['spacing']:.0%}",
            f"the peaks of filters {{names}} are spaced neither geometrically nor linearly "
            f"(tolerance {th['spacing']:.0%}): a sign of aliasing (a peak that wrapped "
            f"around the frequency axis) or of an irregular design")
        # 7. constant-Q in the geometric region.
        cq = srt[geo]
        if cq.size >= 3:
            qf = np.abs(peaks[cq]) / np.maximum(bws[cq], 1e-300)
            med = float(np.median(qf))
            dev = np.abs(qf / med - 1)
            bad = cq[dev > th["constant_q"]]
            add("constant_q", sorted(bad), dev.max(),
                f"the {cq.size} geometrically spaced {side} filters have a constant quality "
                f"factor xi/bandwidth = {med:.2f} within {th['constant_q']:.0%} "
                f"(worst {dev.max():.1%})",
                f"filters {{names}} of the constant-Q region deviate by up to {dev.max():.0%} "
                f"(> {th['constant_q']:.0%}) from its quality factor xi/bandwidth = {med:.2f}: "
                f"the tiling is not constant-Q there")

    # 8. a single temporal peak.
    from scipy.signal import find_peaks
    hs = np.fft.fftshift(h, axes=1)
    counts = np.zeros(K, int)
    for k in range(K):
        pk, _ = find_peaks(np.r_[0.0, hs[k], 0.0],
                           prominence=th["temporal_peaks"] * hmax[k])
        counts[k] = len(pk)
    bad = np.flatnonzero(counts > 1)
    add("temporal_peaks", bad, counts.max(),
        "every filter has a single peak in time (|psi(t)|)",
        f"filters {{names}} have {counts.max()} peaks in time (secondary maxima above "
        f"{th['temporal_peaks']:.0%} of the main one): their impulse responses ring or split")

    data = FamilyData(name, psi, phi, peaks, bws, A, (lo, hi), analytic)
    return out, data


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
        f, d = _check_family(name, psi, phi, th)
        findings += f
        data[name] = d
    return Report(findings, data, params)


# --------------------------------------------------------------------------------------------
# Energies and distances
# --------------------------------------------------------------------------------------------

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
    import torch

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


# --------------------------------------------------------------------------------------------
# JTFS packing
# --------------------------------------------------------------------------------------------

def _as4d(c, name: str, lead: int) -> np.ndarray:
    """A pair's tensor as ``(B, n2, n1_fr, n1, t)``; ``lead`` = number of batch dims."""
    a = _np(c)
    core = a.ndim - lead
    if core == 4:
        return a.reshape((-1,) + a.shape[lead:])
    if core == 3:      # (n1_fr or n2, n1, t)
        return a.reshape((-1,) + a.shape[lead:])[:, None] if name.startswith("phi_t") else \
            a.reshape((-1,) + a.shape[lead:])[:, :, None]
    if core == 2:      # (n1, t)
        return a.reshape((-1,) + a.shape[lead:])[:, None, None]
    raise ValueError(f"Pair {name!r} has shape {a.shape}; expected (..., n2, n1_fr, n1, t), "
                     f"(..., n, n1, t) or (..., n1, t).")


def pack_coeffs_jtfs(Sx: Mapping, structure: str = "4d", batch_dims: int = 1) -> np.ndarray:
    """Pack a JTFS "dict" output into one array per sample for 3-D or 4-D convolutions.

    The joint pairs are laid on a grid of temporal scale ``n2`` (rows) by signed frequential
    scale (columns), with the first-order frequency ``n1`` and time as the last two axes:

    * rows: ``phi_t`` (the ``phi_t * phi_f`` and ``phi_t * psi_f`` pairs) first, then
      ``n2 = 0 .. n2_max - 1`` (high to low temporal modulation frequency);
    * columns: spin down ``psi_f_dn`` with ``n1_fr`` reversed (lowest quefrency next to the
      middle), then ``phi_f`` in the middle, then spin up ``psi_f_up`` in ``n1_fr`` order:
      ``2 n1_fr + 1`` columns, symmetric about ``phi_f``.
    * ``phi_t * psi_f`` carries no spin: it fills both halves of row 0, scaled by
      ``1/sqrt(2)`` so that the packed energy equals the output's.

    ``structure="4d"`` returns ``(B, n2 + 1, 2 n1_fr + 1, n1, t)`` (a 4-D convolution over the
    last four axes, or a 3-D one with ``n2 + 1`` channels); ``"3d"`` merges the first two
    grid axes into channels, ``(B, (n2 + 1) (2 n1_fr + 1), n1, t)``, for 2-D convolutions
    over ``(n1, t)`` or 3-D ones after unflattening. ``S0`` and ``S1`` are not packed.

    Parameters
    ----------
    Sx : dict
        JTFS output with ``out_type="dict"``: pairs ``phi_t * phi_f``, ``phi_t * psi_f``,
        ``psi_t * phi_f``, ``psi_t * psi_f_up``, ``psi_t * psi_f_dn``; spinned pairs of shape
        ``(..., n2, n1_fr, n1, t)``; the others with singleton (or absent) axes where they have
        no scale.
    structure : "4d" or "3d"
    batch_dims : int
        Number of leading batch axes of every pair (default 1).
    """
    needed = ("phi_t * phi_f", "phi_t * psi_f", "psi_t * phi_f", "psi_t * psi_f_up",
              "psi_t * psi_f_dn")
    missing = [k for k in needed if k not in Sx]
    if missing:
        raise ValueError(f"pack_coeffs_jtfs needs a JTFS dict output with pairs {needed}; "
                         f"missing {missing}. Use out_type='dict'.")
    if structure not in ("4d", "3d"):
        raise ValueError(f"structure must be '4d' or '3d'; got {structure!r}.")
    up = _as4d(Sx["psi_t * psi_f_up"], "psi_t * psi_f_up", batch_dims)
    dn = _as4d(Sx["psi_t * psi_f_dn"], "psi_t * psi_f_dn", batch_dims)
    pf = _as4d(Sx["psi_t * phi_f"], "psi_t * phi_f", batch_dims)         # (B, n2, 1, n1, t)
    tp = _as4d(Sx["phi_t * psi_f"], "phi_t * psi_f", batch_dims)         # (B, 1, n1_fr, n1, t)
    pp = _as4d(Sx["phi_t * phi_f"], "phi_t * phi_f", batch_dims)         # (B, 1, 1, n1, t)
    B, n2, n1_fr, n1, t = up.shape
    if dn.shape != up.shape:
        raise ValueError(f"Spin up {up.shape} and down {dn.shape} shapes differ.")
    for name, a, want in (("psi_t * phi_f", pf, (B, n2, 1, n1, t)),
                          ("phi_t * psi_f", tp, (B, 1, n1_fr, n1, t)),
                          ("phi_t * phi_f", pp, (B, 1, 1, n1, t))):
        if a.shape != want:
            raise ValueError(f"Pair {name!r} packs to {a.shape}; expected {want} to fit the "
                             f"spinned pairs {up.shape}. Pack outputs with aligned n1 and "
                             f"time axes (one stride for all pairs).")
    dtype = np.result_type(up, dn, pf, tp, pp)
    out = np.zeros((B, n2 + 1, 2 * n1_fr + 1, n1, t), dtype=dtype)
    mid = n1_fr
    out[:, 1:, :mid] = dn[:, :, ::-1]
    out[:, 1:, mid:mid + 1] = pf
    out[:, 1:, mid + 1:] = up
    out[:, :1, :mid] = tp[:, :, ::-1] / math.sqrt(2)
    out[:, :1, mid:mid + 1] = pp
    out[:, :1, mid + 1:] = tp / math.sqrt(2)
    if structure == "3d":
        out = out.reshape(B, (n2 + 1) * (2 * n1_fr + 1), n1, t)
    return out


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

def sparse_mean(x: np.ndarray, div: float = 100.0, iters: int = 4) -> float:
    """Mean of the non-negligible entries: iterate ``m = mean(x[x > m / div])``.

    A plain mean is dragged down by the many near-zero coefficients of empty bands (an extra
    octave with nothing in it halves it); this one follows the values that carry the shape.

    >>> sparse_mean(np.r_[np.ones(10), np.zeros(990)])
    1.0
    """
    x = np.abs(_np(x)).astype(np.float64).ravel()
    m = float(x.mean())
    for _ in range(iters - 1):
        sel = x[x > m / div]
        if sel.size == 0:
            break
        m = float(sel.mean())
    return m


def normalize(X, mean_axis=(1, 2), std_axis=(1, 2), C: float | None = None, mu=1.0,
              C_mult: float | None = None, log: bool = True) -> np.ndarray:
    """Log-contract and standardise scattering features for a learning algorithm.

    ``Xn = log1p(C X / mu)`` then zero mean over ``mean_axis`` and unit variance over
    ``std_axis``. ``C`` defaults to ``C_mult / sparse_mean(X / mu)`` with ``C_mult = 5``:
    the contraction is set by the typical *non-negligible* value rather than by the raw
    mean energy, so the log acts on the geometry of the representation (which paths are
    active relative to each other) and not on how loud the signal is.

    Parameters
    ----------
    X : array ``(samples, features, time)``
        Non-negative coefficients (e.g. a Scattering1D array output, or `pack_coeffs_jtfs`
        flattened to 3-D).
    mean_axis, std_axis : int, tuple or None
        Axes to centre and to scale; None skips. ``(1, 2)`` standardises each sample on its own;
        ``(0, 2)`` standardises each feature over the data set.
    C : float, optional
        Contraction; larger brings ``log1p(C x)`` closer to ``log x``.
    mu : float, "median" or array
        Divisor applied first: 1 keeps the channels' relative scale; ``"median"`` uses the
        median over samples of each feature's time sum (per-channel normalisation).
    C_mult : float, optional
        Multiplies ``C`` (default 5 when ``C`` is None, else 1).
    log : bool
        False skips the contraction (plain standardisation).

    Returns
    -------
    np.ndarray
        float64, the shape of ``X``.

    >>> Xn = normalize(np.abs(np.random.default_rng(0).normal(size=(4, 3, 16))))
    >>> bool(np.allclose(Xn.mean(axis=(1, 2)), 0))
    True
    """
    X = _np(X).astype(np.float64)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D (samples, features, time); got shape {X.shape}. "
                         f"Reshape first, e.g. X.reshape(len(X), -1, X.shape[-1]).")
    if np.any(X < 0):
        raise ValueError("X must be non-negative (moduli of coefficients); pass np.abs(X).")
    if log:
        if isinstance(mu, str):
            if mu != "median":
                raise ValueError(f"mu must be a number, an array or 'median'; got {mu!r}.")
            mu = np.median(X.sum(axis=-1, keepdims=True), axis=0, keepdims=True)
        mu = np.where(np.asarray(mu) == 0, 1.0, mu)
        Xn = X / mu
        if C_mult is None:
            C_mult = 5.0 if C is None else 1.0
        if C is None:
            sm = sparse_mean(Xn)
            C = 1.0 / sm if sm > 0 else 1.0
        Xn = np.log1p(Xn * C * C_mult)
    else:
        Xn = X
    if mean_axis is not None:
        Xn = Xn - Xn.mean(axis=mean_axis, keepdims=True)
    if std_axis is not None:
        sd = Xn.std(axis=std_axis, keepdims=True)
        Xn = Xn / np.where(sd == 0, 1.0, sd)
    return Xn
