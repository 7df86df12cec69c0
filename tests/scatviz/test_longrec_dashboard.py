"""The dashboard with a long recording: the overview above the views, the window analysed."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from bokeh.events import Tap

from engine._costs import Cost
from scatviz.views.dashboard import Dashboard
from scatviz.views.overview import RecordingOverview

SR = 8000


def per_sample(seconds):
    """A cost model: ``seconds`` per sample, so that the window is the power of two that a
    1 s budget holds."""
    return lambda kind, shape, batch=1, **p: Cost(0, 0, (), seconds * shape)


def test_open_recording_shows_the_overview_and_analyses_the_window(tmp_path):
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(SR * 120)).astype(np.float32)      # two minutes
    path = tmp_path / "long.flac"
    with sf.SoundFile(path, "w", SR, 1) as f:
        for i in range(0, len(x), 2**16):
            f.write(x[i:i + 2**16])
    x = sf.read(path, dtype="float32")[0]
    d = Dashboard(live=False)
    view = d.open_recording(str(path), cost=per_sample(1 / 10_000))   # 5,000 samples per s
    assert isinstance(view, RecordingOverview) and d.recording_view is view
    slot = d.main()[0]
    assert slot.visible and slot.objects[0].objects[0] is view.__panel__()
    n = len(d.state.signal)
    assert n == 4096 and "shortened" in view.message            # 2**17 asked, 4096 afford
    res = d.state.result
    assert len(res.x) == n and d.signal_view.audio.sample_rate == SR
    assert len(d.signal_view.audio.object) == n                   # playback is the window
    view.wave_figure._trigger_event(Tap(view.wave_figure, x=60.0, y=0.0))
    start = int(round((60.0 - n / SR / 2) * SR))
    np.testing.assert_array_equal(d.state.signal, x[start:start + n])
    assert d.state.result is not res and d.state.result.x is d.state.signal
    assert d.state.info["window_start_s"] == pytest.approx(start / SR)
