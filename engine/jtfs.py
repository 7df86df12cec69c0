"""`TimeFrequencyScattering`: Joint Time-Frequency Scattering (JTFS), batched and fast.

JTFS (Andén, Lostanlen and Mallat 2019; Muradeli et al. 2022) scatters the first-order
scalogram ``U1(n1, t) = |x * psi1_n1|(t)`` jointly along time and along log-frequency ``n1``:

* ``S0 = x * phi_t``; ``S1 = U1 * phi_t`` (time scattering's first order);
* time wavelets: ``Y2[n2] = U1 * psi2_n2`` (complex, for the ``n1`` with ``j1 < j2``);
* frequential wavelets along ``n1``: ``psi_f`` with both *spins* (``psi_f_up`` is analytic
  along ``n1``, ``psi_f_dn`` its mirror) and a frequential low-pass ``phi_f`` of width
  ``2**J_fr``; then the modulus, then averaging by ``phi_t`` (time, support ``T``) and by
  ``phi_F`` (frequency, width ``F``).

This gives the seven named pairs of the literature:

============================  ===================================================  ======
pair                          coefficient                                          spin
============================  ===================================================  ======
``S0``                        ``x * phi_t``                                        0
``S1``                        ``U1 * phi_t``                                       0
``phi_t * phi_f``             ``|S1 *_fr phi_f| *_fr phi_F``                       0
``phi_t * psi_f``             ``sqrt(2) |S1 *_fr psi_f_up| *_fr phi_F``            0
``psi_t * phi_f``             ``|Y2 *_fr phi_f| * phi_t *_fr phi_F``               0
``psi_t * psi_f_up``          ``|Y2 *_fr psi_f_up| * phi_t *_fr phi_F``            +1
``psi_t * psi_f_dn``          ``|Y2 *_fr psi_f_dn| * phi_t *_fr phi_F``            -1
============================  ===================================================  ======

**Orientation and spin.** ``n1`` is ordered as Kymatio's: ``n1 = 0`` is the *highest*
frequency. ``psi_f_up`` (spin +1) has a positive centre frequency along increasing ``n1``. A
**rising** chirp draws a ridge whose ``n1`` *decreases* with time; against the analytic time
wavelet ``psi_t`` its phase advances along ``n1``, so it lights up ``psi_t * psi_f_up``; a
**falling** chirp lights up ``psi_t * psi_f_dn`` (checked by ``tests/engine/test_jtfs.py``).
Plain words for displays are in `SPIN_DIRECTION` and in ``meta()["direction"]``.

``phi_t * psi_f`` sees a real input (``S1``), for which both spins have the same modulus: it is
computed with spin up only and scaled by ``sqrt 2`` so that it carries both spins' energy.

**Energy.** With ``filterbank="tight"`` (the default, see `engine.tight`) every filtering
stage is a tight frame, and the modulus preserves energy, so with ``average=False,
average_fr=False`` (no averaging after the last modulus; ``stride=1``) the pairs other than
``S1`` (which they decompose) hold the input's energy up to boundary and Nyquist-taper losses:
``||S0||^2 + ||phi_t*phi_f||^2 + ||phi_t*psi_f||^2 + ||psi_t*phi_f||^2 + ||up||^2 +
||dn||^2 ~= ||x||^2`` (`energy_ratio`).

**Schedule.** The time part follows Scattering1D (one batched fold per resolution). The
frequential part works at the time resolution that ``Y2`` already has
(``2**min(j2, log2 stride)``): per ``n2``, the ``n`` valid rows are zero-padded along ``n1``
to a circular grid of ``L`` rows (about ``2n``, an FFT-friendly size; see ``_fr_length``),
transformed by one FFT along ``n1`` (time-major layout, the FFT on the contiguous axis),
on the samples of ``Y2`` that the output can see only (``_time_window``: with zero padding,
the signal plus the reach of ``psi1`` and ``psi2`` into the padding, where ``Y2`` is
otherwise ~0), and
each group of frequential filters sharing a subsampling ``2**k`` (``k = min(j_fr, log2
stride_fr)``; for the compact ``"tight"`` filters ``j_fr`` may be raised to what the width of
the filter's support allows, see ``_fr_window_subsampling``: same accuracy, half the work) is
applied as a multiply on the spectrum folded to ``L / 2**k`` bins (a slice of
``L / 2**k`` bins per filter for the compactly supported ``"tight"`` filters), then an inverse
FFT, the modulus, the frequential averaging onto the ``F_bins`` output rows (a small matrix
product), and finally one ``rfft``-fold-``irfft`` in time. Time is chunked so that the
intermediates stay under ``chunk_bytes``. Frequential filters whose reach exceeds the padding
(the widest ones, when ``2**J_fr`` is comparable with ``N1``) wrap around the circular grid,
as in Kymatio's JTFS with a bounded ``max_pad_factor_fr``; the frame stays exactly tight on
the grid.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache, partial

import numpy as np
import torch
from torch import nn

from engine._fold import apply_fold, fold_plan, modulus_, rfft
from engine._module import PlannedTransform, check_signal
from engine._parallel import run_keyed
from engine.filterbank import (
    SIGMA0,
    build_filterbank,
    gauss_1d,
    half_time_magnitudes,
    kymatio_frequencies,
    max_subsampling,
    morlets_1d,
    periodise,
    temporal_support,
)
from engine.scattering1d import _parse_Q, border_indices, compute_padding, parse_T
from engine.tight import (
    FREQUENTIAL_CROSSFADE,
    lowpass_cutoff,
    subsampling,
    tight_lowpass,
    tight_wavelets,
)

__all__ = ["TimeFrequencyScattering", "PAIRS", "SPIN_DIRECTION", "energy_ratio"]

#: The seven pairs, in output order.
PAIRS = ("S0", "S1", "phi_t * phi_f", "phi_t * psi_f", "psi_t * phi_f",
         "psi_t * psi_f_up", "psi_t * psi_f_dn")
#: Plain words for the spins: what a pattern must do to light up that spin.
SPIN_DIRECTION = {1: "rising", -1: "falling", 0: "none"}
#: Spin of each pair.
PAIR_SPIN = {"S0": 0, "S1": 0, "phi_t * phi_f": 0, "phi_t * psi_f": 0, "psi_t * phi_f": 0,
             "psi_t * psi_f_up": 1, "psi_t * psi_f_dn": -1}
#: Frequential kernels are cut where their tails hold less than this fraction of their energy.
TAP_ENERGY = 1e-7


def energy_ratio(out: dict, x: torch.Tensor) -> torch.Tensor:
    """Output over input energy per signal, for ``out_type="dict"`` with ``average=False,
    average_fr=False`` (the frame settings): ``S1`` is left out, as the ``phi_t`` pairs
    decompose it. Returns ``(...)``."""
    e_in = (x.double() ** 2).sum(-1)
    e_out = sum(out[p].double().pow(2).flatten(x.ndim - 1).sum(-1) for p in PAIRS if p != "S1")
    return e_out / e_in


# --------------------------------------------------------------------------------------------
# Frequential filters (along n1), as short kernels
# --------------------------------------------------------------------------------------------

def _frequential_design(design: str, J_fr: int, Q_fr: int, L: int):
    """The frequential bank's design on an ``L``-point grid along ``n1``: ``(freqs, phi, psi,
    js)`` with ``freqs`` the ``(xi, sigma)`` of the wavelets (cycles per ``n1`` bin), ``phi``
    the low-pass of width ``2**J_fr`` ``(L,)``, ``psi`` the spin-up wavelets ``(n_fr, L)``
    and ``js`` their subsamplings."""
    freqs = list(kymatio_frequencies(J_fr, Q_fr))
    centres = [xi for xi, _ in freqs]
    if design == "tight":
        sigmas = [sg for _, sg in freqs]
        psi = tight_wavelets(L, centres, 2**J_fr, gain=1.0, sigmas=sigmas,
                             delta=FREQUENTIAL_CROSSFADE, crossfade=True)
        js = [subsampling(n, centres, sigmas) for n in range(len(centres))]
    else:
        psi = morlets_1d(L, list(freqs))
        js = [max_subsampling(xi, sigma) for xi, sigma in freqs]
    return freqs, _frequential_lowpass(design, L, 2**J_fr), psi, js


def _frequential_lowpass(design: str, L: int, width: int) -> np.ndarray:
    """A frequential low-pass of ``width`` ``n1`` bins on an ``L``-point grid."""
    return tight_lowpass(L, width) if design == "tight" else gauss_1d(L, SIGMA0 / width)


@lru_cache(maxsize=32)
def frequential_filters(design: str, J_fr: int, Q_fr: int, F: int | None, n1_max: int):
    """Kernels along ``n1`` of the frequential bank, cached.

    Returns ``(filters, phi_F)``: ``filters`` a list of dicts (``name`` in ``{"phi_f",
    "psi_f"}``, ``spin``, ``n_fr``, ``xi`` cycles per ``n1`` bin, signed, ``sigma``, ``j``,
    ``taps`` complex ``(2H+1,)`` for offsets ``-H..H``), ordered ``phi_f``, ``psi_f_up`` by
    ``n_fr``, ``psi_f_dn`` by ``n_fr``; ``phi_F`` the real averaging kernel (``None`` when
    ``F`` is ``None``). The filters satisfy ``|phi_f|^2 + sum |psi_up|^2 + |psi_dn|^2 = 1``
    (``"tight"``).
    """
    L = max(1024, 64 * 2**J_fr, 4 * n1_max)
    L = 1 << (L - 1).bit_length()
    freqs, phi, psi, js = _frequential_design(design, J_fr, Q_fr, L)
    phi_F = _frequential_lowpass(design, L, F) if F is not None else None

    def kernel(resp):
        """Taps at offsets ``-H..H`` of the impulse response of ``resp``, ``H`` the smallest
        half-width that keeps all but `TAP_ENERGY` of the kernel's energy."""
        h = np.fft.ifft(resp)
        dist = np.minimum(np.arange(L), L - np.arange(L))
        e = np.bincount(dist, weights=np.abs(h) ** 2)
        tail = e.sum() - np.cumsum(e)
        H = int(np.flatnonzero(tail <= TAP_ENERGY * e.sum())[0])
        return np.concatenate([h[L - H:], h[:H + 1]])

    filters = [dict(name="phi_f", spin=0, n_fr=-1, xi=0.0, sigma=SIGMA0 / 2**J_fr, j=J_fr,
                    taps=kernel(phi))]
    ups = [kernel(p) for p in psi]
    for spin in (1, -1):
        for n, (taps, (xi, sigma)) in enumerate(zip(ups, freqs)):
            filters.append(dict(name="psi_f", spin=spin, n_fr=n, xi=spin * xi, sigma=sigma,
                                j=js[n], taps=taps if spin == 1 else np.conj(taps)))
    phi_F_taps = kernel(phi_F).real.copy() if phi_F is not None else None
    return filters, phi_F_taps


#: A filter's reach: the time (samples) beyond which its impulse response stays under this
#: fraction of its peak (see ``TimeFrequencyScattering._time_window``).
REACH_CRITERION = 1e-4


def _reaches(h_f: np.ndarray, criterion: float = REACH_CRITERION, rows: int = 8
             ) -> np.ndarray:
    """Per real frequency response of ``h_f`` ``(K, N)``: the largest ``|t|`` (samples) at
    which its impulse response exceeds ``criterion`` times its peak. ``(K,)`` integers, from
    `engine.filterbank.half_time_magnitudes` (``|h[t]|`` for ``t <= N/2``, ``rows`` at a time:
    a copy of a whole ~10 MB bank cost 20-30 ms of page faults on the shared hosts)."""
    return np.array([np.flatnonzero(row)[-1] if row.any() else 0
                     for _, h in half_time_magnitudes(np.atleast_2d(h_f), rows)
                     for row in h > criterion * h.max(axis=1, keepdims=True)], dtype=int)


def _taps_at(taps: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Kernel values at integer offsets ``d`` (zero outside its support)."""
    H = taps.size // 2
    out = np.zeros(d.shape, dtype=taps.dtype)
    inside = np.abs(d) <= H
    out[inside] = taps[d[inside] + H]
    return out


#: Frequential padding: the ``n1`` axis of ``n`` rows is zero-padded to about
#: ``(FR_PAD_FACTOR + 1) n`` rows at most (see ``_fr_length``), fewer when every frequential
#: kernel fits in less.
FR_PAD_FACTOR = 1
#: Smallest frequential grid.
FR_MIN_LENGTH = 16
#: Guard band (cycles per ``n1`` row) between a subsampled frequential filter's support and
#: the subsampled grid's length (see ``TimeFrequencyScattering._fr_window_subsampling``).
FR_ALIAS_GUARD = 0.04


def _fft_size(target: int, multiple: int) -> int:
    """The smallest ``multiple * 2**a 3**b 5**c >= target`` (sizes that FFTs handle fast)."""
    best = multiple << max(0, (-(-target // multiple) - 1).bit_length())
    m = 1
    while m * multiple < best:
        f3 = m
        while f3 * multiple < best:
            f5 = f3
            while f5 * multiple < best:
                if f5 * multiple >= target:
                    best = f5 * multiple
                f5 *= 5
            f3 *= 3
        m *= 2
    return best


@lru_cache(maxsize=128)
def frequential_bank(design: str, J_fr: int, Q_fr: int, L: int):
    """The frequential filters as frequency responses on the ``L``-point grid along ``n1``.

    Returns ``(meta, responses)``: ``meta`` the list of dicts of `frequential_filters` without
    ``taps`` (same order: ``phi_f``, ``psi_f`` spin up by ``n_fr``, spin down by ``n_fr``),
    ``responses`` real float64 ``(n_filters, L)`` in ``fftfreq`` order. Sampling the design on
    the grid makes the filtering along ``n1`` a circular convolution of period ``L`` whose
    Littlewood-Paley sum is exactly that of the design at the grid's frequencies
    (``"tight"``: ``|phi_f|^2 + sum |psi_up|^2 + |psi_dn|^2 = 1``).
    """
    freqs, phi, psi, js = _frequential_design(design, J_fr, Q_fr, L)
    mirror = (-np.arange(L)) % L
    meta = [dict(name="phi_f", spin=0, n_fr=-1, xi=0.0, sigma=SIGMA0 / 2**J_fr, j=J_fr)]
    resp = [phi]
    for spin in (1, -1):
        for n, (xi, sigma) in enumerate(freqs):
            meta.append(dict(name="psi_f", spin=spin, n_fr=n, xi=spin * xi, sigma=sigma,
                             j=js[n]))
            resp.append(psi[n] if spin == 1 else psi[n][mirror])
    return meta, np.stack(resp)


# --------------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------------

class TimeFrequencyScattering(PlannedTransform):
    """Joint Time-Frequency Scattering, Kymatio-compatible constructor.

    Parameters
    ----------
    J : int
        Octaves of the time wavelets; ``2**J <= shape``.
    J_fr : int
        Octaves of the frequential wavelets (along ``n1``); needs ``2**J_fr <= N1``, the
        number of first-order wavelets.
    Q : int or (int, int)
        Wavelets per octave at orders 1 and 2 (default ``Q2 = 1``).
    shape : int or (int,)
        Signal length ``N``.
    T : None, int or "global"
        Support (samples) of the time low-pass ``phi_t``; default ``2**J``.
    stride : int, optional
        Time step of the output (power of two ``<= T``); default ``T``.
    Q_fr : int
        Frequential wavelets per octave (default 1).
    F : None, int or "global"
        Width (in ``n1`` bins) of the frequential averaging ``phi_F``; default ``2**J_fr``;
        ``1 <= F <= N1``; ``"global"`` averages over all of ``n1``.
    stride_fr : int, optional
        Step along ``n1`` of the output (power of two ``<= F``); default the largest power of
        two ``<= F``.
    out_type : "array" or "dict"
        "array": one tensor (see ``format``). "dict": the seven `PAIRS`, each a tensor:
        ``S0`` ``(..., 1, time)``, ``S1`` ``(..., N1, time)``, and the joint pairs
        ``(..., n2, n1_fr, n1, time)``: ``phi_t * phi_f`` ``(..., 1, 1, F_bins, time)``,
        ``phi_t * psi_f`` ``(..., 1, n_fr, F_bins, time)``, ``psi_t * phi_f``
        ``(..., n2, 1, F_bins, time)``, spinned pairs ``(..., n2, n_fr, F_bins, time)``.
    format : "time" or "joint"
        "time": ``(..., C, time)``, the channels of the pairs in `PAIRS` order, each pair
        flattened as ``(n2, n1_fr, n1)``. "joint": ``(..., C, F_bins, time)`` with the joint
        pairs only (``S1`` is represented by ``phi_t * phi_f``; ``S0`` has no ``n1`` axis).
    filterbank : "tight" or "kymatio"
        ``"tight"`` (default; `engine.tight`) or Kymatio's Morlet design, for time and
        frequential filters alike.
    average : bool
        ``True`` (default): average the time wavelet paths by ``phi_t`` and subsample to
        ``stride``. ``False``: no time averaging after the modulus; ``stride`` must be 1 and
        ``S1`` is the scalogram ``U1``.
    average_fr : bool
        ``True`` (default): average along ``n1`` by ``phi_F`` and subsample to ``stride_fr``.
        ``False``: no frequential averaging: every row of the padded frequential grids is
        kept (``F_bins`` rows from ``n1 = bin_start < 0``, the union of the grids).
    pad_mode : "reflect" or "zero"
        Time padding (default "zero"; "reflect" as Kymatio). Along ``n1`` the padding is zero.
    chunk_bytes : int
        Upper bound on one batched complex intermediate; lower it to save memory.

    Example
    -------
    >>> jtfs = TimeFrequencyScattering(J=6, J_fr=4, Q=8, shape=4096, F=1, out_type="dict")
    >>> out = jtfs(torch.randn(2, 4096))
    >>> out["psi_t * psi_f_up"].shape[:2]         # (batch, n2, n1_fr, n1, time)
    torch.Size([2, 5])

    Input ``(..., N)`` float32/float64, torch or numpy; ``.to(device)``, ``.double()`` work;
    gradients flow to the input.
    """

    def __init__(self, J: int, J_fr: int, Q, shape, T=None, stride=None, Q_fr: int = 1,
                 F=None, stride_fr=None, out_type: str = "array", format: str = "time",
                 filterbank: str = "tight", average: bool = True, average_fr: bool = True,
                 pad_mode: str = "zero", chunk_bytes: int = 32 * 2**20):
        super().__init__()
        N = self._parse_shape(shape)
        if isinstance(J, bool) or not isinstance(J, numbers.Integral) or J < 1:
            raise ValueError(f"J must be an integer >= 1; got {J!r}.")
        if 2**J > N:
            raise ValueError(f"J={J} is too large for signals of length {N}: the wavelets "
                             f"need 2**J <= shape. Use J <= {int(math.log2(N))}.")
        if out_type not in ("array", "dict"):
            raise ValueError(f"out_type must be 'array' or 'dict'; got {out_type!r}.")
        if format not in ("time", "joint"):
            raise ValueError(f"format must be 'time' ((..., C, time)) or 'joint' "
                             f"((..., C, F_bins, time)); got {format!r}.")
        if pad_mode not in ("reflect", "zero"):
            raise ValueError(f"pad_mode must be 'reflect' or 'zero'; got {pad_mode!r}.")
        if filterbank not in ("tight", "kymatio"):
            raise ValueError(f"filterbank must be 'tight' or 'kymatio'; got {filterbank!r}.")
        if average not in (True, False) or average_fr not in (True, False):
            raise TypeError("average and average_fr must be True or False.")
        self.J, self.shape, self.Q = int(J), (N,), _parse_Q(Q)
        self.out_type, self.format, self.filterbank = out_type, format, filterbank
        self.pad_mode, self.chunk_bytes = pad_mode, int(chunk_bytes)
        self.average, self.average_fr = average, average_fr
        self._T_arg, self._F_arg = T, F

        # ---- time parameters
        if T == 0:
            raise ValueError("T=0 is not a JTFS setting; pass average=False for unaveraged "
                             "time paths (T then sets phi_t for S0 and the phi_t pairs).")
        self.T, mode = parse_T(T, self.J, N)
        if not average:
            if mode == "global":
                raise ValueError("average=False needs a local T (an integer or None), not "
                                 "'global'.")
            if stride not in (None, 1):
                raise ValueError(f"average=False keeps every sample: stride must be 1 or "
                                 f"None; got {stride!r}.")
            stride = 1
        self._t_mode = mode                          # "local" or "global"
        self.log2_T = int(math.floor(math.log2(self.T)))
        self.log2_stride = self._parse_stride(stride)

        # ---- padding and time filter bank
        phi_N = tight_lowpass(N, self.T) if filterbank == "tight" else \
            gauss_1d(N, SIGMA0 / self.T)
        min_to_pad = 3 * temporal_support(phi_N[None], criterion=1e-3)
        J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                    int(math.floor(math.log2(3 * N - 2))))
        J_pad = max(J_pad, int(math.ceil(math.log2(N))))
        self.N_padded = 2**J_pad
        self.pad_left, self.pad_right = compute_padding(self.N_padded, N)
        self.ind_start, self.ind_end = border_indices(
            max(self.log2_T, self.J) + 2, self.pad_left, self.pad_left + N)
        self.bank = build_filterbank(self.N_padded, self.J, self.Q, self.T, filterbank)
        self.N1 = len(self.bank.psi1)

        # ---- frequential parameters
        if isinstance(J_fr, bool) or not isinstance(J_fr, numbers.Integral) or J_fr < 1:
            raise ValueError(f"J_fr must be an integer >= 1; got {J_fr!r}.")
        jfr_max = int(math.floor(math.log2(self.N1)))
        if J_fr > jfr_max:
            raise ValueError(f"J_fr={J_fr} is too large for the N1={self.N1} first-order "
                             f"wavelets (J={J}, Q={self.Q[0]}): frequential wavelets need "
                             f"2**J_fr <= N1. Use J_fr <= {jfr_max}, or a larger Q or J.")
        if isinstance(Q_fr, bool) or not isinstance(Q_fr, numbers.Integral) or Q_fr < 1:
            raise ValueError(f"Q_fr must be an integer >= 1; got {Q_fr!r}.")
        self.J_fr, self.Q_fr = int(J_fr), int(Q_fr)
        F = 2**self.J_fr if F is None else F
        if isinstance(F, str):
            if F != "global":
                raise ValueError(f"F={F!r} is not understood; use an integer 1 <= F <= "
                                 f"{self.N1}, None (2**J_fr) or 'global'.")
            self._f_mode, self.F = "global", self.N1
        else:
            if isinstance(F, bool) or not isinstance(F, numbers.Integral) or F < 1:
                raise ValueError(f"F must be an integer >= 1, None or 'global'; got {F!r}.")
            if F > self.N1:
                raise ValueError(f"F={F} is larger than allowed: the frequential averaging "
                                 f"cannot exceed the N1={self.N1} first-order wavelets. Use "
                                 f"1 <= F <= {self.N1}, or F='global'.")
            self._f_mode, self.F = "local", int(F)
        if not average_fr:
            if stride_fr not in (None, 1):
                raise ValueError(f"average_fr=False keeps every n1: stride_fr must be 1 or "
                                 f"None; got {stride_fr!r}.")
            self._f_mode = "none"
        self.log2_stride_fr = self._parse_stride_fr(stride_fr)
        # Output rows along n1: their first index (negative: above the highest wavelet) and count.
        self.bin_start = 0
        if self._f_mode == "global":
            self.F_bins = 1
        elif self._f_mode == "none":
            # Nothing is cropped: the rows are the union of every frequential grid's rows
            # (inputs of N1 rows for phi_t, of the n1 with j1 < j2 for each psi_t).
            j1s = [p.j for p in self.bank.psi1]
            ns = [sum(j1 < p2.j or not average for j1 in j1s) for p2 in self.bank.psi2]
            self.bin_start, self.F_bins = self._fr_rows([n for n in ns if n] + [self.N1])
        else:
            self.F_bins = -(-self.N1 // 2**self.log2_stride_fr)

        self._build()

    # ---- parameter helpers --------------------------------------------------------------

    @staticmethod
    def _parse_shape(shape) -> int:
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (int(shape),)
        if (not isinstance(shape, tuple) or len(shape) != 1
                or not isinstance(shape[0], numbers.Integral) or shape[0] < 1):
            raise ValueError(f"shape must be a positive integer or a 1-tuple; got {shape!r}.")
        return int(shape[0])

    @staticmethod
    def _log2_pow2(value, name: str, limit: int, limit_name: str) -> int:
        if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
                or value & (value - 1)):
            raise ValueError(f"{name} must be a power of two; got {value!r}.")
        if value > limit:
            raise ValueError(f"{name}={value} exceeds {limit_name}={limit}, which would "
                             f"alias; use {name} <= {limit}.")
        return int(value).bit_length() - 1

    def _parse_stride(self, stride) -> int:
        if self._t_mode == "global":
            if stride is not None:
                raise ValueError("stride needs local averaging; it is incompatible with "
                                 "T='global'.")
            return self.log2_T
        if stride is None:
            return self.log2_T
        return self._log2_pow2(stride, "stride", 2**self.log2_T, "T")

    def _parse_stride_fr(self, stride_fr) -> int:
        if self._f_mode == "none":
            return 0
        if self._f_mode == "global":
            if stride_fr is not None:
                raise ValueError("stride_fr is incompatible with F='global'.")
            return 0
        limit = 1 << (self.F.bit_length() - 1)
        if stride_fr is None:
            return limit.bit_length() - 1
        return self._log2_pow2(stride_fr, "stride_fr", limit, "F (rounded down to a power "
                               "of two)")

    # ---- construction -------------------------------------------------------------------

    def _k(self, j: int) -> int:
        """Time resolution (log2 subsampling) of a path whose filter tolerates ``2**j``."""
        return j if self._t_mode == "global" else min(j, self.log2_stride)

    def _phi_plan(self, level: int):
        """Low-pass from resolution ``2**level`` to the output stride (None when global)."""
        if self._t_mode == "global":
            return None
        name = f"phi_{level}"
        if name not in self._plans:
            # A half-spectrum plan (engine._fold): blocks above Nyquist are read as mirrored
            # slices of the rfft, no full spectrum is built.
            plan = fold_plan([periodise(self.bank.phi.response, level)],
                             self.N_padded >> self.log2_stride, half=True)
            self._plans[name] = (plan, self.register_plan(name, plan.weights))
        return name

    def _build(self) -> None:
        bank, Np = self.bank, self.N_padded
        self._plans: dict = {}
        self._reach1 = self._reach2 = None       # per-filter reaches, see _time_window
        j1s = [p.j for p in bank.psi1]
        if any(b < a for a, b in zip(j1s, j1s[1:])):
            raise RuntimeError("first-order subsamplings must not decrease with n1")
        k1s = [self._k(j) for j in j1s]
        self._phi_plan(0)
        self._groups = []
        for k1 in sorted(set(k1s)):
            n1s = [n for n, k in enumerate(k1s) if k == k1]
            g = len(self._groups)
            plan = fold_plan([bank.psi1[n].response for n in n1s], Np >> k1, half=False)
            self._plans[f"g{g}_psi1"] = (plan, self.register_plan(f"g{g}_psi1", plan.weights))
            self._groups.append({"k1": k1, "n1": n1s, "phi": self._phi_plan(k1)})

        # Second order: for each n2, the prefix n1 < n1_max with j1 < j2, gathered per group.
        self._order2 = []
        # Without time averaging (stride 1) every pair is computed: a frame needs them all.
        def valid(j1, j2):
            return j1 < j2 or not self.average

        for n2, psi2 in enumerate(bank.psi2):
            n_valid = sum(valid(j, psi2.j) for j in j1s)
            if n_valid == 0:
                continue
            k2 = self._k(psi2.j)
            parts = []
            for g, grp in enumerate(self._groups):
                count = sum(valid(j1s[n], psi2.j) for n in grp["n1"])
                if count == 0:
                    continue
                plan = fold_plan([periodise(psi2.response, grp["k1"])], Np >> k2, half=False)
                name = f"o2_{n2}_g{g}"
                self._plans[name] = (plan, self.register_plan(name, plan.weights))
                parts.append((g, count, name))
            self._order2.append({"n2": n2, "j2": psi2.j, "k2": k2, "n": n_valid,
                                 "parts": parts, "phi": self._phi_plan(k2),
                                 "fr": self._fr_plan(f"fr{n2}", n_valid, spinned=True),
                                 "crop": self._time_window(n2, k2)})
        if not self._order2:
            raise ValueError("No second-order path: every psi2 has j2 <= j1; increase J.")
        # The phi_t branch: S1 (real) along all N1.
        self._fr_s1 = self._fr_plan("frs1", self.N1, spinned=False)
        self._build_meta()

    def _time_window(self, n2: int, k2: int) -> tuple[int, int] | None:
        """Samples ``[c0, c1)`` of ``Y2[n2]`` (at resolution ``2**k2``) that the output can
        see, or None for all of them. The frequential stage is computed on this window only
        and is zero outside it.

        Without time averaging after the last modulus (``average=False``) or with global
        averaging, the output crops to the signal: the window is the signal. With local
        averaging and zero padding, the input is zero in the padding, so ``Y2 = |x * psi1| *
        psi2`` is non-negligible only up to the reach of ``psi1`` plus that of ``psi2``
        beyond the signal's edges (`REACH_CRITERION`); the low-pass ``phi_t`` then sees zeros
        beyond the window, whatever its own tails. With reflect padding the padding holds
        signal: no window (None)."""
        Np, s = self.N_padded, self.pad_left
        e = s + self.shape[0]
        if self.average and self._t_mode == "local":
            if self.pad_mode != "zero":
                return None
            if self._reach1 is None:     # once per module: one rfft per filter
                arrays = self.bank.as_arrays()
                self._reach1, self._reach2 = _reaches(arrays["psi1"]), _reaches(arrays["psi2"])
            j2 = self.bank.psi2[n2].j
            below = [r for p, r in zip(self.bank.psi1, self._reach1) if p.j < j2]
            reach = int(max(below or self._reach1)) + int(self._reach2[n2])
            s, e = max(0, s - reach), min(Np, e + reach)
        c0, c1 = s >> k2, -(-e >> k2)
        return None if (c0, c1) == (0, Np >> k2) else (c0, c1)

    def _fr_length(self, n: int) -> int:
        """Length ``L`` of the zero-padded ``n1`` grid for an input of ``n`` rows: the
        shortest FFT-friendly length (``2**a 3**b 5**c``, a multiple of the largest
        frequential subsampling, at least twice it) that holds the ``n`` rows plus the longest
        frequential kernel's reach on both sides, but at most about ``FR_PAD_FACTOR + 1``
        times ``n``
        (the widest kernels then wrap around: Kymatio's ``max_pad_factor_fr``), and at least
        `FR_MIN_LENGTH`."""
        filters, _ = frequential_filters(self.filterbank, self.J_fr, self.Q_fr, None, self.N1)
        H = max(f["taps"].size // 2 for f in filters)
        k_max = 0 if self._f_mode == "none" else max(
            min(f["j"], self.log2_stride_fr) if self._f_mode == "local" else f["j"]
            for f in filters)
        target = max(min(n + 2 * H, (FR_PAD_FACTOR + 1) * n), FR_MIN_LENGTH)
        return _fft_size(max(target, 2 << k_max), 1 << k_max)

    @staticmethod
    def _fr_positions(n: int, L: int) -> np.ndarray:
        """Signed ``n1`` position of each of the ``L`` circular rows: the input's ``n`` rows,
        then half of the padding after them (``n .. n + P - 1``), the other half before them
        (negative positions)."""
        c = np.arange(L)
        P = (L - n) // 2
        return np.where(c < n + P, c, c - L)

    def _fr_rows(self, ns: list[int]) -> tuple[int, int]:
        """``(bin_start, F_bins)`` without frequential averaging: the union of the rows of
        every frequential grid (one per input size in ``ns``)."""
        lo = hi = 0
        for n in ns:
            p = self._fr_positions(n, self._fr_length(n))
            lo, hi = min(lo, int(p.min())), max(hi, int(p.max()))
        return lo, hi - lo + 1

    def _fr_window_subsampling(self, resp: np.ndarray) -> int:
        """log2 of the largest subsampling of a compactly supported frequential filter
        ``resp`` ``(L,)`` whose output modulus, once averaged by ``phi_F``, stays clean: the
        filter's circular support (``width`` bins) plus a guard must fit in the ``L / 2**k``
        bins of the subsampled grid. The filter's window is demodulated to the grid (the
        modulus discards the phase), so only the support's *width* matters, not its upper
        edge; ``|z|^2`` then aliases only beyond ``width`` bins, and the guard
        (`FR_ALIAS_GUARD` cycles per row plus the cutoff of ``phi_F``) keeps the aliased tail
        of ``|z|`` out of the band that ``phi_F`` keeps. Measured against no subsampling at
        all (N=8192, J=8, Q=16, J_fr=5, Q_fr=2, noise, chirps, speech): the same error
        (0.2-0.8 % for F=16) as the upper-edge rule at about half the work."""
        L = resp.size
        nzb = np.flatnonzero(np.abs(resp) > 1e-12 * np.abs(resp).max())
        width = L - int(np.diff(np.concatenate([nzb, nzb[:1] + L])).max()) + 1
        b_F = lowpass_cutoff(self.F if self._f_mode == "local" else self.N1)
        guard = int(math.ceil((FR_ALIAS_GUARD + b_F) * L))
        k = 0
        while (L >> (k + 1)) << (k + 1) == L and (L >> (k + 1)) >= width + guard:
            k += 1
        return k

    def _fr_plan(self, prefix: str, n: int, spinned: bool) -> dict:
        """Frequential plan for an input of ``n`` rows ``n1 = 0..n-1``, zero-padded to a
        circular grid of ``L`` rows (`_fr_length`). Filters sharing a subsampling ``k`` form a
        group with ``w``, the responses over ``2**k``, and ``A`` ``(nf, Lk, F_bins)``, the
        frequential averaging of the ``Lk = L / 2**k`` subsampled rows onto the output bins.
        When every filter of a subsampled group is zero outside a circular window of ``Lk``
        bins (compact support: ``"tight"``), ``starts`` holds each window's first bin and ``w``
        is ``(nf, Lk)``: the fold is a slice. Otherwise ``starts`` is None, ``w`` is
        ``(nf, L)`` and the product is folded by summing its ``2**k`` blocks."""
        L = self._fr_length(n)
        meta, resp = frequential_bank(self.filterbank, self.J_fr, self.Q_fr, L)
        keep = [i for i, f in enumerate(meta) if spinned or f["spin"] >= 0]
        filters, resp = [meta[i] for i in keep], resp[keep]
        _, phi_F = frequential_filters(self.filterbank, self.J_fr, self.Q_fr,
                                       self.F if self._f_mode == "local" else None, self.N1)
        s_fr, N1, Fb = self.log2_stride_fr, self.N1, self.F_bins
        pos = self._fr_positions(n, L)
        by_k: dict[int, list[int]] = {}
        for i, f in enumerate(filters):
            j = f["j"]
            if self.filterbank == "tight" and self._f_mode != "none":
                j = max(j, self._fr_window_subsampling(resp[i]))
            k = {"local": min(j, s_fr), "global": j, "none": 0}[self._f_mode]
            by_k.setdefault(k, []).append(i)
        groups, order, cols = [], [], 0
        for k, idx in sorted(by_k.items()):
            r, Lk = 2**k, L >> k
            # Each filter's non-zero bins, if they fit in a circular window of Lk bins: the
            # fold is then a slice (its start's phase ramp along the output rows is removed by
            # the modulus). Otherwise (Gaussian tails) the full spectrum is folded.
            starts = []
            for i in idx:
                nzb = np.flatnonzero(np.abs(resp[i]) > 1e-12 * np.abs(resp[i]).max())
                gaps = np.diff(np.concatenate([nzb, nzb[:1] + L]))
                s = int(nzb[(int(np.argmax(gaps)) + 1) % nzb.size])     # after the widest gap
                starts.append(s if ((nzb - s) % L).max() < Lk else None)
            windowed = k > 0 and all(s is not None for s in starts)
            if windowed:
                w = np.stack([np.roll(resp[i], -s)[:Lk] / r for i, s in zip(idx, starts)])
            else:
                starts = None
                w = resp[idx] / r
            p = pos[::r]                                                    # (Lk,)
            # The frequential averaging of the Lk rows onto the output bins is one matrix
            # (Lk, F_bins) for the whole group, times a gain per filter (sqrt 2 for the
            # phi_t branch's spin up, which stands for both spins).
            gains = np.array([math.sqrt(2) if (not spinned and filters[i]["spin"] == 1)
                              else 1.0 for i in idx])
            A = np.zeros((Lk, Fb))
            if self._f_mode == "local":
                q = np.arange(Fb) * 2**s_fr
                A[:] = r * _taps_at(phi_F, q[None, :] - p[:, None])
            elif self._f_mode == "global":
                A[:, 0] = r / N1
            else:
                A[np.arange(Lk), p - self.bin_start] = 1.0
            name = f"{prefix}_k{k}"
            groups.append({"k": k, "starts": starts, "w": self.register_plan(name + "_w", w),
                           "A": self.register_plan(name + "_A", A.T),
                           "gains": self.register_plan(name + "_g", gains[:, None])
                           if np.any(gains != 1.0) else None})
            if windowed:   # the windows' bins, for a one-buffer gather when differentiating
                bins = (np.array(starts)[:, None] + np.arange(Lk)) % L
                self.register_buffer(name + "_bins", torch.as_tensor(bins.ravel()),
                                     persistent=False)
                groups[-1]["bins"] = name + "_bins"
            cols += w.size
            order += idx
        inverse = np.argsort(order)
        self.register_buffer(prefix + "_order", torch.as_tensor(inverse), persistent=False)
        return {"L": L, "groups": groups, "filters": filters, "order": prefix + "_order",
                "cols": cols}

    # ---- forward --------------------------------------------------------------------------

    def _fold(self, spec: torch.Tensor, name: str, shared: bool = False) -> torch.Tensor:
        """`engine._fold.apply_fold` of half spectra ``spec`` with the plan ``name``."""
        plan, buf = self._plans[name]
        return apply_fold(spec, plan, getattr(self, buf), shared)

    def _lowpass(self, spec_half: torch.Tensor, level: int) -> torch.Tensor:
        """Real signals given by their ``rfft`` at resolution ``2**level`` -> low-passed at
        the stride (padded time axis), local averaging only."""
        plan, buf = self._plans[self._phi_plan(level)]
        out = apply_fold(spec_half, plan, getattr(self, buf), shared=True)
        return torch.fft.irfft(out, n=self.N_padded >> self.log2_stride)

    def _time_average(self, u: torch.Tensor, level: int) -> torch.Tensor:
        """Average (or only crop) real ``u`` ``(..., time at 2**level)``: the final step."""
        if self._t_mode == "global":
            return u[..., self.ind_start[level]:self.ind_end[level]].mean(-1, keepdim=True)
        if not self.average:                           # stride 1, level 0
            return u[..., self.ind_start[level]:self.ind_end[level]]
        s = self.log2_stride
        u = self._lowpass(rfft(u), level)
        return u[..., self.ind_start[s]:self.ind_end[s]]

    def _frequential(self, y: torch.Tensor, plan: dict, level: int | None,
                     window: tuple[int, int] | None = None) -> torch.Tensor:
        """Frequential scattering of ``y`` ``(B, n, time)`` (complex, or real for the
        ``phi_t`` branch): FFT along ``n1`` (zero-padded to the plan's ``L``), per filter
        group a multiply that filters and subsamples (a window of the spectrum per filter for
        compact filters), inverse FFT, modulus, frequential averaging (one matrix product onto
        the ``F_bins`` rows per group), then time averaging from resolution ``2**level``
        (``None``: only crop, the input is already averaged). Time is processed in chunks so
        that the intermediates stay under ``chunk_bytes``.
        Returns ``(B, n_filters, F_bins, time_out)`` in the plan's filter order."""
        M_full = y.shape[-1]
        if window is not None:
            y = y[..., window[0]:window[1]]
        B, _, M = y.shape
        L = plan["L"]
        yt = y.transpose(1, 2)                                          # (B, M, n)
        real_size = 8 if y.dtype in (torch.float64, torch.complex128) else 4
        per_t = B * (2 * L + 4 * plan["cols"]) * 2 * real_size
        step = max(1, self.chunk_bytes // per_t)
        ext_len = max([L >> g["k"] for g in plan["groups"] if g["starts"] is not None],
                      default=0)
        # The frequential averaging (a matrix per group, per time sample) and the time
        # averaging (per row) are linear and commute: averaged in time first, the frequential
        # averaging works on a few output samples instead of every input one, and the time
        # averaging on the Lk rows of each filter instead of its F_bins rows (the finest n2
        # of a small F: 40 rows instead of 68). `_late_fr_average` picks the cheaper order.
        late = level is not None and self._late_fr_average(plan, M, M_full)
        chunks = []
        grad = yt.requires_grad
        # (split, not slices: a slice's backward writes a zero tensor of the whole input)
        for part in yt.split(step, dim=1):
            yf = torch.fft.fft(part, n=L, dim=-1).reshape(-1, L)                 # (Bm, L)
            Bm = yf.shape[0]
            # Circularly extended spectrum, shared by the windowed groups.
            ext = torch.cat([yf, yf[:, :ext_len]], dim=1) if ext_len and not grad else None
            vs = []
            for grp in plan["groups"]:
                w, At = getattr(self, grp["w"]), getattr(self, grp["A"])
                nf, Lk = w.shape[0], At.shape[1]
                # (complex x real products: a real weight broadcast against view_as_real's
                # last axis of 2 is ~8x slower)
                if grp["starts"] is not None and grad:
                    g = yf.index_select(1, getattr(self, grp["bins"])).view(Bm, nf, Lk) * w
                elif grp["starts"] is not None:        # one window of Lk bins per filter
                    g = yf.new_empty((Bm, nf, Lk))
                    for i, s in enumerate(grp["starts"]):
                        torch.mul(ext[:, s:s + Lk], w[i], out=g[:, i])
                else:                                  # multiply everything, then fold
                    g = yf[:, None] * w                                  # (Bm, nf, L)
                    if Lk < L:
                        g = g.reshape(Bm, nf, L // Lk, Lk).sum(2)
                u = modulus_(torch.fft.ifft(g, dim=-1))                  # (Bm, nf, Lk)
                vs.append(u.reshape(Bm, nf * Lk) if late else self._fr_average(u, grp))
            v = torch.cat(vs, dim=1) if len(vs) > 1 else vs[0]
            chunks.append(v.reshape(B, -1, *v.shape[1:]))
        v = torch.cat(chunks, dim=1) if len(chunks) > 1 else chunks[0]
        v = v.movedim(1, -1)                   # (B, nf, Fb, M), or late (B, sum nf Lk, M)
        if window is not None:                         # zero outside the window
            v = nn.functional.pad(v, (window[0], M_full - window[1]))
        v = self._crop_avg(v) if level is None else self._time_average(v, level)
        if late:
            v = self._fr_average_rows(v, plan)
        return v.index_select(1, getattr(self, plan["order"]))

    def _fr_average(self, u: torch.Tensor, grp: dict) -> torch.Tensor:
        """A group's frequential averaging ``(b, nf, Lk) -> (b, nf, F_bins)`` (with its
        gains), per time sample."""
        v = nn.functional.linear(u, getattr(self, grp["A"]))
        return v if grp["gains"] is None else v * getattr(self, grp["gains"])

    def _fr_average_rows(self, u: torch.Tensor, plan: dict) -> torch.Tensor:
        """The frequential averaging of every group of ``plan`` on time-averaged rows:
        ``(B, sum nf Lk, t) -> (B, sum nf, F_bins, t)``, groups in plan order."""
        vs, r0 = [], 0
        for grp in plan["groups"]:
            nf, Lk = getattr(self, grp["w"]).shape[0], getattr(self, grp["A"]).shape[1]
            ug = u[:, r0:r0 + nf * Lk].unflatten(1, (nf, Lk))            # (B, nf, Lk, t)
            v = torch.matmul(getattr(self, grp["A"]), ug)                 # (B, nf, Fb, t)
            if grp["gains"] is not None:
                v = v * getattr(self, grp["gains"]).unsqueeze(-1)
            vs.append(v)
            r0 += nf * Lk
        return torch.cat(vs, dim=1) if len(vs) > 1 else vs[0]

    #: One row-sample of time averaging (pad, ``rfft``, fold) costs about this many
    #: multiply-adds of the frequential averaging's matrix product (CPU, measured: ~4.3 ns
    #: against ~0.03 ns). Only chooses between two orders that give the same result.
    TIME_AVERAGE_PER_MAC = 140

    def _late_fr_average(self, plan: dict, m_in: int, m_full: int) -> bool:
        """Whether to average ``plan``'s outputs in time before the frequential averaging,
        for ``m_in`` time samples computed on a time axis of ``m_full``: time averaging
        first costs ``sum nf Lk`` rows to average; after, ``sum nf F_bins`` rows plus the
        matrix product on every sample (``m_in sum nf Lk F_bins`` multiply-adds)."""
        nfs = [getattr(self, g["w"]).shape[0] for g in plan["groups"]]
        lks = [getattr(self, g["A"]).shape[1] for g in plan["groups"]]
        rows_late = sum(n * k for n, k in zip(nfs, lks))
        macs = rows_late * self.F_bins * m_in
        rows_early = sum(nfs) * self.F_bins + macs / (m_full * self.TIME_AVERAGE_PER_MAC)
        return rows_late < rows_early

    def _crop_avg(self, v: torch.Tensor) -> torch.Tensor:
        if self._t_mode == "global":
            return v
        s = self.log2_stride
        return v[..., self.ind_start[s]:self.ind_end[s]]

    @staticmethod
    def _halves(B: int) -> list[slice]:
        """The batch in two halves (tasks of even size for two workers), or whole."""
        return [slice(0, B // 2), slice(B // 2, B)] if B >= 2 else [slice(0, B)]

    def _first_order(self, g: int, spec0: torch.Tensor) -> list[torch.Tensor]:
        """Group ``g``'s first order from half spectra ``spec0`` ``(b, N_padded//2+1)``:
        ``[rfft(U1), S1 on the padded axis]`` (and ``U1`` itself without averaging)."""
        grp = self._groups[g]
        u1 = modulus_(torch.fft.ifft(self._fold(spec0, f"g{g}_psi1")))     # (b, G, m1)
        spec1 = rfft(u1)
        if self._t_mode == "global":
            s1 = u1[..., self.ind_start[grp["k1"]]:self.ind_end[grp["k1"]]].mean(
                -1, keepdim=True)
        else:
            s1 = self._lowpass(spec1, grp["k1"])
        return [spec1, s1] + ([] if self.average else [u1])

    def _branch_cost(self, i: int) -> int:
        o = self._order2[i]
        lo, hi = o["crop"] or (0, self.N_padded >> o["k2"])
        return o["n"] * (hi - lo)

    def _branch(self, i: int | None, s1_pad: torch.Tensor, *spec1s: torch.Tensor
                ) -> list[torch.Tensor]:
        """Frequential scattering of one branch: ``None`` the phi_t branch (of S1), else
        the psi_t branch of ``self._order2[i]`` (Y2 of one n2)."""
        if i is None:
            return [self._frequential(s1_pad, self._fr_s1, None)]      # (b, 1+K, Fb, t)
        o = self._order2[i]
        ys = [torch.fft.ifft(self._fold(spec1s[g][:, :count], name, True))
              for g, count, name in o["parts"]]
        y2 = torch.cat(ys, dim=1) if len(ys) > 1 else ys[0]            # (b, n, M2)
        del ys
        return [self._frequential(y2, o["fr"], o["k2"], o["crop"])]    # (b, 1+2K, Fb, t)

    def forward(self, x) -> torch.Tensor | dict:
        """Scatter ``x`` ``(..., N)``; see the class docstring for the output."""
        x = check_signal(x, self.shape[0], getattr(
            self, "phi_0" if hasattr(self, "phi_0") else self._plans["g0_psi1"][-1]))
        batch_shape = x.shape[:-1]
        x = x.reshape(-1, 1, self.shape[0])
        mode = "reflect" if self.pad_mode == "reflect" else "constant"
        xp = nn.functional.pad(x, (self.pad_left, self.pad_right), mode=mode)[:, 0]
        B = xp.shape[0]
        spec0 = rfft(xp)
        s = self.log2_stride
        glob = self._t_mode == "global"

        # Order 0 and 1.
        if glob:
            S0 = xp[:, None, self.ind_start[0]:self.ind_end[0]].mean(-1, keepdim=True)
        else:
            S0 = self._lowpass(spec0, 0)[:, None, self.ind_start[s]:self.ind_end[s]]
        # Order 1, one task per group (and half batch): spec1 = rfft(U1), S1 (padded), U1.
        halves = self._halves(B)
        first = run_keyed(spec0, [(g, partial(self._first_order, g), rows, 0)
                                  for g in range(len(self._groups)) for rows in halves])
        spec1s = [first[g][0] for g in range(len(self._groups))]
        s1_pad = torch.cat([first[g][1] for g in range(len(self._groups))], dim=1)  # (B,N1,M)
        if not self.average:
            S1 = torch.cat([first[g][2] for g in range(len(self._groups))], dim=1)
            S1 = S1[..., self.ind_start[0]:self.ind_end[0]]
        else:
            S1 = self._crop_avg(s1_pad)
        del first

        # The phi_t branch (frequential scattering of S1, already averaged in time) and the
        # psi_t branches (one per n2, at the time resolution of Y2): independent tasks, the
        # largest first (the phi_t branch first of all).
        costs = {None: math.inf, **{i: self._branch_cost(i) for i in range(len(self._order2))}}
        out = run_keyed((s1_pad, *spec1s), [(i, partial(self._branch, i), rows, cost)
                                            for i, cost in costs.items() for rows in halves])
        fr1 = out.pop(None)[0]                                           # (B, 1+K, Fb, t)
        K = (fr1.shape[1] - 1)
        pairs = {"S0": S0, "S1": S1,
                 "phi_t * phi_f": fr1[:, None, :1], "phi_t * psi_f": fr1[:, None, 1:]}
        fr = torch.stack([out[i][0] for i in range(len(self._order2))], dim=1)
        pairs["psi_t * phi_f"] = fr[:, :, :1]                        # (B, n2, 1, Fb, t)
        pairs["psi_t * psi_f_up"] = fr[:, :, 1:1 + K]
        pairs["psi_t * psi_f_dn"] = fr[:, :, 1 + K:]

        if self.out_type == "dict":
            return {p: pairs[p].reshape(batch_shape + pairs[p].shape[1:]) for p in PAIRS}
        t = S0.shape[-1]
        if self.format == "time":
            out = torch.cat([pairs[p].reshape(B, -1, t) for p in PAIRS], dim=1)
        else:
            out = torch.cat([pairs[p].reshape(B, -1, self.F_bins, t) for p in PAIRS[2:]],
                            dim=1)
        return out.reshape(batch_shape + out.shape[1:])

    #: Kymatio's name for the forward pass.
    scattering = forward

    # ---- meta -------------------------------------------------------------------------------

    def _build_meta(self) -> None:
        """One record per output channel of format "time" (format "joint" drops ``n1``)."""
        filters = self._fr_s1["filters"]
        K = len(filters) - 1
        full = self._order2[0]["fr"]["filters"]
        bins = self.bin_start + np.arange(self.F_bins) * 2**self.log2_stride_fr
        if self._f_mode == "global":
            bins = np.array([-1])
        recs = {p: [] for p in PAIRS}

        def rec(pair, n2=-1, fr=None, n1=None):
            return dict(pair=pair, n2=n2, n1_fr=-1 if fr is None else fr["n_fr"], n1=n1,
                        spin=PAIR_SPIN[pair], fr=fr)
        recs["S0"].append(rec("S0"))
        recs["S1"] = [rec("S1", n1=n1) for n1 in range(self.N1)]
        recs["phi_t * phi_f"] = [rec("phi_t * phi_f", fr=filters[0], n1=b) for b in bins]
        recs["phi_t * psi_f"] = [rec("phi_t * psi_f", fr=f, n1=b)
                                 for f in filters[1:] for b in bins]
        for o in self._order2:
            recs["psi_t * phi_f"] += [rec("psi_t * phi_f", o["n2"], full[0], b) for b in bins]
            recs["psi_t * psi_f_up"] += [rec("psi_t * psi_f_up", o["n2"], f, b)
                                         for f in full[1:1 + K] for b in bins]
            recs["psi_t * psi_f_dn"] += [rec("psi_t * psi_f_dn", o["n2"], f, b)
                                         for f in full[1 + K:] for b in bins]
        self._records = recs

    def meta(self, sample_rate: float | None = None) -> dict:
        """What each output channel holds, for the module's ``format``.

        Returns a dict of arrays ``(C,)``: ``pair`` (name), ``spin`` (+1, -1, 0),
        ``direction`` ("rising", "falling", "none": the plain word for the spin), ``n2``
        (time wavelet, -1 for ``phi_t``), ``n1_fr`` (frequential wavelet, -1 for
        ``phi_f``), ``n1`` (the ``n1`` index of the channel's bin, float; NaN where the channel
        has no ``n1`` axis (``S0``, format "joint"); without frequential averaging bins extend
        past ``0..N1-1`` by the filters' spread), ``j`` (log2 scale of the time wavelet, NaN
        for ``phi_t``), ``j_fr``,
        ``xi`` (temporal centre frequency of the time wavelet, cycles per sample, 0 for
        ``phi_t``), ``xi_fr`` (signed frequential centre frequency, cycles per ``n1`` bin),
        ``xi1`` (frequency of the ``n1`` bin, cycles per sample), ``stride`` and
        ``stride_fr``. With ``sample_rate`` (Hz): ``xi_hz``, ``xi1_hz`` (Hz) and
        ``xi_fr_octave`` (cycles per octave, ``xi_fr * Q1``). ``bins`` gives the ``n1`` index
        of each of the ``F_bins`` rows.

        >>> m = TimeFrequencyScattering(6, 4, 8, 4096).meta()
        >>> sorted(set(m["direction"]))
        ['falling', 'none', 'rising']
        """
        pairs = PAIRS if self.format == "time" else PAIRS[2:]
        recs = [r for p in pairs for r in self._records[p]]
        if self.format == "joint":
            seen, kept = set(), []
            for r in recs:
                key = (r["pair"], r["n2"], r["n1_fr"])
                if key not in seen:
                    seen.add(key)
                    kept.append(dict(r, n1=None))
            recs = kept
        psi1, psi2 = self.bank.psi1, self.bank.psi2
        nan = float("nan")
        m = {
            "pair": np.array([r["pair"] for r in recs]),
            "spin": np.array([r["spin"] for r in recs]),
            "direction": np.array([SPIN_DIRECTION[r["spin"]] for r in recs]),
            "n2": np.array([r["n2"] for r in recs]),
            "n1_fr": np.array([r["n1_fr"] for r in recs]),
            "n1": np.array([nan if r["n1"] is None else r["n1"] for r in recs], dtype=float),
            "j": np.array([psi2[r["n2"]].j if r["n2"] >= 0 else nan for r in recs]),
            "j_fr": np.array([r["fr"]["j"] if r["fr"] is not None else nan for r in recs]),
            "xi": np.array([psi2[r["n2"]].xi if r["n2"] >= 0 else 0.0 for r in recs]),
            "xi_fr": np.array([r["fr"]["xi"] if r["fr"] is not None else nan for r in recs]),
            "xi1": np.array([psi1[r["n1"]].xi if r["n1"] is not None and 0 <= r["n1"] < self.N1
                             else nan for r in recs]),
            "stride": 2**self.log2_stride if self._t_mode == "local" else self.shape[0],
            "stride_fr": 2**self.log2_stride_fr if self._f_mode != "global" else self.N1,
            "bins": self.bin_start + np.arange(self.F_bins) * 2**self.log2_stride_fr,
        }
        if sample_rate is not None:
            if not sample_rate > 0:
                raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
            m["xi_hz"] = m["xi"] * sample_rate
            m["xi1_hz"] = m["xi1"] * sample_rate
            m["xi_fr_octave"] = m["xi_fr"] * self.Q[0]
        return m

    def output_size(self) -> int:
        """Number of output channels ``C`` for the module's ``format``."""
        return len(self.meta()["pair"])

    def extra_repr(self) -> str:
        return (f"J={self.J}, J_fr={self.J_fr}, Q={self.Q}, shape={self.shape[0]}, "
                f"T={self._T_arg!r}, Q_fr={self.Q_fr}, F={self._F_arg!r}, "
                f"stride={2**self.log2_stride}, stride_fr={2**self.log2_stride_fr}, "
                f"filterbank={self.filterbank!r}, average={self.average}, "
                f"average_fr={self.average_fr}, format={self.format!r}")
