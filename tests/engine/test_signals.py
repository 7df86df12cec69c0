"""Properties of the test-signal generators (engine.signals)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert

from engine import signals as sg


def inst_freq(x: np.ndarray, sample_rate: float = 1.0) -> np.ndarray:
    """Instantaneous frequency (same unit as sample_rate) from the analytic signal."""
    phase = np.unwrap(np.angle(hilbert(x.astype(np.float64))))
    return np.diff(phase) * sample_rate / (2 * np.pi)


def test_all_float32_1d_and_deterministic():
    for name in sg.SIGNALS:
        a = sg.make_signal(name, 2048, 8000.0)
        b = sg.make_signal(name, 2048, 8000.0)
        assert a.dtype == np.float32 and a.shape == (2048,), name
        assert np.isfinite(a).all(), name
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("f0, f1", [(0.02, 0.3), (0.3, 0.02)])
def test_linear_chirp_inst_freq(f0, f1):
    N = 4096
    x = sg.linear_chirp(N, f0, f1)
    f = inst_freq(x)
    t = (np.arange(N - 1) + 0.5) / N
    expected = f0 + (f1 - f0) * t
    mid = slice(N // 8, -N // 8)     # Hilbert edge effects at the ends
    np.testing.assert_allclose(f[mid], expected[mid], atol=0.003)


def test_exponential_chirp_inst_freq_in_hz():
    N, sr = 8192, 8000.0
    x = sg.exponential_chirp(N, 50.0, 3000.0, sample_rate=sr)
    f = inst_freq(x, sr)
    t = (np.arange(N - 1) + 0.5) / sr
    expected = 50.0 * (3000.0 / 50.0) ** (t / (N / sr))
    mid = slice(N // 8, -N // 8)
    np.testing.assert_allclose(f[mid], expected[mid], rtol=0.03)
    # constant octaves per second: log-frequency is linear in time
    slope = np.diff(np.log2(expected[mid]))
    assert np.allclose(slope, slope[0])


def test_sine_impulse():
    x = sg.sine(1000, 440.0, 8000.0)
    assert np.argmax(np.abs(np.fft.rfft(x))) == round(440 * 1000 / 8000)
    d = sg.impulse(100, at=0.25, sample_rate=100.0, amplitude=2.0)
    assert d[25] == 2.0 and np.count_nonzero(d) == 1


def test_chirp_sine_pulse_components():
    N = 4096
    x = sg.chirp_sine_pulse(N)
    rest = x - sg.exponential_chirp(N, 0.005 * 1, 0.4) - sg.sine(N, 0.05)
    assert np.argmax(np.abs(rest)) == N // 2
    assert abs(rest[N // 2] - 8.0) < 1e-4


def test_fdts_partials_are_shifted_copies():
    N, n = 4096, 4
    x, xs = sg.fdts(N, n_partials=n)
    # same magnitude spectrum up to the roll (exact circular shifts per partial)
    X, XS = np.abs(np.fft.rfft(x)), np.abs(np.fft.rfft(xs))
    peaks = [round(k * N / (4 * n)) for k in range(1, n + 1)]
    np.testing.assert_allclose(X[peaks], XS[peaks], rtol=0.05)
    # the time shift grows with frequency: compare the envelope centre of each partial
    centres = []
    for k in range(1, n + 1):
        band = np.zeros(N // 2 + 1)
        p = peaks[k - 1]
        band[p - 20:p + 21] = 1
        env = np.abs(hilbert(np.fft.irfft(np.fft.rfft(xs) * band, n=N)))
        centres.append((env * np.arange(N)).sum() / env.sum())
    assert np.all(np.diff(centres) > 0)
    assert abs((centres[-1] - centres[0]) - N / 16) < 8
    with pytest.raises(ValueError, match="Nyquist"):
        sg.fdts(N, f0=0.2, n_partials=4)


def test_blips_match_kymatio_example():
    # the reference implementation, as in Kymatio's examples/1d/reconstruct_torch.py
    T = 2**13
    rng = np.random.RandomState(42)
    num_notes, support = 7, T // 4
    base = 0.1 * rng.rand(num_notes) + 0.05
    phase = 2 * np.pi * rng.rand(num_notes)
    ref = np.zeros(T, dtype="float32")
    u = 2 * np.pi * np.arange(support)
    for i in range(num_notes):
        ref[i * (support // 2):i * (support // 2) + support] += (
            np.cos(u * base[i] + phase[i]) * np.hanning(support))
    np.testing.assert_array_equal(sg.blips(T), ref)
    # half overlap: constant Hann envelope sum in the middle intervals
    x = sg.blips(T, n_harmonics=3, seed=1)
    assert x.dtype == np.float32 and not np.array_equal(x, sg.blips(T, n_harmonics=3, seed=2))


def test_harmonic_vibrato_inst_freq():
    N, sr = 8192, 8000.0
    x = sg.harmonic_vibrato(N, 200.0, sr, n_harmonics=1, vibrato_depth=0.05)
    f = inst_freq(x, sr)[N // 8:-N // 8]
    assert abs(f.max() - 210.0) < 3 and abs(f.min() - 190.0) < 3
    full = sg.harmonic_vibrato(N, 200.0, sr, n_harmonics=30)     # partials above Nyquist dropped
    # 19 * 200 * 1.05 = 3990 Hz < 4000 Hz is the last partial kept
    np.testing.assert_array_equal(full, sg.harmonic_vibrato(N, 200.0, sr, n_harmonics=19))
    assert not np.array_equal(full, sg.harmonic_vibrato(N, 200.0, sr, n_harmonics=18))


def test_white_noise():
    a = sg.white_noise(100_000, seed=3, std=2.0)
    assert abs(a.std() - 2.0) < 0.02 and abs(a.mean()) < 0.02
    assert not np.array_equal(a, sg.white_noise(100_000, seed=4))


def test_errors_say_how_to_fix():
    with pytest.raises(ValueError, match="Nyquist"):
        sg.linear_chirp(100, 0.1, 0.6)
    with pytest.raises(ValueError, match="positive integer"):
        sg.sine(0, 0.1)
    with pytest.raises(ValueError, match="choose one of"):
        sg.make_signal("nope")
    with pytest.raises(ValueError, match="sample_rate"):
        sg.sine(10, 0.1, sample_rate=-1)
