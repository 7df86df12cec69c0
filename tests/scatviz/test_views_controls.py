"""The dashboard's controls bound both ways to the session state, URL arguments validated
like widget values, and the views' shared page context (no Bokeh objects on the state)."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest
from bokeh.models import Model

from scatviz.state import PRESETS, ScatState
from scatviz.views import ScalogramView, SignalView
from scatviz.views.base import ViewContext
from scatviz.views.controls import SLIDERS, Controls, nearest_option
from scatviz.views.dashboard import Dashboard
from scatviz.views.query import parse_query


def _shown(d: Dashboard) -> dict:
    """What every transform widget shows, against the state's value."""
    return {name: (w.value, getattr(d.state, name)) for name, w in d.controls.widgets.items()}


def _all_agree(d: Dashboard) -> None:
    for name, (shown, value) in _shown(d).items():
        assert shown == value, (name, shown, value)
    for name in SLIDERS:                 # the released value too (what the browser draws)
        assert d.controls.widgets[name].value_throttled == getattr(d.state, name), name


def test_slider_bounds_are_the_states_parameter_bounds():
    c = Controls(ScatState(auto=False))
    for name in SLIDERS:
        w = c.widgets[name]
        assert (w.start, w.end) == ScatState.param[name].bounds, name
    assert (c.widgets["J"].end, c.widgets["Q1"].end) == (16, 32)
    db = c.widgets["db_range"]
    assert (db.start, db.end) == ScatState.param.db_range.bounds
    assert list(c.widgets["design"].options) == list(c.state.param.design.objects)


def test_a_preset_moves_every_widget():
    d = Dashboard(live=False)
    for preset in ("Long averaging", "Chirps & spin (JTFS)", "Default"):
        d.w_preset.value = preset
        assert {k: getattr(d.state, k) for k in PRESETS[preset]} == PRESETS[preset]
        _all_agree(d)
    d.state.param.update(T=64, F=4, db_range=90.0, design="tight")   # a notebook, a script
    _all_agree(d)
    assert d.w_T.value == 64 and d.w_F.value == 4 and d.w_db.value == 90.0
    assert d.w_design.value == "tight"


def test_url_arguments_move_every_widget():
    d = Dashboard.from_query({"J": [b"7"], "Q1": [b"12"], "Q2": [b"2"], "T": [b"64"],
                              "J_fr": [b"4"], "Q_fr": [b"2"], "F": [b"4"],
                              "design": [b"tight"], "db_range": [b"90"]}, live=False)
    assert (d.state.J, d.state.T, d.state.F, d.state.design) == (7, 64, 4, "tight")
    assert d.state.db_range == 90.0
    _all_agree(d)
    assert d.w_T.value == 64 and d.w_db.value == 90.0
    assert not d.notes and not d.url_notes.visible


def test_url_db_range_is_clamped_like_its_slider():
    q = parse_query({"db_range": [b"1000"]}, generators={})
    assert q.settings["db_range"] == ScatState.param.db_range.bounds[1] and len(q.notes) == 1
    q = parse_query({"db_range": [b"nan"]}, generators={})
    assert q.settings["db_range"] == ScatState.param.db_range.default
    q = parse_query({"db_range": [b"loud"]}, generators={})
    assert "db_range" not in q.settings and "not a number" in q.notes[0]


def test_the_crash_hook_is_not_reachable_without_the_servers_variable(monkeypatch):
    monkeypatch.delenv("SCATVIZ_TEST_HOOKS", raising=False)
    assert parse_query({"test_hook": [b"abort"]}, generators={}).hook is None
    monkeypatch.setenv("SCATVIZ_TEST_HOOKS", "1")
    assert parse_query({"test_hook": [b"abort"]}, generators={}).hook == "abort"
    assert parse_query({"test_hook": [b"rm -rf"]}, generators={}).hook is None


def test_a_released_widget_sets_the_state_and_a_drag_does_not():
    d = Dashboard(live=False)
    gen = d.generation
    d.w_Q1._process_events({"value": 9})                  # dragging
    assert d.state.Q1 == 8 and d.generation == gen
    d.w_Q1._process_events({"value_throttled": 9})        # released
    assert d.state.Q1 == 9 and d.generation == gen + 1
    d.w_T._slider._process_events({"value": 3})           # T: options 0, 4, 8, 16...
    assert d.state.T == 0
    d.w_T._slider._process_events({"value_throttled": 3})
    assert d.state.T == 16 and d.w_T.value == 16
    d.w_design.value = "tight"
    assert d.state.design == "tight"


def test_out_of_range_url_values_take_the_nearest_allowed_with_a_note():
    q = parse_query({"J": [b"99"], "Q1": [b"0"], "T": [b"100"], "F": [b"3"],
                     "J_fr": [b"x"]}, generators={})
    assert q.settings == {"J": 16, "Q1": 1, "T": 128, "F": 2}
    assert len(q.notes) == 5
    assert any("J=99 is outside 1..16: using J=16" in n for n in q.notes)
    assert any("J_fr='x' is not a whole number" in n for n in q.notes)
    assert nearest_option(100, {"a": 64, "b": 128}) == 128
    assert nearest_option(96, {"a": 64, "b": 128}) == 64        # a tie: the first


def test_unknown_names_in_the_url_give_the_defaults_with_a_note():
    gens = {"linear_chirp": lambda N, sr: np.zeros(N)}
    q = parse_query({"theme": [b"bogus"], "design": [b"nope"], "asset": [b"nothing"],
                     "gen": [b"linear_chirp"], "N": [b"1000000000"], "sr": [b"192000"]},
                    generators=gens)
    assert q.theme == "default" and "design" not in q.settings and q.asset is None
    assert q.generator == ("linear_chirp", 65536, 44100.0)   # the generator's largest
    assert len(q.notes) == 5 and any("theme='bogus' is not a theme" in n for n in q.notes)
    assert parse_query({"theme": [b"dark"]}).theme == "dark"


def test_dashboard_from_a_bad_url_renders_with_the_notes_on_the_page():
    d = Dashboard.from_query({"theme": [b"bogus"], "J": [b"99"]}, live=False)
    assert d.theme == "default" and d.state.J == 16 and d.w_J.value == 16
    assert d.url_notes.visible and "theme='bogus'" in d.url_notes.object
    assert "J=99" in d.url_notes.object
    assert d.error_msg.visible                    # J=16 is too large for 8192 samples
    assert d.template().theme.__name__ == "DefaultTheme"
    dark = Dashboard.from_query({"theme": [b"dark"]}, live=False)
    assert dark.template().theme.__name__ == "DarkTheme"


def test_dashboard_is_a_viewer():
    d = Dashboard(live=False)
    assert isinstance(d, pn.viewable.Viewer)
    layout = d.__panel__()
    assert layout is d.__panel__()
    assert isinstance(pn.panel(d), pn.layout.Row)


def test_views_keep_no_bokeh_objects_on_the_state():
    """The shared time axis and mosaic labels belong to the page's `ViewContext`."""
    d = Dashboard(live=False)
    on_state = [k for k, v in vars(d.state).items() if isinstance(v, (Model, tuple))
                and (isinstance(v, Model) or any(isinstance(x, Model) for x in v))]
    assert on_state == []
    assert d.scalogram_view._x_range is d.context.time_range
    assert d.views["jtfs2d"].labels is d.context.shared("mosaic_labels", lambda: None)


def test_views_of_one_state_share_a_context_by_default_and_pages_do_not():
    st = ScatState.from_signal(np.random.default_rng(0).standard_normal(4096)
                               .astype("float32"), 8000, J=5, with_jtfs=False)
    a, b = SignalView(st), ScalogramView(st)
    assert a.context is b.context is ViewContext.for_state(st)
    assert a.figure.x_range is b.figure.x_range
    other = ViewContext(duration=st.duration)
    c = ScalogramView(st, context=other)
    assert c.figure.x_range is other.time_range is not a.figure.x_range
    assert other.time_range.end == pytest.approx(st.duration)
    st.set_signal(type("S", (), dict(x=np.zeros(8192, "float32"), sample_rate=8000.0,
                                     name="z", info={}))())
    assert a.context.time_range.end == pytest.approx(1.024)     # reset by the signal view
