"""The dashboard's cards for the views of second order, of the whole JTFS's wavelets, of the
filter banks as heatmaps and of the energy per n1: collapsed, and computing nothing until
opened.

The views themselves are built the first time they are asked for (`LazyViews`: opening a
card asks for its view): the four views are 7 of the dashboard's 21 figures, about a third
of the page's construction on the server (`Dashboard(live=False)` profiled: 0.7 of 2.3 s).
Each view is built inactive (``active=False``: it neither draws nor computes when results
arrive); opening its card makes it active, and it draws the current result once; closing
it makes it wait again. A closed card holds an empty placeholder: the view's figures join
the page's document (and are sent to the browser) the first time the card is opened, and
stay there after: neither the page's document nor the cards sent after its first picture
(`scatviz.views.nav.defer_below`) carry them until then (`benchmarks/bench_pages.py`).

>>> views = extra_views(state, context)                        # doctest: +SKIP
>>> cards = [lazy_card(views.getter(n), views.title(n)) for n in views]   # doctest: +SKIP
>>> views.built()                                              # doctest: +SKIP
[]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import panel as pn

from scatviz.state import ScatState
from scatviz.views.base import BaseView, ViewContext
from scatviz.views.energy_profile import EnergyProfileView
from scatviz.views.fb_heatmap import FilterBankHeatmapView
from scatviz.views.joint_wavelets import JointWaveletsView
from scatviz.views.scattering2 import Scattering2View

__all__ = ["extra_views", "LazyViews", "lazy_card", "card_holds_view", "pitch_toggle"]


#: The collapsed cards' views, by their ``scatviz render`` names.
EXTRA_VIEWS: dict[str, type[BaseView]] = {
    "scattering2": Scattering2View, "joint_wavelets": JointWaveletsView,
    "filterbank_heatmap": FilterBankHeatmapView, "energy_profile": EnergyProfileView}


class LazyViews(Mapping):
    """The collapsed cards' views by name, each built (inactive) the first time it is asked
    for: ``views["scattering2"]``; iterating gives the names and builds nothing."""

    def __init__(self, state: ScatState, context: ViewContext):
        self.state, self.context = state, context
        self._views: dict[str, BaseView] = {}

    def __getitem__(self, name: str) -> BaseView:
        if name not in self._views:
            if name not in EXTRA_VIEWS:
                raise KeyError(f"No collapsed card's view {name!r}; they are "
                               f"{list(EXTRA_VIEWS)}")
            self._views[name] = EXTRA_VIEWS[name](self.state, context=self.context,
                                                  active=False)
        return self._views[name]

    def __iter__(self) -> Iterator[str]:
        return iter(EXTRA_VIEWS)

    def __len__(self) -> int:
        return len(EXTRA_VIEWS)

    def title(self, name: str) -> str:
        """The view's card title (its class's ``title``), without building it."""
        return EXTRA_VIEWS[name].title

    def getter(self, name: str) -> Callable[[], BaseView]:
        """A function that builds (once) and returns the view ``name``: for `lazy_card`."""
        return lambda: self[name]

    def built(self) -> list[str]:
        """The names of the views built so far."""
        return list(self._views)


def extra_views(state: ScatState, context: ViewContext) -> LazyViews:
    """The views of the collapsed cards, by their ``scatviz render`` names: built, inactive,
    when first asked for (`LazyViews`)."""
    return LazyViews(state, context)


def lazy_card(view: BaseView | Callable[[], BaseView], title: str) -> pn.Card:
    """A collapsed card whose view is active only while the card is open, and on the page
    only once the card has been opened (`card_holds_view`). ``view``: the view, or a
    function giving it (`LazyViews.getter`), called when the card is first opened."""
    slot = pn.Column(sizing_mode="stretch_width", margin=0, name=f"lazy_{title}")
    card = pn.Card(slot, title=title, collapsed=True, sizing_mode="stretch_width",
                   css_classes=["scatviz-view"], name=f"card_{title}")
    if isinstance(view, BaseView):
        view.active = False

    def the_view() -> BaseView:
        return view if isinstance(view, BaseView) else view()

    def on_collapsed(event) -> None:
        v = the_view()
        v.active = not event.new           # drawn first: its figures are sent with data
        if not event.new and not slot.objects:
            slot.objects = [v]             # first opened: the view's figures join the page

    card.param.watch(on_collapsed, "collapsed")
    return card


def card_holds_view(card: pn.Card) -> bool:
    """Whether a `lazy_card` holds its view yet (it does from its first opening on)."""
    return bool(card.objects and card.objects[0].objects)


def pitch_toggle(context: ViewContext) -> pn.widgets.Checkbox:
    """The page's note-name toggle (``context.settings.pitch``)."""
    return pn.widgets.Checkbox.from_param(context.settings.param.pitch,
                                          label="note names on frequency axes (A4 = 440 Hz)")
