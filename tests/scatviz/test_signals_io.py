"""Loading bundled assets and uploads (no browser)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from scatviz.signals_io import (
    MAX_SECONDS,
    MAX_UPLOAD_BYTES,
    SignalLoadError,
    list_assets,
    load_asset,
    load_upload,
)

REQUIRED = {"digit", "chirp_exp", "chirp_sine_pulse", "vibrato", "fdts_pair"}


def test_bundled_assets_present_and_loadable():
    assets = list_assets()
    assert REQUIRED <= set(assets)
    for key in assets:
        sig = load_asset(key)
        assert sig.x.ndim == 1 and sig.x.dtype == np.float32
        assert sig.sample_rate > 0 and len(sig.x) >= 256
        assert sig.info.get("credit")


def _wav(x, sr, fmt="WAV", subtype=None):
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_upload_stereo_mixed_down_and_rate_kept():
    sr = 11025
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1) * 0.5
    sig = load_upload(_wav(stereo, sr), "stereo.wav")
    assert sig.sample_rate == sr and sig.x.shape == (sr,)
    assert sig.info["channels"] == 2
    np.testing.assert_allclose(sig.x, stereo.mean(axis=1), atol=1e-4)


def test_upload_flac_and_ogg():
    sr = 8000
    x = (0.3 * np.sin(np.arange(4000) * 0.1)).astype(np.float32)
    assert len(load_upload(_wav(x, sr, "FLAC"), "a.flac").x) == 4000
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", sr, 1, format="OGG", subtype="VORBIS") as f:
        for i in range(0, len(x), 1024):          # blocks: libsndfile 1.2.2 crashes otherwise
            f.write(x[i:i + 1024])
    assert abs(len(load_upload(buf.getvalue(), "a.ogg").x) - 4000) < 64


def test_upload_text_renamed_wav_is_a_clear_error():
    with pytest.raises(SignalLoadError, match="not a readable audio file"):
        load_upload(b"hello, I am not audio\n" * 10, "fake.wav")


def test_upload_limits():
    with pytest.raises(SignalLoadError, match="empty"):
        load_upload(b"", "e.wav")
    with pytest.raises(SignalLoadError, match="MB"):
        load_upload(b"0" * (MAX_UPLOAD_BYTES + 1), "big.wav")
    sr = 1000
    long = np.zeros(int((MAX_SECONDS + 1) * sr), np.float32)
    with pytest.raises(SignalLoadError, match="longer than"):
        load_upload(_wav(long, sr), "long.wav")
    with pytest.raises(SignalLoadError, match="at least"):
        load_upload(_wav(np.zeros(100, np.float32), 8000), "short.wav")
