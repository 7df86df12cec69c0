"""The compute pipeline: signal -> engine transforms -> `Transforms` (plain numpy results).

`compute_transforms` runs (or fetches from `TRANSFORM_CACHE`) every transform a setting
needs: the scalogram and the scattering of `engine.Scattering1D`, its filter bank, and the JTFS
of `engine.jtfs.TimeFrequencyScattering` turned into a `JTFSResult` by `adapt_jtfs` (the only
code that knows the engine's JTFS output layout). The engine modules are cached per setting.

This module imports no view (no Panel, Bokeh or HoloViews): the CLI, the demos and a worker
compute with it alone.

>>> tr = compute_transforms(np.ones(4096, "float32"), 8000, J=6, Q1=8, Q2=1, T=0, J_fr=3,
...                         Q_fr=1, F=0, design="kymatio", with_jtfs=False)
>>> tr.scalogram.mag.shape[0] == len(tr.scalogram.freqs)
True
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import time
from functools import lru_cache

import numpy as np
import torch

from engine import Scattering1D
from engine.jtfs import TimeFrequencyScattering
from scatviz.analysis import (
    SPIN_DN_KEY,
    SPIN_UP_KEY,
    assemble_scalogram,
    frequential_responses,
    order_energies,
)
from scatviz.cache import LRUCache
from scatviz.results import FilterBankArrays, JTFSResult, Scalogram, Scattering, Transforms
from scatviz.signals_io import signal_digest

__all__ = ["compute_transforms", "compute_scalogram", "adapt_jtfs", "default_design",
           "merge_jtfs", "TRANSFORM_CACHE", "STAGES"]

#: What `compute_transforms` may compute: everything, the Scattering1D part, the JTFS part.
STAGES = ("all", "base", "jtfs")

#: Results of `compute_transforms`, shared by every session of the process, bounded in bytes
#: (a long signal's results are hundreds of MB): 512 MiB here; a server's worker processes
#: resize theirs to their share of the server's budget (`scatviz.server.workers`).
TRANSFORM_CACHE = LRUCache(max_bytes=512 << 20)
_COMPUTE_LOCK = threading.Lock()


def default_design(transform: str) -> str:
    """The filter bank design a transform uses when none is given: its ``filterbank=``
    default, read from the engine's signature. ``transform``: "scattering" (`Scattering1D`)
    or "jtfs" (`TimeFrequencyScattering`).

    >>> default_design("scattering") in __import__("engine").available_designs()
    True
    """
    classes = {"scattering": Scattering1D, "jtfs": TimeFrequencyScattering}
    if transform not in classes:
        raise ValueError(f"transform must be one of {', '.join(classes)}; got {transform!r}.")
    return inspect.signature(classes[transform]).parameters["filterbank"].default


def _to_numpy(v):
    if torch.is_tensor(v):
        return v.detach().cpu().numpy()
    if isinstance(v, dict):
        return {k: _to_numpy(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_to_numpy(w) for w in v)
    return v


# --------------------------------------------------------------------------------------------
# Scattering1D: scalogram, scattering, filter bank
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _s1d_module(N: int, J: int, Q: tuple[int, int], T, max_order: int, out_type: str,
                design: str) -> Scattering1D:
    return Scattering1D(J, N, Q=Q, T=T, max_order=max_order, out_type=out_type,
                        filterbank=design)


def _scalogram(coefs: list, meta: dict, sr: float, N: int) -> Scalogram:
    return assemble_scalogram(_to_numpy(list(coefs)), meta, sr, N)


def _scattering(Sx: torch.Tensor, S: Scattering1D, meta: dict, sr: float) -> Scattering:
    Sx = _to_numpy(Sx)
    order = np.asarray(meta["order"])
    stride = 2 ** S.log2_stride
    L = Sx.shape[-1]
    times = np.arange(L) * stride / sr
    return Scattering(Sx.astype(np.float32), order, times, np.asarray(meta["xi_hz"]),
                      order_energies(Sx, order, stride), int(S.T), int(stride))


def _unaveraged_scalogram(x: torch.Tensor, meta: dict, sr: float, N: int, J: int,
                          Q: tuple[int, int], design: str) -> Scalogram:
    S1 = _s1d_module(N, J, Q, 0, 1, "list", design)
    return _scalogram([o["coef"] for o in S1(x) if o["order"] == 1], meta, sr, N)


def _scalogram_and_scattering(x: torch.Tensor, sr: float, J: int, Q: tuple[int, int], T,
                              design: str, N: int
                              ) -> tuple[Scalogram, Scattering, Scattering1D, dict]:
    """The scalogram (``|x * psi1|``, unaveraged) and the scattering (orders 0-2, low-pass of
    support ``T``), with the seconds each took.

    Both from one pass of the order-2 module (`Scattering1D.forward_with_u1`) when its
    first-order moduli are at each wavelet's own stride, i.e. the unaveraged module's numbers
    (the default ``T = 2**J``): that saves a second module's fold plans and first-order
    filtering. With a ``T`` shorter than the largest wavelets, the scalogram comes from the
    unaveraged module, so that it does not change with ``T``."""
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
        scal = _unaveraged_scalogram(x, meta, sr, N, J, Q, design)
    return scal, scat, S, {"scattering": t1 - t0, "scalogram": time.perf_counter() - t1}


def compute_scalogram(x: np.ndarray, sample_rate: float, J: int, Q, design: str | None = None
                      ) -> Scalogram:
    """The dashboard's scalogram of ``x`` ``(N,)``: ``|x * psi1|`` of the unaveraged
    ``Scattering1D(J, N, Q, T=0)``, on the grid of `scatviz.analysis.assemble_scalogram`
    (frequencies in Hz of ``sample_rate``; cycles per sample when it is 1). ``design``: any
    of `engine.available_designs()`, by default Scattering1D's.

    >>> compute_scalogram(np.ones(2048, "float32"), 8000, 5, 4).mag.dtype
    dtype('float32')
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    design = design or default_design("scattering")
    Q = (Q, 1) if isinstance(Q, int) else tuple(int(q) for q in Q)
    N = len(x)
    S1 = _s1d_module(N, int(J), Q, 0, 1, "list", design)
    with torch.no_grad():
        return _unaveraged_scalogram(torch.from_numpy(x), S1.meta(sample_rate=sample_rate),
                                     sample_rate, N, int(J), Q, design)


def _bank_arrays(S: Scattering1D, sr: float) -> FilterBankArrays:
    bank = S.bank
    Np = bank.N
    K = Np // 2 + 1
    freqs = np.arange(K) / Np * sr
    return FilterBankArrays(freqs, np.array([p.xi for p in bank.psi1]) * sr,
                            np.array([p.xi for p in bank.psi2]) * sr, Np, float(sr), bank)


# --------------------------------------------------------------------------------------------
# JTFS
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _jtfs_module(N: int, J: int, J_fr: int, Q: tuple[int, int], T, Q_fr: int, F, design: str
                 ) -> TimeFrequencyScattering:
    return TimeFrequencyScattering(J=J, J_fr=J_fr, Q=Q, shape=N, T=T, Q_fr=Q_fr, F=F,
                                   out_type="pairs", format="time", filterbank=design)


def _squeeze_batch(a: np.ndarray, ndim: int) -> np.ndarray:
    a = np.asarray(a)
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    return a


def adapt_jtfs(tf: TimeFrequencyScattering, out: dict, meta: dict, sample_rate: float, N: int
               ) -> JTFSResult:
    """A `JTFSResult` from ``tf``'s numpy output ``out`` (``out_type="pairs"``,
    ``format="time"``) and ``meta`` (``tf.meta(sample_rate)``): the pairs, the spinned 4-D
    tensors ``(n2, n1_fr, n1_bins, L)``, the time axis (s) and the labels (Hz, cycles per
    octave), all from the engine's meta."""
    pairs = {k: np.asarray(v) for k, v in out.items()}
    # views of the pairs' entries, not copies (float32 already): 2 x 4.7 MiB less at 2**17,
    # and a pickled result sends them once (`JTFSResult.__reduce__`)
    up = _squeeze_batch(pairs[SPIN_UP_KEY], 4).astype(np.float32, copy=False)
    dn = _squeeze_batch(pairs[SPIN_DN_KEY], 4).astype(np.float32, copy=False)
    n2c, nfr, nb, L = up.shape
    stride = float(meta.get("stride", N / L))
    times = np.arange(L) * stride / sample_rate
    sel_up = meta["pair"] == SPIN_UP_KEY
    n2s = meta["n2"][sel_up]
    frs = meta["n1_fr"][sel_up]
    n2_vals = list(dict.fromkeys(n2s.tolist()))[:n2c]
    fr_vals = list(dict.fromkeys(frs.tolist()))[:nfr]
    first = sel_up & (meta["n2"] == n2_vals[0]) & (meta["n1_fr"] == fr_vals[0])
    n1_hz = np.asarray(meta["xi1_hz"][first], float)[:nb]
    if len(n1_hz) != nb:          # a global frequential average has no n1 axis
        n1_hz = np.full(nb, np.nan)
    n2_hz = np.array([meta["xi_hz"][sel_up & (meta["n2"] == v)][0] for v in n2_vals], float)
    fr_oct = [abs(float(meta["xi_fr_octave"][sel_up & (meta["n1_fr"] == v)][0]))
              for v in fr_vals]
    # two decimals always ("0.70", not "0.7"): the labels keep their width from one
    # setting to the next, and the figures that show them keep their layout (see theme)
    labels = [f"{v:.2f} c/oct" for v in fr_oct]
    return JTFSResult(pairs, meta, times, up, dn, n1_hz, n2_hz, labels,
                      frequential_responses(tf))


def _jtfs(x: torch.Tensor, sr: float, J, J_fr, Q, T, Q_fr, F, design, N) -> JTFSResult:
    tf = _jtfs_module(N, J, J_fr, Q, T, Q_fr, F, design)
    out = _to_numpy(tf(x))
    meta = tf.meta(sample_rate=sr)
    return adapt_jtfs(tf, out, meta, sr, N)


# --------------------------------------------------------------------------------------------
# Everything for one setting
# --------------------------------------------------------------------------------------------

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
        Filter bank design (any of `engine.available_designs()`).
    stage : "all", "base" or "jtfs"
        "base" returns at once after the Scattering1D transforms, with ``jtfs_pending=True``
        unless the JTFS of this setting is already cached (the dashboard draws those views
        first, then the JTFS ones). "jtfs" computes the JTFS alone and returns it without
        the Scattering1D part (``scalogram``, ``scattering`` and ``bank`` None: the caller
        holds them from its "base" result, `merge_jtfs`): a served change's second job,
        a third of the bytes of a whole result back through its worker's pipe.

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

    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}.")
    if stage == "jtfs" and not with_jtfs:
        raise ValueError("stage='jtfs' needs with_jtfs=True (there is no JTFS to compute).")
    key_base = ("base", digest, int(J), Q, T_arg, design)
    base = (None, None, None, {}) if stage == "jtfs" else TRANSFORM_CACHE.get(key_base)
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


def merge_jtfs(base: Transforms, part: Transforms) -> Transforms:
    """``base`` (a "base" result, JTFS pending) completed with the JTFS of ``part`` (a
    "jtfs" or "all" result of the same setting): the Scattering1D arrays are ``base``'s
    own objects, so the views that show them see no change.

    >>> merge_jtfs(base, part).jtfs is part.jtfs                      # doctest: +SKIP
    True
    """
    if base.key != part.key:
        raise ValueError("merge_jtfs: the two results are of different settings "
                         f"({base.key!r} and {part.key!r}).")
    return dataclasses.replace(base, jtfs=part.jtfs, jtfs_error=part.jtfs_error,
                               jtfs_pending=False, seconds=base.seconds + part.seconds,
                               timings={**base.timings, **part.timings})
