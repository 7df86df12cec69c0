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
    assert d.state.result is not res
    np.testing.assert_array_equal(d.state.result.x, d.state.signal)    # the window analysed
    assert d.state.info["window_start_s"] == pytest.approx(start / SR)


def _wav_bytes(x: np.ndarray, sr: int) -> bytes:
    import io
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_a_long_upload_opens_as_overview_and_window_and_a_short_one_closes_it():
    """An upload longer than one change affords (the engine's own cost estimate) gets the
    overview and a detail window; the next short signal is analysed whole again."""
    rng = np.random.default_rng(1)
    long = (0.3 * rng.standard_normal(16_000 * 60)).astype(np.float32)    # 60 s at 16 kHz
    d = Dashboard(live=False)
    assert d.load_upload(_wav_bytes(long, 16_000), "minute.wav")
    view = d.recording_view
    assert isinstance(view, RecordingOverview) and d.main()[0].visible
    n = len(d.state.signal)
    assert 2**12 <= n < len(long) and d.state.sample_rate == 16_000
    assert "shortened" in view.message
    short = (0.3 * rng.standard_normal(8000)).astype(np.float32)           # 1 s at 8 kHz
    assert d.load_upload(_wav_bytes(short, 8000), "second.wav")
    assert d.recording_view is None and not d.main()[0].visible
    assert len(d.state.signal) == len(short)


def test_serve_open_file_is_what_new_pages_analyse(tmp_path, monkeypatch):
    """`scatviz serve --open FILE`: the CLI checks the file and hands it on; each new page
    opens it (a long one as overview + window), unless its URL asks for another signal."""
    from scatviz.cli import OPEN_FILE_ENV, check_recording, main
    from scatviz.views import dashboard as dash_mod

    assert OPEN_FILE_ENV == dash_mod.OPEN_FILE_ENV
    rng = np.random.default_rng(2)
    path = tmp_path / "night.flac"
    with sf.SoundFile(path, "w", 16_000, 1) as f:                       # 90 s, in blocks
        for _ in range(90):
            f.write((0.1 * rng.standard_normal(16_000)).astype(np.float32))
    assert check_recording(path) == str(path.resolve())
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(ValueError, match="not an audio file"):
        check_recording(tmp_path / "notes.txt")
    assert main(["serve", "--dry-run", "--open", str(tmp_path / "missing.wav")]) == 2

    monkeypatch.setenv(OPEN_FILE_ENV, str(path))
    d = Dashboard.from_query({}, live=False)
    assert d.recording_view is not None and d.recording_view.overview.info.n_samples == 90 * 16_000
    assert len(d.state.signal) < 90 * 16_000 and d.state.sample_rate == 16_000
    other = Dashboard.from_query({"asset": [b"vibrato"]}, live=False)   # the URL wins
    assert other.recording_view is None
