"""Uploads are decoded, and long recordings' overviews computed, off the server's event loop
(`SignalSources.start_upload`): the callback that receives the file returns at once, the page
says what is being done, and the result, an error, or nothing (superseded, page closed) comes
back through the document's ``post``."""

from __future__ import annotations

import gc
import io
import threading

import numpy as np
import pytest
import soundfile as sf

from scatviz.server import uploads
from scatviz.server.holdings import SignalHoldings
from scatviz.views import sources as sources_mod
from scatviz.views.dashboard import Dashboard


def _wav(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


class _Posted:
    """A document's ``add_next_tick_callback`` stand-in: the callbacks, run on demand here
    (the test's thread plays the event loop)."""

    def __init__(self):
        self.calls = []

    def __call__(self, fn):
        self.calls.append(fn)

    def run(self):
        calls, self.calls = self.calls, []
        for fn in calls:
            fn()


@pytest.fixture
def gated(monkeypatch):
    """``uploads.load_upload`` that waits for ``gate`` (bounded) and records its thread; the
    decoded signals are counted in ``holdings``."""
    gate, seen = threading.Event(), {}
    holdings = SignalHoldings(1 << 30)
    real = uploads.load_upload

    def slow(data, filename, **kw):
        seen["thread"] = threading.get_ident()
        assert gate.wait(60), "the test never opened the gate"
        return real(data, filename, holdings=holdings, **kw)

    monkeypatch.setattr(sources_mod.uploads, "load_upload", slow)
    return gate, seen, holdings


def test_the_upload_callback_returns_before_decoding_finishes(gated):
    gate, seen, _ = gated
    d = Dashboard(live=False)
    src, before = d.sources, d.state.signal
    post = _Posted()
    x = (0.3 * np.sin(np.arange(8000) / 5)).astype(np.float32)
    fut = src.start_upload(_wav(x, 8000), "tone.wav", post)
    assert not fut.done()                              # decoding is held by the gate
    assert src.upload_status.visible and "Decoding tone.wav" in src.upload_status.object
    assert d.state.signal is before
    gate.set()
    assert fut.result(timeout=60) is True
    assert seen["thread"] != threading.get_ident()     # decoded in another thread
    assert d.state.signal is before                    # nothing changed off the page's thread
    post.run()
    assert len(d.state.signal) == len(x) and d.state.sample_rate == 8000
    assert not src.upload_status.visible and not src.upload_msg.visible


def test_a_long_upload_says_it_computes_the_overview_then_shows_it(gated):
    gate, _, _ = gated
    gate.set()
    d = Dashboard(live=False)
    post = _Posted()
    rng = np.random.default_rng(0)
    long = (0.3 * rng.standard_normal(16_000 * 60)).astype(np.float32)   # 60 s at 16 kHz
    assert d.sources.start_upload(_wav(long, 16_000), "minute.wav", post).result(timeout=120)
    assert len(post.calls) == 2                        # the progress, then the result
    post.calls[0]()
    assert "Computing the overview of minute.wav (60.0 s at 16000 Hz)" in \
        d.sources.upload_status.object
    post.calls[1]()
    assert d.recording_view is not None
    assert d.recording_view.overview.info.n_samples == len(long)
    assert 0 < len(d.state.signal) < len(long) and not d.sources.upload_status.visible


def test_a_bad_upload_in_a_thread_shows_the_loaders_message(gated):
    gate, _, _ = gated
    gate.set()
    d = Dashboard(live=False)
    before, post = d.state.signal, _Posted()
    assert d.sources.start_upload(b"not audio at all" * 50, "fake.wav", post).result(timeout=60)
    post.run()
    assert d.sources.upload_msg.visible and "fake.wav" in d.sources.upload_msg.object
    assert d.state.signal is before and not d.sources.upload_status.visible


def test_a_closed_page_or_a_newer_upload_drops_the_one_in_flight(gated):
    gate, _, holdings = gated
    d = Dashboard(live=False)
    post = _Posted()
    x = (0.1 * np.ones(48_000)).astype(np.float32)
    first = d.sources.start_upload(_wav(x, 48_000), "first.wav", post)
    second = d.sources.start_upload(_wav(x[:8000], 8000), "second.wav", post)
    assert "second.wav" in d.sources.upload_status.object
    gate.set()
    assert first.result(timeout=60) is False           # superseded: nothing to post
    assert second.result(timeout=60) is True
    post.run()
    assert len(d.state.signal) == 8000

    closing = Dashboard(live=False)
    gate.clear()
    fut = closing.sources.start_upload(_wav(x, 48_000), "closed.wav", post)
    closing.sources.close()                            # the page's session was destroyed
    gate.set()
    assert fut.result(timeout=60) is False and post.calls == []
    assert closing.state.signal is not None and len(closing.state.signal) != len(x)
    del fut
    gc.collect()
    assert holdings.held_bytes == 8000 * 4             # only the shown upload is still held


def test_a_page_closed_while_its_overview_computes_stops_it(gated, monkeypatch):
    gate, _, holdings = gated
    gate.set()
    d = Dashboard(live=False)
    real, stopped = sources_mod.LongRecording.overview, []

    def closing_first(rec, stop=None):
        d.sources.close()                              # closed once the overview has begun
        try:
            return real(rec, stop=stop)
        except sources_mod.OverviewStopped:
            stopped.append(True)
            raise

    monkeypatch.setattr(sources_mod.LongRecording, "overview", closing_first)
    post = _Posted()
    long = (0.3 * np.random.default_rng(1).standard_normal(16_000 * 60)).astype(np.float32)
    fut = d.sources.start_upload(_wav(long, 16_000), "minute.wav", post)
    assert fut.result(timeout=120) is False and stopped == [True]
    assert len(post.calls) == 1                        # only the "computing the overview"
    assert d.recording_view is None
    del fut
    gc.collect()
    assert holdings.held_bytes == 0                    # the decoded minute was freed
