"""matplotlib pictures of the dashboard's views of second order, of the whole JTFS and of the
joint wavelets, for `scatviz.render` (``scatviz render SIGNAL --view NAME``).

Each ``draw_*`` takes a `scatviz.results.Transforms` and draws the same model the dashboard's
view draws (the same functions of `scatviz.analysis` and of the views' model modules), so
that a PNG and the page agree.
"""

from __future__ import annotations

import numpy as np

from scatviz.analysis import (
    loudest_second_order,
    note_name,
    scattergram,
    second_order_paths,
    second_order_slice,
)
from scatviz.results import Transforms

__all__ = ["EXTRA_VIEWS", "draw_extra"]

#: Views drawn here: name -> (description, output formats).
EXTRA_VIEWS = {
    "scattering2": ("second order: the S2 scattergram of one first-order wavelet (--n1) and "
                    "the (n1, n2) slice at one instant (--frame)", ("png",)),
    "jtfs_grid": ("all seven JTFS pairs at one instant (--frame), WaveSpin's viz_jtfs_2d "
                  "layout", ("png",)),
    "joint_wavelets": ("the 2D joint wavelets psi_t * psi_f per (n2, n1_fr, spin), in the "
                       "JTFS grid's layout (--part re/im/abs)", ("png",)),
    "filterbank_heatmap": ("psi1, psi2 and the frequential bank as heatmaps, each filter "
                           "scaled to its peak (--part re/im/abs, --pitch)", ("png",)),
    "energy_profile": ("energy of each JTFS pair against the first-order frequency "
                       "(WaveSpin's energy_profile_jtfs, flatten; --pitch)", ("png",)),
}


def _label(f: float, pitch: bool) -> str:
    if pitch and f > 0:
        return note_name(f)
    return f"{f:.0f}" if f >= 100 else f"{f:.1f}" if f >= 1 else f"{f:.2g}"


def _ticks(ax, axis: str, freqs_low_to_high, pitch: bool = False, n: int = 8) -> None:
    k = len(freqs_low_to_high)
    if not k:
        return
    idx = np.unique(np.linspace(0, k - 1, min(n, k)).round().astype(int))
    pos, lbl = idx + 0.5, [_label(float(freqs_low_to_high[i]), pitch) for i in idx]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(pos, lbl)


def draw_scattering2(fig, tr: Transforms, n1: int | None = None, frame: int | None = None,
                     pitch: bool = False, db_range: float = 60.0) -> None:
    """The S2 scattergram of ``n1`` (top) and the (n1, n2) slice at ``frame`` (bottom)."""
    scat = tr.scattering
    p = second_order_paths(scat)
    best_n1, best_frame = loudest_second_order(scat)
    n1 = best_n1 if n1 is None else int(n1)
    frame = best_frame if frame is None else int(frame)
    if not 0 <= n1 < len(p["xi1"]):
        raise ValueError(f"--n1 must be in 0..{len(p['xi1']) - 1} for this setting; got {n1}.")
    if not 0 <= frame < scat.coefs.shape[-1]:
        raise ValueError(f"--frame must be in 0..{scat.coefs.shape[-1] - 1} for this "
                         f"setting; got {frame}.")
    rows, xi2 = scattergram(scat, n1)
    ax0, ax1 = fig.subplots(2, 1, height_ratios=(1, 1.3))
    dur = tr.x.size / tr.sample_rate
    peak = float(scat.coefs[p["rows"]].max()) if p["rows"].size else 1.0
    carrier = float(p["xi1"][n1])
    if rows.size:
        db = 20 * np.log10(np.maximum(rows, rows.max() * 1e-12))
        im = ax0.imshow(db, origin="lower", aspect="auto", cmap="magma",
                        extent=(0, dur, 0, len(xi2)), vmin=db.max() - db_range, vmax=db.max(),
                        interpolation="nearest")
        fig.colorbar(im, ax=ax0, label="dB")
        _ticks(ax0, "y", xi2)
    t = float(scat.times[frame])
    ax0.axvline(t, color="w", ls="--", lw=1)
    note = f" ({note_name(carrier)})" if pitch else ""
    ax0.set_title(f"{tr.name}: S2 scattergram of n1={n1}, carrier {_label(carrier, False)} Hz"
                  f"{note}" + ("" if rows.size else " (no second-order path)"))
    ax0.set_xlabel("time (s)")
    ax0.set_ylabel("modulation rate (Hz)")
    sl = second_order_slice(scat, frame)[::-1, ::-1]
    with np.errstate(invalid="ignore"):
        db = 20 * np.log10(np.maximum(sl, peak * 1e-12))
    top = 20 * np.log10(peak)
    n1s, n2s = sl.shape
    im = ax1.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=(0, n2s, 0, n1s),
                    vmin=top - db_range, vmax=top, interpolation="nearest")
    fig.colorbar(im, ax=ax1, label="dB")
    ax1.axhline(n1s - 1 - n1 + 0.5, color="c", lw=1)
    _ticks(ax1, "x", p["xi2"][::-1])
    _ticks(ax1, "y", p["xi1"][::-1], pitch, n=10)
    ax1.set_xlabel("modulation rate of ψ2, n2 (Hz)")
    ax1.set_ylabel("carrier: centre of ψ1, n1 " + ("(note)" if pitch else "(Hz)"))
    ax1.set_title(f"S2 at t = {t:.3f} s (frame {frame}): the (n1, n2) plane, ScatNet's "
                  f"display_slice")


def draw_energy_profile(fig, tr: Transforms, pitch: bool = False) -> None:
    """Energy of each JTFS pair per first-order wavelet, on a log-frequency axis."""
    from scatviz.analysis import energy_profile

    if tr.jtfs is None:
        raise ValueError(tr.jtfs_error or "JTFS is not available in this build.")
    prof = energy_profile(tr.jtfs)
    ax = fig.add_subplot(1, 1, 1)
    ax.semilogy(prof["s1_hz"], np.maximum(prof["s1"], 1e-30), color="k", lw=1, label="S1")
    for name, e in prof["energy"].items():
        ax.semilogy(prof["n1_hz"], np.maximum(e, 1e-30), marker=".", lw=1.2, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("first-order frequency n1 " + ("(note)" if pitch else "(Hz)"))
    if pitch:
        f = prof["n1_hz"]
        idx = np.unique(np.linspace(0, len(f) - 1, 8).round().astype(int))
        ax.set_xticks(f[idx], [note_name(float(f[i])) for i in idx])
        ax.minorticks_off()
    ax.set_ylabel("energy (sum of squares)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"{tr.name}: energy of each JTFS pair per n1 (energy_profile_jtfs, flatten)")


def draw_joint_wavelets(fig, tr: Transforms, part: str = "re") -> None:
    """The joint wavelets in the JTFS grid's layout (`scatviz.joint.joint_wavelets`)."""
    from matplotlib.colors import ListedColormap

    from scatviz.joint import joint_wavelets
    from scatviz.theme import DIVERGING, SEQUENTIAL

    g = joint_wavelets(tr, part)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor("#7a7a7a")
    H, W = g.image.shape
    cmap = ListedColormap(SEQUENTIAL if part == "abs" else DIVERGING)
    cmap.set_bad((0, 0, 0, 0))
    im = ax.imshow(g.image, origin="lower", aspect="auto", cmap=cmap, extent=(0, W, 0, H),
                   vmin=0 if part == "abs" else -1, vmax=1, interpolation="nearest")
    ax.set_xticks(list(g.xticks), list(g.xticks.values()), fontsize=8)
    ax.set_yticks(list(g.yticks), list(g.yticks.values()), fontsize=8)
    ax.set_xlabel("φ_t · temporal wavelet ψ2, n2 (Hz); in each cell: time →")
    ax.set_ylabel("spin · n1_fr · φ_f; in each cell: frequency ↑")
    fig.colorbar(im, ax=ax, label={"re": "Re", "im": "Im", "abs": "|.|"}[part]
                 + " (per-cell peak)")
    ax.set_title(f"{tr.name}: JTFS joint wavelets ψ_t · ψ_f ({part}); spin up (top) rises")


def draw_filterbank_heatmaps(fig, tr: Transforms, part: str = "re", pitch: bool = False
                             ) -> None:
    """psi1 and psi2 in time, the frequential bank along n1: the dashboard's heatmaps."""
    from matplotlib.colors import ListedColormap

    from scatviz.theme import DIVERGING, SEQUENTIAL
    from scatviz.views.fb_heatmap import FAMILIES, family_heatmap, frequential_heatmap

    cmap = ListedColormap(SEQUENTIAL if part == "abs" else DIVERGING)
    axes = fig.subplots(3, 1)
    models = [family_heatmap(tr.bank, "psi1", part, pitch),
              family_heatmap(tr.bank, "psi2", part), frequential_heatmap(tr, part)]
    for ax, key, m in zip(axes, FAMILIES, models):
        title, xlabel = FAMILIES[key]
        ax.set_title(f"{title} ({part})", fontsize=9)
        if m is None:
            ax.text(0.5, 0.5, tr.jtfs_error or "no JTFS", ha="center", transform=ax.transAxes)
            continue
        K = m["image"].shape[0]
        im = ax.imshow(m["image"], origin="lower", aspect="auto", cmap=cmap,
                       extent=(m["x0"], m["x0"] + m["width"], 0, K), interpolation="nearest",
                       vmin=0 if part == "abs" else -1, vmax=1)
        ax.set_yticks(list(m["yticks"]), list(m["yticks"].values()), fontsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        fig.colorbar(im, ax=ax)


def draw_extra(view: str, fig, tr: Transforms, n1=None, frame=None, pitch=False,
               part="re", db_range=60.0) -> None:
    """Draw one of `EXTRA_VIEWS` of ``tr`` on the matplotlib figure ``fig``."""
    if view == "scattering2":
        return draw_scattering2(fig, tr, n1, frame, pitch, db_range)
    if view == "energy_profile":
        return draw_energy_profile(fig, tr, pitch)
    if view == "joint_wavelets":
        return draw_joint_wavelets(fig, tr, part)
    if view == "filterbank_heatmap":
        return draw_filterbank_heatmaps(fig, tr, part, pitch)
    raise ValueError(view)
