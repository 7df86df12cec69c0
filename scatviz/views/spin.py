"""Spin inspector: pick a time-frequency region and see whether its energy rises or falls.

The JTFS spin up pair (``psi_t * psi_f_up``) responds to frequencies that rise over time, spin
down to falling ones. For each first-order frequency ``n1`` and time the view sums the energy of
each spin over all (n2, n1_fr) and shows their contrast ``(up - down) / (up + down)`` as an
image aligned with the scalogram (red: rising, blue: falling; faint where there is little
energy). In the chosen region (drag a box on the map, or use the sliders) it reports the
rising and falling energies, the verdict ("rising", "falling", or neither) and the
(n2, n1_fr) cells where each spin concentrates.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.events import SelectionGeometry
from bokeh.models import (
    BoxSelectTool,
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    HoverTool,
    Range1d,
    Span,
)
from bokeh.plotting import figure
from param.parameterized import discard_events

from scatviz.analysis import DOMINANCE, region_summary, spin_maps  # noqa: F401 (re-exported)
from scatviz.theme import (
    SEQUENTIAL,
    SPIN_DIVERGING,
    SPIN_DOWN,
    SPIN_UP,
    steady_tick_labels,
    style_figure,
)
from scatviz.views.base import JTFSView, fit_range, set_fixed_ticks, set_range
from scatviz.views.image import ServerImage
from scatviz.views.scalogram import _FREQ_HOVER, frequency_ticks

__all__ = ["SpinInspectorView", "spin_maps", "region_summary"]

class SpinInspectorView(JTFSView):
    """Where the energy rises (spin up) and falls (spin down), and the verdict in a region."""

    title = "Spin inspector"
    t_range = param.Range(default=(0.0, 1.0), doc="Region: time, seconds.")
    f_range = param.Range(default=(0.0, 1.0), doc="Region: frequency, Hz.")

    def _build(self) -> None:
        self.freq_source = ColumnDataSource(data=dict(freq=[]))
        self.src_box = ColumnDataSource(data=dict(left=[], right=[], bottom=[], top=[]))
        fig = figure(height=300, sizing_mode="stretch_width", x_range=self._x_range,
                     y_range=Range1d(0, 1),
                     x_axis_label="time (s)", y_axis_label="frequency (Hz)",
                     tools="xpan,xwheel_zoom,reset,save", name="spin_map")
        style_figure(fig, "Spin contrast (up − down)/(up + down): red rising, blue falling")
        self.map_image = ServerImage(fig, SPIN_DIVERGING, low=-1, high=1)
        self.src_map, self.mapper = self.map_image.source, self.map_image.mapper
        fig.quad(left="left", right="right", bottom="bottom", top="top", source=self.src_box,
                 fill_alpha=0.0, line_color="#00e5ff", line_width=2, line_dash="dashed")
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=10, title="contrast"), "right")
        box = BoxSelectTool(dimensions="both", name="region")
        fig.add_tools(box)
        fig.toolbar.active_drag = box
        fig.add_tools(HoverTool(tooltips=[("time", "$x{0.000} s"), ("frequency", "$y{f}"),
                                          ("contrast", "@value{+0.00}")],
                                formatters={"$y": CustomJSHover(args=dict(
                                    src=self.freq_source), code=_FREQ_HOVER)}))
        fig.on_event(SelectionGeometry, self._on_box)
        self.playhead = Span(location=0, dimension="height", line_color="#00e5ff",
                             line_width=2, line_alpha=0.9)
        fig.add_layout(self.playhead)
        self.state.param.watch(lambda e: setattr(self.playhead, "location", float(e.new)),
                               "playhead")
        self.figure = fig

        self.src_bars = ColumnDataSource(data=dict(spin=["rising (up)", "falling (down)"],
                                                   energy=[0.0, 0.0],
                                                   color=[SPIN_UP, SPIN_DOWN]))
        fb = figure(height=280, width=300, x_range=["rising (up)", "falling (down)"],
                    y_range=Range1d(0, 1),
                    y_axis_label="energy in region", tools="save", name="spin_bars")
        style_figure(fb, "Region")
        fb.vbar(x="spin", top="energy", width=0.7, color="color", source=self.src_bars)
        steady_tick_labels(fb.yaxis)
        self.fig_bars = fb

        fc = figure(height=280, width=420, tools="save", name="spin_cells",
                    x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                    x_axis_label="n2 (Hz)", y_axis_label="spin · n1_fr")
        style_figure(fc, "Where the spins concentrate")
        self.cells_image = ServerImage(fc, SEQUENTIAL, low=0, high=1)
        self.src_cells, self.cells_mapper = self.cells_image.source, self.cells_image.mapper
        self.cells_mid = Span(location=0, dimension="width", line_color="#888888")
        fc.add_layout(self.cells_mid)
        self.fig_cells = fc

        self.t_slider = pn.widgets.RangeSlider(label="time (s)", start=0, end=1, value=(0, 1),
                                               step=0.001, sizing_mode="stretch_width")
        self.f_slider = pn.widgets.RangeSlider(label="frequency (Hz)", start=0, end=1,
                                               value=(0, 1), step=1,
                                               sizing_mode="stretch_width")
        self.t_slider.param.watch(lambda e: setattr(self, "t_range", e.new), "value_throttled")
        self.f_slider.param.watch(lambda e: setattr(self, "f_range", e.new), "value_throttled")
        self.param.watch(self._on_region, ["t_range", "f_range"])
        self.verdict = pn.pane.Markdown("", name="spin_verdict", margin=(0, 10))
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._jt = None
        self._sig_key = None

    def _panels(self) -> list:
        return [pn.Row(self.t_slider, self.f_slider, sizing_mode="stretch_width"),
                self.pane, self.verdict,
                pn.Row(pn.pane.Bokeh(self.fig_bars), pn.pane.Bokeh(self.fig_cells))]

    def summary(self) -> dict:
        """`region_summary` of the current region (None without JTFS)."""
        jt = self._jt
        if jt is None:
            return None
        return region_summary(jt.up, jt.dn, jt.n1_hz, jt.times, self.t_range, self.f_range)

    def _clear(self, res) -> None:
        self.verdict.object = ""

    def _update_jtfs(self, res, jt) -> None:
        eu, ed = spin_maps(jt.up, jt.dn)
        tot = eu + ed
        contrast = np.where(tot > 0, (eu - ed) / np.where(tot > 0, tot, 1), 0.0)
        # fade where there is little energy: scale towards 0 below 1 % of the max
        weight = np.clip(tot / (0.01 * tot.max() if tot.max() > 0 else 1), 0, 1)
        img = (contrast * weight).astype(np.float32)
        order = np.argsort(jt.n1_hz)                 # low frequencies at the bottom
        img = img[order]
        freqs = jt.n1_hz[order]
        n = img.shape[0]
        dur = len(res.x) / res.sample_rate
        self.freq_source.data = dict(freq=freqs.tolist())
        self.map_image.draw(img, dw=dur, dh=float(n))
        set_range(self.figure.y_range, 0, n)
        ticks = frequency_ticks(freqs)
        set_fixed_ticks(self.figure.yaxis, ticks)
        self._freqs_sorted = freqs
        fmax = float(np.ceil(freqs.max())) if n else 1.0
        full_f = tuple(self.f_slider.value) == (0.0, self.f_slider.end)
        # the region follows the new signal or axis; drawn once below, not also by its watcher
        with discard_events(self):
            if res.key[0] != self._sig_key or self.t_slider.end != round(dur, 6):
                self._sig_key = res.key[0]
                self.t_slider.param.update(start=0.0, end=round(dur, 6),
                                           value=(0.0, round(dur, 6)))
                self.f_slider.param.update(start=0.0, end=fmax, value=(0.0, fmax))
                self.param.update(t_range=(0.0, dur), f_range=(0.0, fmax))
            elif full_f and self.f_slider.end != fmax:  # the whole axis stays the whole axis
                self.f_slider.param.update(end=fmax, value=(0.0, fmax))
                self.f_range = (0.0, fmax)
        self._draw_region()

    def _on_region(self, *events) -> None:
        self._draw_region()

    def _on_box(self, event) -> None:
        g = event.geometry
        if g.get("type") != "rect" or getattr(self, "_freqs_sorted", None) is None:
            return
        f = self._freqs_sorted
        r0 = int(np.clip(np.floor(min(g["y0"], g["y1"])), 0, len(f) - 1))
        r1 = int(np.clip(np.ceil(max(g["y0"], g["y1"])) - 1, 0, len(f) - 1))
        t0, t1 = sorted((float(g["x0"]), float(g["x1"])))
        self.t_slider.value = (t0, t1)
        self.f_slider.value = (float(np.floor(f[r0])), float(np.ceil(f[r1])))
        self.param.update(t_range=(t0, t1), f_range=(float(f[r0]), float(f[r1])))

    def _draw_region(self) -> None:
        s = self.summary()
        if s is None:
            return
        jt = self._jt
        f = self._freqs_sorted
        rows = np.flatnonzero((f >= min(self.f_range)) & (f <= max(self.f_range)))
        if rows.size:
            self.src_box.data = dict(left=[self.t_range[0]], right=[self.t_range[1]],
                                     bottom=[float(rows.min())], top=[float(rows.max() + 1)])
        else:
            self.src_box.data = dict(left=[], right=[], bottom=[], top=[])
        self.src_bars.data = dict(spin=["rising (up)", "falling (down)"],
                                  energy=[s["up"], s["down"]], color=[SPIN_UP, SPIN_DOWN])
        fit_range(self.fig_bars.y_range, [0.0, s["up"], s["down"]])
        # cells: spin up rows above spin down rows, n2 slow -> fast left to right
        cu, cd = s["cells_up"][::-1].T, s["cells_down"][::-1].T     # (n1_fr, n2)
        img = np.concatenate([cd, cu[::-1]], axis=0).astype(np.float32)
        nfr, n2 = cu.shape
        self.cells_image.draw(img, dw=n2, dh=2 * nfr, low=0.0, high=float(img.max()) or 1.0)
        set_range(self.fig_cells.x_range, 0, n2)
        set_range(self.fig_cells.y_range, 0, 2 * nfr)
        self.cells_mid.location = nfr
        xt = {i + 0.5: f"{jt.n2_hz[n2 - 1 - i]:.3g}" for i in range(n2)}
        yt = {**{j + 0.5: f"↓ {jt.n1_fr_labels[j]}" for j in range(nfr)},
              **{2 * nfr - j - 0.5: f"↑ {jt.n1_fr_labels[j]}" for j in range(nfr)}}
        set_fixed_ticks(self.fig_cells.xaxis, xt)
        set_fixed_ticks(self.fig_cells.yaxis, yt)
        word = {"rising": "**rising** (spin up dominates)",
                "falling": "**falling** (spin down dominates)",
                "neither": "**no dominant direction**"}[s["verdict"]]
        self.verdict.object = (f"Region {self.t_range[0]:.3f}–{self.t_range[1]:.3f} s, "
                               f"{min(self.f_range):.0f}–{max(self.f_range):.0f} Hz: {word}; "
                               f"up/down = {s['ratio_db']:+.1f} dB")
