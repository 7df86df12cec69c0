"""The dashboard's cards for the views of second order, of the whole JTFS's wavelets, of the
filter banks as heatmaps and of the energy per n1: collapsed, and computing nothing until
opened.

Each view is built inactive (``active=False``: it neither draws nor computes when results
arrive); opening its card makes it active, and it draws the current result once; closing
it makes it wait again. Their Bokeh figures are on the page from the start (hidden), so
that opening a card sends data, not new models.

>>> views = extra_views(state, context)                        # doctest: +SKIP
>>> cards = [lazy_card(v, v.title) for v in views.values()]    # doctest: +SKIP
"""

from __future__ import annotations

import panel as pn

from scatviz.state import ScatState
from scatviz.views.base import BaseView, ViewContext
from scatviz.views.energy_profile import EnergyProfileView
from scatviz.views.fb_heatmap import FilterBankHeatmapView
from scatviz.views.joint_wavelets import JointWaveletsView
from scatviz.views.scattering2 import Scattering2View

__all__ = ["extra_views", "lazy_card", "pitch_toggle"]


def extra_views(state: ScatState, context: ViewContext) -> dict[str, BaseView]:
    """The views of the collapsed cards, by their ``scatviz render`` names, inactive."""
    return {"scattering2": Scattering2View(state, context=context, active=False),
            "joint_wavelets": JointWaveletsView(state, context=context, active=False),
            "filterbank_heatmap": FilterBankHeatmapView(state, context=context, active=False),
            "energy_profile": EnergyProfileView(state, context=context, active=False)}


def lazy_card(view: BaseView, title: str) -> pn.Card:
    """A collapsed card whose view is active only while the card is open."""
    card = pn.Card(view, title=title, collapsed=True, sizing_mode="stretch_width",
                   css_classes=["scatviz-view"], name=f"card_{title}")
    view.active = not card.collapsed

    def on_collapsed(event) -> None:
        view.active = not event.new

    card.param.watch(on_collapsed, "collapsed")
    return card


def pitch_toggle(context: ViewContext) -> pn.widgets.Checkbox:
    """The page's note-name toggle (``context.settings.pitch``)."""
    return pn.widgets.Checkbox.from_param(context.settings.param.pitch,
                                          label="note names on frequency axes (A4 = 440 Hz)")
