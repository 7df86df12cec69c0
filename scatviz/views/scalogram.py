"""Scalogram: ``|x * psi1|`` in dB on a log-frequency axis labelled in Hz, time in seconds."""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    CustomJS,
    CustomJSHover,
    FixedTicker,
    HoverTool,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from scatviz.analysis import note_name
from scatviz.theme import SEQUENTIAL, style_figure
from scatviz.views.base import BaseView, set_fixed_ticks, set_range
from scatviz.views.image import ServerImage

__all__ = ["ScalogramView", "scalogram_db", "frequency_ticks", "decimate_columns"]

#: Floor added before taking dB of a magnitude (relative to its maximum).
DB_FLOOR = 1e-12


def scalogram_db(mag: np.ndarray) -> np.ndarray:
    """``20 log10 |U1|`` (float32), with a floor 240 dB under the maximum."""
    peak = float(np.max(mag)) if mag.size else 1.0
    return (20 * np.log10(np.maximum(mag, max(peak, DB_FLOOR) * DB_FLOOR))).astype(np.float32)


def decimate_columns(db: np.ndarray, max_columns: int | None) -> np.ndarray:
    """``db`` ``(rows, W)`` with at most ``max_columns`` columns: each kept column is the
    maximum of ``ceil(W / max_columns)`` neighbours (a click or a blip stays visible, as it
    would at the screen's resolution). ``None``, or ``W`` within the limit: ``db`` itself."""
    if max_columns is None or db.ndim != 2 or db.shape[1] <= max_columns:
        return db
    if max_columns < 1:
        raise ValueError(f"max_columns must be at least 1 (or None for every column); "
                         f"got {max_columns}")
    k = -(-db.shape[1] // max_columns)                  # ceil
    w = db.shape[1]
    pad = (-w) % k
    if pad:                                             # the last block repeats its edge
        db = np.concatenate([db, np.repeat(db[:, -1:], pad, axis=1)], axis=1)
    return db.reshape(db.shape[0], -1, k).max(axis=2)


def frequency_ticks(freqs_low_to_high: np.ndarray, max_ticks: int = 10,
                    pitch: bool = False) -> dict[float, str]:
    """Tick positions (row centres) and labels in Hz for rows ordered low to high; note
    names (A4 = 440 Hz, `scatviz.analysis.note_name`) with ``pitch``."""
    n = len(freqs_low_to_high)
    if n == 0:
        return {}
    step = max(1, int(np.ceil(n / max_ticks)))
    rows = list(range(0, n, step))
    out = {}
    for r in rows:
        f = freqs_low_to_high[r]
        out[r + 0.5] = (note_name(float(f)) if pitch and f > 0 else
                        f"{f:.0f}" if f >= 100 else f"{f:.1f}")
    return out


_FREQ_HOVER = """
const i = Math.floor(value);
const f = src.data['freq'];
if (i < 0 || i >= f.length) { return ''; }
const v = f[i];
return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' Hz';
"""

#: A click (``tap``) or the hover on a row of the scalogram sends that row (counted from the
#: bottom) to the server through the ``pick`` source, only when it changes.
_PICK_JS = """
const y = (cb_data && cb_data.geometry) ? cb_data.geometry.y : cb_obj.y;
if (y == null || !Number.isFinite(y)) { return; }
const r = Math.floor(y);
if (r < 0 || r >= n.data.n[0]) { return; }
if (pick.data.row[0] !== r) { pick.data = {row: [r]}; }
"""


class ScalogramView(BaseView):
    """``|x * psi1|`` (unaveraged first-order scattering) as an image.

    Rows are the first-order wavelets, lowest frequency at the bottom, labelled with their
    centre frequency in Hz from the engine (``meta(sample_rate)["xi_hz"]``); the geometric
    spacing of the wavelets makes the axis logarithmic in frequency. Colours are dB relative
    to the loudest point, over ``state.db_range`` dB. Hover reads time, frequency and value.
    The playhead of the audio player is the vertical line. Clicking a row, or hovering it,
    chooses that first-order wavelet for the page (``context.settings.n1``: the
    second-order view follows); the chosen row is marked. ``context.settings.pitch`` labels
    the rows with note names.

    >>> view = ScalogramView.from_signal(x, 8000, J=6, Q1=8)   # doctest: +SKIP
    >>> view.image_data()["db"].shape                           # doctest: +SKIP
    (n1, M)
    """

    title = "Scalogram"
    height = param.Integer(default=320)
    max_columns = param.Integer(default=None, allow_None=True, bounds=(1, None), doc=(
        "Columns sent to the browser at most (`decimate_columns`: the maximum of "
        "neighbouring columns), e.g. about the plot's width in pixels where the scalogram "
        "is one of several side by side; None (the dashboard's): every time sample."))

    def _build(self) -> None:
        self.freq_source = ColumnDataSource(data=dict(freq=[]))
        fig = figure(height=self.height, sizing_mode="stretch_width", x_range=self._x_range,
                     y_range=Range1d(0, 1),
                     x_axis_label="time (s)", y_axis_label="frequency (Hz)",
                     tools="xpan,xwheel_zoom,box_zoom,reset,save", active_scroll="xwheel_zoom",
                     name="scalogram")
        style_figure(fig, "Scalogram |x * ψ1| (dB)")
        self.image = ServerImage(fig, SEQUENTIAL, low=-60, high=0, name="scalogram_image")
        self.source, self.mapper = self.image.source, self.image.mapper
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=10, title="dB"), "right")
        hover = HoverTool(tooltips=[("time", "$x{0.000} s"), ("frequency", "$y{freq}"),
                                    ("level", "@value{0.0} dB")],
                          formatters={"$y": CustomJSHover(args=dict(src=self.freq_source),
                                                          code=_FREQ_HOVER)})
        fig.add_tools(hover)
        # the page's n1: a click or the hover on a row picks it (see _PICK_JS)
        self.pick = ColumnDataSource(data=dict(row=[-1]), name="scalogram_pick")
        self._rows = ColumnDataSource(data=dict(n=[0]))
        pick_js = CustomJS(args=dict(pick=self.pick, n=self._rows), code=_PICK_JS)
        hover.callback = pick_js
        fig.js_on_event("tap", pick_js)
        self.pick.on_change("data", self._on_pick)
        self.n1_marker = Span(location=0, dimension="width", line_color="#00e5ff",
                              line_width=1, line_alpha=0.8, visible=False)
        fig.add_layout(self.n1_marker)
        self.context.settings.param.watch(self._on_n1, "n1")
        self.context.settings.param.watch(self._on_pitch, "pitch")
        fig.yaxis.ticker = FixedTicker(ticks=[])
        self.playhead = Span(location=0, dimension="height", line_color="#00e5ff",
                             line_width=2, line_alpha=0.9)
        fig.add_layout(self.playhead)
        #: The time instant shown by the JTFS 2D view (dashed).
        self.jtfs_marker = Span(location=0, dimension="height", line_color="#ffffff",
                                line_width=1.5, line_dash="dashed", line_alpha=0.8,
                                visible=False)
        fig.add_layout(self.jtfs_marker)
        self.figure = fig
        self._db_max = 0.0
        self._times = np.zeros(0)
        self._drawn = None
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.state.param.watch(self._on_db_range, "db_range")
        self.state.param.watch(self._on_playhead, "playhead")
        self.state.param.watch(self._on_jtfs_frame, "jtfs_frame")

    def _panels(self) -> list:
        return [self.pane]

    def image_data(self) -> dict:
        """What is drawn: ``db`` (rows low to high frequency), ``freqs`` Hz, ``times`` s."""
        return dict(db=self.image.values,
                    freqs=np.asarray(self.freq_source.data["freq"]), times=self._times,
                    x=self.source.data["x"][0], dw=self.source.data["dw"][0])

    def _update(self, res) -> None:
        sc = res.scalogram
        if sc is self._drawn:             # same scalogram (a JTFS or T change): marker only
            self._on_jtfs_frame()
            return
        self._drawn = sc
        full = scalogram_db(sc.mag)[::-1]                # low frequencies at the bottom
        db = decimate_columns(full, self.max_columns)
        # a decimated last column may stand for fewer samples than the others: the image
        # spans its columns' whole width, so that each column sits where its samples are
        k = -(-full.shape[1] // db.shape[1]) if db.shape[1] else 1
        dw = sc.duration * (db.shape[1] * k / full.shape[1]) if db is not full else sc.duration
        freqs = sc.freqs[::-1]
        n = db.shape[0]
        self._times = sc.times
        self._db_max = float(db.max()) if db.size else 0.0
        self.freq_source.data = dict(freq=freqs.tolist())
        self.image.draw(db, dw=dw, dh=float(n), **self._colour_range())
        set_range(self.figure.y_range, 0, n)
        if self._rows.data["n"][0] != n:
            self._rows.data = dict(n=[n])
        self._on_pitch()
        self._on_n1()
        self._on_jtfs_frame()

    def _on_pitch(self, *events) -> None:
        freqs = np.asarray(self.freq_source.data["freq"])
        set_fixed_ticks(self.figure.yaxis,
                        frequency_ticks(freqs, pitch=self.context.settings.pitch))

    def _on_pick(self, attr, old, new) -> None:
        """A row (from the bottom) clicked or hovered in the browser: choose its wavelet."""
        try:
            r = int(new["row"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        n = len(self.freq_source.data["freq"])
        if 0 <= r < n:
            self.context.settings.n1 = n - 1 - r       # rows low to high; engine order

    def _on_n1(self, *events) -> None:
        n1 = self.context.settings.n1
        n = len(self.freq_source.data["freq"])
        if n1 is None or not 0 <= n1 < n:
            self.n1_marker.visible = False
            return
        self.n1_marker.update(location=n - 1 - n1 + 0.5, visible=True)

    def _on_jtfs_frame(self, *events) -> None:
        res = self.state.result
        jt = None if res is None else res.jtfs
        if jt is None or not len(jt.times):
            self.jtfs_marker.visible = False
            return
        self.jtfs_marker.update(location=float(jt.times[min(self.state.jtfs_frame,
                                                             len(jt.times) - 1)]),
                                visible=True)

    def _colour_range(self) -> dict:
        return dict(low=self._db_max - float(self.state.db_range), high=self._db_max)

    def _on_db_range(self, event) -> None:
        self.image.recolour(**self._colour_range())

    def _on_playhead(self, event) -> None:
        self.playhead.location = float(event.new)
