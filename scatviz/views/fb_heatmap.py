"""Filter banks as heatmaps: the first-order (psi1) and second-order (psi2) wavelets in time,
and the JTFS frequential bank along n1, each row one filter scaled to its own peak, as its
real part, imaginary part or modulus (WaveSpin's ``filterbank_heatmap``, MATLAB's filter
bank plots).

The responses are the engine's: the Scattering1D bank of the setting
(`scatviz.results.FilterBankArrays`, through `scatviz.views.filterbank.time_heatmap`) and
the frequential taps of `engine.jtfs.frequential_filters` (the transform's own).
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, HoverTool, Range1d
from bokeh.plotting import figure

from engine.jtfs import frequential_filters
from scatviz.joint import PARTS, take_part
from scatviz.theme import DIVERGING, SEQUENTIAL, style_figure
from scatviz.views.base import BaseView, set_fixed_ticks, set_range
from scatviz.views.filterbank import time_heatmap
from scatviz.views.image import ServerImage, palette_rgba
from scatviz.views.scalogram import frequency_ticks

__all__ = ["FilterBankHeatmapView", "FAMILIES", "family_heatmap", "frequential_heatmap"]

#: The families drawn, by key: title and x axis.
FAMILIES = {"psi1": ("First-order wavelets ψ1 in time", "time (s)"),
            "psi2": ("Second-order wavelets ψ2 in time", "time (s)"),
            "fr": ("JTFS frequential bank along n1 (φ_f, spin up, spin down)",
                   "offset along n1 (first-order wavelets)")}

_TIME: WeakKeyDictionary = WeakKeyDictionary()


def family_heatmap(bank, family: str, part: str = "re", pitch: bool = False) -> dict:
    """``family`` ("psi1" or "psi2") of a `FilterBankArrays` as a heatmap: ``image``
    ``(K, M)`` (rows low to high centre frequency, each scaled to its peak modulus),
    ``x0``/``width`` s, ``yticks`` (Hz, or note names with ``pitch`` for psi1). Cached per
    bank and part."""
    per = _TIME.setdefault(bank, {})
    key = (family, part)
    if key not in per:
        img, t0, tw = time_heatmap(bank.full[family], bank.sample_rate, part=part)
        per[key] = (np.ascontiguousarray(img[::-1]), t0, tw)
    img, t0, tw = per[key]
    xi = (bank.xi1_hz if family == "psi1" else bank.xi2_hz)[::-1]
    return dict(image=img, x0=t0, width=tw,
                yticks=frequency_ticks(xi, max_ticks=8, pitch=pitch and family == "psi1"))


def frequential_heatmap(res, part: str = "re") -> dict | None:
    """The frequential filters of the JTFS of ``res`` along n1 (taps at offsets ``-H..H``,
    each row scaled to its peak modulus): ``image`` ``(R, 2H + 1)`` with rows, bottom to top,
    spin down (coarsest first), ``phi_f``, spin up (finest last), ``x0``/``width`` in n1
    offsets, ``yticks``. None without a JTFS."""
    jt = res.jtfs
    if jt is None:
        return None
    J_fr, Q_fr, design = int(res.key[4]), int(res.key[5]), res.key[7]
    filters, _ = frequential_filters(design, J_fr, Q_fr, None, len(res.scalogram.freqs))
    H = max(f["taps"].size for f in filters) // 2
    phi = [f for f in filters if f["name"] == "phi_f"]
    up = [f for f in filters if f["name"] == "psi_f" and f["spin"] == 1]
    dn = [f for f in filters if f["name"] == "psi_f" and f["spin"] == -1]
    labels = jt.n1_fr_labels
    order = [(f, f"↓ {labels[f['n_fr']]}" if f["n_fr"] < len(labels) else "↓")
             for f in dn[::-1]] + [(phi[0], "φ_f")] + \
            [(f, f"↑ {labels[f['n_fr']]}" if f["n_fr"] < len(labels) else "↑") for f in up]
    rows = np.zeros((len(order), 2 * H + 1), complex)
    for r, (f, _) in enumerate(order):
        h = f["taps"].size // 2
        rows[r, H - h:H + h + 1] = f["taps"] / (np.abs(f["taps"]).max() or 1.0)
    return dict(image=take_part(rows, part), x0=-H - 0.5, width=2 * H + 1.0,
                yticks={r + 0.5: lbl for r, (_, lbl) in enumerate(order)})


class FilterBankHeatmapView(BaseView):
    """The filter banks of the current setting as heatmaps: ψ1 and ψ2 in time (rows labelled
    with their centre frequency), the frequential bank along n1; ``part``: re, im or abs."""

    title = "Filter bank heatmaps"
    part = param.Selector(default="re", objects=list(PARTS), doc="re, im or abs.")

    def _build(self) -> None:
        self.figures, self.images, self.panes = {}, {}, {}
        for key, (title, xlabel) in FAMILIES.items():
            fig = figure(height=240, sizing_mode="stretch_width", x_range=Range1d(0, 1),
                         y_range=Range1d(0, 1), x_axis_label=xlabel,
                         y_axis_label="filter (centre, Hz)" if key != "fr" else "filter",
                         tools="pan,wheel_zoom,box_zoom,reset,save", name=f"fbh_{key}")
            style_figure(fig, title)
            im = ServerImage(fig, DIVERGING, low=-1, high=1, name=f"fbh_{key}_image")
            fig.add_layout(ColorBar(color_mapper=im.mapper, width=10), "right")
            fig.add_tools(HoverTool(tooltips=[("x", "$x{0.0000}"), ("value", "@value{0.00}")]))
            self.figures[key], self.images[key] = fig, im
            self.panes[key] = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.part_select = pn.widgets.RadioButtonGroup.from_param(
            self.param.part, options={"real part": "re", "imaginary part": "im",
                                      "modulus": "abs"})
        self._drawn: dict = {}
        self.param.watch(self._redraw, "part")
        self.context.settings.param.watch(self._redraw, "pitch")

    def _panels(self) -> list:
        return [self.part_select, pn.Row(self.panes["psi1"], self.panes["psi2"],
                                         sizing_mode="stretch_width"), self.panes["fr"]]

    def heatmap_data(self, key: str) -> dict:
        """What ``key`` ("psi1", "psi2", "fr") shows: ``image`` and its ``yticks``."""
        return dict(image=self.images[key].values,
                    yticks=self.figures[key].yaxis[0].major_label_overrides)

    def _update(self, res) -> None:
        pitch = self.context.settings.pitch
        for fam in ("psi1", "psi2"):
            self._draw(fam, (res.bank, self.part, pitch),
                       lambda f=fam: family_heatmap(res.bank, f, self.part, pitch))
        if not res.jtfs_pending:
            self._draw("fr", (res.jtfs, res.jtfs_error, self.part),
                       lambda: frequential_heatmap(res, self.part))

    def _draw(self, key: str, what: tuple, make) -> None:
        if key in self._drawn and all(a is b or a == b for a, b in zip(what, self._drawn[key])):
            return                                # drawn already: nothing to send
        self._drawn[key] = what
        m = make()
        im, fig = self.images[key], self.figures[key]
        if m is None:
            im.draw(np.full((1, 1), np.nan, np.float32))
            return
        palette = SEQUENTIAL if self.part == "abs" else DIVERGING
        if im.mapper.palette != palette:
            im.lut = palette_rgba(palette)
            im.mapper.palette = palette
        K = m["image"].shape[0]
        im.draw(m["image"], x=m["x0"], dw=m["width"], dh=float(K),
                low=0.0 if self.part == "abs" else -1.0, high=1.0)
        set_range(fig.x_range, m["x0"], m["x0"] + m["width"])
        set_range(fig.y_range, 0, K)
        set_fixed_ticks(fig.yaxis, m["yticks"])

    def _redraw(self, *events) -> None:
        if not self.active:
            self._drawn, self._stale = {}, True
        elif self.state.result is not None:
            self._safe_update(self.state.result)
