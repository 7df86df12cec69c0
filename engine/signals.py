"""Test signals for scattering and JTFS: chirps, tones, pulses, notes and noise.

Every generator returns a float32 numpy array of shape ``(N,)`` (or a pair of them) and is
deterministic: those that draw random numbers take a ``seed``.

Units
-----
``sample_rate`` is in Hz and every frequency argument is in the same unit as ``sample_rate``:
with the default ``sample_rate=1.0`` frequencies are in **cycles per sample** (Nyquist is 0.5),
with ``sample_rate=8000`` they are in **Hz** (Nyquist is 4000). Times and durations are in
**seconds** (``t[n] = n / sample_rate``; with ``sample_rate=1.0`` that is samples).
Frequencies at or above Nyquist raise ``ValueError`` rather than alias silently.

>>> from engine.signals import exponential_chirp
>>> x = exponential_chirp(4096, 20.0, 3000.0, sample_rate=8000)   # 20 Hz -> 3 kHz
>>> x.shape, x.dtype
((4096,), dtype('float32'))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "linear_chirp",
    "exponential_chirp",
    "sine",
    "impulse",
    "chirp_sine_pulse",
    "fdts",
    "blips",
    "harmonic_vibrato",
    "white_noise",
    "SIGNALS",
    "make_signal",
]


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def _check_N(N) -> int:
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"N (number of samples) must be a positive integer; got {N!r}.")
    return int(N)


def _check_rate(sample_rate) -> float:
    if not (isinstance(sample_rate, (int, float, np.number)) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number (Hz); got {sample_rate!r}.")
    return float(sample_rate)


def _check_freq(name: str, f: float, sample_rate: float, allow_zero: bool = False) -> float:
    nyq = sample_rate / 2
    low_ok = f >= 0 if allow_zero else f > 0
    if not (low_ok and f < nyq):
        unit = "cycles/sample" if sample_rate == 1.0 else "Hz"
        raise ValueError(f"{name}={f} must lie in {'[' if allow_zero else '('}0, {nyq}) {unit} "
                         f"(below Nyquist = sample_rate / 2 at sample_rate={sample_rate}).")
    return float(f)


def _time(N: int, sample_rate: float) -> np.ndarray:
    return np.arange(N, dtype=np.float64) / sample_rate


# --------------------------------------------------------------------------------------------
# Elementary signals
# --------------------------------------------------------------------------------------------

def linear_chirp(N: int, f_start: float, f_end: float, sample_rate: float = 1.0,
                 amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """A linear chirp: instantaneous frequency ``f(t) = f_start + (f_end - f_start) t / D``.

    ``D = N / sample_rate`` is the duration in seconds; ``f(t)`` goes from ``f_start`` at
    ``t = 0`` to ``f_end`` at ``t = D`` (a falling chirp when ``f_end < f_start``).

    Parameters
    ----------
    N : int
        Number of samples.
    f_start, f_end : float
        Frequencies at the start and the end, in Hz (cycles/sample when ``sample_rate=1``),
        in ``[0, sample_rate / 2)``.
    sample_rate : float
        Hz.
    amplitude, phase : float
        Peak amplitude and initial phase (radians).

    Returns
    -------
    np.ndarray
        float32 ``(N,)``,
        ``amplitude * cos(2 pi (f_start t + (f_end - f_start) t^2 / 2D) + phase)``.

    >>> x = linear_chirp(1024, 0.05, 0.2)
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    f0 = _check_freq("f_start", f_start, sr, allow_zero=True)
    f1 = _check_freq("f_end", f_end, sr, allow_zero=True)
    t, D = _time(N, sr), N / sr
    arg = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * D)) + phase
    return (amplitude * np.cos(arg)).astype(np.float32)


def exponential_chirp(N: int, f_start: float, f_end: float, sample_rate: float = 1.0,
                      amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """An exponential (log-frequency linear) chirp: ``f(t) = f_start (f_end / f_start)^(t / D)``.

    Its frequency changes by the same number of octaves per second throughout, so on a
    constant-Q scalogram it draws a straight line. ``D = N / sample_rate`` seconds.

    Parameters
    ----------
    N : int
        Number of samples.
    f_start, f_end : float
        Start and end frequencies in Hz (cycles/sample when ``sample_rate=1``), both
        strictly positive and below ``sample_rate / 2``.
    sample_rate : float
        Hz.
    amplitude, phase : float
        Peak amplitude and initial phase (radians).

    Returns
    -------
    np.ndarray
        float32 ``(N,)``.

    >>> x = exponential_chirp(4096, 0.005, 0.4)       # about 6.3 octaves, rising
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    f0 = _check_freq("f_start", f_start, sr)
    f1 = _check_freq("f_end", f_end, sr)
    t, D = _time(N, sr), N / sr
    if math.isclose(f0, f1):
        arg = 2 * np.pi * f0 * t
    else:
        k = math.log(f1 / f0) / D            # natural log of the frequency per second
        arg = 2 * np.pi * f0 * np.expm1(k * t) / k
    return (amplitude * np.cos(arg + phase)).astype(np.float32)


def sine(N: int, frequency: float, sample_rate: float = 1.0, amplitude: float = 1.0,
         phase: float = 0.0) -> np.ndarray:
    """A pure tone ``amplitude * cos(2 pi frequency t + phase)``, float32 ``(N,)``.

    ``frequency`` in Hz (cycles/sample when ``sample_rate=1``), in ``[0, sample_rate / 2)``.

    >>> x = sine(1000, 440.0, sample_rate=8000)
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    f = _check_freq("frequency", frequency, sr, allow_zero=True)
    return (amplitude * np.cos(2 * np.pi * f * _time(N, sr) + phase)).astype(np.float32)


def impulse(N: int, at: float | None = None, sample_rate: float = 1.0,
            amplitude: float = 1.0) -> np.ndarray:
    """A discrete Dirac: zeros except ``amplitude`` at time ``at`` (seconds; default the middle).

    ``at`` is rounded to the nearest sample and must fall inside the signal.

    >>> int(np.argmax(impulse(64)))
    32
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    n = N // 2 if at is None else int(round(at * sr))
    if not 0 <= n < N:
        raise ValueError(f"impulse time at={at} s falls outside the signal [0, {N / sr}) s.")
    x = np.zeros(N, dtype=np.float32)
    x[n] = amplitude
    return x


# --------------------------------------------------------------------------------------------
# Composite signals
# --------------------------------------------------------------------------------------------

def chirp_sine_pulse(N: int, sample_rate: float = 1.0, chirp_band: tuple[float, float] | None
                     = None, sine_frequency: float | None = None, pulse_at: float | None = None,
                     pulse_amplitude: float = 8.0) -> np.ndarray:
    """The sum of an exponential chirp, a pure tone and an impulse, overlapping in time.

    Each component has a distinct time-frequency geometry: the chirp a slanted line, the sine a
    horizontal one, the impulse a vertical one. Time scattering sees their energies per band;
    JTFS also sees their slopes.

    Parameters
    ----------
    N : int
        Number of samples.
    sample_rate : float
        Hz.
    chirp_band : (float, float), optional
        Start and end frequency of the exponential chirp (Hz; cycles/sample when
        ``sample_rate=1``); default ``(0.005, 0.4) * sample_rate``, rising.
    sine_frequency : float, optional
        Frequency of the tone; default ``0.05 * sample_rate``.
    pulse_at : float, optional
        Time of the impulse in seconds; default the middle of the signal.
    pulse_amplitude : float
        Height of the impulse (the chirp and the sine have amplitude 1). A Dirac of height
        ``A`` gives a wavelet response of about ``A / support``, so 8 makes it visible next to
        the unit tones at high frequencies.

    Returns
    -------
    np.ndarray
        float32 ``(N,)``.

    >>> x = chirp_sine_pulse(4096)
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    f0, f1 = chirp_band if chirp_band is not None else (0.005 * sr, 0.4 * sr)
    fs = 0.05 * sr if sine_frequency is None else sine_frequency
    x = (exponential_chirp(N, f0, f1, sr).astype(np.float64)
         + sine(N, fs, sr).astype(np.float64)
         + impulse(N, pulse_at, sr, pulse_amplitude).astype(np.float64))
    return x.astype(np.float32)


def fdts(N: int, sample_rate: float = 1.0, f0: float | None = None, n_partials: int = 4,
         total_shift: float | None = None, segment: float | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """A pair of signals with the same partials, the second with Frequency-Dependent Time
    Shifts (FDTS).

    ``x`` is a harmonic tone ``sum_k sin(2 pi k f0 t)``, ``k = 1..n_partials``, under one
    Tukey window (alpha 0.5) of length ``segment`` centred in the signal. ``xs`` holds the same
    partials, partial ``k`` delayed by ``total_shift * (log2(k) / log2(n_partials) - 1/2)``
    seconds (circularly): the lowest partial moves earliest, the highest latest, the spread is
    ``total_shift`` and the mean shift is small. Each partial of ``xs`` is an exact time shift of
    the one in ``x``, so time scattering with a long averaging (``T >> total_shift``) barely
    tells them apart; JTFS, which sees the slope across frequencies, does.

    Parameters
    ----------
    N : int
        Number of samples.
    sample_rate : float
        Hz.
    f0 : float, optional
        Fundamental in Hz (cycles/sample when ``sample_rate=1``); default
        ``sample_rate / (4 n_partials)`` so that the top partial sits at a quarter of the
        sample rate. ``n_partials * f0`` must stay below Nyquist.
    n_partials : int
        Number of harmonics (>= 2).
    total_shift : float, optional
        Spread of the shifts between the lowest and the highest partial, seconds; default
        ``N / 16`` samples.
    segment : float, optional
        Length of the window in seconds; default ``N / 8`` samples.

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``x, xs``, float32 ``(N,)`` each.

    >>> x, xs = fdts(4096)
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    if isinstance(n_partials, bool) or not isinstance(n_partials, (int, np.integer)) \
            or n_partials < 2:
        raise ValueError(f"n_partials must be an integer >= 2; got {n_partials!r}.")
    f0 = sr / (4 * n_partials) if f0 is None else f0
    _check_freq("f0", f0, sr)
    _check_freq("n_partials * f0", n_partials * f0, sr)
    shift_samples = N / 16 if total_shift is None else total_shift * sr
    seg = int(round(N / 8 if segment is None else segment * sr))
    if not 2 <= seg <= N:
        raise ValueError(f"segment={segment} s gives {seg} samples; it must lie in [2, {N}].")
    from scipy.signal.windows import tukey
    window = np.zeros(N)
    left = (N - seg) // 2
    window[left:left + seg] = tukey(seg, alpha=0.5)
    t = _time(N, sr)
    x = np.zeros(N)
    xs = np.zeros(N)
    for k in range(1, n_partials + 1):
        partial = np.sin(2 * np.pi * k * f0 * t) * window
        shift = int(round(shift_samples * (math.log2(k) / math.log2(n_partials) - 0.5)))
        x += partial
        xs += np.roll(partial, shift)
    return x.astype(np.float32), xs.astype(np.float32)


def blips(N: int, num_intervals: int = 4, gamma: float = 0.9, n_harmonics: int = 1,
          seed: int = 42) -> np.ndarray:
    """Harmonic "blips": notes of random pitch under Hann windows with half overlap.

    The signal is cut into ``num_intervals`` intervals of ``support = N // num_intervals``
    samples; ``2 num_intervals - 1`` notes start every ``support // 2`` samples, each a Hann
    window of ``support`` samples times ``sum_k gamma^k cos(2 pi (k + 1) f t + phase)``,
    ``k < n_harmonics``, with a random fundamental ``f`` uniform in ``[0.05, 0.15)``
    cycles/sample and a random phase. Harmonics at or above Nyquist are left out.

    With the defaults this is exactly the signal of Kymatio's reconstruction example
    (``generate_harmonic_signal(T, num_intervals=4, gamma=0.9, random_state=42)``, which keeps
    the fundamental only), drawn from ``np.random.RandomState(seed)`` in the same order.

    Parameters
    ----------
    N : int
        Number of samples (frequencies here are in cycles/sample).
    num_intervals : int
        Number of intervals (>= 1).
    gamma : float
        Amplitude decay per harmonic.
    n_harmonics : int
        Number of harmonics per note, the fundamental included.
    seed : int
        Seed of the ``RandomState`` that draws pitches, then phases.

    Returns
    -------
    np.ndarray
        float32 ``(N,)``.

    >>> x = blips(8192)
    """
    N = _check_N(N)
    if num_intervals < 1 or N // num_intervals < 2:
        raise ValueError(f"num_intervals must be >= 1 with N // num_intervals >= 2; got "
                         f"num_intervals={num_intervals!r} for N={N}.")
    if n_harmonics < 1:
        raise ValueError(f"n_harmonics must be >= 1; got {n_harmonics!r}.")
    rng = np.random.RandomState(seed)
    num_notes = 2 * (num_intervals - 1) + 1
    support = N // num_intervals
    half_support = support // 2
    base_freq = 0.1 * rng.rand(num_notes) + 0.05
    phase = 2 * np.pi * rng.rand(num_notes)
    window = np.hanning(support)
    x = np.zeros(N, dtype=np.float32)
    u = 2 * np.pi * np.arange(support)
    for i in range(num_notes):
        note = np.zeros(support)
        for k in range(n_harmonics):
            if (k + 1) * base_freq[i] >= 0.5:
                break
            note += gamma**k * np.cos(u * (k + 1) * base_freq[i] + phase[i])
        start = i * half_support
        x[start:start + support] += note * window
    return x


def harmonic_vibrato(N: int, f0: float | None = None, sample_rate: float = 1.0,
                     n_harmonics: int = 8, gamma: float = 0.8, vibrato_rate: float | None = None,
                     vibrato_depth: float = 0.05) -> np.ndarray:
    """A harmonic tone with vibrato: every partial's frequency oscillates by the same ratio.

    Instantaneous frequency of partial ``k`` (``k = 1..n_harmonics``):
    ``k f0 (1 + vibrato_depth sin(2 pi vibrato_rate t))``, amplitude ``gamma^(k-1)``. A
    frequency modulation that is the same in log-frequency across partials: its scalogram
    shows parallel wiggles, which JTFS reads as alternating up and down spins. Partials whose
    highest frequency reaches Nyquist are left out.

    Parameters
    ----------
    N : int
        Number of samples.
    f0 : float, optional
        Fundamental in Hz (cycles/sample when ``sample_rate=1``); default
        ``0.02 * sample_rate``.
    sample_rate : float
        Hz.
    n_harmonics : int
        Number of partials, the fundamental included.
    gamma : float
        Amplitude decay per partial.
    vibrato_rate : float, optional
        Frequency of the modulation in Hz; default 4 periods over the signal,
        ``4 sample_rate / N``.
    vibrato_depth : float
        Relative frequency excursion, in ``[0, 1)`` (0.05 is +-5 %, under a semitone).

    Returns
    -------
    np.ndarray
        float32 ``(N,)``.

    >>> x = harmonic_vibrato(8192, 220.0, sample_rate=8000)
    """
    N, sr = _check_N(N), _check_rate(sample_rate)
    f0 = 0.02 * sr if f0 is None else f0
    _check_freq("f0", f0 * (1 + vibrato_depth), sr)
    if not 0 <= vibrato_depth < 1:
        raise ValueError(f"vibrato_depth must lie in [0, 1); got {vibrato_depth!r}.")
    rate = 4 * sr / N if vibrato_rate is None else vibrato_rate
    if rate <= 0:
        raise ValueError(f"vibrato_rate must be positive (Hz); got {vibrato_rate!r}.")
    t = _time(N, sr)
    # Phase of the fundamental: 2 pi integral of f0 (1 + d sin(2 pi r t)).
    base = 2 * np.pi * f0 * (t + vibrato_depth * (1 - np.cos(2 * np.pi * rate * t))
                             / (2 * np.pi * rate))
    x = np.zeros(N)
    for k in range(1, n_harmonics + 1):
        if k * f0 * (1 + vibrato_depth) >= sr / 2:
            break
        x += gamma ** (k - 1) * np.cos(k * base)
    return x.astype(np.float32)


def white_noise(N: int, seed: int = 0, std: float = 1.0) -> np.ndarray:
    """Gaussian white noise of standard deviation ``std``, float32 ``(N,)``, from
    ``np.random.default_rng(seed)``.

    >>> np.array_equal(white_noise(16, seed=3), white_noise(16, seed=3))
    True
    """
    N = _check_N(N)
    return (std * np.random.default_rng(seed).standard_normal(N)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# By name (for the command line and the dashboard)
# --------------------------------------------------------------------------------------------

#: Generators that take ``(N, sample_rate)`` and return one signal, by name. ``fdts`` gives
#: its shifted member ``xs``; ``fdts_ref`` the unshifted ``x``.
SIGNALS: dict[str, Callable[[int, float], np.ndarray]] = {
    "linear_chirp": lambda N, sr: linear_chirp(N, 0.01 * sr, 0.4 * sr, sr),
    "exponential_chirp": lambda N, sr: exponential_chirp(N, 0.005 * sr, 0.4 * sr, sr),
    "falling_chirp": lambda N, sr: exponential_chirp(N, 0.4 * sr, 0.005 * sr, sr),
    "sine": lambda N, sr: sine(N, 0.05 * sr, sr),
    "impulse": lambda N, sr: impulse(N, sample_rate=sr),
    "chirp_sine_pulse": lambda N, sr: chirp_sine_pulse(N, sr),
    "fdts": lambda N, sr: fdts(N, sr)[1],
    "fdts_ref": lambda N, sr: fdts(N, sr)[0],
    "blips": lambda N, sr: blips(N),
    "harmonic_vibrato": lambda N, sr: harmonic_vibrato(N, sample_rate=sr),
    "white_noise": lambda N, sr: white_noise(N),
}


def make_signal(name: str, N: int = 8192, sample_rate: float = 1.0) -> np.ndarray:
    """The generator ``name`` of `SIGNALS` with its default parameters, float32 ``(N,)``.

    >>> make_signal("blips", 8192).shape
    (8192,)
    """
    if name not in SIGNALS:
        raise ValueError(f"Unknown signal {name!r}; choose one of {sorted(SIGNALS)}.")
    return SIGNALS[name](_check_N(N), _check_rate(sample_rate))
