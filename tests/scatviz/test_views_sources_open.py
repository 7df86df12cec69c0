"""`scatviz serve --open FILE`: a served page opens the operator's recording off the event loop
(`SignalSources.start_open`, from `Dashboard.open_file`), as uploads are: the page is built
with its bundled signal at once, says what it is doing, and the overview and detail window (or
the reason the file could not be read) come back through the document's
``add_next_tick_callback``."""

from __future__ import annotations

import threading

import numpy as np
import panel as pn
import pytest
import soundfile as sf
from panel.io.state import set_curdoc

from scatviz.longrec import session as session_mod
from scatviz.views.dashboard import Dashboard


class _Doc:
    """A served document's stand-in: a session context, ``add_next_tick_callback`` that
    collects the callbacks (the test's thread plays the event loop)."""

    session_context = object()

    def __init__(self):
        self.calls, self.destroyed = [], []

    def add_next_tick_callback(self, fn):
        self.calls.append(fn)

    def on_session_destroyed(self, fn):
        self.destroyed.append(fn)

    def run(self):
        calls, self.calls = self.calls, []
        for fn in calls:
            fn()


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "night.flac"
    rng = np.random.default_rng(3)
    with sf.SoundFile(path, "w", 16_000, 1) as f:                       # 90 s, in blocks
        for _ in range(90):
            f.write((0.1 * rng.standard_normal(16_000)).astype(np.float32))
    return path


@pytest.fixture
def gated_overview(monkeypatch):
    """The overview's computation waits for ``gate`` (bounded) and records its thread."""
    gate, seen = threading.Event(), {}
    real = session_mod.compute_overview

    def slow(*args, **kwargs):
        seen["thread"] = threading.get_ident()
        assert gate.wait(60), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(session_mod, "compute_overview", slow)
    return gate, seen


def test_open_file_in_a_served_page_computes_the_overview_off_the_event_loop(
        recording, gated_overview):
    gate, seen = gated_overview
    d = Dashboard(live=False)
    before = d.state.signal
    doc = _Doc()
    with set_curdoc(doc):
        d.open_file(str(recording))             # returns with the overview still to compute
    assert d.recording_view is None and d.state.signal is before
    assert d.sources.upload_status.visible and "Opening night.flac" in \
        d.sources.upload_status.object
    assert len(doc.destroyed) == 1              # a closed page drops what is in flight
    gate.set()
    fut = d.sources.opening
    assert fut.result(timeout=120) is True
    assert seen["thread"] != threading.get_ident()
    assert d.recording_view is None             # nothing changed off the page's thread
    doc.run()                                   # the progress, then the result
    assert d.recording_view is not None
    assert d.recording_view.overview.info.n_samples == 90 * 16_000
    assert 0 < len(d.state.signal) < 90 * 16_000 and d.state.sample_rate == 16_000
    assert not d.sources.upload_status.visible and not d.sources.upload_msg.visible


def test_start_open_says_it_computes_the_overview(recording, gated_overview):
    gate, _ = gated_overview
    gate.set()
    d = Dashboard(live=False)
    doc = _Doc()
    assert d.sources.start_open(str(recording), doc.add_next_tick_callback).result(timeout=120)
    assert len(doc.calls) == 2
    doc.calls[0]()
    assert "Computing the overview of night.flac (90.0 s at 16000 Hz)" in \
        d.sources.upload_status.object
    doc.calls[1]()
    assert d.recording_view is not None


def test_a_file_that_cannot_be_read_leaves_the_signal_with_the_reason(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav file" * 20)
    d = Dashboard(live=False)
    before, doc = d.state.signal, _Doc()
    with set_curdoc(doc):
        d.open_file(str(bad))
    assert d.sources.opening.result(timeout=60) is True
    doc.run()
    assert d.state.signal is before and d.recording_view is None
    assert d.sources.upload_msg.visible
    assert "Could not open broken.wav" in d.sources.upload_msg.object
    assert pn.state.curdoc is not doc
