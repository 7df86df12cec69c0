"""The dashboard's cards for the views of second order, of the whole JTFS's wavelets, of the
filter banks as heatmaps and of the energy per n1: collapsed, and computing nothing until
opened.

Each view is built inactive (``active=False``: it neither draws nor computes when results
arrive); opening its card makes it active, and it draws the current result once; closing
it makes it wait again. A closed card holds an empty placeholder: the view's figures join
the page's document (and are sent to the browser) the first time the card is opened, and
stay there after, so that the page's first document is not the bigger for them (the
dashboard's four cards: 9 of its 21 figures; `benchmarks/bench_pages.py`).

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

__all__ = ["extra_views", "lazy_card", "card_holds_view", "pitch_toggle"]


def extra_views(state: ScatState, context: ViewContext) -> dict[str, BaseView]:
    """The views of the collapsed cards, by their ``scatviz render`` names, inactive."""
    return {"scattering2": Scattering2View(state, context=context, active=False),
            "joint_wavelets": JointWaveletsView(state, context=context, active=False),
            "filterbank_heatmap": FilterBankHeatmapView(state, context=context, active=False),
            "energy_profile": EnergyProfileView(state, context=context, active=False)}


def lazy_card(view: BaseView, title: str) -> pn.Card:
    """A collapsed card whose view is active only while the card is open, and on the page
    only once the card has been opened (`card_holds_view`)."""
    slot = pn.Column(sizing_mode="stretch_width", margin=0, name=f"lazy_{title}")
    card = pn.Card(slot, title=title, collapsed=True, sizing_mode="stretch_width",
                   css_classes=["scatviz-view"], name=f"card_{title}")
    view.active = False

    def on_collapsed(event) -> None:
        view.active = not event.new        # drawn first: its figures are sent with data
        if not event.new and not slot.objects:
            slot.objects = [view]          # first opened: the view's figures join the page

    card.param.watch(on_collapsed, "collapsed")
    return card


def card_holds_view(card: pn.Card) -> bool:
    """Whether a `lazy_card` holds its view yet (it does from its first opening on)."""
    return bool(card.objects and card.objects[0].objects)


def pitch_toggle(context: ViewContext) -> pn.widgets.Checkbox:
    """The page's note-name toggle (``context.settings.pitch``)."""
    return pn.widgets.Checkbox.from_param(context.settings.param.pitch,
                                          label="note names on frequency axes (A4 = 440 Hz)")
