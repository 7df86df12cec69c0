"""The detail window: its length from a cost model, its samples by seek, the session adapter."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine._costs import Cost
from scatviz.longrec.session import LongRecording, is_long
from scatviz.longrec.window import choose_window, per_sample_cost, read_window
from scatviz.state import ScatState


def linear(sec_per_sample=0.0, bytes_per_sample=0, calls=None):
    """An injected cost model: seconds and bytes proportional to N, recording its calls."""
    def cost(kind, shape, batch=1, **params):
        if calls is not None:
            calls.append((kind, shape, batch, params))
        n = shape * batch
        return Cost(int(bytes_per_sample * n), 0, (batch, shape), sec_per_sample * n)
    return cost


def test_a_cheap_request_is_kept_as_it_is():
    ch = choose_window(48_000, 2.0, linear(1e-9, 10))
    assert ch.length == 96_000 and not ch.shortened and ch.message == ""
    assert ch.length_s == pytest.approx(2.0)


def test_too_slow_a_request_is_shortened_to_a_power_of_two_that_fits_with_a_message():
    # two transforms (scattering, JTFS) at 5 us per sample each: 1 s holds 100,000 samples
    ch = choose_window(48_000, 60.0, linear(5e-6), max_seconds=1.0)
    assert ch.length == 2**16 and ch.shortened and ch.requested == 60 * 48_000
    assert ch.seconds <= 1.0
    assert "shortened" in ch.message and "1.37 s" in ch.message and "60.00 s" in ch.message


def test_memory_limit_shortens_too():
    ch = choose_window(8000, 100.0, linear(0.0, 1000), max_bytes=2**27)   # 2 x 1000 B/sample
    assert ch.length == 2**16 and ch.peak_bytes <= 2**27 and "MiB" in ch.message


def test_nothing_fits_gives_the_shortest_with_a_warning():
    ch = choose_window(8000, 10.0, linear(1.0), min_samples=4096)
    assert ch.length == 4096 and "may still be slow" in ch.message


def test_the_request_is_clamped_to_the_recording():
    assert choose_window(8000, 100.0, linear(0.0), n_samples=12_345).length == 12_345


def test_cost_is_asked_for_each_transform_with_its_constructor_arguments():
    calls = []
    settings = dict(J=8, Q1=12, Q2=2, T=0, J_fr=4, Q_fr=2, F=0, design="tight", with_jtfs=True)
    choose_window(16_000, 1.0, linear(0.0, calls=calls), settings=settings)
    assert [c[0] for c in calls] == ["scattering1d", "jtfs"]
    assert all(c[1] == 16_000 and c[2] == 1 for c in calls)
    s1d, jt = calls[0][3], calls[1][3]
    assert s1d == dict(J=8, Q=(12, 2), T=None, filterbank="tight", max_order=2)
    assert jt == dict(J=8, Q=(12, 2), T=None, filterbank="tight", J_fr=4, Q_fr=2, F=None)
    calls.clear()
    choose_window(16_000, 1.0, linear(0.0, calls=calls), settings={"with_jtfs": False})
    assert [c[0] for c in calls] == ["scattering1d"]


def test_lengths_the_transforms_refuse_are_not_chosen():
    def cost(kind, shape, batch=1, **params):           # as the engine: 2**J <= N
        if 2 ** params["J"] > shape:
            raise ValueError("J too large")
        return Cost(0, 0, (), 1e-5 * shape)
    ch = choose_window(8000, 60.0, cost, settings={"J": 14})
    assert ch.length == 2**15 and "shortened" in ch.message    # 2**16: 1.3 s; 2**15 fits
    with pytest.raises(ValueError, match="lower J"):
        choose_window(8000, 60.0, cost, settings={"J": 16}, max_seconds=0.1)
    ch = choose_window(8000, 1.0, cost, settings={"J": 14}, min_samples=2**14)
    assert ch.length == 2**14 and ch.message == ""              # the request raised to a valid one


def test_default_model_is_linear_and_shortens_a_minute_at_48k():
    a, b = per_sample_cost("jtfs", 2**16), per_sample_cost("jtfs", (2**17,))
    assert b.seconds == pytest.approx(2 * a.seconds) and b.peak_bytes == 2 * a.peak_bytes
    assert per_sample_cost("unknown", (10,)).seconds >= a.seconds * 10 / 2**16
    ch = choose_window(48_000, 60.0)
    assert ch.shortened and 2**12 <= ch.length < 60 * 48_000


def test_bad_requests_say_what_is_wrong():
    with pytest.raises(ValueError, match="positive number of seconds"):
        choose_window(8000, -1.0)
    with pytest.raises(ValueError, match="sample_rate"):
        choose_window(0, 1.0)
    with pytest.raises(ValueError, match="length"):
        read_window(np.zeros(10, np.float32), 0.0, 0, sample_rate=10)


@pytest.fixture
def stereo_flac(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.9, 0.9, size=(200_000, 2)).astype(np.float32)
    path = tmp_path / "rec.flac"
    with sf.SoundFile(path, "w", 16_000, 2) as f:
        for i in range(0, len(x), 50_000):
            f.write(x[i:i + 50_000])
    return path, sf.read(path, dtype="float32")[0].mean(axis=1, dtype=np.float32)


def test_read_window_by_seek_reads_only_the_window(stereo_flac, monkeypatch):
    path, mono = stereo_flac
    reads = []
    real = sf.SoundFile.read

    def spy(self, frames=-1, *a, **k):
        reads.append(frames)
        return real(self, frames, *a, **k)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    x, start = read_window(path, 2.5, 4096)
    assert start == 40_000 and reads == [4096]
    np.testing.assert_array_equal(x, mono[40_000:44_096])
    x, start = read_window(path, 1e9, 4096)                 # past the end: the last window
    assert start == len(mono) - 4096 and len(x) == 4096


def test_long_recording_feeds_the_state_its_window(stereo_flac):
    path, mono = stereo_flac
    st = ScatState(auto=False)
    rec = LongRecording(st, str(path), window_s=0.5, cost=linear(0.0))
    assert rec.choice.length == 8000 and rec.info.channels == 2
    sig = rec.apply_window(3.0)
    assert st.sample_rate == 16_000 and len(st.signal) == 8000
    np.testing.assert_array_equal(st.signal, mono[48_000:56_000])
    assert st.info["window_start_s"] == pytest.approx(3.0) and "@ 3.00 s" in st.signal_name
    assert rec.window == pytest.approx((3.0, 0.5)) and sig.x is st.signal
    rec.apply_window(1.0, length_s=1.25)                     # a new length is chosen again
    assert len(st.signal) == 20_000 and rec.window == pytest.approx((1.0, 1.25))


def test_is_long_follows_the_cost_model():
    assert is_long(48_000 * 600, 48_000)
    assert not is_long(8192, 8000)
    assert not is_long(48_000 * 600, 48_000, cost=linear(0.0))


def test_the_detail_time_limit_is_configured_from_the_environment(stereo_flac, monkeypatch):
    """``SCATVIZ_DETAIL_SECONDS`` raises (or lowers) what one change may be predicted to take
    before the window is shortened: a server on a slow machine, or a benchmark that keeps the
    requested window, sets it; a bad value says what is expected."""
    from scatviz.longrec.session import DETAIL_SECONDS_ENV, detail_seconds
    from scatviz.longrec.window import MAX_SECONDS

    path, _ = stereo_flac
    slow = linear(5e-5)                 # 0.8 s for 8000 samples (two transforms, 0.4 s each)
    monkeypatch.delenv(DETAIL_SECONDS_ENV, raising=False)
    assert detail_seconds() == MAX_SECONDS
    assert not LongRecording(None, str(path), window_s=0.5, cost=slow).choice.shortened
    monkeypatch.setenv(DETAIL_SECONDS_ENV, "0.5")
    ch = LongRecording(None, str(path), window_s=0.5, cost=slow).choice
    assert ch.shortened and ch.length == 4096 and "limits are 0.5 s" in ch.message
    assert is_long(8000, 8000, cost=slow)
    monkeypatch.setenv(DETAIL_SECONDS_ENV, "30")
    assert not is_long(16_000 * 4, 16_000, cost=slow)     # 6.4 s predicted: under 30 s
    for bad in ("soon", "0", "-2", "inf"):
        with pytest.raises(ValueError, match="SCATVIZ_DETAIL_SECONDS must be a positive"):
            detail_seconds({DETAIL_SECONDS_ENV: bad})
