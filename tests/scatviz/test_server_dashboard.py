"""The dashboard under the server's policy, without a browser: long uploads accepted and
reduced with a note, hostile URLs refused or reduced before anything is allocated, the upload
policy's limits."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

import scatviz.state as state_mod
from scatviz.server import uploads
from scatviz.server.budget import ServerBudget
from scatviz.signals_io import SignalLoadError
from scatviz.views.dashboard import Dashboard


def _wav(sr: int, seconds: float, channels: int = 1, fmt: str = "WAV") -> bytes:
    n = int(sr * seconds)
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.repeat(x[:, None], channels, 1) if channels > 1 else x, sr,
             format=fmt, subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture
def small_budget(monkeypatch):
    """One request may use 64 MiB (what a busy server would leave)."""
    b = ServerBudget(total=256 << 20, per_request=64 << 20, cache=32 << 20, workers=1)
    monkeypatch.setattr(state_mod, "_default_budget", lambda: b)
    return b


def test_a_30s_192khz_upload_opens_as_overview_and_a_window_that_fits(small_budget):
    d = Dashboard(live=False)
    gen = d.generation
    assert d.load_upload(_wav(192_000, 30.0), "long.wav")
    st = d.state
    assert d.recording_view is not None and d.main()[0].visible   # the overview is shown
    assert 0 < len(st.signal) < 30 * 192_000                    # the detail window
    assert st.result is not None and d.generation > gen and not st.error
    assert "shortened" in d.recording_view.message
    assert st.plan().cost.peak_bytes <= small_budget.per_request


def test_without_an_overview_a_long_upload_is_analysed_on_the_part_that_fits(small_budget):
    d = Dashboard(live=False)
    d.sources.on_long = None                                    # e.g. a page with no overview
    assert d.load_upload(_wav(192_000, 30.0), "long.wav")
    st = d.state
    assert len(st.signal) == 30 * 192_000                       # the whole file is held
    assert 0 < len(st.result.x) < len(st.signal)                # analysed: a prefix
    assert "Analysing the first" in st.notice and d.notice_msg.visible
    assert st.plan().cost.peak_bytes <= small_budget.per_request


def test_a_setting_too_large_for_any_prefix_is_refused_with_a_message(monkeypatch):
    d = Dashboard(live=False)
    last = d.state.result
    assert last is not None
    b = ServerBudget(total=4096, per_request=1024, cache=1024, workers=1)
    monkeypatch.setattr(state_mod, "_default_budget", lambda: b)
    d.state.J = 7
    assert d.state.result is last                   # the last picture is kept
    assert "Too large for this server" in d.state.error and d.error_msg.visible


def test_the_hostile_url_is_reduced_before_allocating_with_a_note():
    d = Dashboard.from_query({"N": [b"1000000000"], "gen": [b"exponential_chirp"],
                              "theme": [b"bogus"]}, live=False)
    assert len(d.state.signal) <= 65536 and d.url_notes.visible
    assert "N=1000000000" in d.url_notes.object and "theme='bogus'" in d.url_notes.object
    assert d.state.result is not None


def test_upload_policy_limits():
    ok = uploads.load_upload(_wav(8000, 1.0, channels=2, fmt="FLAC"), "s.flac")
    assert ok.sample_rate == 8000 and ok.x.ndim == 1 and ok.info["channels"] == 2
    with pytest.raises(SignalLoadError, match="outside the supported 8000-192000 Hz"):
        uploads.load_upload(_wav(4000, 1.0), "low.wav")
    with pytest.raises(SignalLoadError, match="per request"):
        uploads.load_upload(_wav(48_000, 2.0), "b.wav", max_decoded_bytes=1000)
    with pytest.raises(SignalLoadError, match="empty"):
        uploads.load_upload(b"", "e.wav")
    with pytest.raises(SignalLoadError, match="not a readable audio file"):
        uploads.load_upload(b"RIFF" + b"\0" * 100, "t.wav")
    with pytest.raises(SignalLoadError, match="200 MB limit"):
        uploads.load_upload(b"\0" * (uploads.MAX_UPLOAD_BYTES + 1), "big.wav")
    data = _wav(16_000, 1.0)
    cut = uploads.load_upload(data[: len(data) // 2], "cut.wav")   # a truncated file: the part
    assert 0 < len(cut.x) <= 16_000
    assert "10 minutes" in uploads.upload_policy()


def test_ten_minutes_at_8khz_is_accepted_and_longer_is_not():
    ok = uploads.load_upload(_wav(8000, 600.0), "ten.wav")
    assert len(ok.x) == 600 * 8000
    with pytest.raises(SignalLoadError, match="10 minute limit"):
        uploads.load_upload(_wav(8000, 601.0), "eleven.wav")
