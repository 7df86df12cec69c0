"""The overview of a long recording: envelope, coarse scalogram, cache and bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch

from engine import Scattering1D
from scatviz.longrec import bands
from scatviz.longrec.overview import (
    OVERVIEW_CACHE,
    compute_overview,
    overview_settings,
    recording_info,
)

SR = 8000


def _signal(n: int, seed: int = 0) -> np.ndarray:
    """Noise under a chirp whose loudness changes: structure at every scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    chirp = np.sin(2 * np.pi * (100 * t + 20 * t**2 / max(t[-1], 1)))
    return (0.5 * chirp * (1 + np.sin(2 * np.pi * t / 7)) + 0.05 * rng.standard_normal(n)
            ).astype(np.float32)


def _write(path, x, sr, channels=1, blocks=2**16, **kw):
    """Write in blocks (soundfile can crash encoding one long compressed write)."""
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    with sf.SoundFile(path, "w", sr, channels, **kw) as f:
        for i in range(0, len(x), blocks):
            f.write(data[i:i + blocks])
    return path


def test_envelope_is_min_and_max_per_column_with_a_partial_last_one():
    x = _signal(100_003)
    ov = compute_overview(x, SR, columns=512, cache=False)
    spc = ov.samples_per_column
    assert spc == -(-len(x) // 512)
    W = -(-len(x) // spc)
    assert ov.env_min.shape == ov.env_max.shape == (W,)
    for c in (0, 7, W - 1):                          # the last column holds fewer samples
        seg = x[c * spc:(c + 1) * spc]
        assert ov.env_min[c] == seg.min() and ov.env_max[c] == seg.max()
    assert ov.env_times[1] == pytest.approx(spc / SR)
    assert ov.env_min.min() == x.min() and ov.env_max.max() == x.max()


def test_settings_follow_length_and_rate_and_reject_bad_values():
    st = overview_settings(48_000 * 600, 48_000, method="scattering")
    assert st["T"] == 2**14 and 48_000 * 600 / st["T"] <= st["columns"]
    b = overview_settings(48_000 * 600, 48_000)
    assert b["method"] == "bands" and b["frame"] >= 2**(b["J"] + 2)
    # the lowest wavelet sits near fmin: J grows with the rate
    assert overview_settings(192_000 * 60, 192_000)["J"] > overview_settings(8000 * 60, 8000)["J"]
    assert overview_settings(4096, 8000, method="scattering")["T"] <= 4096
    assert overview_settings(4096, 8000)["frame"] <= 4096
    with pytest.raises(ValueError, match="power of two"):
        overview_settings(10**6, 8000, T=1000)
    with pytest.raises(ValueError, match="method"):
        overview_settings(10**6, 8000, method="fft")
    with pytest.raises(ValueError, match="columns"):
        overview_settings(10**6, 8000, columns=3)
    with pytest.raises(ValueError, match="at least"):
        overview_settings(20, 8000)


def test_bands_are_the_rms_of_each_wavelet_output_in_each_column():
    """A tone at a wavelet's centre frequency, amplitude 1, gives that band an RMS of 1/2
    (``|x * psi| = |psi_hat(xi)| / 2``) where it sounds and nothing elsewhere in time."""
    n = SR * 40
    probe = compute_overview(np.zeros(n, np.float32) + 1e-6, SR, columns=400, cache=False)
    k = len(probe.scal_freqs) * 2 // 3
    f0 = probe.scal_freqs[k]
    t = np.arange(n) / SR
    x = np.where((t >= 10) & (t < 20), np.cos(2 * np.pi * f0 * t), 0.0).astype(np.float32)
    ov = compute_overview(x, SR, columns=400, cache=False)
    assert ov.scal_mag.shape == (len(ov.scal_freqs), len(ov.env_min))
    inside = (ov.scal_times > 11) & (ov.scal_times < 19)
    outside = (ov.scal_times < 9) | (ov.scal_times > 21)
    col = ov.scal_mag[:, inside]
    assert np.all(col.argmax(axis=0) == k)
    np.testing.assert_allclose(col[k], 0.5, rtol=0.03)
    assert ov.scal_mag[:, outside].max() < 1e-3 * col[k].min()


def test_scattering_method_is_the_whole_signal_transform_without_block_edges():
    """Block by block with overlap equals one transform of the whole signal (no seams)."""
    n = 2**17 + 1234
    x = _signal(n, seed=1)
    ov = compute_overview(x, SR, columns=1024, method="scattering", cache=False)
    st = ov.settings
    assert ov.settings["block"] < n                    # several blocks really were used
    S = Scattering1D(st["J"], n, Q=st["Q"], T=st["T"], max_order=1)
    with torch.no_grad():
        whole = S(torch.from_numpy(x)).numpy()
    order = np.asarray(S.meta()["order"])
    freqs = np.asarray(S.meta(sample_rate=SR)["xi_hz"])[order == 1, 0]
    ref = whole[order == 1][np.argsort(freqs)]
    M = ov.scal_mag.shape[1]
    assert ref.shape == ov.scal_mag.shape and M <= 1024
    err = np.abs(ov.scal_mag - ref).max() / np.abs(ref).max()
    assert err < 1e-4
    assert np.all(np.diff(ov.scal_freqs) > 0)           # rows low to high
    assert ov.scal_times[0] >= 0 and ov.scal_times[-1] <= n / SR


def test_file_source_equals_the_array_and_mixes_channels(tmp_path):
    x = _signal(300_001, seed=2)
    path = _write(tmp_path / "rec.flac", x, SR, channels=2)
    x16 = sf.read(path, dtype="float32")[0].mean(axis=1, dtype=np.float32)
    a = compute_overview(x16, SR, columns=256, cache=False)
    f = compute_overview(path, columns=256, cache=False)
    assert f.info.channels == 2 and f.info.n_samples == len(x) and f.info.name == "rec.flac"
    np.testing.assert_array_equal(f.env_min, a.env_min)
    np.testing.assert_array_equal(f.env_max, a.env_max)
    np.testing.assert_allclose(f.scal_mag, a.scal_mag, rtol=1e-4, atol=1e-6 * a.scal_mag.max())


def test_cache_by_file_identity_and_settings(tmp_path):
    OVERVIEW_CACHE.clear()
    path = _write(tmp_path / "a.wav", _signal(50_000), SR)
    one = compute_overview(path, columns=128)
    assert compute_overview(str(path), columns=128) is one
    assert compute_overview(path, columns=256) is not one          # other settings
    _write(path, _signal(60_000, seed=3), SR)                         # the file changed
    os.utime(path, ns=(1, 1))
    two = compute_overview(path, columns=128)
    assert two is not one and two.info.n_samples == 60_000


def test_unreadable_and_bad_sources_say_what_is_wrong(tmp_path):
    bad = tmp_path / "text.wav"
    bad.write_text("not audio")
    with pytest.raises(ValueError, match="Cannot read"):
        recording_info(bad)
    with pytest.raises(ValueError, match="sample_rate"):
        recording_info(np.zeros(1000, np.float32))
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        recording_info(np.zeros((2, 1000), np.float32), SR)
    x = _signal(SR * 10)
    x[12_345] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite samples"):
        compute_overview(x, SR, columns=128, cache=False)
    good = _write(tmp_path / "ok.flac", 0.5 * _signal(SR * 10), SR)
    data = good.read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        compute_overview(tmp_path / "cut.flac", cache=False)


_PROBE = textwrap.dedent("""
    import os, sys
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch
    torch.set_num_threads(1)
    import numpy as np
    from scatviz.longrec.overview import compute_overview
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    compute_overview(np.ones(2**16, "float32"), 8000, cache=False)   # code paths warmed
    base = hwm()
    ov = compute_overview(sys.argv[1], cache=False)
    print(base, hwm(), ov.info.n_samples)
""")


def _hwm_growth(path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True,
                         text=True, check=True, timeout=300).stdout.split()
    base, peak, n = (int(v) for v in out)
    return peak - base, n


@pytest.mark.slow
def test_memory_does_not_grow_with_the_recording(tmp_path):
    """The peak RSS an overview adds is the same for a 3- and a 24-minute file (bounded by
    its blocks; it varies by a few MB from run to run), and far under the long file's
    samples."""
    rng = np.random.default_rng(4)
    paths = {}
    for minutes in (3, 24):
        paths[minutes] = tmp_path / f"rec{minutes}.flac"
        with sf.SoundFile(paths[minutes], "w", SR, 1) as f:
            for _ in range(minutes):
                f.write(_signal(SR * 60, seed=int(rng.integers(1 << 30))))
    g_short, n_short = _hwm_growth(paths[3])
    g_long, n_long = _hwm_growth(paths[24])
    assert n_long == 8 * n_short
    whole = n_long * 4                                  # the long file as float32
    assert g_long - g_short < 0.2 * whole, (g_short, g_long, whole)
    assert g_long < 0.5 * whole, (g_long, whole)


def test_filters_are_built_once_per_setting():
    bands.band_weights.cache_clear()
    x = _signal(40_000)
    compute_overview(x, SR, columns=128, cache=False)
    compute_overview(x * 2, SR, columns=128, cache=False)
    assert bands.band_weights.cache_info().hits >= 1


def test_ogg_and_wav_sources_read_in_blocks(tmp_path):
    x = 0.5 * _signal(SR * 20, seed=5)                       # inside [-1, 1]: no clipping
    for name, kw in (("rec.ogg", dict(format="OGG", subtype="VORBIS")),
                     ("rec.wav", dict(subtype="PCM_16"))):
        path = _write(tmp_path / name, x, SR, **kw)            # OGG: written in blocks
        ov = compute_overview(path, columns=256, cache=False)
        assert ov.info.n_samples == sf.info(path).frames and ov.info.sample_rate == SR
        assert np.isfinite(ov.scal_mag).all() and ov.env_max.max() > 0.25
        assert np.abs(ov.env_max.max() - x.max()) < 0.05


def test_an_overview_asked_to_stop_stops_between_blocks_and_caches_nothing():
    """What a closed page's upload uses: ``stop()`` is read before each block."""
    from scatviz.longrec.overview import READ_BLOCK, OverviewStopped

    x = (0.1 * np.random.default_rng(3).standard_normal(3 * READ_BLOCK)).astype(np.float32)
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 1                       # the first block, then stop

    OVERVIEW_CACHE.clear()
    with pytest.raises(OverviewStopped, match="stopped after"):
        compute_overview(x, 8000, stop=stop)
    assert len(asked) == 2 and len(OVERVIEW_CACHE) == 0
    ov = compute_overview(x, 8000, stop=lambda: False)
    assert ov.info.n_samples == len(x) and len(OVERVIEW_CACHE) == 1
