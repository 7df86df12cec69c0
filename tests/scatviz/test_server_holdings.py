"""Decoded signals held by sessions count in the server's memory budget: an upload, a long
recording's array, its overview and windows are counted while held and released when freed;
an upload past the limit is refused before it is decoded, with a message; what is held is
taken from the transforms' share of the budget."""

from __future__ import annotations

import gc
import io

import numpy as np
import pytest
import soundfile as sf

import scatviz.server.service as service_mod
import scatviz.state as state_mod
from scatviz.longrec.overview import OVERVIEW_CACHE
from scatviz.longrec.session import LongRecording
from scatviz.server import uploads
from scatviz.server.budget import ServerBudget
from scatviz.server.holdings import HoldRefused, SignalHoldings
from scatviz.server.service import TransformService
from scatviz.signals_io import SignalLoadError
from scatviz.views.dashboard import Dashboard


def _wav(sr: int, seconds: float) -> bytes:
    n = int(sr * seconds)
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_an_array_is_counted_once_while_held_and_released_when_freed():
    h = SignalHoldings(capacity=1 << 20)
    x = np.zeros(10_000, np.float32)
    assert h.hold(x, "a") == 40_000
    assert h.hold(x[100:200], "a view") == 40_000            # the same memory: once
    view = x[:10]
    del x
    gc.collect()
    assert h.held_bytes == 40_000                            # a view keeps it alive
    del view
    gc.collect()
    assert h.held_bytes == 0 and len(h) == 0 and h.peak_bytes == 40_000


def test_over_the_limit_a_hold_is_refused_with_what_is_held_and_allowed():
    h = SignalHoldings(capacity=100_000)
    a = np.zeros(20_000, np.float32)                         # 80 000 bytes
    h.hold(a, "first.wav")
    with pytest.raises(HoldRefused, match=r"second.wav: .*hold .* already.*Try again"):
        h.hold(np.zeros(10_000, np.float32), "second.wav")
    with pytest.raises(HoldRefused):
        h.check(40_000, "third.wav")
    h.check(20_000, "fits.wav")                              # nothing is held by a check
    assert h.held_bytes == 80_000 and h.refused == 2
    small = np.zeros(10_000, np.float32)
    h.hold(small, "derived", refuse=False)                   # counted, never refused
    assert h.held_bytes == 120_000


def test_the_service_takes_what_is_held_from_the_transforms_share():
    svc = TransformService(ServerBudget(total=800 << 20, per_request=200 << 20,
                                        cache=100 << 20, workers=1),
                           start=lambda slot, job: None)
    assert svc.holdings.capacity == svc.budget.signal_bytes == 500 << 20
    assert svc.scheduler.memory_bytes == 700 << 20
    x = np.zeros(25 << 20, np.float32)                       # 100 MiB
    svc.holdings.hold(x, "upload")
    assert svc.scheduler.memory_bytes == 600 << 20
    assert "100.0 MiB of signals held" in svc.describe()
    del x
    gc.collect()
    assert svc.scheduler.memory_bytes == 700 << 20


def test_the_signal_limit_is_configured_from_the_environment():
    b = ServerBudget.from_env({"SCATVIZ_MEMORY_BUDGET": "8G", "SCATVIZ_SIGNAL_BUDGET": "1G"})
    assert b.signal_bytes == 1 << 30 and "decoded signals at most 1.0 GiB" in b.describe()
    d = ServerBudget.from_env({"SCATVIZ_MEMORY_BUDGET": "8G"})
    assert d.signal_bytes == 3 << 30          # 7 GiB in flight less one 4 GiB request
    assert ServerBudget.from_env({"SCATVIZ_MEMORY_BUDGET": "8G", "SCATVIZ_REQUEST_BUDGET":
                                  "8G"}).signal_bytes == (7 << 30) // 4   # at least a quarter


def test_an_upload_is_counted_while_held_and_refused_past_the_limit():
    h = SignalHoldings(capacity=3 * 48_000 * 4)              # three seconds at 48 kHz
    sig = uploads.load_upload(_wav(48_000, 2.0), "two.wav", holdings=h)
    assert h.held_bytes == sig.x.nbytes == 2 * 48_000 * 4
    with pytest.raises(SignalLoadError, match=r"two-more.wav: the server cannot hold"):
        uploads.load_upload(_wav(48_000, 2.0), "two-more.wav", holdings=h)
    assert h.held_bytes == sig.x.nbytes                      # the refused one: nothing held
    del sig
    gc.collect()
    assert h.held_bytes == 0
    again = uploads.load_upload(_wav(48_000, 2.0), "two-more.wav", holdings=h)
    assert h.held_bytes == again.x.nbytes


def test_the_served_processs_service_counts_uploads_by_default(monkeypatch):
    svc = TransformService(ServerBudget(total=64 << 20, per_request=32 << 20, cache=8 << 20,
                                        workers=1, signals=1 << 20), start=lambda s, j: None)
    monkeypatch.setattr(service_mod, "_SERVICE", svc)
    sig = uploads.load_upload(_wav(8000, 2.0), "a.wav")
    assert svc.holdings.held_bytes == sig.x.nbytes
    with pytest.raises(SignalLoadError, match="cannot hold"):
        uploads.load_upload(_wav(48_000, 10.0), "big.wav")     # 1.9 MB decoded > 1 MiB


def test_a_long_recording_counts_its_array_once_and_its_overview_and_windows():
    h = SignalHoldings(capacity=1 << 30)
    sr = 8000
    x = np.random.default_rng(0).standard_normal(sr * 60).astype(np.float32)
    rec = LongRecording(None, x, sr, window_s=2.0, holdings=h)
    assert h.held_bytes == x.nbytes
    rec.apply_window(10.0)                                   # a view of x: nothing more
    assert h.held_bytes == x.nbytes
    ov = rec.overview()
    ov_bytes = h.held_bytes - x.nbytes
    assert ov_bytes >= ov.scal_mag.nbytes + ov.env_min.nbytes + ov.env_max.nbytes
    del rec, ov, x
    gc.collect()
    assert h.held_bytes == ov_bytes            # the overview cache still keeps the overview
    OVERVIEW_CACHE.clear()
    gc.collect()
    assert h.held_bytes == 0


def test_a_long_recording_over_the_limit_is_refused():
    h = SignalHoldings(capacity=1000)
    with pytest.raises(HoldRefused, match="cannot hold"):
        LongRecording(None, np.zeros(8000 * 60, np.float32), 8000, holdings=h)


def test_the_dashboard_shows_an_upload_refused_for_the_servers_signals(monkeypatch):
    svc = TransformService(ServerBudget(total=256 << 20, per_request=64 << 20, cache=32 << 20,
                                        workers=1, signals=1 << 20), start=lambda s, j: None)
    monkeypatch.setattr(service_mod, "_SERVICE", svc)
    monkeypatch.setattr(state_mod, "_default_budget", lambda: svc.budget)
    d = Dashboard(live=False)
    held = svc.holdings.held_bytes
    assert not d.load_upload(_wav(48_000, 10.0), "big.wav")
    assert d.sources.upload_msg.visible and "cannot hold" in d.sources.upload_msg.object
    assert svc.holdings.held_bytes == held
