"""The overview of a long recording, with the detail window as a box that the user moves.

`RecordingOverview` draws an `scatviz.longrec.overview.Overview`: the waveform envelope (min
and max per column) and the coarse scalogram of the whole file, on one time axis in seconds,
and the detail window as a `RangeTool` box on both. Its ``window`` parameter, ``(start_s,
length_s)``, is the window; the page moves it by

* dragging the box (or its edges: a new length),
* a click (tap) on the overview: the window centred there, same length,
* a box selection (the "x" box-select tool): the window is the selection,

and the code by setting ``window``. A new length goes through ``chooser`` (e.g.
``lambda s: scatviz.longrec.window.choose_window(sr, s, ...)``), which may shorten it; its
message is shown above the figures (``message``). A new overview (``overview = ...``)
replaces the figures' data in place.

Bokeh's browser sends a dragged box's start and end as two changes; the window is read from
both on the document's next tick (`range_patch` does the same without a served document,
e.g. in tests; a single change, such as one edge dragged, is read at once).

>>> view = RecordingOverview(overview=compute_overview(x, 48_000))   # doctest: +SKIP
>>> view.param.watch(lambda e: print(e.new), "window")               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import panel as pn
import param
from bokeh.events import SelectionGeometry, Tap
from bokeh.models import BoxSelectTool, ColumnDataSource, FixedTicker, Range1d, RangeTool
from bokeh.plotting import figure

from scatviz.longrec.overview import Overview
from scatviz.longrec.session import LongRecording
from scatviz.theme import CATEGORICAL, SEQUENTIAL, style_figure
from scatviz.views.base import fit_range, set_fixed_ticks, set_range
from scatviz.views.image import ServerImage
from scatviz.views.scalogram import frequency_ticks, scalogram_db

__all__ = ["RecordingOverview"]

#: Colour range of the coarse scalogram (dB under its loudest point).
DB_RANGE = 70.0


class RecordingOverview(pn.viewable.Viewer):
    """The whole recording (waveform envelope and coarse scalogram) and the detail window.

    Parameters
    ----------
    overview : Overview
        What to draw (`scatviz.longrec.overview.compute_overview`).
    window : (float, float)
        ``(start_s, length_s)``, seconds: the detail window.
    chooser : callable, optional
        ``requested_length_s -> WindowChoice`` (or anything with ``length_s`` and
        ``message``): applied to every new length. None: lengths as given.
    """

    overview = param.ClassSelector(class_=Overview, allow_None=True)
    window = param.Tuple(default=(0.0, 1.0), length=2, doc="(start_s, length_s) of the window.")
    message = param.String(default="", doc="Why the window is shorter than requested, if so.")

    def __init__(self, chooser: Callable | None = None, height: int = 110, **params):
        self.chooser = chooser
        self._height = height
        self._syncing = False
        self._pending = False
        self._held = False
        super().__init__(**params)
        self._build()
        self.param.watch(self._on_overview, "overview")
        self.param.watch(self._on_window, "window")
        self.param.watch(self._on_message, "message")
        if self.overview is not None:
            self._draw(self.overview)
        self._on_window()
        self._alert.param.update(object=self.message, visible=bool(self.message))

    # ---- figures ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.x_range = Range1d(0.0, 1.0, bounds=(0.0, 1.0), name="overview_time")
        #: The detail window on the time axis: the RangeTool's box.
        self.window_range = Range1d(0.0, 1.0, bounds=(0.0, 1.0), name="detail_window")
        self.env_source = ColumnDataSource(data=dict(t=[], lo=[], hi=[]))
        tools = "xpan,xwheel_zoom,reset"
        wave = figure(height=self._height, sizing_mode="stretch_width", x_range=self.x_range,
                      y_range=Range1d(-1, 1), tools=tools, active_scroll="xwheel_zoom",
                      y_axis_label="amplitude", name="overview_waveform")
        style_figure(wave, "Whole recording: drag the box, click, or select a span")
        wave.varea(x="t", y1="lo", y2="hi", source=self.env_source,
                   fill_color=CATEGORICAL[0], fill_alpha=0.9)
        wave.xaxis.visible = False
        scal = figure(height=int(self._height * 1.4), sizing_mode="stretch_width",
                      x_range=self.x_range, y_range=Range1d(0, 1), tools=tools,
                      active_scroll="xwheel_zoom", x_axis_label="time (s)",
                      y_axis_label="Hz", name="overview_scalogram")
        style_figure(scal)
        self.image = ServerImage(scal, SEQUENTIAL, low=-DB_RANGE, high=0,
                                 name="overview_image")
        scal.yaxis.ticker = FixedTicker(ticks=[])
        self.range_tools = []
        for fig in (wave, scal):
            rt = RangeTool(x_range=self.window_range)
            rt.overlay.fill_color = "#00e5ff"
            rt.overlay.fill_alpha = 0.25
            box = BoxSelectTool(dimensions="width")
            fig.add_tools(rt, box)
            fig.on_event(Tap, self._on_tap)
            fig.on_event(SelectionGeometry, self._on_select)
            self.range_tools.append(rt)
        self.window_range.on_change("start", self._on_range)
        self.window_range.on_change("end", self._on_range)
        self.wave_figure, self.scal_figure = wave, scal
        self._alert = pn.pane.Alert("", alert_type="info", visible=False,
                                    sizing_mode="stretch_width", margin=(0, 5),
                                    name="window_message")
        self.info = pn.pane.Markdown("", margin=(0, 10), name="overview_info")
        self._layout = pn.Column(self._alert, pn.pane.Bokeh(wave, sizing_mode="stretch_width"),
                                 pn.pane.Bokeh(scal, sizing_mode="stretch_width"), self.info,
                                 sizing_mode="stretch_width", name="Recording overview")

    def __panel__(self):
        return self._layout

    @classmethod
    def for_recording(cls, rec: LongRecording, **params) -> RecordingOverview:
        """The overview of ``rec`` driving it: the window's first position is set as its
        state's signal at once, and every later ``window`` (drag, tap, selection) reads the
        new window into the state (`LongRecording.apply_window`), which the views and the
        audio player then show and play. New lengths go through ``rec.choose``.

        >>> rec = LongRecording(state, "night.flac")                  # doctest: +SKIP
        >>> view = RecordingOverview.for_recording(rec)               # doctest: +SKIP
        """
        rec.apply_window(0.0)
        view = cls(overview=rec.overview(), window=rec.window, chooser=rec.choose,
                   message=rec.choice.message, **params)

        def follow(event):
            start, length = event.new
            rec.apply_window(start, length)

        view.param.watch(follow, "window")
        view.recording = rec
        return view

    # ---- drawing ---------------------------------------------------------------------------

    def _draw(self, ov: Overview) -> None:
        dur = float(ov.duration)
        half = ov.samples_per_column / ov.info.sample_rate / 2
        t = np.minimum(ov.env_times + half, dur)
        self.env_source.data = dict(t=t, lo=ov.env_min, hi=ov.env_max)
        fit_range(self.wave_figure.y_range, [ov.env_min, ov.env_max])
        for rng in (self.x_range, self.window_range):
            rng.update(bounds=None)
        set_range(self.x_range, 0.0, dur)
        self.x_range.bounds = (0.0, dur)
        db = scalogram_db(ov.scal_mag)
        K, M = db.shape
        step = (ov.scal_times[1] - ov.scal_times[0]) if M > 1 else dur
        x0 = float(ov.scal_times[0] - step / 2) if M else 0.0
        top = float(db.max()) if db.size else 0.0
        self.image.draw(db, x=x0, y=0.0, dw=float(M * step), dh=float(K),
                        low=top - DB_RANGE, high=top)
        set_range(self.scal_figure.y_range, 0, max(K, 1))
        set_fixed_ticks(self.scal_figure.yaxis, frequency_ticks(ov.scal_freqs, max_ticks=5))
        self.window_range.bounds = (0.0, dur)
        i = ov.info
        self.info.object = (f"**{i.name}** · {i.duration:.1f} s at {i.sample_rate:g} Hz · "
                            f"{i.channels} channel(s) · {i.n_samples:,} samples · overview "
                            f"in {ov.seconds:.2f} s")

    def image_data(self) -> dict:
        """What the scalogram shows: ``db`` ``(K, M)`` (rows low to high), ``x``, ``dw``."""
        d = self.image.source.data
        return dict(db=self.image.values, x=d["x"][0], dw=d["dw"][0])

    # ---- the window ------------------------------------------------------------------------

    def _duration(self) -> float:
        return float(self.overview.duration) if self.overview is not None else 1.0

    def _clamped(self, start: float, length: float) -> tuple[float, float]:
        dur = self._duration()
        length = float(min(max(length, 0.0), dur)) or dur
        start = float(min(max(start, 0.0), dur - length))
        return start, length

    def set_window(self, start_s: float, length_s: float | None = None) -> None:
        """Move the window to ``start_s`` (seconds); a new ``length_s`` goes through
        ``chooser`` (shortened ones keep their centre)."""
        old_len = float(self.window[1])
        length = old_len if length_s is None else float(length_s)
        if length_s is not None and self.chooser is not None and \
                not np.isclose(length, old_len, rtol=1e-6, atol=1e-9):
            choice = self.chooser(length)
            centre = start_s + length / 2
            length = float(choice.length_s)
            start_s = centre - length / 2
            self.message = getattr(choice, "message", "")
        self.window = self._clamped(float(start_s), length)

    def _on_window(self, *events) -> None:
        start, length = self.window
        if self._syncing:
            return
        self._syncing = True
        try:
            if (self.window_range.start, self.window_range.end) != (start, start + length):
                self.window_range.update(start=start, end=start + length)
        finally:
            self._syncing = False

    @contextlib.contextmanager
    def range_patch(self):
        """Changes of ``window_range`` inside are read as one when it ends: what a served
        document's next tick does with the start and end of one browser gesture (and how
        tests simulate that gesture)."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            if self._pending:
                self._sync_from_range()

    def _on_range(self, attr, old, new) -> None:
        if self._syncing:
            return
        if self._held:
            self._pending = True
            return
        doc = self.window_range.document           # the served page's document, if any
        if doc is not None and doc.session_context is not None:
            if not self._pending:                  # start and end arrive one by one
                self._pending = True
                doc.add_next_tick_callback(self._sync_from_range)
            return
        self._sync_from_range()

    def _sync_from_range(self) -> None:
        self._pending = False
        start, end = float(self.window_range.start), float(self.window_range.end)
        if not end > start:
            self._on_window()              # an empty box: put the window back
            return
        self._syncing = True              # the range is already where the window goes
        try:
            self.set_window(start, end - start)
        finally:
            self._syncing = False
        self._on_window()                  # if the chooser shortened it, show that

    def _on_tap(self, event) -> None:
        if event.x is None:
            return
        self.set_window(float(event.x) - self.window[1] / 2)

    def _on_select(self, event) -> None:
        g = event.geometry or {}
        if not event.final or g.get("type") != "rect" or g.get("x0") is None:
            return
        x0, x1 = sorted((float(g["x0"]), float(g["x1"])))
        if x1 > x0:
            self.set_window(x0, x1 - x0)

    def _on_overview(self, event) -> None:
        if event.new is not None:
            self._draw(event.new)
            self.window = self._clamped(*self.window)
            self._on_window()

    def _on_message(self, event) -> None:
        self._alert.object = event.new
        self._alert.visible = bool(event.new)
