"""JTFS 2D: the whole JTFS at one time instant, as one grid (the ``jtfs_grid`` picture).

At a time instant the spinned JTFS coefficients form a 3-D array ``(n2, n1_fr, n1)``. The
view lays them out as one mosaic image, the layout of the JTFS literature (WaveSpin's
``viz_jtfs_2d``): one column of cells per temporal scale ``n2`` (slowest modulation on the
left, fastest on the right), one row of cells per frequential scale ``n1_fr``, spin up
(rising, ``psi_f_up``) in the upper half and spin down (falling) in the lower half, mirrored
about the middle so that the coarsest frequential scales of both spins meet there. The other
pairs have their own row and column: the middle row is ``phi_f`` (``psi_t * phi_f`` under
each ``n2``, ``phi_t * phi_f`` under ``phi_t``), the ``phi_t`` column left of the ``n2`` ones
holds ``phi_t * psi_f`` (in the spin-down half, drawn once as WaveSpin does), and the
leftmost column holds ``S1`` (middle row) and ``S0`` (below it). Each cell is the slice over
``n1`` (the first-order frequency, low at the bottom of the cell). Colours are linear
magnitudes, on one scale for every instant (so that an animation compares instants).
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
import panel as pn
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    HoverTool,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from scatviz.analysis import energy_over_time
from scatviz.theme import SEQUENTIAL, steady_tick_labels, style_figure
from scatviz.views.base import JTFSView, ViewContext, set_fixed_ticks, set_range
from scatviz.views.image import ServerImage

__all__ = ["JTFS2DView", "GRID_BACKGROUND", "JOINT_PAIRS", "Mosaic", "jtfs_layout", "jtfs_mosaic",
           "mosaic_labels", "mosaic_layout"]

#: The colour scale tops out at this fraction of the largest spinned coefficient (away from
#: the signal's edges, where boundary effects can dominate).
SATURATION = 0.6


def inner_frames(L: int) -> slice:
    """The frames away from the first and last 10 % (boundary effects)."""
    cut = L // 10
    return slice(cut, L - cut) if L - 2 * cut > 0 else slice(0, L)


def nearest_frame(times: np.ndarray, t: float) -> int:
    """The frame whose time (s) is nearest ``t``: a new setting with another time step keeps
    the instant shown, not the frame index."""
    return int(np.argmin(np.abs(np.asarray(times) - t))) if len(times) else 0


#: Colour of the grid's separators (NaN, transparent): grey, apart from both ends of the
#: palette (black for 0, white for the saturated).
GRID_BACKGROUND = "#7a7a7a"

#: The joint pairs of the grid beside the spinned ones, with their dimensions.
JOINT_PAIRS = {"psi_t * phi_f": 4, "phi_t * phi_f": 4, "phi_t * psi_f": 4}

_TOPS: WeakKeyDictionary = WeakKeyDictionary()


def colour_top(jt) -> float:
    """Top of the colour scale of the JTFS grid, shared by every instant: `SATURATION` of
    the largest joint coefficient (the spinned pairs and `JOINT_PAIRS`) away from the edges.
    Cached per result."""
    top = _TOPS.get(jt)
    if top is None:
        sl = inner_frames(jt.up.shape[-1])
        peaks = [jt.up[..., sl].max(), jt.dn[..., sl].max()]
        for name, nd in JOINT_PAIRS.items():
            a = _pair(jt, name, nd)
            if a is not None and a.size:
                peaks.append(a[..., sl].max())
        top = float(max(peaks)) * SATURATION
        top = _TOPS[jt] = top if top > 0 else 1.0
    return top


def s1_scale(jt) -> float:
    """The factor that brings the first order (S1, S0: far louder than the joint pairs)
    onto the grid's colour scale: the top of the scale over the largest S1 value away from
    the edges (1 when there is no S1)."""
    s1 = _pair(jt, "S1", 2)
    if s1 is None or not s1.size:
        return 1.0
    peak = float(s1[:, inner_frames(s1.shape[-1])].max()) / SATURATION
    return colour_top(jt) / peak if peak > 0 else 1.0


@dataclass(frozen=True)
class Mosaic:
    """Layout of the JTFS grid in one image (WaveSpin's ``viz_jtfs_2d`` layout).

    ``rows`` ``(H,)``: per image row, a label (spin, n1_fr, n1 in Hz) or "" for separators;
    ``cols`` ``(W,)``: per column, the n2 label; ``xticks``/``yticks``: {position: label};
    ``row_of``: per ``(spin, n1_fr)`` the first image row of its cell (spin "up", "down";
    ``("phi", 0)`` the middle row of ``phi_f``); ``col_of``: per n2 its column, and the
    columns ``"phi_t"`` (temporal low-pass) and ``"S1"`` (first order; S0 below it).
    """

    shape: tuple[int, int]
    rows: list
    cols: list
    xticks: dict
    yticks: dict
    row_of: dict
    col_of: dict
    n1: int


def mosaic_layout(n2: int, nfr: int, n1: int, n1_hz, n2_hz, fr_labels) -> Mosaic:
    """Where each pair's cell goes in the grid image (separators one pixel wide).

    Rows of cells, bottom to top: spin down by ``n1_fr`` (finest at the bottom, coarsest
    next to the middle), the middle row ``phi_f`` (``psi_t * phi_f``, ``phi_t * phi_f``),
    spin up (coarsest next to the middle, finest at the top). Columns of cells, left to
    right: ``S1`` (first order; ``S0`` in the cell below it), ``phi_t`` (``phi_t * phi_f`` in
    the middle row, ``phi_t * psi_f`` in the spin-down half, as WaveSpin draws it once),
    then ``psi_t`` by ``n2``, the slowest modulation first. Each cell is one column of
    ``n1`` pixels, low frequencies at the bottom."""
    cell_h = n1 + 1                         # + 1 separator row below each cell
    H = (2 * nfr + 1) * cell_h + 1
    W = 2 * (n2 + 2) + 1                    # cells 1 px wide, separators between
    rows = [""] * H
    row_of = {}
    yticks = {}

    def cell(block: int, key, label: str, tick: str) -> None:
        r = block * cell_h + 1
        row_of[key] = r
        for i in range(n1):
            hz = n1_hz[n1 - 1 - i] if len(n1_hz) == n1 else float("nan")
            rows[r + i] = f"{label} · n1 {hz:.0f} Hz"
        yticks[r + n1 / 2] = tick

    for j in range(nfr):
        cell(j, ("down", j), f"spin down · {fr_labels[j]}", f"↓ {fr_labels[j]}")
        cell(2 * nfr - j, ("up", j), f"spin up · {fr_labels[j]}", f"↑ {fr_labels[j]}")
    cell(nfr, ("phi", 0), "φ_f (no frequential wavelet)", "φ_f")
    cols = [""] * W
    col_of = {"S1": 1, "phi_t": 3}
    cols[1] = "S1 (middle row), S0 (below), scaled to the colour range"
    cols[3] = "φ_t (no temporal wavelet) · 0 Hz"
    xticks = {1.5: "S1", 3.5: "φ_t"}
    for n in range(n2):
        c = 2 * (n2 - 1 - n) + 5            # slowest (largest n2) on the left
        col_of[n] = c
        cols[c] = f"n2={n} · {n2_hz[n]:.3g} Hz"
        xticks[c + 0.5] = f"{n2_hz[n]:.3g}"
    return Mosaic((H, W), rows, cols, xticks, yticks, row_of, col_of, n1)


_LAYOUTS: WeakKeyDictionary = WeakKeyDictionary()


def jtfs_layout(jt) -> Mosaic:
    """`mosaic_layout` of a JTFS result (`scatviz.state.JTFSResult`), built once per result:
    the 2D view, the animation and its export draw the same layout."""
    lay = _LAYOUTS.get(jt)
    if lay is None:
        n2, nfr, n1, _ = jt.up.shape
        lay = _LAYOUTS[jt] = mosaic_layout(n2, nfr, n1, jt.n1_hz, jt.n2_hz, jt.n1_fr_labels)
    return lay


def _pair(jt, name: str, ndim: int):
    a = jt.pairs.get(name) if jt.pairs else None
    if a is None:
        return None
    a = np.asarray(a)
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    return a if a.ndim == ndim else None


def jtfs_mosaic(jt, t: int, lay: Mosaic) -> np.ndarray:
    """The grid image ``(H, W)`` of the JTFS result ``jt`` at time frame ``t``: all seven
    pairs where `mosaic_layout` puts them; separators (and a pair this result lacks) are
    NaN, drawn transparent."""
    img = np.full(lay.shape, np.nan, dtype=np.float32)
    n2, nfr, n1, L = jt.up.shape

    def put(key, col, v) -> None:
        if v is not None and v.shape[-1] == n1:
            r = lay.row_of[key]
            img[r:r + n1, col] = v[::-1]          # n1 = 0 is the highest frequency: at top

    for spin, arr in (("up", jt.up), ("down", jt.dn)):
        for j in range(nfr):
            for n in range(n2):
                put((spin, j), lay.col_of[n], arr[n, j, :, t])
    tp = _pair(jt, "psi_t * phi_f", 4)            # (n2, 1, n1, L)
    if tp is not None and tp.shape[0] == n2 and tp.shape[-1] == L:
        for n in range(n2):
            put(("phi", 0), lay.col_of[n], tp[n, 0, :, t])
    pp = _pair(jt, "phi_t * phi_f", 4)            # (1, 1, n1, L)
    if pp is not None and pp.shape[-1] == L:
        put(("phi", 0), lay.col_of["phi_t"], pp[0, 0, :, t])
    pf = _pair(jt, "phi_t * psi_f", 4)            # (1, n_fr, n1, L)
    if pf is not None and pf.shape[-1] == L:
        for j in range(min(nfr, pf.shape[1])):
            put(("down", j), lay.col_of["phi_t"], pf[0, j, :, t])
    s1 = _pair(jt, "S1", 2)                       # (n1, L); scaled (see s1_scale)
    k = s1_scale(jt)
    if s1 is not None and s1.shape == (n1, L):
        put(("phi", 0), lay.col_of["S1"], s1[:, t] * k)
    s0 = _pair(jt, "S0", 1)                       # (L,)
    if s0 is not None and s0.shape[-1] == L:
        put(("down", nfr - 1), lay.col_of["S1"], np.full(n1, s0[t] * k, np.float32))
    return img


_LABEL_JS = """
const i = Math.floor(value);
const a = src.data[key];
return (i >= 0 && i < a.length) ? a[i] : '';
"""


def mosaic_labels(context: ViewContext) -> tuple[ColumnDataSource, ColumnDataSource]:
    """The hover labels (per image row, per column) of a page's mosaics (in its
    `ViewContext`), shared by the JTFS 2D view and the animation: both draw the same layout,
    and its ~300 row labels (~25 kB of the update message) are sent once."""
    return context.shared("mosaic_labels", lambda: (ColumnDataSource(data=dict(rows=[])),
                                                    ColumnDataSource(data=dict(cols=[]))))


def make_mosaic_figure(name: str, title: str, labels, height: int = 420):
    """Figure, image (`ServerImage`: NaN separators transparent), label sources
    (`mosaic_labels`) and middle line of a mosaic."""
    fig = figure(height=height, sizing_mode="stretch_width", tools="save,reset,box_zoom",
                 x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                 x_axis_label="S1 · φ_t · temporal modulation rate of ψ2, n2 (Hz)",
                 y_axis_label="spin · n1_fr · φ_f (in each cell: n1, low at bottom)",
                 name=name)
    style_figure(fig, title)
    image = ServerImage(fig, SEQUENTIAL, low=0, high=1, transparent_nan=True)
    image.draw(np.full((1, 1), np.nan, np.float32))
    bar = ColorBar(color_mapper=image.mapper, width=10, title="|coef|")
    steady_tick_labels(bar)           # the top of the colour range follows the data
    fig.add_layout(bar, "right")
    fig.add_tools(HoverTool(tooltips=[("cell", "$y{row}"), ("", "$x{col}"),
                                      ("value", "@value{%.3e}")],
                            formatters={"$y": CustomJSHover(args=dict(src=labels[0], key="rows"),
                                                            code=_LABEL_JS),
                                        "$x": CustomJSHover(args=dict(src=labels[1], key="cols"),
                                                            code=_LABEL_JS),
                                        "@value": "printf"}))
    mid = Span(location=0, dimension="width", line_color="#888888", line_width=1)
    fig.add_layout(mid)
    fig.xgrid.visible = False
    fig.ygrid.visible = False
    fig.background_fill_color = GRID_BACKGROUND
    return fig, image, labels, mid


def set_mosaic_axes(fig, lay: Mosaic, labels, mid) -> None:
    """Axes, ticks and hover labels of a mosaic figure; nothing is sent when the layout is
    the one drawn already."""
    if getattr(fig, "_scatviz_layout", None) == lay:
        return
    fig._scatviz_layout = lay
    H, W = lay.shape
    if labels[0].data["rows"] != lay.rows:        # shared: the other mosaic may have sent them
        labels[0].data = dict(rows=lay.rows)
    if labels[1].data["cols"] != lay.cols:
        labels[1].data = dict(cols=lay.cols)
    set_range(fig.x_range, 0, W)
    set_range(fig.y_range, 0, H)
    set_fixed_ticks(fig.xaxis, lay.xticks)
    set_fixed_ticks(fig.yaxis, lay.yticks)
    mid.location = lay.row_of[("phi", 0)] - 0.5      # under the middle row (phi_f)


class JTFS2DView(JTFSView):
    """The spinned JTFS coefficients at one time instant (``state.jtfs_frame``) as the
    (n2, n1_fr) grid, spin up above spin down.

    >>> v = JTFS2DView.from_signal(x, 8000, J=6, Q1=16, J_fr=4)   # doctest: +SKIP
    >>> v.mosaic_data()["image"].shape                           # doctest: +SKIP
    """

    title = "JTFS 2D"

    def _build(self) -> None:
        self.figure, self.image, self.labels, self.mid = make_mosaic_figure(
            "jtfs2d", "JTFS at one instant: spin up (top), φ_f (middle), spin down (bottom)",
            mosaic_labels(self.context))
        self.source, self.mapper = self.image.source, self.image.mapper
        self._top = 1.0
        self.frame_slider = pn.widgets.IntSlider(label="time frame", start=0, end=1, value=0,
                                                 sizing_mode="stretch_width")
        self.frame_slider.param.watch(self._on_slider, "value_throttled")
        self.state.param.watch(self._on_frame, "jtfs_frame")
        self.time_label = pn.pane.Markdown("", margin=(0, 10), name="jtfs2d_time")
        self.pane = pn.pane.Bokeh(self.figure, sizing_mode="stretch_width")
        self._sig_key = None
        self._jt = None
        self._shown_time = None

    def _panels(self) -> list:
        return [pn.Row(self.frame_slider, self.time_label, sizing_mode="stretch_width"),
                self.pane]

    def mosaic_data(self) -> dict:
        """What is drawn: ``image`` ``(H, W)`` (NaN separators), ``frame``, ``time`` s,
        ``layout`` (`Mosaic`)."""
        return dict(image=self.image.values, frame=self.state.jtfs_frame,
                    time=self._time(), layout=getattr(self, "_lay", None))

    def _time(self) -> float:
        jt = self._jt
        if jt is None:
            return 0.0
        return float(jt.times[min(self.state.jtfs_frame, len(jt.times) - 1)])

    def _clear(self, res) -> None:
        self.image.draw(np.full((1, 1), np.nan, np.float32))

    def _update_jtfs(self, res, jt) -> None:
        L = jt.up.shape[-1]
        self._lay = jtfs_layout(jt)
        set_mosaic_axes(self.figure, self._lay, self.labels, self.mid)
        self._top = colour_top(jt)
        if res.key[0] != self._sig_key:   # new signal: start at its most active instant
            self._sig_key = res.key[0]
            energy = energy_over_time(jt.up, jt.dn)
            sl = inner_frames(L)
            frame = int(np.argmax(energy[sl])) + (sl.start or 0)
        elif self._shown_time is not None:   # same signal: stay at the same instant
            frame = nearest_frame(jt.times, self._shown_time)
        else:
            frame = min(self.state.jtfs_frame, L - 1)
        self.frame_slider.param.update(end=max(L - 1, 1), value=frame)
        if frame != self.state.jtfs_frame:
            self.state.jtfs_frame = frame       # redraws through _on_frame
        else:
            self._draw()

    def _draw(self) -> None:
        jt = self._jt
        if jt is None:
            return
        t = min(self.state.jtfs_frame, jt.up.shape[-1] - 1)
        img = jtfs_mosaic(jt, t, self._lay)
        H, W = img.shape
        self.image.draw(img, dw=W, dh=H, low=0.0, high=self._top)
        self._shown_time = float(jt.times[t])
        self.time_label.object = f"t = **{jt.times[t]:.3f} s** (frame {t + 1}/{len(jt.times)})"

    def _on_slider(self, event) -> None:
        self.state.jtfs_frame = int(event.new)

    def _on_frame(self, event) -> None:
        res = self.state.result
        if res is not None and not res.jtfs_pending and res.jtfs is not self._jt:
            return      # a new result is being published: its watcher draws (at the same instant)
        if self.frame_slider.value != event.new:
            self.frame_slider.value = int(event.new)
        self._draw()
