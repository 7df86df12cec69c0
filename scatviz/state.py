"""Session state of the views and the cached transforms they share.

One `ScatState` (a ``param.Parameterized``) owns everything a dashboard session can change:
the signal and its sample rate, the scattering parameters (J, Q1, Q2, T), the JTFS parameters
(J_fr, Q_fr, F), the filter bank design, the dB range and the time cursors. Views depend on it
and never compute a transform themselves: they read ``state.result``, a `Transforms` computed
once per distinct setting by `compute_transforms` and cached (keyed by the signal's hash and
the parameters) in a process-wide LRU, so that every view and every session with the same
setting share one computation.

Two ways to drive it:

* synchronous (notebooks, tests): with ``auto=True`` (the default) a change of any parameter
  recomputes ``result`` at once;
* asynchronous (the dashboard): ``auto=False``, and the app calls ``await state.refresh_async()``
  which computes in a worker thread, so that the server keeps answering while it computes.

Errors of the engine (an invalid J for the signal length, ...) never raise out of a refresh:
they land in ``state.error`` (the engine's message) and ``result`` keeps its last valid value.

>>> st = ScatState.from_signal(np.random.randn(4096).astype("float32"), 8000, J=6, Q1=8)
>>> st.result.scalogram.mag.shape[0] == len(st.result.scalogram.freqs)
True
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np
import param
import torch

from engine import Scattering1D, available_designs
from scatviz.signals_io import LoadedSignal, signal_digest

__all__ = ["ScatState", "Transforms", "Scalogram", "Scattering", "JTFSResult", "compute_transforms",
           "jtfs_available", "JTFS_UNAVAILABLE", "TRANSFORM_CACHE", "PRESETS"]

#: Shown by every JTFS view while `engine.jtfs` is missing.
JTFS_UNAVAILABLE = ("JTFS engine not available: engine/jtfs.py (TimeFrequencyScattering) is not "
                    "installed in this checkout yet. The Scattering1D views work without it.")

#: Widest scalogram image sent to the browser (columns); longer signals are pooled.
MAX_COLUMNS = 1024

#: The dashboard publishes the Scattering1D views before the JTFS ones when the last JTFS of
#: the session took longer than this (seconds); otherwise one message per change.
PROGRESSIVE_ABOVE = 0.3

#: ``busy`` turns on only when a change's transforms take longer than this (seconds): a
#: setting from the cache publishes at once, with no badge switched on and off (two more
#: messages and page layouts per change). The last publication switches it off in its own
#: message. Under ~0.2 s a user sees the views change without a sign that work is under way
#: (what response-time guidelines say: an indicator for a wait that is noticed, not for
#: every one), and a badge shown for 0.1 s before the views change is a flash; turning it
#: on costs the server ~6 ms and the browser ~15 ms (a commit of the whole page's layers)
#: in the middle of the transform, on the same two cores.
BUSY_AFTER = 0.2

#: Teaching presets: name -> parameter values.
PRESETS: dict[str, dict[str, Any]] = {
    "Default": dict(J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1),
    "Speech (fine frequency)": dict(J=7, Q1=12, Q2=1, T=0, J_fr=4, Q_fr=1, F=1),
    "Transients (Q=1, small J)": dict(J=4, Q1=2, Q2=1, T=0, J_fr=1, Q_fr=1, F=1),
    "Chirps & spin (JTFS)": dict(J=6, Q1=16, Q2=1, T=0, J_fr=4, Q_fr=2, F=1),
    "Long averaging": dict(J=9, Q1=8, Q2=2, T=0, J_fr=4, Q_fr=1, F=1),
}


def jtfs_available() -> bool:
    """Whether `engine.jtfs.TimeFrequencyScattering` can be imported."""
    try:
        from engine.jtfs import TimeFrequencyScattering  # noqa: F401
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Results (plain numpy, float32, in Hz and seconds)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Scalogram:
    """``|x * psi1|`` on a common time grid.

    mag ``(n1, M)`` float32 (rows in the engine's order: highest frequency first), freqs
    ``(n1,)`` Hz (the engine's ``xi_hz``), bandwidths ``(n1,)`` Hz, times ``(M,)`` s (start of
    each column), hop (samples per column), duration (s).
    """

    mag: np.ndarray
    freqs: np.ndarray
    bandwidths: np.ndarray
    times: np.ndarray
    hop: int
    duration: float


@dataclass(frozen=True, eq=False)
class Scattering:
    """Averaged scattering (orders 0-2): coefs ``(C, L)``, order ``(C,)``, times ``(L,)`` s,
    ``xi_hz`` ``(C, 2)`` and the per-order energies (sum of squares times the hop)."""

    coefs: np.ndarray
    order: np.ndarray
    times: np.ndarray
    xi_hz: np.ndarray
    energy_per_order: dict[int, float]
    T: int
    stride: int


@dataclass(frozen=True, eq=False)
class FilterBankArrays:
    """The engine's filter bank on its padded grid: freqs ``(K,)`` Hz (non-negative half);
    xi1/xi2 in Hz; ``full`` the engine's ``as_arrays()`` (full grid, for the time-domain and
    Littlewood-Paley views) and ``phi`` ``(K,)``, ``psi1`` ``(n1, K)``, ``psi2`` ``(n2, K)``
    the non-negative half, all built on demand from the engine's (cached) `FilterBank`, so
    that cached results do not hold copies of large banks."""

    freqs: np.ndarray
    xi1_hz: np.ndarray
    xi2_hz: np.ndarray
    N_padded: int
    sample_rate: float
    bank: Any = field(repr=False)

    @property
    def full(self) -> dict:
        return self.bank.as_arrays()

    def half(self) -> dict:
        """``{"phi": (K,), "psi1": (n1, K), "psi2": (n2, K)}`` on ``freqs``."""
        K = len(self.freqs)
        return {k: (v[..., :K]) for k, v in self.full.items()}

    @property
    def psi1(self) -> np.ndarray:
        return self.half()["psi1"]

    @property
    def psi2(self) -> np.ndarray:
        return self.half()["psi2"]

    @property
    def phi(self) -> np.ndarray:
        return self.half()["phi"]


@dataclass(frozen=True, eq=False)
class JTFSResult:
    """JTFS of the signal: ``pairs`` (name -> numpy array, batch dropped), ``meta`` (the
    engine's), ``times`` ``(L,)`` s of the spinned pairs, ``n1_hz`` ``(n1,)`` and the spinned
    4-D tensors ``up``/``dn`` ``(n2, n1_fr, n1, L)``, ``n2_hz`` and ``n1_fr`` labels, and the
    frequential filters (``fr_filters``: dict or None)."""

    pairs: dict
    meta: Any
    times: np.ndarray
    up: np.ndarray
    dn: np.ndarray
    n1_hz: np.ndarray
    n2_hz: np.ndarray
    n1_fr_labels: list
    fr_filters: dict | None


@dataclass(frozen=True, eq=False)
class Transforms:
    """Everything the views show for one setting; ``jtfs`` is None with ``jtfs_error`` set when
    JTFS is unavailable or failed."""

    key: tuple
    x: np.ndarray
    sample_rate: float
    name: str
    scalogram: Scalogram
    scattering: Scattering
    bank: FilterBankArrays
    jtfs: JTFSResult | None
    jtfs_error: str | None
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    jtfs_pending: bool = False


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------

class _LRU:
    """A small thread-safe LRU of computed results, shared by every session of a process."""

    def __init__(self, maxsize: int = 24):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


TRANSFORM_CACHE = _LRU(maxsize=16)
_COMPUTE_LOCK = threading.Lock()


def _pool_rows(coefs: list[np.ndarray], strides: list[int], N: int, hop: int) -> np.ndarray:
    """Bring rows at resolutions ``N / stride`` onto one grid of ``ceil(N / hop)`` columns:
    mean-pool rows finer than the grid, repeat rows coarser (display resampling only)."""
    M = -(-N // hop)
    out = np.zeros((len(coefs), M), dtype=np.float32)
    for i, (c, s) in enumerate(zip(coefs, strides)):
        c = np.asarray(c, dtype=np.float32)
        if s < hop:
            f = hop // s
            pad = (-len(c)) % f
            if pad:
                c = np.concatenate([c, np.repeat(c[-1:], pad)])
            c = c.reshape(-1, f).mean(axis=1)
        elif s > hop:
            c = np.repeat(c, s // hop)
        n = min(M, len(c))
        out[i, :n] = c[:n]
        if n < M:
            out[i, n:] = c[-1] if len(c) else 0
    return out


@lru_cache(maxsize=16)
def _s1d_module(N: int, J: int, Q: tuple[int, int], T, max_order: int, out_type: str,
                design: str) -> Scattering1D:
    return Scattering1D(J, N, Q=Q, T=T, max_order=max_order, out_type=out_type,
                        filterbank=design)


def _scalogram(coefs: list, meta: dict, sr: float, N: int) -> Scalogram:
    """The scalogram from the first-order moduli ``coefs`` (one per first-order wavelet, each
    subsampled by a power of two), pooled onto one grid of at most ``MAX_COLUMNS`` columns;
    frequencies from a module's ``meta(sample_rate=sr)``."""
    coefs = _to_numpy(list(coefs))
    strides = [max(1, N // max(len(c), 1)) for c in coefs]
    # strides are powers of two by construction (2**j1); round for safety
    strides = [2 ** int(round(math.log2(s))) for s in strides]
    hop = 1
    while -(-N // hop) > MAX_COLUMNS:
        hop *= 2
    mag = _pool_rows(coefs, strides, N, hop)
    sel = meta["order"] == 1
    freqs = np.asarray(meta["xi_hz"][sel, 0], dtype=np.float64)
    bw = np.asarray(meta["bandwidth_hz"][sel, 0], dtype=np.float64)
    times = (np.arange(mag.shape[1]) * hop / sr).astype(np.float64)
    return Scalogram(mag, freqs, bw, times, hop, N / sr)


def _scattering(Sx: torch.Tensor, S: Scattering1D, meta: dict, sr: float) -> Scattering:
    Sx = _to_numpy(Sx)
    order = np.asarray(meta["order"])
    stride = 2 ** S.log2_stride
    L = Sx.shape[-1]
    times = np.arange(L) * stride / sr
    energy = {int(o): float((Sx[order == o] ** 2).sum() * stride) for o in np.unique(order)}
    return Scattering(Sx.astype(np.float32), order, times, np.asarray(meta["xi_hz"]), energy,
                      int(S.T), int(stride))


def _scalogram_and_scattering(x: torch.Tensor, sr: float, J: int, Q: tuple[int, int], T,
                              design: str, N: int
                              ) -> tuple[Scalogram, Scattering, Scattering1D, dict]:
    """The scalogram (``|x * psi1|``, unaveraged) and the scattering (orders 0-2, low-pass of
    support ``T``), with the seconds each took.

    Both from one pass of the order-2 module (`Scattering1D.forward_with_u1`) when its
    first-order moduli are at each wavelet's own stride, i.e. the unaveraged module's numbers
    (the default ``T = 2**J``): that saves a second module's fold plans and first-order
    filtering (~13 ms of ~100 per new setting at N=8192). With a ``T`` shorter than the
    largest wavelets, the scalogram comes from the unaveraged module, so that it does not
    change with ``T``."""
    t0 = time.perf_counter()
    S = _s1d_module(N, J, Q, T, 2, "array", design)
    meta = S.meta(sample_rate=sr)
    if S.u1_log2_strides == [p.j for p in S.bank.psi1]:
        Sx, u1 = S.forward_with_u1(x)
        scat = _scattering(Sx, S, meta, sr)
        t1 = time.perf_counter()
        scal = _scalogram(u1, meta, sr, N)
    else:
        scat = _scattering(S(x), S, meta, sr)
        t1 = time.perf_counter()
        S1 = _s1d_module(N, J, Q, 0, 1, "list", design)
        scal = _scalogram([o["coef"] for o in S1(x) if o["order"] == 1], meta, sr, N)
    return scal, scat, S, {"scattering": t1 - t0, "scalogram": time.perf_counter() - t1}


def _bank_arrays(S: Scattering1D, sr: float) -> FilterBankArrays:
    bank = S.bank
    Np = bank.N
    K = Np // 2 + 1
    freqs = np.arange(K) / Np * sr
    return FilterBankArrays(freqs, np.array([p.xi for p in bank.psi1]) * sr,
                            np.array([p.xi for p in bank.psi2]) * sr, Np, float(sr), bank)


def _to_numpy(v):
    if torch.is_tensor(v):
        return v.detach().cpu().numpy()
    if isinstance(v, dict):
        return {k: _to_numpy(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_to_numpy(w) for w in v)
    return v


@lru_cache(maxsize=16)
def _jtfs_module(N: int, J: int, J_fr: int, Q: tuple[int, int], T, Q_fr: int, F, design: str):
    from engine.jtfs import TimeFrequencyScattering

    kw = dict(J=J, J_fr=J_fr, Q=Q, shape=N, T=T, Q_fr=Q_fr, F=F, out_type="pairs",
              format="time")
    if design in ("tight", "kymatio"):
        kw["filterbank"] = design
    return TimeFrequencyScattering(**kw)


def _jtfs(x: torch.Tensor, sr: float, J, J_fr, Q, T, Q_fr, F, design, N) -> JTFSResult:
    from scatviz.views._jtfs_adapter import adapt_jtfs

    tf = _jtfs_module(N, J, J_fr, Q, T, Q_fr, F, design)
    out = _to_numpy(tf(x))
    meta = tf.meta(sample_rate=sr)
    return adapt_jtfs(tf, out, meta, sr, N)


def _jtfs_designs() -> tuple[str, ...]:
    return tuple(available_designs())


def _accepts_sample_rate(fn) -> bool:
    import inspect

    try:
        return "sample_rate" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def compute_transforms(x: np.ndarray, sample_rate: float, *, J: int, Q1: int, Q2: int, T: int,
                       J_fr: int, Q_fr: int, F: int, design: str, name: str = "signal",
                       with_jtfs: bool = True, digest: str | None = None,
                       stage: str = "all") -> Transforms:
    """Compute (or fetch from the cache) every transform the views show.

    Parameters
    ----------
    x : np.ndarray
        ``(N,)`` float32 signal.
    sample_rate : float
        Hz.
    J, Q1, Q2 : int
        Scattering1D's octaves and wavelets per octave (orders 1 and 2).
    T : int
        Low-pass support in samples; 0 means the default ``2**J``.
    J_fr, Q_fr, F : int
        JTFS frequential octaves, wavelets per octave and averaging (0 = the engine default).
    design : str
        Filter bank design (`engine.available_designs()`).
    stage : "all" or "base"
        "base" returns at once after the Scattering1D transforms, with ``jtfs_pending=True``
        unless the JTFS of this setting is already cached (the dashboard draws those views
        first, then the JTFS ones).

    The Scattering1D part and the JTFS part are cached separately (keys: signal hash and
    the parameters each depends on), so that changing a JTFS parameter reuses the scalogram.

    Raises
    ------
    ValueError, TypeError
        The engine's message for an invalid combination (e.g. ``2**J > N``).

    >>> tr = compute_transforms(np.zeros(4096, "float32") + 1e-3, 8000, J=6, Q1=8, Q2=1, T=0,
    ...                         J_fr=3, Q_fr=1, F=0, design="kymatio", with_jtfs=False)
    >>> tr.scalogram.mag.dtype
    dtype('float32')
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    N = len(x)
    digest = digest or signal_digest(x, sample_rate)
    Q = (int(Q1), int(Q2))
    T_arg = None if not T else int(T)
    F_arg = None if not F else int(F)
    key = (digest, int(J), Q, T_arg, int(J_fr), int(Q_fr), F_arg, design, bool(with_jtfs))
    t0 = time.perf_counter()
    xt = torch.from_numpy(x)

    key_base = ("base", digest, int(J), Q, T_arg, design)
    base = TRANSFORM_CACHE.get(key_base)
    if base is None:
        with _COMPUTE_LOCK, torch.no_grad():   # one transform at a time: no oversubscription
            base = TRANSFORM_CACHE.get(key_base)
            if base is None:
                scal, scat, S, t_parts = _scalogram_and_scattering(
                    xt, sample_rate, int(J), Q, T_arg, design, N)
                base = (scal, scat, _bank_arrays(S, sample_rate), t_parts)
                TRANSFORM_CACHE.put(key_base, base)
    scal, scat, bank, timings = base
    timings = dict(timings)

    jt, jerr, pending = None, None, False
    if with_jtfs:
        key_j = ("jtfs", digest, int(J), Q, T_arg, int(J_fr), int(Q_fr), F_arg, design)
        hit = TRANSFORM_CACHE.get(key_j)
        if hit is None and not jtfs_available():
            hit = (None, JTFS_UNAVAILABLE, 0.0)
        if hit is None and stage == "base":
            pending = True
        elif hit is None:
            with _COMPUTE_LOCK, torch.no_grad():
                hit = TRANSFORM_CACHE.get(key_j)
                if hit is None:
                    tj = time.perf_counter()
                    try:
                        j_res, j_err = _jtfs(xt, sample_rate, int(J), int(J_fr), Q, T_arg,
                                             int(Q_fr), F_arg, design, N), None
                    except (ValueError, TypeError) as exc:
                        j_res, j_err = None, f"JTFS: {exc}"
                    hit = (j_res, j_err, time.perf_counter() - tj)
                    TRANSFORM_CACHE.put(key_j, hit)
        if hit is not None:
            jt, jerr, timings["jtfs"] = hit
    return Transforms(key, x, float(sample_rate), name, scal, scat, bank, jt, jerr,
                      time.perf_counter() - t0, timings, pending)


# --------------------------------------------------------------------------------------------
# The session state
# --------------------------------------------------------------------------------------------

class ScatState(param.Parameterized):
    """One session's signal, parameters and shared transforms.

    Views take a `ScatState` and watch ``result`` (recomputed transforms), ``db_range``,
    ``playhead`` and ``jtfs_frame``. Use `ScatState.from_signal` in a notebook.
    """

    signal = param.Array(default=None, doc="The signal, (N,) float32.", precedence=-1)
    sample_rate = param.Number(default=8000.0, bounds=(1, None), doc="Hz")
    signal_name = param.String(default="signal", doc="Shown in the views.")
    info = param.Dict(default={}, precedence=-1)

    J = param.Integer(default=6, bounds=(1, 16), doc="Octaves of the first-order wavelets.")
    Q1 = param.Integer(default=8, bounds=(1, 32), doc="Wavelets per octave, order 1.")
    Q2 = param.Integer(default=1, bounds=(1, 8), doc="Wavelets per octave, order 2.")
    T = param.Integer(default=0, bounds=(0, None),
                      doc="Low-pass support in samples; 0 = 2**J (the default).")
    J_fr = param.Integer(default=3, bounds=(1, 8), doc="JTFS frequential octaves.")
    Q_fr = param.Integer(default=1, bounds=(1, 4), doc="JTFS frequential wavelets per octave.")
    F = param.Integer(default=1, bounds=(0, None),
                      doc="JTFS frequential averaging (in n1 bins); 1 = none (full n1 "
                          "resolution, what the JTFS views need); 0 = the engine default "
                          "2**J_fr.")
    design = param.Selector(default="kymatio", objects=["kymatio"], doc="Filter bank design.")
    db_range = param.Number(default=60.0, bounds=(10.0, 140.0), doc="Colour range in dB.")
    playhead = param.Number(default=0.0, bounds=(0, None), doc="Audio playhead, seconds.")
    jtfs_frame = param.Integer(default=0, bounds=(0, None), doc="JTFS time frame index.")
    with_jtfs = param.Boolean(default=True, doc="Compute JTFS (when the engine has it).")

    result = param.Parameter(default=None, precedence=-1, doc="Transforms of the last setting.")
    error = param.String(default="", doc="Last engine error, shown beside the controls.")
    busy = param.Boolean(default=False, doc="True while a transform computes.")
    auto = param.Boolean(default=True, precedence=-1,
                         doc="Recompute synchronously on every change (False: the app drives).")

    _inputs = ("signal", "sample_rate", "J", "Q1", "Q2", "T", "J_fr", "Q_fr", "F", "design",
               "with_jtfs")

    def __init__(self, **params):
        self._jtfs_seconds = 0.0
        designs = list(available_designs())
        super().__init__(**params)
        self.param.design.objects = designs
        if self.design not in designs:
            self.design = designs[0]
        self.param.watch(self._on_input, list(self._inputs))
        if self.auto and self.signal is not None:
            self.refresh()

    @classmethod
    def from_signal(cls, x, sample_rate: float, name: str = "signal", **params) -> ScatState:
        """A state around a numpy signal ``(N,)`` (Hz), computed at once.

        >>> st = ScatState.from_signal(np.ones(2048, "float32"), 8000, J=5)
        """
        return cls(signal=np.ascontiguousarray(x, dtype=np.float32),
                   sample_rate=float(sample_rate), signal_name=name, **params)

    @classmethod
    def from_loaded(cls, sig: LoadedSignal, **params) -> ScatState:
        return cls(signal=sig.x, sample_rate=sig.sample_rate, signal_name=sig.name, info=sig.info,
                   **params)

    # ---- signal ----------------------------------------------------------------------------

    def set_signal(self, sig: LoadedSignal) -> None:
        """Replace the signal (and rate, name) in one batched change."""
        self.param.update(signal=sig.x, sample_rate=sig.sample_rate, signal_name=sig.name,
                          info=sig.info, playhead=0.0, jtfs_frame=0)

    @property
    def digest(self) -> str:
        return signal_digest(self.signal, self.sample_rate)

    @property
    def duration(self) -> float:
        return 0.0 if self.signal is None else len(self.signal) / self.sample_rate

    # ---- compute ---------------------------------------------------------------------------

    def settings(self) -> dict:
        """The parameters of `compute_transforms`, from the current values."""
        return dict(J=self.J, Q1=self.Q1, Q2=self.Q2, T=self.T, J_fr=self.J_fr, Q_fr=self.Q_fr,
                    F=self.F, design=self.design, with_jtfs=self.with_jtfs)

    def key(self) -> tuple:
        return (id(self.signal), self.sample_rate, tuple(sorted(self.settings().items())))

    def compute(self, stage: str = "all") -> Transforms:
        """Compute the transforms of the current setting (raises the engine's errors)."""
        if self.signal is None:
            raise ValueError("No signal loaded: choose a bundled signal, the generator or "
                             "upload a file.")
        return compute_transforms(self.signal, self.sample_rate, name=self.signal_name,
                                  stage=stage, **self.settings())

    def apply(self, res: Transforms | None, error: str = "") -> None:
        """Publish a result (views update in their watchers) or an error message."""
        if res is None:
            self.error = error
            return
        if "jtfs" in res.timings:
            self._jtfs_seconds = res.timings["jtfs"]
        frame = self.jtfs_frame               # kept while JTFS is pending or missing
        if res.jtfs is not None:
            frame = min(frame, max(len(res.jtfs.times) - 1, 0))
        if not error and res.jtfs_error and res.jtfs_error.startswith("JTFS:"):
            error = res.jtfs_error           # an invalid JTFS combination: say so by the controls
        self.param.update(result=res, error=error, jtfs_frame=frame)

    def refresh(self) -> Transforms | None:
        """Recompute now (synchronously); engine errors go to ``error``."""
        try:
            res = self.compute()
        except (ValueError, TypeError) as exc:
            self.apply(None, str(exc))
            return None
        self.apply(res)
        return res

    async def refresh_async(self, hold=None) -> Transforms | None:
        """Recompute in a worker thread until the parameters stop changing, then publish.

        ``hold`` is a context manager factory (e.g. ``panel.io.hold``) that batches every view
        update into one message.
        """
        loop = asyncio.get_running_loop()

        def publish(res, err, busy=False):
            with hold() if hold is not None else contextlib.nullcontext():
                self.apply(res, err)
                self.busy = busy

        async def computed(stage):
            job = loop.run_in_executor(None, partial(self.compute, stage))
            done, _ = await asyncio.wait({job}, timeout=BUSY_AFTER)
            if not done:
                self.busy = True
            return await job

        try:
            while True:
                key = self.key()
                # Publish the Scattering1D views first only when JTFS is slow for this signal
                # (one message per change otherwise).
                stage = "base" if self._jtfs_seconds > PROGRESSIVE_ABOVE else "all"
                try:
                    res = await computed(stage)
                    err = ""
                except (ValueError, TypeError) as exc:
                    res, err = None, str(exc)
                except Exception as exc:   # never let a failure take the session down
                    res, err = None, f"Internal error ({type(exc).__name__}): {exc}"
                if key != self.key():      # changed while computing: compute the latest
                    continue
                if res is None or not res.jtfs_pending:
                    publish(res, err)
                    return res
                # JTFS starts before the Scattering1D views are published, so that it
                # computes while this thread builds their update and the browser draws it
                pending = loop.run_in_executor(None, partial(self.compute, "all"))
                publish(res, err, busy=True)
                try:
                    res = await pending
                except Exception as exc:
                    publish(None, f"Internal error ({type(exc).__name__}): {exc}")
                    return None
                if key != self.key():
                    continue
                publish(res, "")
                return res
        finally:
            self.busy = False

    def _on_input(self, *events) -> None:
        if self.auto and self.signal is not None:
            self.refresh()
