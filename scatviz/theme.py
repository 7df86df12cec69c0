"""Palettes (from colorcet, a maintained palette library) and figure styling shared by the views.

Sequential maps for magnitudes, a diverging one for signed quantities (filter impulse
responses, spin contrast), and categorical colours for lines and bars. Panel applies its own
dark/light Bokeh theme to the figures; the palettes read well on both.
"""

from __future__ import annotations

import colorcet as cc

__all__ = ["SEQUENTIAL", "DIVERGING", "SPIN_DIVERGING", "CATEGORICAL", "LINES", "SPIN_UP",
           "SPIN_DOWN", "line_colors", "steady_tick_labels", "style_figure"]

#: Magnitudes in dB (scalogram, JTFS slices): perceptually uniform, dark = low.
SEQUENTIAL = list(cc.palette["fire"])
#: Signed values (filter impulse responses).
DIVERGING = list(cc.palette["coolwarm"])
#: Spin contrast: blue = falling (spin down), black = neither, red = rising (spin up).
SPIN_DIVERGING = list(cc.palette["bkr"])
CATEGORICAL = list(cc.palette["glasbey_category10"])
LINES = list(cc.palette["rainbow4"])
SPIN_UP = CATEGORICAL[3]      # red
SPIN_DOWN = CATEGORICAL[0]    # blue
LOWPASS = "#7f7f7f"
LP_SUM = CATEGORICAL[2]


def line_colors(n: int, palette: list[str] | None = None) -> list[str]:
    """``n`` colours spread over a palette (the wavelets of a filter bank, high to low)."""
    palette = palette or LINES
    if n <= 1:
        return [palette[0]] * n
    return [palette[int(round(i * (len(palette) - 1) / (n - 1)))] for i in range(n)]


def steady_tick_labels(axis, log: bool = False) -> None:
    """Tick labels (of an axis or a colour bar) whose width does not change with the data:
    ``1e-3`` on a log axis (for ``10^-3``, whose width follows the exponents in view),
    ``2.5e-3`` on a linear one.

    When the widest tick label of an axis changes width, BokehJS lays the whole figure out
    again before painting it: 14-44 ms per figure in the dashboard's page (measured: 7 of
    20 setting changes did it for one to three figures, from labels such as ``0.7`` after
    ``0.74``, or a log range gaining an exponent)."""
    from bokeh.models import PrintfTickFormatter

    axis.formatter = PrintfTickFormatter(format="%.0e" if log else "%.1e")


def style_figure(fig, title: str | None = None):
    """Common look: no logo, compact toolbar, sizing by the layout."""
    fig.toolbar.logo = None
    fig.toolbar_location = "above"
    if title is not None:
        fig.title.text = title
    fig.min_border_left = 60
    return fig
