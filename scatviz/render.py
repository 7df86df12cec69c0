"""Static pictures of a signal's transforms, for files (the ``scatviz render`` command).

`render` draws one of `VIEWS` into a PNG (matplotlib, no browser), or the dashboard's JTFS
animation into a GIF/MP4; `draw_scalogram` draws a `scatviz.results.Scalogram`'s array on a
matplotlib axis (also used by the demos).

>>> render("exponential_chirp", "scalogram", "chirp.png", J=6, Q=8)    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine import Scattering1D
from engine.jtfs import TimeFrequencyScattering
from scatviz.analysis import SPIN_DN_KEY, SPIN_UP_KEY, sum_squares
from scatviz.pipeline import compute_scalogram, compute_transforms, default_design
from scatviz.render_views import EXTRA_VIEWS, draw_extra
from scatviz.signals_io import load_spec

__all__ = ["VIEWS", "render", "draw_scalogram"]

#: Views `render` draws: name -> (description, output formats).
VIEWS = {
    "signal": ("the waveform", ("png",)),
    "scalogram": ("first-order scalogram |x * psi1| (log colour scale)", ("png",)),
    "scattering": ("averaged scattering coefficients, orders 1 and 2", ("png",)),
    "filterbank": ("the filter bank's frequency responses and Littlewood-Paley sum", ("png",)),
    "jtfs": ("JTFS spin up / spin down energies per (n2, n1_fr), averaged over time",
             ("png",)),
    "jtfs_animation": ("JTFS grid over time (the dashboard's animation export)",
                       ("gif", "mp4", "png")),
    **EXTRA_VIEWS,
}

#: ``--part`` choices: the real part, the imaginary part or the modulus of complex filters.
PARTS = ("re", "im", "abs")


def draw_scalogram(ax, img: np.ndarray, freqs: np.ndarray, duration: float,
                   dynamic_range_db: float = 60.0, unit: str = "Hz", n_ticks: int = 6):
    """Draw a scalogram (rows high to low frequency) on ``ax`` in dB, low frequencies at the
    bottom, ticks labelled with frequencies."""
    db = 20 * np.log10(img + 1e-30)
    top = db.max()
    im = ax.imshow(db[::-1], aspect="auto", origin="lower", cmap="magma",
                   extent=(0, duration, 0, len(freqs)), vmin=top - dynamic_range_db, vmax=top,
                   interpolation="nearest")
    idx = np.linspace(0, len(freqs) - 1, n_ticks).round().astype(int)
    fmt = "{:.0f}" if unit == "Hz" else "{:.3f}"
    ax.set_yticks(len(freqs) - 1 - idx + 0.5, [fmt.format(freqs[i]) for i in idx])
    ax.set_ylabel(f"frequency ({unit})")
    return im


def _figure(w=9.0, h=4.5):
    from matplotlib.figure import Figure
    return Figure(figsize=(w, h), dpi=110, layout="constrained")


def render(spec: str, view: str, output: str, J: int = 8, Q=(12, 1), T=None, J_fr: int = 4,
           Q_fr: int = 1, F=None, design: str | None = None, N: int | None = None,
           sample_rate: float = 8000.0, db_range: float = 60.0, fps: float = 8.0,
           n1: int | None = None, frame: int | None = None, pitch: bool = False,
           part: str = "re") -> Path:
    """Draw one view of ``spec`` (see `scatviz.signals_io.load_spec`) into ``output`` (.png,
    .gif, .mp4).

    The JTFS animation is the dashboard's own export (``scatviz.views.jtfs_animation``); the
    static views are matplotlib figures of the engine's outputs (the dashboard's views are
    Bokeh models, which need a browser driver to become PNGs), the scalogram on the
    dashboard's grid (`scatviz.pipeline.compute_scalogram`). ``design``: any of
    `engine.available_designs()`; by default each transform's own
    (`scatviz.pipeline.default_design`).

    The views of `scatviz.render_views` (``scattering2``, ``jtfs_grid``, ``joint_wavelets``,
    ``filterbank_heatmap``, ``energy_profile``) draw the dashboard's models: ``n1`` the
    first-order wavelet of the scattergram (engine order, default the loudest), ``frame``
    the instant (time frame; default the loudest), ``pitch`` note names on first-order
    axes, ``part`` of complex filters ("re", "im" or "abs").
    """
    if view not in VIEWS:
        raise ValueError(f"--view {view!r} is not known; choose one of {sorted(VIEWS)}.")
    if not db_range > 0:
        raise ValueError(f"--db-range must be a positive number of dB; got {db_range}.")
    out = Path(output)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in VIEWS[view][1]:
        raise ValueError(f"--view {view} writes {', '.join(VIEWS[view][1])}; got {out.name!r}.")
    sig = load_spec(spec, N, sample_rate)
    x, sr, name = sig.x, sig.sample_rate, sig.name
    if part not in PARTS:
        raise ValueError(f"--part must be one of {', '.join(PARTS)}; got {part!r}.")
    Q = (Q, 1) if isinstance(Q, int) else tuple(Q)
    jtfs_views = ("jtfs_grid", "joint_wavelets", "energy_profile")
    design = design or default_design("jtfs" if view.startswith("jtfs") or view in jtfs_views
                                      else "scattering")
    if view in EXTRA_VIEWS:
        tr = compute_transforms(x, sr, J=J, Q1=Q[0], Q2=Q[1], T=T or 0, J_fr=J_fr, Q_fr=Q_fr,
                                F=F or 0, design=design, name=name,
                                with_jtfs=view in jtfs_views or view == "filterbank_heatmap")
        if view == "jtfs_grid":
            return _render_grid(tr, out, frame)
        fig = _figure(9.0, 7.5 if view in ("scattering2", "joint_wavelets",
                                            "filterbank_heatmap") else 4.5)
        draw_extra(view, fig, tr, n1=n1, frame=frame, pitch=pitch, part=part,
                   db_range=db_range)
        fig.savefig(out)
        return out
    if view == "jtfs_animation":
        from scatviz.views.jtfs_animation import export_jtfs_animation, render_frames
        tr = compute_transforms(x, sr, J=J, Q1=Q[0], Q2=Q[1], T=T or 0, J_fr=J_fr, Q_fr=Q_fr,
                                F=F or 0, design=design, name=name)
        if tr.jtfs is None:
            raise ValueError(tr.jtfs_error or "JTFS is not available in this build.")
        if fmt == "png":
            frames = render_frames(tr, max_frames=3)
            import imageio.v3 as iio
            iio.imwrite(out, frames[len(frames) // 2])
            return out
        export_jtfs_animation(tr, out, fps=fps)
        return out
    fig = _draw(view, x, sr, name, J, Q, T, J_fr, Q_fr, F, design, db_range)
    fig.savefig(out)
    return out


def _render_grid(tr, out: Path, frame: int | None) -> Path:
    """The JTFS grid at one instant: the dashboard's animation frame (`render_frames`)."""
    import imageio.v3 as iio

    from scatviz.analysis import energy_over_time
    from scatviz.views.jtfs2d import inner_frames
    from scatviz.views.jtfs_animation import render_frames

    jt = tr.jtfs
    if jt is None:
        raise ValueError(tr.jtfs_error or "JTFS is not available in this build.")
    L = jt.up.shape[-1]
    if frame is None:
        sl = inner_frames(L)
        frame = int(np.argmax(energy_over_time(jt.up, jt.dn)[sl])) + (sl.start or 0)
    if not 0 <= frame < L:
        raise ValueError(f"--frame must be in 0..{L - 1} for this setting; got {frame}.")
    iio.imwrite(out, render_frames(tr, frames=[frame], width_px=900)[0])
    return out


def _draw(view, x, sr, name, J, Q, T, J_fr, Q_fr, F, design, db_range=60.0):
    """The matplotlib figure of one static view (see `VIEWS`) of ``x`` ``(N,)`` at ``sr`` Hz."""
    N = len(x)
    t = np.arange(N) / sr
    fig = _figure()
    if view == "signal":
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(t, x, lw=0.5, color="k")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
        ax.set_title(f"{name}: {N} samples at {sr:g} Hz")
        return fig
    if view == "filterbank":
        from engine.toolkit import validate_filterbank
        from scatviz.report import filter_figure
        S = Scattering1D(J, N, Q, T=T, filterbank=design)
        return filter_figure(validate_filterbank(S, families=["psi1"]), "psi1",
                             f"{design} design, J={J}, Q={Q}: psi1 (offending in red)")
    if view == "scalogram":
        ax = fig.add_subplot(1, 1, 1)
        sc = compute_scalogram(x, sr, J, Q, design)
        im = draw_scalogram(ax, sc.mag, sc.freqs, sc.duration, dynamic_range_db=db_range)
        fig.colorbar(im, ax=ax, label="dB")
        ax.set_title(f"{name}: scalogram |x * psi1|, J={J}, Q={Q[0]}")
        ax.set_xlabel("time (s)")
        return fig
    if view == "scattering":
        S = Scattering1D(J, N, Q, T=T, filterbank=design)
        with torch.no_grad():
            Sx = S(torch.from_numpy(x)).numpy()
        order = S.meta()["order"]
        ax = fig.add_subplot(1, 1, 1)
        sel = order > 0
        im = ax.imshow(np.log1p(Sx[sel] / (Sx[sel].mean() + 1e-30)), aspect="auto",
                       origin="upper", extent=(0, N / sr, sel.sum(), 0), cmap="viridis")
        n1 = int((order == 1).sum())
        ax.axhline(n1, color="w", lw=0.8)
        ax.set_ylabel(f"channel (order 1: 0..{n1 - 1}, then order 2)")
        fig.colorbar(im, ax=ax, label="log1p(S / mean)")
        ax.set_title(f"{name}: scattering orders 1-2, J={J}, Q={Q}, T={S.T}")
        ax.set_xlabel("time (s)")
        return fig
    if view == "jtfs":
        tf = TimeFrequencyScattering(J, J_fr, Q, N, T=T, Q_fr=Q_fr, F=F, out_type="pairs",
                                     filterbank=design)
        with torch.no_grad():
            out = tf(torch.from_numpy(x))
        up = sum_squares(out[SPIN_UP_KEY], (-1, -2))      # (n2, n_fr)
        dn = sum_squares(out[SPIN_DN_KEY], (-1, -2))
        grid = np.vstack([up.T[::-1], dn.T])              # rows: up (high n_fr top), down
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(np.log10(grid + 1e-12 * grid.max() + 1e-30), aspect="auto",
                       cmap="magma", interpolation="nearest")
        nfr = up.shape[1]
        ax.axhline(nfr - 0.5, color="w", lw=1)
        ax.set_yticks([nfr / 2 - 0.5, nfr + nfr / 2 - 0.5], ["spin up\n(rising)",
                                                            "spin down\n(falling)"])
        ax.set_xlabel("n2 (temporal modulation, high to low)")
        fig.colorbar(im, ax=ax, label="log10 energy")
        ax.set_title(f"{name}: JTFS energy per (n2, n1_fr); up {up.sum():.3g}, "
                     f"down {dn.sum():.3g}")
        return fig
    raise ValueError(view)
