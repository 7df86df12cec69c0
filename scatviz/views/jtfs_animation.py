"""JTFS 4D animation: the (n2, n1_fr) grid of `JTFS2DView` played over time in the browser,
and exported offline to GIF or MP4 (frames drawn by matplotlib, file written by imageio;
MP4 through imageio-ffmpeg's bundled ffmpeg).

>>> from scatviz.views.jtfs_animation import export_jtfs_animation
>>> export_jtfs_animation(state.result, "jtfs.gif", fps=8)          # doctest: +SKIP
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import panel as pn
import param

from scatviz.state import JTFS_UNAVAILABLE, Transforms
from scatviz.theme import SEQUENTIAL
from scatviz.views.base import JTFSView
from scatviz.views.jtfs2d import (
    GRID_BACKGROUND,
    colour_top,
    jtfs_layout,
    jtfs_mosaic,
    make_mosaic_figure,
    mosaic_labels,
    nearest_frame,
    set_mosaic_axes,
)

__all__ = ["JTFSAnimationView", "export_jtfs_animation", "render_frames"]


def render_frames(res: Transforms, max_frames: int = 120, width_px: int = 640,
                  dpi: int = 100, frames: list[int] | None = None) -> list[np.ndarray]:
    """RGB frames ``(H, W, 3)`` uint8 of the JTFS grid (`jtfs_mosaic`: all seven pairs) over
    time (matplotlib, off-screen).

    At most ``max_frames`` frames, evenly spaced over the output's time axis; or the time
    frames ``frames``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    jt = res.jtfs
    if jt is None:
        raise ValueError(res.jtfs_error or JTFS_UNAVAILABLE)
    L = jt.up.shape[-1]
    lay = jtfs_layout(jt)
    top = colour_top(jt)
    cmap = ListedColormap(SEQUENTIAL)
    cmap.set_bad((0, 0, 0, 0))
    idx = np.unique(np.linspace(0, L - 1, min(L, max_frames)).round().astype(int)) \
        if frames is None else [int(t) for t in frames]
    frames = []
    fig = Figure(figsize=(width_px / dpi, 0.75 * width_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor(GRID_BACKGROUND)            # separators: not the palette's white
    H, W = lay.shape
    im = ax.imshow(jtfs_mosaic(jt, 0, lay), origin="lower", aspect="auto",
                   cmap=cmap, vmin=0, vmax=top, extent=(0, W, 0, H), interpolation="nearest")
    ax.set_xticks(list(lay.xticks), list(lay.xticks.values()), fontsize=7)
    ax.set_yticks(list(lay.yticks), list(lay.yticks.values()), fontsize=7)
    ax.set_xlabel("S1 · φ_t · temporal modulation rate n2 (Hz)")
    ax.set_ylabel("spin up (top) · φ_f · spin down (bottom)")
    fig.colorbar(im, ax=ax, label="|coef|")
    title = ax.set_title("")
    fig.tight_layout()
    for t in idx:
        im.set_data(jtfs_mosaic(jt, t, lay))
        title.set_text(f"JTFS {res.name[:40]} · t = {jt.times[t]:.3f} s")
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        frames.append(rgba[..., :3].copy())
    return frames


def export_jtfs_animation(res: Transforms, target, fmt: str | None = None, fps: float = 8.0,
                          max_frames: int = 120) -> Path | bytes:
    """Write the JTFS animation to ``target`` (a path, or ``None`` for bytes) as GIF or MP4.

    ``fmt`` defaults to the path's suffix ("gif" or "mp4"). Returns the path, or the bytes.
    """
    import imageio.v3 as iio

    if fmt is None:
        fmt = Path(target).suffix.lstrip(".").lower() if target is not None else "gif"
    if fmt not in ("gif", "mp4"):
        raise ValueError(f"fmt must be 'gif' or 'mp4'; got {fmt!r}.")
    frames = render_frames(res, max_frames=max_frames)
    if fmt == "mp4":
        # H.264 wants even sizes
        frames = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
        if target is None:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "jtfs.mp4"
                _write_mp4(path, frames, fps)
                return path.read_bytes()
        _write_mp4(Path(target), frames, fps)
        return Path(target)
    data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000 / fps,
                       loop=0)
    if target is None:
        return data
    Path(target).write_bytes(data)
    return Path(target)


def _write_mp4(path: Path, frames, fps: float) -> None:
    """MP4 (H.264) through imageio's ffmpeg plugin (imageio-ffmpeg ships the binary)."""
    import imageio.v2 as iio2

    with iio2.get_writer(str(path), format="FFMPEG", fps=fps, codec="libx264",
                         macro_block_size=2, quality=7) as w:
        for f in frames:
            w.append_data(f)


class JTFSAnimationView(JTFSView):
    """The JTFS grid animated over time: a player steps through the time frames in the
    browser; buttons export the animation to GIF or MP4."""

    title = "JTFS 4D animation"
    frame = param.Integer(default=0, bounds=(0, None))
    export_frames = param.Integer(default=60, bounds=(2, 600),
                                  doc="Frames in the exported GIF/MP4 (evenly spaced in time).")

    def _build(self) -> None:
        self.figure, self.image, self.labels, self.mid = make_mosaic_figure(
            "jtfs_anim", "JTFS over time (player)", mosaic_labels(self.context))
        self.source, self.mapper = self.image.source, self.image.mapper
        self._top = 1.0
        self.player = pn.widgets.Player(label="JTFS player", start=0, end=1, value=0,
                                        interval=200, loop_policy="loop", show_loop_controls=True,
                                        sizing_mode="stretch_width", value_align="start")
        self.player.param.watch(self._on_player, "value")
        self.time_label = pn.pane.Markdown("", name="jtfs_anim_time", margin=(0, 10))
        self.gif_button = pn.widgets.FileDownload(callback=self._gif_bytes, filename="jtfs.gif",
                                                  label="Export GIF", button_type="default",
                                                  embed=False)
        self.mp4_button = pn.widgets.FileDownload(callback=self._mp4_bytes, filename="jtfs.mp4",
                                                  label="Export MP4", button_type="default",
                                                  embed=False)
        self.pane = pn.pane.Bokeh(self.figure, sizing_mode="stretch_width")
        self._jt = None
        self._res = None
        self._shown_time = None

    def _panels(self) -> list:
        return [pn.Row(self.player, self.time_label, sizing_mode="stretch_width"),
                self.pane, pn.Row(self.gif_button, self.mp4_button)]

    def _clear(self, res) -> None:
        self._res = res
        self.player.disabled = True
        self.image.draw(np.full((1, 1), np.nan, np.float32))

    def _update_jtfs(self, res, jt) -> None:
        self._res = res
        self.player.disabled = False
        L = jt.up.shape[-1]
        self._lay = jtfs_layout(jt)
        set_mosaic_axes(self.figure, self._lay, self.labels, self.mid)
        self._top = colour_top(jt)
        value = min(self.player.value, L - 1) if self._shown_time is None else \
            nearest_frame(jt.times, self._shown_time)     # the same instant, if the step changed
        self.player.param.update(end=max(L - 1, 1), value=value)
        self._draw(self.player.value)

    def _draw(self, t: int) -> None:
        jt = self._jt
        if jt is None:
            return
        t = int(min(max(t, 0), jt.up.shape[-1] - 1))
        self.frame = t
        img = jtfs_mosaic(jt, t, self._lay)
        H, W = img.shape
        self.image.draw(img, dw=W, dh=H, low=0.0, high=self._top)
        self._shown_time = float(jt.times[t])
        self.time_label.object = (f"t = **{jt.times[t]:.3f} s** · frame {t + 1}/"
                                  f"{len(jt.times)}")

    def _on_player(self, event) -> None:
        self._draw(event.new)

    def frame_data(self) -> dict:
        """What is drawn: ``image``, ``frame`` index, ``frames`` count."""
        n = 0 if self._jt is None else self._jt.up.shape[-1]
        return dict(image=self.image.values, frame=self.frame, frames=n)

    def _export(self, fmt: str):
        if self._res is None or self._res.jtfs is None:
            return io.BytesIO(b"")
        return io.BytesIO(export_jtfs_animation(self._res, None, fmt=fmt,
                                                max_frames=self.export_frames))

    def _gif_bytes(self):
        return self._export("gif")

    def _mp4_bytes(self):
        return self._export("mp4")
