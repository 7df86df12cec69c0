"""Model-level tests of every view: their data and axes, without a browser."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.signals_io import load_asset
from scatviz.state import ScatState
from scatviz.views import ScalogramView, SignalView
from scatviz.views.scalogram import frequency_ticks


@pytest.fixture(scope="module")
def state():
    return ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8)


def test_signal_view_axes_and_audio(state):
    v = SignalView(state)
    d = v.waveform_data()
    assert 0 <= d["t"][0] < 0.01 and 1.01 < d["t"][-1] <= 8192 / 8000
    assert np.all(np.diff(d["t"]) >= 0)
    assert v.figure.xaxis[0].axis_label == "time (s)"
    assert v.audio.sample_rate == 8000 and v.audio.object.dtype == np.int16
    assert "8000 Hz" in v.info.object
    state.playhead = 0.5
    assert v.playhead.location == 0.5


def test_signal_view_envelope_for_long_signals():
    x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    v = SignalView.from_signal(x, 22050, J=4, with_jtfs=False)
    d = v.waveform_data()
    assert len(d["t"]) <= 4000
    assert d["x"].max() == pytest.approx(x.max()) and d["x"].min() == pytest.approx(x.min())


def test_scalogram_view_data_axes_and_db_range(state):
    v = ScalogramView(state)
    d = v.image_data()
    n1 = len(state.result.scalogram.freqs)
    assert d["db"].shape == (n1, len(d["times"]))
    # rows low to high frequency, labelled in Hz from the engine
    assert np.all(np.diff(d["freqs"]) > 0)
    np.testing.assert_allclose(d["freqs"], state.result.scalogram.freqs[::-1])
    assert d["dw"] == pytest.approx(8192 / 8000)
    assert v.figure.xaxis[0].axis_label == "time (s)"
    assert v.figure.yaxis[0].axis_label == "frequency (Hz)"
    assert all(lbl.replace(".", "").isdigit() for lbl in v.figure.yaxis[0].major_label_overrides.values())
    # dB colour scale: top at the maximum, range adjustable without recomputing
    assert v.mapper.high == pytest.approx(d["db"].max())
    res = state.result
    state.db_range = 40
    assert v.mapper.high - v.mapper.low == pytest.approx(40)
    assert state.result is res
    # hover reads time, frequency, value
    hover = [t for t in v.figure.tools if t.__class__.__name__ == "HoverTool"][0]
    names = [n for n, _ in hover.tooltips]
    assert names == ["time", "frequency", "level"]


def test_scalogram_follows_J(state):
    st = ScatState.from_loaded(load_asset("chirp_exp"), J=5, Q1=8)
    v = ScalogramView(st)
    n5 = v.image_data()["db"].shape[0]
    st.J = 8
    assert v.image_data()["db"].shape[0] > n5


def test_scalogram_chirp_rises(state):
    """The exponential chirp's ridge moves up in frequency over time."""
    d = ScalogramView(state).image_data()
    ridge = d["db"].argmax(axis=0)
    cols = d["db"].shape[1]
    assert ridge[int(0.8 * cols)] > ridge[int(0.2 * cols)]


def test_frequency_ticks_labels():
    ticks = frequency_ticks(np.array([50.0, 100.0, 200.0, 400.0]), max_ticks=4)
    assert ticks == {0.5: "50.0", 1.5: "100", 2.5: "200", 3.5: "400"}


def test_views_share_time_axis(state):
    a, b = SignalView(state), ScalogramView(state)
    assert a.figure.x_range is b.figure.x_range
