"""Why JTFS: signals that time scattering cannot tell apart and JTFS can.

1. **A rising against a falling chirp** (the same exponential chirp played backwards): with
   global time averaging their time-scattering coefficients are *identical* (the modulus of a
   time-reversed signal is the time-reversed modulus, and averaging forgets the order), while
   JTFS moves their energy from spin up to spin down.
2. **Frequency-dependent time shifts** (`engine.signals.fdts`): the same partials, aligned
   (an impulse-like onset) or delayed by an amount growing with frequency (a chirp-like
   onset). Time scattering, band by band, sees the same bursts; JTFS sees the slope across
   bands.
3. **A chirp, an impulse and a sine**, one at a time, read through JTFS's spins: the chirp puts
   its energy in one spin (rising: up), the impulse (a vertical line in the scalogram) in
   both equally, the sine (a horizontal line, no temporal modulation) little, in both.

`run_why_jtfs` computes the numbers (relative distances `engine.toolkit.coeff_distance`,
spin energies `coeff_energy`); `why_jtfs_figure` draws them with the scalograms (the
command line's still picture). The served page (`scatviz.demos.apps.WhyJTFSPage`) lets the
student pick one pair (`PAIRS`, `pair_signals`, or two uploaded files) and draws it with the
dashboard's views; `compare_pair` gives its numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from scatviz.analysis import SPIN_PAIRS as SPINNED  # the engine's names of the spinned pairs

__all__ = ["SPINNED", "WhyJTFSResult", "make_signals", "run_why_jtfs", "why_jtfs_figure",
           "PAIRS", "PAIR_RATE", "PairComparison", "pair_signals", "compare_pair",
           "same_length"]

#: The pairs the page offers: name -> what each signal is (the page's legend).
PAIRS = {
    "rising vs falling chirp": ("rising chirp", "falling chirp"),
    "aligned vs frequency-shifted partials": ("aligned partials", "frequency-shifted partials"),
    "impulse vs sine": ("impulse", "sine"),
}
#: Sample rate (Hz) at which the page plays and labels the generated pairs: the signals of
#: `make_signals` (frequencies 0.01-0.3 cycles/sample) span 80-2400 Hz.
PAIR_RATE = 8000.0


def make_signals(N: int = 4096) -> dict:
    """The demo's signals, float32 ``(N,)`` (frequencies in cycles/sample): the pairs and the
    three single components."""
    from engine import signals as sg

    rising = sg.exponential_chirp(N, 0.01, 0.3)
    aligned, shifted = sg.fdts(N)
    return {
        "pairs": {
            "rising chirp vs falling chirp": (rising, rising[::-1].copy()),
            "aligned partials vs frequency-shifted partials": (aligned, shifted),
        },
        "singles": {"chirp (rising)": rising, "impulse": sg.impulse(N),
                    "sine": sg.sine(N, 0.05)},
    }


@dataclass
class WhyJTFSResult:
    """``distances[pair] = {"time scattering": d, "JTFS (spinned pairs)": d, "JTFS (all)": d}``
    (relative distances); ``spins[signal] = (energy up, energy down)``; the signals and the
    transforms' settings."""

    distances: dict
    spins: dict
    signals: dict
    settings: dict


def _distance(a: dict, b: dict, keys) -> float:
    num = sum(float(((b[k].double() - a[k].double()) ** 2).sum()) for k in keys)
    den = sum(float((a[k].double() ** 2).sum()) for k in keys)
    return math.sqrt(num / den) if den > 0 else 0.0


def run_why_jtfs(N: int = 4096, J: int = 8, Q: int = 8, J_fr: int = 4) -> WhyJTFSResult:
    """Scatter every demo signal with ``Scattering1D(J, N, Q, T="global")`` and
    ``TimeFrequencyScattering(J, J_fr, Q, N, T="global", F="global")``.
    """
    from engine import Scattering1D
    from engine.jtfs import TimeFrequencyScattering
    from engine.toolkit import coeff_distance, coeff_energy
    sig = make_signals(N)
    S = Scattering1D(J, N, Q, T="global")
    JT = TimeFrequencyScattering(J, J_fr, Q, N, T="global", F="global", out_type="pairs")
    distances = {}
    with torch.no_grad():
        for name, (a, b) in sig["pairs"].items():
            Sa, Sb = S(torch.from_numpy(a)), S(torch.from_numpy(b))
            Ja, Jb = JT(torch.from_numpy(a)), JT(torch.from_numpy(b))
            distances[name] = {
                "time scattering": coeff_distance(Sa, Sb, transform=S)["total"],
                "JTFS (spinned pairs)": _distance(Ja, Jb, SPINNED),
                "JTFS (all)": coeff_distance(Ja, Jb)["total"],
            }
        spins = {}
        for name, s in sig["singles"].items():
            e = coeff_energy(JT(torch.from_numpy(s)))
            spins[name] = (e[SPINNED[0]], e[SPINNED[1]])
    settings = dict(N=N, J=J, Q=Q, J_fr=J_fr, T="global", F="global")
    return WhyJTFSResult(distances, spins, sig, settings)


def why_jtfs_figure(res: WhyJTFSResult):
    """Scalograms of each pair side by side with the distances, then the spin energies of the
    chirp, the impulse and the sine."""
    from matplotlib.figure import Figure

    from scatviz.demos.common import draw_scalogram, scalogram

    J, Q = res.settings["J"], res.settings["Q"]
    pairs = res.signals["pairs"]
    fig = Figure(figsize=(11, 3.0 * (len(pairs) + 1)), dpi=90, layout="constrained")
    grid = fig.add_gridspec(len(pairs) + 1, 3)
    for i, (name, (a, b)) in enumerate(pairs.items()):
        labels = name.split(" vs ")
        for j, s in enumerate((a, b)):
            ax = fig.add_subplot(grid[i, j])
            img, f = scalogram(s, J, Q)
            draw_scalogram(ax, img, f, len(s), unit="cycles/sample")
            ax.set_title(labels[j] if j < len(labels) else name, fontsize=9)
            ax.set_xlabel("time (samples)")
        ax = fig.add_subplot(grid[i, 2])
        d = res.distances[name]
        keys = list(d)
        vals = [d[k] for k in keys]
        bars = ax.bar(range(len(keys)), vals, color=["#999999", "#d62728", "#ff9896"])
        ax.set_xticks(range(len(keys)), [k.replace(" (", "\n(") for k in keys], fontsize=8)
        for bar, v in zip(bars, vals):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{v:.3g}",
                    ha="center", va="bottom", fontsize=8)
        ax.set_ylabel("relative distance")
        ax.set_title("relative distance ||S a - S b|| / ||S a||", fontsize=9)
    singles = res.signals["singles"]
    for j, name in enumerate(singles):
        ax = fig.add_subplot(grid[len(pairs), j])
        up, dn = res.spins[name]
        tot = up + dn if up + dn > 0 else 1.0
        ax.bar([0, 1], [100 * up / tot, 100 * dn / tot], color=["#1f77b4", "#ff7f0e"])
        ax.set_xticks([0, 1], ["spin up\n(rising)", "spin down\n(falling)"], fontsize=8)
        ax.set_ylim(0, 100)
        ratio = up / dn if dn > 0 else math.inf
        ax.set_title(f"{name}: up/down = {ratio:.3g}", fontsize=9)
        ax.set_ylabel("% of the spinned JTFS energy")
    return fig


def pair_signals(name: str, N: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """The two float32 ``(N,)`` signals of pair ``name`` (one of `PAIRS`), at `PAIR_RATE`."""
    sig = make_signals(N)
    if name == "rising vs falling chirp":
        return sig["pairs"]["rising chirp vs falling chirp"]
    if name == "aligned vs frequency-shifted partials":
        return sig["pairs"]["aligned partials vs frequency-shifted partials"]
    if name == "impulse vs sine":
        return sig["singles"]["impulse"], sig["singles"]["sine"]
    raise ValueError(f"Unknown pair {name!r}; choose one of {list(PAIRS)}.")


def same_length(a: np.ndarray, b: np.ndarray, max_N: int = 2**16) -> tuple[np.ndarray, ...]:
    """Two signals (e.g. two uploaded files) centred in one power-of-two length, the longer
    one's (at most ``max_N`` samples: longer ones keep their middle), as the transforms need
    one shape for both."""
    from engine.datasets import fit_length

    n = max(len(a), len(b), 256)
    N = min(1 << (n - 1).bit_length(), max_N)
    return tuple(fit_length(np.asarray(s, np.float32), N).astype(np.float32) for s in (a, b))


@dataclass
class PairComparison:
    """The numbers of one pair: ``distances`` as in `WhyJTFSResult` ("time scattering",
    "JTFS (spinned pairs)", "JTFS (all)"); ``spins = ((up a, down a), (up b, down b))``, the
    spinned JTFS energies of each signal (where in time and frequency they differ, the page
    shows with the spin inspector's maps); the transforms' ``settings``."""

    distances: dict
    spins: tuple
    settings: dict


def compare_pair(a: np.ndarray, b: np.ndarray, sample_rate: float = PAIR_RATE, J: int = 8,
                 Q: int = 8, J_fr: int = 4) -> PairComparison:
    """Distances between ``a`` and ``b`` (same length ``N``) for ``Scattering1D(J, N, Q,
    T="global")`` and ``TimeFrequencyScattering(J, J_fr, Q, N, T="global", F="global")``,
    and where their spins differ."""
    from engine import Scattering1D
    from engine.jtfs import TimeFrequencyScattering
    from engine.toolkit import coeff_distance, coeff_energy

    if len(a) != len(b):
        raise ValueError(f"The two signals must have one length; got {len(a)} and {len(b)} "
                         "samples (use same_length).")
    N = len(a)
    S = Scattering1D(J, N, Q, T="global")
    JT = TimeFrequencyScattering(J, J_fr, Q, N, T="global", F="global", out_type="pairs")
    with torch.no_grad():
        ta, tb = torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(
            np.ascontiguousarray(b))
        Sa, Sb = S(ta), S(tb)
        Ja, Jb = JT(ta), JT(tb)
    dist = {"time scattering": coeff_distance(Sa, Sb, transform=S)["total"],
            "JTFS (spinned pairs)": _distance(Ja, Jb, SPINNED),
            "JTFS (all)": coeff_distance(Ja, Jb)["total"]}
    spins = []
    for Jx in (Ja, Jb):
        e = coeff_energy(Jx)
        spins.append((float(e[SPINNED[0]]), float(e[SPINNED[1]])))
    settings = dict(N=N, J=J, Q=Q, J_fr=J_fr, T="global", F="global",
                    sample_rate=float(sample_rate))
    return PairComparison(dist, tuple(spins), settings)
