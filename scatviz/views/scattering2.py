"""Second-order scattering: the scattergram of one first-order wavelet, and the (n1, n2)
plane at one instant.

The averaged second-order coefficients ``S2[n1, n2](t) = |(|x * psi1[n1]| * psi2[n2])| * phi``
say how the envelope of the band ``n1`` (the *carrier*, in Hz) is modulated at the rate of
``psi2[n2]`` (the *modulation*, in Hz). Two pictures, as ScatNet draws them:

* the scattergram of one ``n1`` (`scattergram`): modulation rate (Hz, low at the bottom) by
  time (s), on the page's shared time axis; ``n1`` is the page's ``settings.n1``, which a
  click on a row of the scalogram, or hovering it, sets;
* the slice at one instant (ScatNet's ``display_slice``, `second_order_slice`): carrier
  (Hz, low at the bottom) by modulation (Hz, low on the left); cells without a path
  (``j2 <= j1``) are blank. The chosen ``n1`` is marked.

Colours are dB: the scattergram relative to its own loudest value (so that a quiet band is
still readable), the slice relative to the loudest second-order value, both over
``state.db_range``.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, HoverTool, Range1d, Span
from bokeh.plotting import figure

from scatviz.analysis import (
    loudest_second_order,
    note_name,
    scattergram,
    second_order_paths,
    second_order_slice,
)
from scatviz.theme import SEQUENTIAL, style_figure
from scatviz.views.base import BaseView, set_fixed_ticks, set_range
from scatviz.views.image import ServerImage

__all__ = ["Scattering2View", "hz_label", "index_ticks"]

#: Floor of the dB scale, relative to the peak.
_FLOOR = 1e-12


def hz_label(f: float, pitch: bool = False) -> str:
    """A frequency as a tick label: ``"440"``, ``"7.5"``; a note name with ``pitch``."""
    if pitch and f > 0:
        return note_name(f)
    return f"{f:.0f}" if f >= 100 else (f"{f:.1f}" if f >= 1 else f"{f:.2g}")


def index_ticks(freqs_low_to_high: np.ndarray, max_ticks: int = 10,
                pitch: bool = False) -> dict[float, str]:
    """Ticks at cell centres ``i + 0.5`` for cells ordered low to high frequency."""
    n = len(freqs_low_to_high)
    step = max(1, int(np.ceil(n / max_ticks))) if n else 1
    return {i + 0.5: hz_label(float(freqs_low_to_high[i]), pitch) for i in range(0, n, step)}


def to_db(a: np.ndarray, peak: float) -> np.ndarray:
    """``20 log10 a`` (float32) floored 240 dB under ``peak``; NaN stays NaN."""
    floor = max(peak, 1e-30) * _FLOOR
    with np.errstate(invalid="ignore"):
        return (20 * np.log10(np.maximum(a, floor))).astype(np.float32)


def _hover(fig, tooltips) -> None:
    fig.add_tools(HoverTool(tooltips=tooltips))


class Scattering2View(BaseView):
    """The averaged second-order scattering of the current setting: the scattergram of the
    first-order wavelet ``n1`` (the page's ``context.settings.n1``: clicking or hovering a
    row of the scalogram sets it; by default the loudest band) and the (n1, n2) slice at
    the instant ``frame``.

    >>> v = Scattering2View.from_signal(x, 8000, J=6, Q1=8)     # doctest: +SKIP
    >>> v.scattergram_data()["image"].shape                     # doctest: +SKIP
    (n2 paths of n1, L)
    """

    title = "Second-order scattering"
    frame = param.Integer(default=None, allow_None=True, bounds=(0, None),
                          doc="Time frame of the slice (None: the loudest second-order one).")

    def _build(self) -> None:
        fig = figure(height=260, sizing_mode="stretch_width", x_range=self._x_range,
                     y_range=Range1d(0, 1), x_axis_label="time (s)",
                     y_axis_label="modulation rate of ψ2 (Hz)",
                     tools="xpan,xwheel_zoom,box_zoom,reset,save", active_scroll="xwheel_zoom",
                     name="s2_scattergram")
        style_figure(fig, "S2 scattergram")
        self.image = ServerImage(fig, SEQUENTIAL, low=-60, high=0, name="s2_image")
        fig.add_layout(ColorBar(color_mapper=self.image.mapper, width=10, title="dB"), "right")
        _hover(fig, [("time", "$x{0.000} s"), ("level", "@value{0.0} dB")])
        self.instant = Span(location=0, dimension="height", line_color="#ffffff",
                            line_width=1.5, line_dash="dashed", line_alpha=0.8)
        fig.add_layout(self.instant)
        self.figure = fig

        fs = figure(height=300, sizing_mode="stretch_width", x_range=Range1d(0, 1),
                    y_range=Range1d(0, 1), x_axis_label="modulation rate of ψ2, n2 (Hz)",
                    y_axis_label="carrier: centre of ψ1, n1 (Hz)", tools="save,reset,box_zoom",
                    name="s2_slice")
        style_figure(fs, "S2 at one instant: the (n1, n2) plane")
        self.slice_image = ServerImage(fs, SEQUENTIAL, low=-60, high=0, transparent_nan=True,
                                       name="s2_slice_image")
        fs.add_layout(ColorBar(color_mapper=self.slice_image.mapper, width=10, title="dB"),
                      "right")
        _hover(fs, [("level", "@value{0.0} dB")])
        self.n1_marker = Span(location=0, dimension="width", line_color="#00e5ff",
                              line_width=1.5, line_alpha=0.9)
        fs.add_layout(self.n1_marker)
        fs.xgrid.visible = fs.ygrid.visible = False
        self.slice_figure = fs

        self.frame_slider = pn.widgets.IntSlider(label="instant (frame)", start=0, end=1,
                                                 value=0, sizing_mode="stretch_width")
        self.frame_slider.param.watch(self._on_slider, "value_throttled")
        self.label = pn.pane.Markdown("", margin=(0, 10), name="s2_label")
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.slice_pane = pn.pane.Bokeh(fs, sizing_mode="stretch_width")
        self._scat = None
        self._peak = 1.0
        self._model: dict = {}
        self.settings = self.context.settings
        self.settings.param.watch(self._on_n1, "n1")
        self.settings.param.watch(self._on_pitch, "pitch")
        self.state.param.watch(self._on_db_range, "db_range")
        self.param.watch(self._on_frame, "frame")

    def _panels(self) -> list:
        return [pn.Row(self.frame_slider, self.label, sizing_mode="stretch_width"),
                self.pane, self.slice_pane]

    # ---- model -----------------------------------------------------------------------------

    def n1(self) -> int:
        """The first-order wavelet shown (engine order): the page's choice, else the band
        with the most second-order energy."""
        p = second_order_paths(self._scat)
        n = len(p["xi1"])
        chosen = self.settings.n1
        if chosen is not None and 0 <= chosen < n:
            return int(chosen)
        return loudest_second_order(self._scat)[0]

    def scattergram_data(self) -> dict:
        """What is drawn: ``image`` ``(k, L)`` dB (rows low to high modulation), ``xi2``
        ``(k,)`` Hz, ``n1`` and its ``carrier`` Hz, ``times`` s; ``slice`` ``(n1, n2)`` dB
        (rows low to high carrier, columns low to high modulation; NaN: no path) at
        ``frame``, ``time`` s."""
        return dict(self._model, image=self.image.values, slice=self.slice_image.values)

    # ---- drawing ---------------------------------------------------------------------------

    def _update(self, res) -> None:
        scat = res.scattering
        if scat is self._scat:
            return
        self._scat = scat
        p = second_order_paths(scat)
        coefs = scat.coefs[p["rows"]]
        self._peak = float(coefs.max()) if coefs.size else 1.0
        L = scat.coefs.shape[-1]
        self.frame_slider.param.update(end=max(L - 1, 1))
        self._draw_scattergram()
        self._draw_slice()

    def _frame(self) -> int:
        scat = self._scat
        L = scat.coefs.shape[-1]
        if self.frame is not None:
            return min(self.frame, L - 1)
        return loudest_second_order(scat)[1]

    def _draw_scattergram(self) -> None:
        scat = self._scat
        n1 = self.n1()
        p = second_order_paths(scat)
        rows, xi2 = scattergram(scat, n1)
        carrier = float(p["xi1"][n1]) if len(p["xi1"]) else 0.0
        k = rows.shape[0]
        if k:
            db = to_db(rows, float(rows.max()))
            top = float(db.max())
        else:                                  # no path: one blank row
            db, top = np.full((1, max(rows.shape[-1], 1)), np.nan, np.float32), 0.0
        dur = float(scat.times[-1] + (scat.times[1] - scat.times[0])) if len(scat.times) > 1 \
            else float(self.state.duration)
        self.image.draw(db, dw=dur, dh=float(max(k, 1)),
                        low=top - float(self.state.db_range), high=top)
        set_range(self.figure.y_range, 0, max(k, 1))
        set_fixed_ticks(self.figure.yaxis, index_ticks(xi2, 8))
        pitch = self.settings.pitch
        note = f" ({note_name(carrier)})" if pitch else ""
        self.figure.title.text = (f"S2 scattergram of n1={n1}: carrier {hz_label(carrier)} Hz"
                                  f"{note}" + ("" if k else " (no second-order path)"))
        n = len(p["xi1"])
        self.n1_marker.location = n - 1 - n1 + 0.5          # rows low to high in the slice
        self._model.update(xi2=xi2, n1=n1, carrier=carrier, times=np.asarray(scat.times))

    def _draw_slice(self) -> None:
        scat = self._scat
        t = self._frame()
        p = second_order_paths(scat)
        sl = second_order_slice(scat, t)[::-1, ::-1]        # low carrier bottom, low rate left
        db = to_db(sl, self._peak)
        top = float(np.nanmax(to_db(np.array([self._peak]), self._peak)))
        n1, n2 = sl.shape
        self.slice_image.draw(db if db.size else np.full((1, 1), np.nan, np.float32),
                              dw=float(max(n2, 1)), dh=float(max(n1, 1)),
                              low=top - float(self.state.db_range), high=top)
        set_range(self.slice_figure.x_range, 0, max(n2, 1))
        set_range(self.slice_figure.y_range, 0, max(n1, 1))
        set_fixed_ticks(self.slice_figure.xaxis, index_ticks(p["xi2"][::-1], 10))
        set_fixed_ticks(self.slice_figure.yaxis,
                        index_ticks(p["xi1"][::-1], 10, self.settings.pitch))
        time = float(scat.times[t]) if len(scat.times) else 0.0
        self.instant.location = time
        if self.frame_slider.value != t:
            self.frame_slider.value = t
        self.label.object = f"t = **{time:.3f} s** (frame {t + 1}/{len(scat.times)})"
        self._model.update(frame=t, time=time, xi1=p["xi1"], xi2_all=p["xi2"])

    # ---- events ----------------------------------------------------------------------------

    def _ready(self) -> bool:
        """Whether to draw now; an inactive view forgets what it drew, so that it draws
        the current choice when made active."""
        if not self.active:
            self._scat = None
            self._stale = True
            return False
        return self._scat is not None

    def _on_n1(self, *events) -> None:
        if self._ready():
            self._draw_scattergram()

    def _on_pitch(self, *events) -> None:
        if self._ready():
            self._draw_scattergram()
            self._draw_slice()

    def _on_frame(self, *events) -> None:
        if self._ready():
            self._draw_slice()

    def _on_slider(self, event) -> None:
        self.frame = int(event.new)

    def _on_db_range(self, *events) -> None:
        if self._ready():
            self._draw_scattergram()
            self._draw_slice()
