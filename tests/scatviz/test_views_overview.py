"""`RecordingOverview`: its data and axes, and the window moved by simulated gestures."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.events import SelectionGeometry, Tap

from scatviz.longrec.overview import compute_overview
from scatviz.longrec.window import WindowChoice
from scatviz.views.overview import RecordingOverview

SR = 8000


@pytest.fixture(scope="module")
def ov():
    rng = np.random.default_rng(0)
    n = SR * 90
    x = 0.1 * rng.standard_normal(n).astype(np.float32)
    x[SR * 30:SR * 31] += np.sin(2 * np.pi * 1000 * np.arange(SR) / SR).astype(np.float32)
    return compute_overview(x, SR, columns=512, cache=False)


def test_draws_the_envelope_and_scalogram_of_the_whole_file(ov):
    v = RecordingOverview(overview=ov, window=(10.0, 2.0))
    d = v.env_source.data
    np.testing.assert_array_equal(d["lo"], ov.env_min)
    np.testing.assert_array_equal(d["hi"], ov.env_max)
    assert np.all(np.diff(d["t"]) > 0) and d["t"][-1] <= ov.duration
    assert (v.x_range.start, v.x_range.end) == (0.0, 90.0)
    assert v.scal_figure.xaxis[0].axis_label == "time (s)"
    img = v.image_data()
    assert img["db"].shape == ov.scal_mag.shape
    assert img["x"] == pytest.approx(0.0, abs=0.2) and img["x"] + img["dw"] == pytest.approx(
        90.0, abs=0.2)
    # the 1 kHz burst at 30 s is the loudest point of the scalogram, on the 1 kHz row
    k, m = np.unravel_index(np.argmax(img["db"]), img["db"].shape)
    assert 29 < ov.scal_times[m] < 32 and 700 < ov.scal_freqs[k] < 1400
    labels = v.scal_figure.yaxis[0].major_label_overrides
    assert labels and all(s.replace(".", "").isdigit() for s in labels.values())
    assert "90.0 s at 8000 Hz" in v.info.object
    assert (v.window_range.start, v.window_range.end) == (10.0, 12.0)


def test_dragging_the_box_moves_the_window(ov):
    v = RecordingOverview(overview=ov, window=(10.0, 2.0))
    seen = []
    v.param.watch(lambda e: seen.append(e.new), "window")
    with v.range_patch():                                 # one drag: start and end
        v.window_range.update(start=40.0, end=42.0)
    assert v.window == pytest.approx((40.0, 2.0)) and seen
    with v.range_patch():                                 # backwards: end first
        v.window_range.update(end=32.0)
        v.window_range.update(start=30.0)
    assert v.window == pytest.approx((30.0, 2.0))
    v.window_range.end = 33.0                             # one edge dragged: a new length
    assert v.window == pytest.approx((30.0, 3.0))
    with v.range_patch():                                 # dragged past the end: kept inside
        v.window_range.update(start=89.0, end=91.0)
    assert v.window[0] + v.window[1] <= 90.0 + 1e-9
    assert (v.window_range.start, v.window_range.end) == pytest.approx(
        (v.window[0], v.window[0] + v.window[1]))


def test_tap_centres_and_box_select_sets_the_window(ov):
    v = RecordingOverview(overview=ov, window=(0.0, 4.0))
    v.wave_figure._trigger_event(Tap(v.wave_figure, x=50.0, y=0.0))
    assert v.window == pytest.approx((48.0, 4.0))
    assert (v.window_range.start, v.window_range.end) == pytest.approx((48.0, 52.0))
    geom = dict(type="rect", x0=20.0, x1=25.0, y0=0, y1=1)
    v.scal_figure._trigger_event(SelectionGeometry(v.scal_figure, geometry=geom, final=False))
    assert v.window == pytest.approx((48.0, 4.0))        # not final: nothing yet
    v.scal_figure._trigger_event(SelectionGeometry(v.scal_figure, geometry=geom, final=True))
    assert v.window == pytest.approx((20.0, 5.0))


def test_a_new_length_goes_through_the_chooser_and_says_so(ov):
    def chooser(length_s):
        n = min(int(length_s * SR), 2**14)
        msg = "shortened" if n < int(length_s * SR) else ""
        return WindowChoice(n, int(length_s * SR), SR, 0.1, 0, msg)

    assert RecordingOverview(overview=ov, message="shorter")._alert.visible   # at start too
    v = RecordingOverview(overview=ov, window=(0.0, 1.0), chooser=chooser)
    assert not v._alert.visible
    geom = dict(type="rect", x0=20.0, x1=30.0, y0=0, y1=1)
    v.wave_figure._trigger_event(SelectionGeometry(v.wave_figure, geometry=geom, final=True))
    start, length = v.window
    assert length == pytest.approx(2**14 / SR) and start + length / 2 == pytest.approx(25.0)
    assert v.message == "shortened" and v._alert.visible
    assert (v.window_range.start, v.window_range.end) == pytest.approx((start, start + length))
    v.message = ""
    with v.range_patch():                                  # a move keeps the length
        v.window_range.update(start=60.0, end=60.0 + length)
    assert v.window == pytest.approx((60.0, length)) and v.message == ""


def test_a_new_overview_replaces_the_data_in_place(ov):
    v = RecordingOverview(overview=ov, window=(80.0, 5.0))
    src, img_src = v.env_source, v.image.source
    short = compute_overview(np.ones(SR * 20, np.float32) * 0.5, SR, columns=256, cache=False)
    v.overview = short
    assert v.env_source is src and v.image.source is img_src
    assert len(src.data["lo"]) == len(short.env_min) and v.x_range.end == 20.0
    assert v.window[0] + v.window[1] <= 20.0 + 1e-9       # the window moved inside


def test_for_recording_feeds_the_state_the_window(tmp_path):
    import soundfile as sf

    from engine._costs import Cost
    from scatviz.longrec.session import LongRecording
    from scatviz.state import ScatState

    x = np.random.default_rng(1).uniform(-0.5, 0.5, SR * 30).astype(np.float32)
    path = tmp_path / "rec.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    st = ScatState(auto=False)
    rec = LongRecording(st, str(path), window_s=1.0, cost=lambda *a, **k: Cost(0, 0, (), 0.0))
    v = RecordingOverview.for_recording(rec)
    assert len(st.signal) == SR and v.window == pytest.approx((0.0, 1.0))
    v.wave_figure._trigger_event(Tap(v.wave_figure, x=10.0, y=0.0))      # centre at 10 s
    np.testing.assert_array_equal(st.signal, x[int(9.5 * SR):int(10.5 * SR)])
    geom = dict(type="rect", x0=20.0, x1=22.0, y0=0, y1=1)
    v.wave_figure._trigger_event(SelectionGeometry(v.wave_figure, geometry=geom, final=True))
    assert len(st.signal) == 2 * SR and st.info["window_start_s"] == pytest.approx(20.0)
