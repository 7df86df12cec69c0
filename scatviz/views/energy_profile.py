"""The energy of each JTFS pair per first-order frequency (WaveSpin's ``energy_profile_jtfs``
with ``flatten``): which pairs carry the signal in which band. Log-log; the first order (S1)
as a reference line."""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d
from bokeh.plotting import figure

from scatviz.analysis import JTFS_PAIRS, energy_profile, note_name
from scatviz.theme import CATEGORICAL, steady_tick_labels, style_figure
from scatviz.views.base import JTFSView, fit_range, static_legend, wire

__all__ = ["EnergyProfileView", "PAIR_COLOURS"]

#: One colour per pair (S1 black), the same on every setting.
PAIR_COLOURS = {p: ("#000000" if p == "S1" else CATEGORICAL[i % len(CATEGORICAL)])
                for i, p in enumerate(JTFS_PAIRS)}


class EnergyProfileView(JTFSView):
    """Energy (sum of squares) of each JTFS pair against the first-order frequency n1 (Hz,
    log axis; note names with the page's ``pitch``).

    >>> EnergyProfileView.from_signal(x, 8000, J=6, Q1=8).profile_data()   # doctest: +SKIP
    """

    title = "JTFS energy per first-order frequency"

    def _build(self) -> None:
        self.source = ColumnDataSource(data=dict(xs=[], ys=[], color=[], pair=[]))
        fig = figure(height=300, sizing_mode="stretch_width", x_axis_type="log",
                     y_axis_type="log", x_range=Range1d(10, 4000), y_range=Range1d(1e-6, 1),
                     x_axis_label="first-order frequency n1 (Hz)",
                     y_axis_label="energy (sum of squares)", tools="pan,box_zoom,reset,save",
                     name="energy_profile")
        style_figure(fig, "Energy of each JTFS pair per n1 (energy_profile_jtfs, flatten)")
        steady_tick_labels(fig.yaxis, log=True)
        r = fig.multi_line("xs", "ys", source=self.source, line_color="color", line_width=2)
        fig.add_tools(HoverTool(renderers=[r], tooltips=[("pair", "@pair")]))
        static_legend(fig, [(p, dict(line_color=c, line_width=2))
                            for p, c in PAIR_COLOURS.items() if p != "S0"],
                      location="bottom_right", background_fill_alpha=0.5)
        self.figure = fig
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._prof = None
        self.context.settings.param.watch(self._on_pitch, "pitch")

    def _panels(self) -> list:
        return [self.pane]

    def profile_data(self) -> dict:
        """What is drawn: per pair ``(freqs Hz, energies)``, ascending in frequency."""
        d = self.source.data
        return {p: (np.asarray(x, float), np.asarray(y, float))
                for p, x, y in zip(d["pair"], d["xs"], d["ys"])}

    def _clear(self, res) -> None:
        self._prof = None
        self.source.data = dict(xs=[], ys=[], color=[], pair=[])

    def _update_jtfs(self, res, jt) -> None:
        prof = self._prof = energy_profile(jt)
        curves = [("S1", prof["s1_hz"], prof["s1"])] + \
            [(p, prof["n1_hz"], e) for p, e in prof["energy"].items()]
        xs, ys, names = [], [], []
        for p, f, e in curves:
            ok = np.isfinite(f) & (f > 0)
            order = np.argsort(f[ok])
            xs.append(f[ok][order].astype(np.float32))
            ys.append(np.maximum(e[ok][order], 1e-30).astype(np.float32))
            names.append(p)
        self.source.data = wire(dict(xs=xs, ys=ys, color=[PAIR_COLOURS[p] for p in names],
                                     pair=names))
        fit_range(self.figure.x_range, xs, log=True)
        fit_range(self.figure.y_range, ys, log=True)
        self._on_pitch()

    def _on_pitch(self, *events) -> None:
        """Note names at the n1 frequencies (a fixed ticker), or the log axis' own ticks."""
        if not self.active:
            return                                  # drawn with the pitch when made active
        axis = self.figure.xaxis[0]
        if self.context.settings.pitch and self._prof is not None:
            f = np.sort(self._prof["n1_hz"][np.isfinite(self._prof["n1_hz"])])
            idx = np.unique(np.linspace(0, len(f) - 1, min(8, len(f))).round().astype(int))
            ticks = {float(f[i]): note_name(float(f[i])) for i in idx}
            axis.ticker = FixedTicker(ticks=list(ticks))
            axis.major_label_overrides = ticks
            axis.axis_label = "first-order frequency n1 (note, A4 = 440 Hz)"
        elif isinstance(axis.ticker, FixedTicker):
            from bokeh.models import LogTicker

            axis.ticker = LogTicker()
            axis.major_label_overrides = {}
            axis.axis_label = "first-order frequency n1 (Hz)"
