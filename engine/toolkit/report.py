"""What `validate_filterbank` returns: `Finding`, `FamilyData`, `Report`, and the
`THRESHOLDS` of its checks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Finding", "FamilyData", "Report", "THRESHOLDS", "SEVERITIES"]

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
