"""Coefficient energies: per scattering order, per JTFS pair, and spin up beside spin down per
temporal scale n2."""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Range1d
from bokeh.plotting import figure

from scatviz.analysis import JTFS_PAIRS, pair_energies, spin_energies
from scatviz.state import JTFS_UNAVAILABLE
from scatviz.theme import CATEGORICAL, SPIN_DOWN, SPIN_UP, steady_tick_labels, style_figure
from scatviz.views.base import BaseView, fit_range, wire

__all__ = ["EnergyView", "JTFS_PAIRS"]

#: Energies span many decades: the hover writes them as 1.234e-05 (printf), where a
#: numeral format rounds the small ones to 0.
SCIENTIFIC = {"@energy": "printf"}


def _log_floor(e: np.ndarray) -> float:
    """Where bars start on a log axis: a tenth of the smallest positive energy."""
    return max(e[e > 0].min() / 10 if (e > 0).any() else 1e-12, 1e-30)


def _bars(values: dict[str, float]) -> dict:
    names = list(values)
    e = np.array([max(float(values[k]), 0.0) for k in names])
    total = e.sum() or 1.0
    floor = _log_floor(e)
    return dict(name=names, energy=np.maximum(e, floor).astype(np.float32),
                share=(100 * e / total).astype(np.float32),
                bottom=np.full(len(e), floor, dtype=np.float32))


def _log_figure(title, x_range, name, height=250):
    fig = figure(height=height, sizing_mode="stretch_width", x_range=x_range, y_axis_type="log",
                 y_range=Range1d(1e-3, 1),
                 y_axis_label="energy (sum of squares)", tools="save,reset", name=name)
    style_figure(fig, title)
    steady_tick_labels(fig.yaxis, log=True)
    fig.xaxis.major_label_orientation = 0.6
    return fig


class EnergyView(BaseView):
    """Energies of the coefficients (sum of squares, log axis; hover gives the share in %).

    * Scattering orders 0, 1, 2 (time scattering with the current T);
    * the seven JTFS pairs;
    * spin up beside spin down for each temporal scale n2 (with its rate in Hz): which
      direction of frequency change dominates at each modulation rate.
    """

    title = "Coefficient energies"

    def _build(self) -> None:
        self.src_order = ColumnDataSource(data=_bars({}))
        self.src_pair = ColumnDataSource(data=_bars({}))
        self.src_spin = ColumnDataSource(data=dict(x=[], energy=[], bottom=[], color=[],
                                                   share=[]))
        fo = _log_figure("Energy per scattering order", ["S0", "S1", "S2"], "energy_order")
        fo.vbar(x="name", top="energy", bottom="bottom", width=0.7, source=self.src_order,
                color=CATEGORICAL[0])
        fo.add_tools(HoverTool(tooltips=[("", "@name"), ("energy", "@energy{%.3e}"),
                                         ("share", "@share{0.0} %")],
                               formatters=SCIENTIFIC))
        fp = _log_figure("Energy per JTFS pair", list(JTFS_PAIRS), "energy_pair")
        fp.vbar(x="name", top="energy", bottom="bottom", width=0.7, source=self.src_pair,
                color=CATEGORICAL[1])
        fp.add_tools(HoverTool(tooltips=[("", "@name"), ("energy", "@energy{%.3e}"),
                                         ("share", "@share{0.0} %")],
                               formatters=SCIENTIFIC))
        fs = _log_figure("Spin up ↑ (red) beside spin down ↓ (blue), per n2 rate",
                         FactorRange(),
                         "energy_spin")
        fs.vbar(x="x", top="energy", bottom="bottom", width=0.9, source=self.src_spin,
                color="color")
        fs.add_tools(HoverTool(tooltips=[("", "@x"), ("energy", "@energy{%.3e}"),
                                         ("share of spinned", "@share{0.0} %")],
                               formatters=SCIENTIFIC))
        fs.xaxis.major_label_orientation = 0.0
        fs.xaxis.group_label_orientation = 0.0
        self.fig_order, self.fig_pair, self.fig_spin = fo, fp, fs
        self.jtfs_message = pn.pane.Alert(JTFS_UNAVAILABLE, alert_type="info", visible=False,
                                          sizing_mode="stretch_width", name="energy_message")
        self.panes = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in (fo, fp, fs)]
        self._drawn_scattering = self._drawn_jtfs = None

    def _panels(self) -> list:
        return [self.jtfs_message, pn.Row(*self.panes, sizing_mode="stretch_width")]

    def energy_data(self) -> dict:
        """What is drawn: ``order`` {name: energy}, ``pair`` {name: energy}, ``spin``
        {(n2 label, "↑" (up) or "↓" (down)): energy}."""
        def as_dict(src, key="name"):
            return {k: float(v) for k, v, b in zip(src.data[key], src.data["energy"],
                                                    src.data["bottom"]) if v > b}
        spin = {tuple(k): float(v) for k, v in zip(self.src_spin.data["x"],
                                                   self.src_spin.data["energy"])}
        return dict(order=as_dict(self.src_order), pair=as_dict(self.src_pair), spin=spin)

    def _update(self, res) -> None:
        if res.scattering is not self._drawn_scattering:
            self._drawn_scattering = res.scattering
            e = res.scattering.energy_per_order
            self._show(self.fig_order, self.src_order, _bars({f"S{o}": e[o] for o in sorted(e)}))
        if res.jtfs_pending:          # JTFS still computing: keep the last bars
            return
        jt = res.jtfs
        if jt is not None and jt is self._drawn_jtfs:
            return                    # the JTFS bars drawn already
        self._drawn_jtfs = jt
        if jt is None:
            self.jtfs_message.object = res.jtfs_error or JTFS_UNAVAILABLE
            self.jtfs_message.visible = True
            self.src_pair.data = _bars({})
            self.src_spin.data = dict(x=[], energy=[], bottom=[], color=[], share=[])
            self.fig_spin.x_range.factors = []
            return
        self.jtfs_message.visible = False
        self._show(self.fig_pair, self.src_pair, _bars(pair_energies(jt.pairs)))
        up, dn = spin_energies(jt.up, jt.dn)
        total = float(up.sum() + dn.sum()) or 1.0
        labels = [f"{hz:.3g} Hz" for hz in jt.n2_hz]
        xs, vals, cols = [], [], []
        for lbl, u, d in zip(labels, up, dn):
            xs += [(lbl, "↑"), (lbl, "↓")]
            vals += [u, d]
            cols += [SPIN_UP, SPIN_DOWN]
        vals = np.asarray(vals)
        floor = _log_floor(vals)
        self.fig_spin.x_range.factors = xs
        self._show(self.fig_spin, self.src_spin, dict(
            x=xs, energy=np.maximum(vals, floor), bottom=np.full(len(vals), floor), color=cols,
            share=100 * vals / total))

    @staticmethod
    def _show(fig, src, bars: dict) -> None:
        """Bars into ``src``, and ``fig``'s log axis fitted to them (bottoms to tops)."""
        src.data = wire(bars)
        fit_range(fig.y_range, [bars["bottom"], bars["energy"]], log=True)
