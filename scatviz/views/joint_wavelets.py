"""The joint wavelets ``psi_t * psi_f`` of JTFS as images, in the JTFS grid's layout.

Beside the JTFS grid of coefficients (`scatviz.views.jtfs2d`), the filters that made each
cell: for each ``(n2, n1_fr, spin)`` the 2D time-frequency wavelet, and the ``phi_t`` /
``phi_f`` ones in their own row and column (`scatviz.joint.joint_wavelets`: the engine's
filters, built once per setting and part). Read a cell as a small scalogram patch: up is
higher frequency, right is later; a spin-up wavelet's ridges rise, so it responds to
rising frequencies, a spin-down one to falling.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, HoverTool, Range1d
from bokeh.plotting import figure

from scatviz.joint import PARTS, joint_wavelets
from scatviz.theme import DIVERGING, SEQUENTIAL, style_figure
from scatviz.views.base import JTFSView, set_fixed_ticks, set_range
from scatviz.views.image import ServerImage, palette_rgba
from scatviz.views.jtfs2d import GRID_BACKGROUND

__all__ = ["JointWaveletsView", "PART_LABELS"]

#: What each ``part`` shows.
PART_LABELS = {"re": "real part", "im": "imaginary part", "abs": "modulus"}


class JointWaveletsView(JTFSView):
    """The joint time-frequency wavelets of the current JTFS setting, one per cell of the
    JTFS grid, each scaled to its own peak; ``part``: real part, imaginary part or modulus.

    >>> v = JointWaveletsView.from_signal(x, 8000, J=6, Q1=8, J_fr=3)   # doctest: +SKIP
    >>> v.wavelet_data()["image"].shape                                 # doctest: +SKIP
    """

    title = "JTFS joint wavelets"
    part = param.Selector(default="re", objects=list(PARTS),
                          doc="Part of the complex wavelets: re, im or abs.")

    def _build(self) -> None:
        fig = figure(height=460, sizing_mode="stretch_width", x_range=Range1d(0, 1),
                     y_range=Range1d(0, 1), tools="save,reset,box_zoom",
                     x_axis_label="φ_t · temporal wavelet ψ2, n2 (Hz); in each cell: time",
                     y_axis_label="spin · n1_fr · φ_f; in each cell: frequency (up = higher)",
                     name="joint_wavelets")
        style_figure(fig, "JTFS joint wavelets ψ_t · ψ_f (each cell scaled to its peak)")
        self.image = ServerImage(fig, DIVERGING, low=-1, high=1, transparent_nan=True,
                                 name="joint_wavelets_image")
        self.image.draw(np.full((1, 1), np.nan, np.float32))
        fig.add_layout(ColorBar(color_mapper=self.image.mapper, width=10), "right")
        fig.add_tools(HoverTool(tooltips=[("value", "@value{0.00}")]))
        fig.xgrid.visible = fig.ygrid.visible = False
        fig.background_fill_color = GRID_BACKGROUND
        self.figure = fig
        self.part_select = pn.widgets.RadioButtonGroup.from_param(
            self.param.part, options={v: k for k, v in PART_LABELS.items()},
            name="joint_wavelets_part")
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._res = None
        self._drawn = None
        self.param.watch(self._on_part, "part")

    def _panels(self) -> list:
        return [self.part_select, self.pane]

    def wavelet_data(self) -> dict:
        """What is drawn: ``image`` ``(H, W)`` (NaN separators), the `scatviz.joint.JointGrid`
        (``grid``: where each cell is) and ``part``."""
        return dict(image=self.image.values, grid=self._drawn[1] if self._drawn else None,
                    part=self.part)

    def _clear(self, res) -> None:
        self._res, self._drawn = None, None
        self.image.draw(np.full((1, 1), np.nan, np.float32))

    def _update_jtfs(self, res, jt) -> None:
        self._res = res
        self._draw()

    def _draw(self) -> None:
        res = self._res
        if res is None or res.jtfs is None:
            return
        key = (res.jtfs, self.part)
        if self._drawn is not None and self._drawn[0] == key:
            return                                   # drawn already: nothing to send
        grid = joint_wavelets(res, self.part)
        palette = SEQUENTIAL if self.part == "abs" else DIVERGING
        if self.image.mapper.palette != palette:
            self.image.lut = palette_rgba(palette)
            self.image.mapper.palette = palette
        H, W = grid.image.shape
        self.image.draw(grid.image, dw=W, dh=H, low=0.0 if self.part == "abs" else -1.0,
                        high=1.0)
        set_range(self.figure.x_range, 0, W)
        set_range(self.figure.y_range, 0, H)
        set_fixed_ticks(self.figure.xaxis, grid.xticks)
        set_fixed_ticks(self.figure.yaxis, grid.yticks)
        self._drawn = (key, grid)

    def _on_part(self, *events) -> None:
        if self.active:
            self._draw()
        else:
            self._jt, self._stale = None, True       # drawn when made active
