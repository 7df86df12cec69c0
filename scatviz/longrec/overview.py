"""The overview of a long recording: its waveform envelope and a coarse scalogram, in bounded
memory.

`compute_overview` reads a recording (a path that ``soundfile`` opens, or an array ``(N,)``)
a block at a time and returns an `Overview`:

* **envelope**: the minimum and maximum of each of ``columns`` pixel columns (``spc =
  ceil(N / columns)`` samples each), from blocks of whole columns (``soundfile.blocks``);
* **coarse scalogram**, one row per first-order wavelet of the engine's filter bank (its
  lowest near ``fmin`` Hz, ``Q`` per octave), one value per column. Two methods:

  - ``"bands"`` (default, fast): Hann frames of ``frame`` samples (half overlapping) are
    Fourier transformed and their power weighted by each wavelet's squared frequency
    response (`engine.build_filterbank`, ``|psi1_hat|**2``): by Parseval, each frame's mean
    of ``|x * psi1|**2``; a column's value is the root of the mean over the frames centred in
    it. The same bands as the scalogram of the detail window, read as an RMS rather than a
    local average of the modulus; time resolution one frame (85 ms at 48 kHz). Computed in
    the envelope's pass.
  - ``"scattering"`` (exact, slower): the first-order scattering ``|x * psi1| * phi_T`` of
    `engine.Scattering1D` (``max_order=1``, ``T`` a power of two as long as a column), block
    by block with `engine.BlockTransform`: overlapping blocks whose kept frames are the whole
    signal's, so that no block edge shows. A second pass over the file, and far slower: on one
    minute at 48 kHz, 5.5 s (after 28 s building its block transform's filters) against
    0.2 s for ``"bands"`` (shared 2-core machine, load 9-10; ``benchmarks/RESULTS.md``).

Multi-channel files are mixed to mono (the mean of the channels), as everywhere in scatviz.

**Memory bound.** No pass holds more than one block of the recording:

* one read block of ``READ_BLOCK`` frames (rounded to whole columns) per channel in float32,
  its mono mix, and for ``"bands"`` its frames, their spectra and band powers: about
  ``4 (channels + 8) READ_BLOCK`` bytes (~10 MB for a mono file; measured: 16 MB of peak
  RSS over a warmed process for 4- and 16-minute 8 kHz FLACs alike);
* ``"scattering"``: one `Scattering1D` module of ``block`` samples (``BlockTransform``'s
  default: the smallest power of two ``>= 2**16`` and ``>=`` four overlaps) with one block's
  input and output in flight;
* the result: ``2 W + K W`` float32 values (W <= ``columns`` columns, K wavelets): under
  1 MB at the defaults.

None of these grows with ``N``: a 24-minute file and a 3-minute one take the same memory
(tested in ``tests/scatviz/test_longrec_overview.py`` by the peak RSS of a subprocess; the
figures for a 10-minute 48 kHz FLAC are in ``benchmarks/RESULTS.md``). An array source is
already in memory; its overview adds the same bounded working set.

Time: the ``"bands"`` pass costs about one FFT per sample of the recording (a 10-minute
48 kHz file: ``benchmarks/bench_long_recording.py``).

Results are cached (`OVERVIEW_CACHE`, a few entries) by the file's identity (real path, size,
modification time) or the array's digest, and the settings.

>>> ov = compute_overview(np.random.randn(48_000 * 60).astype("float32"), 48_000)
>>> ov.env_min.shape == ov.env_max.shape, ov.scal_mag.shape[0] == len(ov.scal_freqs)
(True, True)
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from engine import BlockTransform, Scattering1D
from scatviz.longrec.bands import BandAccumulator
from scatviz.signals_io import signal_digest

__all__ = ["Overview", "RecordingInfo", "compute_overview", "recording_info", "OverviewStopped",
           "overview_settings", "OVERVIEW_CACHE", "READ_BLOCK", "DEFAULT_COLUMNS"]

#: Pixel columns of the envelope (and the most frames of the scalogram) by default: about a
#: wide screen's width.
DEFAULT_COLUMNS = 2048
#: Wavelets per octave of the coarse scalogram.
DEFAULT_Q = 4
#: The coarse scalogram's lowest wavelet is near this frequency (Hz), whatever the rate.
DEFAULT_FMIN = 20.0
#: Frames read at a time for the envelope (rounded to whole columns).
READ_BLOCK = 2**18
#: Bounds of the coarse scalogram's low-pass support (samples; ``"scattering"``).
MIN_T, MAX_T = 2**6, 2**16
#: Bounds of the ``"bands"`` method's frame length (samples).
MIN_FRAME, MAX_FRAME = 2**9, 2**14
METHODS = ("bands", "scattering")
#: Centre frequency of the highest first-order wavelet, in cycles per sample (Kymatio's
#: ``xi_max``), used to choose ``J`` from ``fmin``.
_XI_MAX = 0.35


@dataclass(frozen=True)
class RecordingInfo:
    """A recording's length without its samples: ``n_samples`` frames at ``sample_rate``
    Hz, ``channels`` channels (mixed to mono when read)."""

    name: str
    n_samples: int
    sample_rate: float
    channels: int
    format: str = ""

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.n_samples / self.sample_rate


@dataclass(frozen=True, eq=False)
class Overview:
    """The overview of a whole recording.

    Attributes
    ----------
    info : RecordingInfo
        Name, length, rate and channels of the recording.
    samples_per_column : int
        Samples per envelope column (the last column may hold fewer).
    env_min, env_max : np.ndarray
        ``(W,)`` float32: the minimum and maximum of each column.
    env_times : np.ndarray
        ``(W,)`` float64: each column's start time (s).
    scal_mag : np.ndarray
        ``(K, M)`` float32: the coarse scalogram, one row per first-order wavelet from low to
        high frequency (``"bands"``: the RMS of ``x * psi1`` per column, ``M = W``;
        ``"scattering"``: ``|x * psi1| * phi_T`` per frame).
    scal_freqs : np.ndarray
        ``(K,)`` the rows' centre frequencies (Hz), low to high (the engine's meta).
    scal_times : np.ndarray
        ``(M,)`` the frames' centres (s).
    settings : dict
        What was computed: ``method``, ``columns``, ``Q``, ``J``, ``fmin`` and ``frame``
        (``"bands"``) or ``T``, ``block``, ``overlap``, ``stride`` (``"scattering"``).
    seconds : float
        Compute time (s) of the envelope and the scalogram together.
    """

    info: RecordingInfo
    samples_per_column: int
    env_min: np.ndarray
    env_max: np.ndarray
    env_times: np.ndarray
    scal_mag: np.ndarray
    scal_freqs: np.ndarray
    scal_times: np.ndarray
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.info.duration

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held."""
        return sum(a.nbytes for a in (self.env_min, self.env_max, self.env_times,
                                      self.scal_mag, self.scal_freqs, self.scal_times))


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------

def _is_path(source) -> bool:
    return isinstance(source, (str, os.PathLike))


def recording_info(source, sample_rate: float | None = None) -> RecordingInfo:
    """Length, rate and channels of a file (read from its header only) or an array ``(N,)``
    (``sample_rate`` required, Hz).

    Raises ValueError for a file soundfile cannot open, an empty one, or an array that is
    not 1-D."""
    if _is_path(source):
        import soundfile as sf

        path = os.fspath(source)
        try:
            si = sf.info(path)
        except Exception as exc:          # libsndfile's errors vary: name the file
            raise ValueError(f"Cannot read {path!r} as audio ({exc}). Use a WAV, FLAC or OGG "
                             f"file.") from exc
        if si.frames < 1:
            raise ValueError(f"{path!r} holds no samples.")
        return RecordingInfo(os.path.basename(path), int(si.frames), float(si.samplerate),
                             int(si.channels), f"{si.format}/{si.subtype}")
    x = np.asarray(source)
    if x.ndim != 1 or x.size < 1:
        raise ValueError(f"An array recording must have shape (N,) with N >= 1; got "
                         f"{x.shape}. Mix channels to mono first.")
    if sample_rate is None or not sample_rate > 0:
        raise ValueError(f"An array recording needs its sample_rate (Hz > 0); got "
                         f"{sample_rate!r}.")
    return RecordingInfo("signal", int(x.size), float(sample_rate), 1, "array")


def _source_identity(source, info: RecordingInfo) -> tuple:
    if _is_path(source):
        path = os.path.realpath(os.fspath(source))
        st = os.stat(path)
        return ("file", path, st.st_size, st.st_mtime_ns)
    return ("array", signal_digest(np.asarray(source, dtype=np.float32), info.sample_rate))


def _read_blocks(source, blocksize: int):
    """Mono float32 blocks of ``blocksize`` frames (the last one shorter)."""
    if _is_path(source):
        import soundfile as sf

        path = os.fspath(source)
        blocks = sf.blocks(path, blocksize=blocksize, dtype="float32", always_2d=True)
        while True:
            try:
                data = next(blocks)
            except StopIteration:
                return
            except sf.SoundFileError as exc:     # a damaged or truncated file, mid-way
                raise ValueError(f"Cannot decode {path!r} to its end ({exc}); the file may be "
                                 f"truncated or damaged.") from exc
            yield data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    x = np.asarray(source)
    for i in range(0, x.size, blocksize):
        yield np.asarray(x[i:i + blocksize], dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

def overview_settings(n_samples: int, sample_rate: float, columns: int = DEFAULT_COLUMNS,
                      Q: int = DEFAULT_Q, T: int | None = None, fmin: float = DEFAULT_FMIN,
                      method: str = "bands") -> dict:
    """The resolved settings of an overview of ``n_samples`` at ``sample_rate`` Hz.

    ``J`` puts the lowest wavelet near ``fmin`` Hz. ``"bands"``: ``frame`` (samples) is the
    power of two near ``2**(J + 2) Q`` (long enough to resolve the lowest wavelet), within
    ``[MIN_FRAME, MAX_FRAME]``. ``"scattering"``: ``T`` (samples; default: the power of two
    ``>= n_samples / columns``, within ``[MIN_T, MAX_T]`` and at most ``n_samples``) is the
    low-pass support and frame step, and ``J <= log2 T``.

    >>> overview_settings(48_000 * 600, 48_000, method="scattering")["T"]
    16384
    """
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 16:
        raise ValueError(f"columns must be an integer >= 16; got {columns!r}.")
    if isinstance(Q, bool) or not isinstance(Q, (int, np.integer)) or not 1 <= Q <= 32:
        raise ValueError(f"Q must be an integer in [1, 32]; got {Q!r}.")
    if not fmin > 0:
        raise ValueError(f"fmin must be a positive frequency (Hz); got {fmin!r}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    if n_samples < 2 * MIN_T:
        raise ValueError(f"The recording has {n_samples} samples; an overview needs at least "
                         f"{2 * MIN_T}.")
    top = 1 << (int(n_samples).bit_length() - 1)          # largest power of two <= N
    if T is None:
        want = max(1, math.ceil(n_samples / columns))
        T = min(max(1 << (want - 1).bit_length(), MIN_T), MAX_T, top)
    elif isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T & (T - 1) or \
            not MIN_T <= T <= min(MAX_T, top):
        raise ValueError(f"T must be a power of two in [{MIN_T}, {min(MAX_T, top)}] for "
                         f"{n_samples} samples; got {T!r}.")
    J = max(1, int(math.floor(math.log2(_XI_MAX * sample_rate / fmin))))
    if method == "bands":
        frame = 1 << (2**(J + 2) * int(Q) - 1).bit_length()
        frame = min(max(frame, MIN_FRAME), MAX_FRAME, top)
        J = min(J, frame.bit_length() - 3)
        return dict(method=method, columns=int(columns), Q=int(Q), J=J, frame=frame,
                    fmin=float(fmin))
    J = min(J, int(T).bit_length() - 1)
    return dict(method=method, columns=int(columns), Q=int(Q), J=J, T=int(T), fmin=float(fmin))


@lru_cache(maxsize=4)
def _block_transform(J: int, Q: int, T: int) -> BlockTransform:
    """One block transform per setting (its filter bank is designed once)."""
    return BlockTransform(lambda n: Scattering1D(J, n, Q=Q, T=T, max_order=1))


# --------------------------------------------------------------------------------------------
# The passes
# --------------------------------------------------------------------------------------------

class OverviewStopped(Exception):
    """`compute_overview` stopped between two blocks because its ``stop()`` said so (the
    page that wanted it was closed, or a newer upload replaced it)."""


def _envelope(source, n: int, spc: int, bands: BandAccumulator | None = None, stop=None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each column of ``spc`` samples, reading whole columns at a time (and
    feeding ``bands`` the same blocks); ``stop()`` True before a block: `OverviewStopped`."""
    W = -(-n // spc)
    lo = np.empty(W, np.float32)
    hi = np.empty(W, np.float32)
    per_block = max(1, READ_BLOCK // spc) * spc
    c = 0
    seen = 0
    for x in _read_blocks(source, per_block):
        if stop is not None and stop():
            raise OverviewStopped(f"overview stopped after {seen} of {n} samples")
        if bands is not None:
            bands.feed(x, last=seen + len(x) >= n)
        seen += len(x)
        full = len(x) // spc
        if full:
            cols = x[:full * spc].reshape(full, spc)
            lo[c:c + full] = cols.min(axis=1)
            hi[c:c + full] = cols.max(axis=1)
            c += full
        if len(x) > full * spc:              # the last, partial column
            rest = x[full * spc:]
            lo[c], hi[c] = rest.min(), rest.max()
            c += 1
    if seen != n or c != W:
        raise ValueError(f"The recording ended after {seen} of its {n} samples; the file may "
                         f"be truncated.")
    bad = ~(np.isfinite(lo) & np.isfinite(hi))       # min/max carry any NaN of a column
    if bad.any():
        c = int(np.flatnonzero(bad)[0])
        raise ValueError(f"The recording contains NaN or infinite samples (first in samples "
                         f"{c * spc}-{min((c + 1) * spc, n) - 1}).")
    return lo, hi


def _scalogram(source, n: int, sample_rate: float, J: int, Q: int, T: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, BlockTransform]:
    bt = _block_transform(J, Q, T)
    meta = bt.module.meta(sample_rate=sample_rate)
    first = np.flatnonzero(np.asarray(meta["order"]) == 1)
    freqs = np.asarray(meta["xi_hz"])[first, 0]
    order = np.argsort(freqs)                     # rows low to high frequency
    mag = np.empty((len(first), bt.frames(n)), np.float32)
    src = source if _is_path(source) else np.ascontiguousarray(source, dtype=np.float32)
    with torch.no_grad():
        for b in bt.blocks(src):
            out = b.output
            out = out.reshape(-1, out.shape[-2], out.shape[-1])[0]       # (C, frames)
            mag[:, b.frames] = out[first].numpy()
    times = bt.frame_samples(n) / sample_rate
    return mag[order], freqs[order], times, bt


# --------------------------------------------------------------------------------------------
# The overview
# --------------------------------------------------------------------------------------------

class _OverviewCache:
    """A small LRU of overviews (each is under ~1 MB at the default settings)."""

    def __init__(self, maxsize: int = 8):
        self.maxsize = maxsize
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.maxsize:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def __len__(self) -> int:
        return len(self._d)


#: Overviews by source identity and settings, shared by the sessions of the process.
OVERVIEW_CACHE = _OverviewCache()


def compute_overview(source, sample_rate: float | None = None, *,
                     columns: int = DEFAULT_COLUMNS, Q: int = DEFAULT_Q, T: int | None = None,
                     fmin: float = DEFAULT_FMIN, method: str = "bands",
                     name: str | None = None, cache: bool = True, stop=None) -> Overview:
    """The `Overview` of a recording: a path (WAV, FLAC, OGG: anything soundfile reads) or
    an array ``(N,)`` with its ``sample_rate`` (Hz).

    ``columns`` (envelope and scalogram columns), ``Q``, ``T``, ``fmin`` and ``method``
    (``"bands"`` or ``"scattering"``, see the module docstring): see `overview_settings`.
    Memory: bounded by one block, whatever the length (the module docstring states the
    bound). Cached by the source's identity and the settings (``cache``).

    >>> ov = compute_overview("night.flac")                          # doctest: +SKIP
    >>> ov.env_min.shape, ov.scal_mag.shape                          # doctest: +SKIP
    ((2048,), (36, 1758))
    """
    info = recording_info(source, sample_rate)
    if name is not None:
        info = RecordingInfo(name, info.n_samples, info.sample_rate, info.channels, info.format)
    st = overview_settings(info.n_samples, info.sample_rate, columns, Q, T, fmin, method)
    key = (_source_identity(source, info), tuple(sorted(st.items())))
    if cache:
        hit = OVERVIEW_CACHE.get(key)
        if hit is not None:
            return hit if name is None or hit.info.name == name else _renamed(hit, info)
    t0 = time.perf_counter()
    n, sr = info.n_samples, info.sample_rate
    spc = max(1, -(-n // st["columns"]))
    starts = None
    if st["method"] == "bands":
        bands = BandAccumulator(n, spc, st["frame"], st["J"], st["Q"], sr)
        lo, hi = _envelope(source, n, spc, bands, stop)
        mag, freqs = bands.result(), bands.freqs
        starts = np.arange(len(lo)) * spc / sr
        times = np.minimum(starts + spc / 2 / sr, n / sr)
        settings = dict(st)
    else:
        lo, hi = _envelope(source, n, spc, stop=stop)
        mag, freqs, times, bt = _scalogram(source, n, sr, st["J"], st["Q"], st["T"])
        settings = dict(st, block=bt.block, overlap=bt.overlap, stride=bt.stride)
        starts = np.arange(len(lo)) * spc / sr
    ov = Overview(info, spc, lo, hi, starts, mag, freqs, times, settings,
                  time.perf_counter() - t0)
    if cache:
        OVERVIEW_CACHE.put(key, ov)
    return ov


def _renamed(ov: Overview, info: RecordingInfo) -> Overview:
    return Overview(info, ov.samples_per_column, ov.env_min, ov.env_max, ov.env_times,
                    ov.scal_mag, ov.scal_freqs, ov.scal_times, ov.settings, ov.seconds)
