"""The dashboard's collapsed cards: their views compute nothing until opened."""

from __future__ import annotations

import panel as pn
import pytest

from scatviz.views.dashboard import Dashboard


def _cards(dash) -> dict:
    return {c.title: c for c in dash.main() if isinstance(c, pn.Card) and c.collapsed}


def test_collapsed_cards_compute_nothing_until_opened():
    d = Dashboard(live=False)
    extra = d.extra_views
    assert set(extra) == {"scattering2", "joint_wavelets", "filterbank_heatmap", "energy_profile"}
    cards = _cards(d)
    for v in extra.values():
        assert v.title in cards and not v.active and v.n_updates == 0
    calls = []
    for v in extra.values():                    # no model method runs while closed
        v._update = lambda res, v=v: calls.append(v.title)
    d.state.J = 7
    d.state.Q1 = 9
    d.context.settings.n1 = 3
    d.context.settings.pitch = True
    assert not calls and all(v.n_updates == 0 for v in extra.values())
    # opening a card draws its view once, with the current result; closing stops it again
    s2 = extra["scattering2"]
    del s2._update
    card = cards[s2.title]
    card.collapsed = False
    assert s2.active and s2.n_updates == 1
    assert s2.scattergram_data()["n1"] == 3
    d.state.J = 6
    assert s2.n_updates == 2
    card.collapsed = True
    d.state.J = 7
    assert s2.n_updates == 2
    jw = extra["joint_wavelets"]
    del jw._update
    jw.part = "im"                              # closed: nothing drawn
    assert jw.n_updates == 0 and jw.wavelet_data()["grid"] is None
    cards[jw.title].collapsed = False
    assert jw.n_updates == 1 and jw.wavelet_data()["part"] == "im"
    d.context.settings.pitch = False


def test_pitch_toggle_on_the_page():
    d = Dashboard(live=False)
    boxes = [o for o in d.main() if isinstance(o, pn.widgets.Checkbox)]
    assert len(boxes) == 1
    boxes[0].value = True
    assert d.context.settings.pitch
    labels = d.scalogram_view.figure.yaxis[0].major_label_overrides.values()
    assert all(lbl[0] in "ABCDEFG" for lbl in labels)


def test_a_collapsed_cards_figures_join_the_page_when_first_opened():
    from scatviz.views.cards import card_holds_view

    d = Dashboard(live=False)
    cards = _cards(d)
    s2 = d.extra_views["scattering2"]
    card = cards[s2.title]
    assert not card_holds_view(card)
    root = pn.Column(*d.main()).get_root()                 # the page's first document
    names = {m.name for m in root.references()}
    assert "s2_image" not in names and "scalogram" in names
    card.collapsed = False
    assert card_holds_view(card) and s2.n_updates == 1
    card.collapsed = True                                   # kept once sent
    assert card_holds_view(card) and not s2.active


def test_collapsed_cards_views_are_built_when_first_opened():
    d = Dashboard(live=False)
    assert d.extra_views.built() == []                      # the page's construction: none
    assert set(d.views) >= set(d.extra_views) and d.extra_views.built() == []
    cards = {c.title: c for c in d.main() if isinstance(c, pn.Card) and c.collapsed}
    jw_title = d.extra_views.title("joint_wavelets")
    cards[jw_title].collapsed = False
    assert d.extra_views.built() == ["joint_wavelets"]
    jw = d.extra_views["joint_wavelets"]
    assert jw.active and jw.n_updates == 1 and jw.title == jw_title
    assert d.views["joint_wavelets"] is jw
    with pytest.raises(KeyError, match="scattering2"):
        d.extra_views["nope"]
