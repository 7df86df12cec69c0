"""Second-order scattering: the scattergram of one n1, the (n1, n2) slice, the scalogram's pick
of n1, the note names, and views that wait while inactive."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.analysis import (
    loudest_second_order,
    note_name,
    scattergram,
    second_order_paths,
    second_order_slice,
)
from scatviz.signals_io import load_asset
from scatviz.state import ScatState
from scatviz.views.base import ViewContext
from scatviz.views.scalogram import ScalogramView
from scatviz.views.scattering2 import Scattering2View


@pytest.fixture(scope="module")
def state():
    return ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8, with_jtfs=False)


def test_second_order_paths_follow_the_engine_meta(state):
    scat = state.result.scattering
    p = second_order_paths(scat)
    order = scat.order
    assert len(p["rows"]) == (order == 2).sum() > 0
    # each path's (carrier, modulation) is its channel's xi_hz
    np.testing.assert_allclose(p["xi1"][p["n1"]], scat.xi_hz[p["rows"], 0])
    np.testing.assert_allclose(p["xi2"][p["n2"]], scat.xi_hz[p["rows"], 1])
    assert np.all(np.diff(p["xi1"]) < 0) and np.all(np.diff(p["xi2"]) < 0)   # engine order
    # a second-order wavelet is slower than its carrier's envelope can be: xi2 < xi1
    assert np.all(p["xi2"][p["n2"]] < p["xi1"][p["n1"]])


def test_scattergram_and_slice_are_the_engine_coefficients(state):
    scat = state.result.scattering
    p = second_order_paths(scat)
    n1 = int(p["n1"][len(p["n1"]) // 2])
    rows, xi2 = scattergram(scat, n1)
    sel = p["rows"][p["n1"] == n1]
    assert rows.shape == (len(sel), scat.coefs.shape[-1])
    assert np.all(np.diff(xi2) > 0)                       # lowest modulation first
    np.testing.assert_array_equal(rows[-1], scat.coefs[sel[0]])   # engine: highest first
    sl = second_order_slice(scat, 7)
    assert sl.shape == (len(p["xi1"]), len(p["xi2"]))
    assert np.isfinite(sl).sum() == len(p["rows"])        # NaN where no path
    k = p["rows"][0]
    assert sl[p["n1"][0], p["n2"][0]] == scat.coefs[k, 7]
    with pytest.raises(ValueError, match="n1=99"):
        scattergram(scat, 99)
    with pytest.raises(ValueError, match="frame"):
        second_order_slice(scat, scat.coefs.shape[-1])


def test_scattering2_view_data_and_axes(state):
    v = Scattering2View(state, context=ViewContext(state.duration))
    d = v.scattergram_data()
    n1_best, frame_best = loudest_second_order(state.result.scattering)
    assert d["n1"] == n1_best and d["frame"] == frame_best
    k, L = d["image"].shape
    assert k == len(d["xi2"]) and L == state.result.scattering.coefs.shape[-1]
    assert d["carrier"] == pytest.approx(state.result.scalogram.freqs[d["n1"]])
    assert v.figure.x_range is v.context.time_range       # zooms with the other views
    assert v.figure.yaxis[0].axis_label == "modulation rate of ψ2 (Hz)"
    assert f"{d['carrier']:.0f} Hz" in v.figure.title.text
    labels = list(v.figure.yaxis[0].major_label_overrides.values())
    assert labels == [f"{f:.1f}" if f < 100 else f"{f:.0f}" for f in d["xi2"]]
    # the slice: carrier rows low to high, modulation columns low to high
    assert d["slice"].shape == (len(d["xi1"]), len(d["xi2_all"]))
    assert v.slice_figure.yaxis[0].axis_label.startswith("carrier")
    n = len(d["xi1"])
    assert v.n1_marker.location == n - 1 - d["n1"] + 0.5
    assert v.instant.location == pytest.approx(d["time"])
    # dB over the page's range
    assert v.image.mapper.high - v.image.mapper.low == pytest.approx(state.db_range)


def test_scalogram_click_or_hover_chooses_n1_for_the_page(state):
    ctx = ViewContext(state.duration)
    sc = ScalogramView(state, context=ctx)
    v = Scattering2View(state, context=ctx)
    n = len(state.result.scalogram.freqs)
    figure_before, source_before = v.figure, v.image.source
    # the browser sends the row under the pointer (from the bottom) through `pick`
    sc.pick.data = dict(row=[3])
    assert ctx.settings.n1 == n - 1 - 3
    assert v.scattergram_data()["n1"] == n - 1 - 3
    assert sc.n1_marker.visible and sc.n1_marker.location == 3.5
    assert v.figure is figure_before and v.image.source is source_before   # in place
    sc.pick.data = dict(row=[n + 5])                      # outside: ignored
    assert ctx.settings.n1 == n - 1 - 3
    # the browser side: a tap and the hover both run the pick callback
    hover = [t for t in sc.figure.tools if t.__class__.__name__ == "HoverTool"][0]
    assert hover.callback is not None and "pick" in hover.callback.args
    assert "tap" in sc.figure.js_event_callbacks


def test_pitch_labels_on_first_order_axes(state):
    assert (note_name(440.0), note_name(261.63), note_name(466.16)) == ("A4", "C4", "A♯4")
    assert note_name(0.0) == "" and note_name(450, cents=True) == "A4+39"
    ctx = ViewContext(state.duration)
    sc = ScalogramView(state, context=ctx)
    v = Scattering2View(state, context=ctx)
    ctx.settings.pitch = True
    freqs = state.result.scalogram.freqs[::-1]
    ticks = sc.figure.yaxis[0].major_label_overrides
    assert ticks and all(lbl == note_name(freqs[int(pos)]) for pos, lbl in ticks.items())
    yl = v.slice_figure.yaxis[0].major_label_overrides
    assert all(lbl[0] in "ABCDEFG" for lbl in yl.values())
    # the modulation axis stays in Hz
    assert all(lbl.replace(".", "").isdigit()
               for lbl in v.slice_figure.xaxis[0].major_label_overrides.values())
    ctx.settings.pitch = False
    assert all(lbl.replace(".", "").isdigit()
               for lbl in sc.figure.yaxis[0].major_label_overrides.values())


def test_inactive_view_computes_nothing_until_active(state):
    ctx = ViewContext(state.duration)
    v = Scattering2View(state, context=ctx, active=False)
    assert v.n_updates == 0 and v.image.values.shape == (1, 1)
    state.J = 5                                           # a new result, and a new n1
    ctx.settings.n1 = 4
    assert v.n_updates == 0
    v.active = True                                       # the card opened: drawn once
    assert v.n_updates == 1 and v.scattergram_data()["n1"] == 4
    assert v.image.values.shape[1] == state.result.scattering.coefs.shape[-1]
    state.J = 6
