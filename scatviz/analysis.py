"""The analysis layer: what the views, the CLI and the demos derive from the engine's outputs.

One place for each derived quantity, so that every picture of it agrees:

* the scalogram grid (`assemble_scalogram`): first-order moduli at their own strides brought
  onto one time grid of at most `MAX_COLUMNS` columns;
* energies: `sum_squares` (float64) for every partial sum, `order_energies` of a
  Scattering1D output, `pair_energies` of a JTFS output (the engine's `coeff_energy`);
* spin summaries: `spin_energies` per temporal scale, `spin_maps` per (n1, t), `energy_over_time`
  and `region_summary` of a time-frequency region;
* the JTFS pair names, from the engine (`JTFS_PAIRS`, `SPIN_UP_KEY`, `SPIN_DN_KEY`);
* the frequential filters' responses (`frequential_responses`);
* second order (`second_order_paths`, `scattergram`, `second_order_slice`): the averaged S2
  of a `scatviz.results.Scattering` per first-order wavelet, and at one instant;
* the energy of each JTFS pair per first-order frequency (`energy_profile`);
* note names of frequencies (`note_name`, `note_ticks`), A4 = 440 Hz.

Plain numpy in, plain numpy out: no torch module is built here, and no view is imported.
"""

from __future__ import annotations

import math
from weakref import WeakKeyDictionary

import numpy as np

from engine.jtfs import PAIR_SPIN, PAIRS
from engine.jtfs import frequential_responses as engine_frequential_responses
from engine.toolkit import coeff_energy
from scatviz.results import Scalogram, Scattering

__all__ = ["MAX_COLUMNS", "FR_GRID", "DOMINANCE", "JTFS_PAIRS", "SPIN_PAIRS", "SPIN_UP_KEY",
           "SPIN_DN_KEY", "pool_rows", "assemble_scalogram", "sum_squares", "order_energies",
           "pair_energies", "spin_energies", "spin_maps", "energy_over_time", "region_summary",
           "frequential_responses", "second_order_paths", "scattergram",
           "second_order_slice", "loudest_second_order", "energy_profile", "note_name",
           "note_ticks"]

#: Widest scalogram image sent to the browser (columns); longer signals are pooled.
MAX_COLUMNS = 1024
#: Length of the grid on which the frequential kernels' responses are shown.
FR_GRID = 256
#: A spin dominates when its energy exceeds the other's by this factor.
DOMINANCE = 1.25

#: The JTFS pairs in the literature's order (the engine's).
JTFS_PAIRS: tuple[str, ...] = tuple(PAIRS)
#: The spinned pairs: spin up (rising), then spin down (falling).
SPIN_PAIRS: tuple[str, str] = (next(p for p in PAIRS if PAIR_SPIN[p] == 1),
                               next(p for p in PAIRS if PAIR_SPIN[p] == -1))
SPIN_UP_KEY, SPIN_DN_KEY = SPIN_PAIRS


# --------------------------------------------------------------------------------------------
# The scalogram grid
# --------------------------------------------------------------------------------------------

def pool_rows(coefs: list[np.ndarray], strides: list[int], N: int, hop: int) -> np.ndarray:
    """Bring rows at resolutions ``N / stride`` onto one grid of ``ceil(N / hop)`` columns:
    mean-pool rows finer than the grid, repeat rows coarser (display resampling only).
    Returns ``(len(coefs), ceil(N / hop))`` float32."""
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


def assemble_scalogram(coefs: list[np.ndarray], meta: dict, sample_rate: float, N: int
                       ) -> Scalogram:
    """The scalogram from the first-order moduli ``coefs`` (numpy, one per first-order
    wavelet, each subsampled by a power of two), pooled onto one grid of at most
    `MAX_COLUMNS` columns; frequencies and bandwidths (Hz) from a Scattering1D module's
    ``meta(sample_rate=sample_rate)``. ``N``: the signal's length in samples.

    >>> import torch
    >>> from engine import Scattering1D
    >>> S = Scattering1D(5, 2048, 4, T=0, max_order=1, out_type="list")
    >>> rows = [o["coef"].numpy() for o in S(torch.ones(2048)) if o["order"] == 1]
    >>> sc = assemble_scalogram(rows, S.meta(sample_rate=8000), 8000, 2048)
    >>> sc.mag.shape == (len(rows), 1024)
    True
    """
    strides = [max(1, N // max(len(c), 1)) for c in coefs]
    # strides are powers of two by construction (2**j1); round for safety
    strides = [2 ** int(round(math.log2(s))) for s in strides]
    hop = 1
    while -(-N // hop) > MAX_COLUMNS:
        hop *= 2
    mag = pool_rows(coefs, strides, N, hop)
    sel = meta["order"] == 1
    freqs = np.asarray(meta["xi_hz"][sel, 0], dtype=np.float64)
    bw = np.asarray(meta["bandwidth_hz"][sel, 0], dtype=np.float64)
    times = (np.arange(mag.shape[1]) * hop / sample_rate).astype(np.float64)
    return Scalogram(mag, freqs, bw, times, hop, N / sample_rate)


# --------------------------------------------------------------------------------------------
# Energies and spin summaries
# --------------------------------------------------------------------------------------------

def sum_squares(a, axis=None) -> np.ndarray | float:
    """Energy ``sum |a|**2`` in float64, over ``axis`` (all axes when None)."""
    return (np.asarray(a, np.float64) ** 2).sum(axis=axis)


def order_energies(coefs: np.ndarray, order: np.ndarray, stride: int) -> dict[int, float]:
    """Energy per scattering order of ``coefs`` ``(C, L)`` (float32, one row per channel of
    ``order`` ``(C,)``), times the output's ``stride`` (samples per column): comparable with the
    signal's energy. Summed in the coefficients' own dtype."""
    return {int(o): float((coefs[order == o] ** 2).sum() * stride) for o in np.unique(order)}


def pair_energies(pairs: dict) -> dict[str, float]:
    """Energy (sum of squares, float64) of each JTFS pair in ``pairs`` (name -> array), in
    `JTFS_PAIRS` order (`engine.toolkit.coeff_energy`)."""
    e = coeff_energy({k: pairs[k] for k in JTFS_PAIRS if k in pairs})
    return {k: e[k] for k in JTFS_PAIRS if k in pairs}


def spin_energies(up: np.ndarray, dn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy of each spin per temporal scale n2: ``up``, ``dn`` ``(n2, n1_fr, n1, L)`` ->
    two ``(n2,)`` arrays."""
    return sum_squares(up, (1, 2, 3)), sum_squares(dn, (1, 2, 3))


def spin_maps(up: np.ndarray, dn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy per (n1, t) of each spin, summed over (n2, n1_fr): two ``(n1, L)`` arrays."""
    return sum_squares(up, (0, 1)), sum_squares(dn, (0, 1))


def energy_over_time(up: np.ndarray, dn: np.ndarray) -> np.ndarray:
    """Energy of both spins per time frame, ``(L,)``."""
    return sum_squares(up, (0, 1, 2)) + sum_squares(dn, (0, 1, 2))


def region_summary(up: np.ndarray, dn: np.ndarray, n1_hz: np.ndarray, times: np.ndarray,
                   t_range: tuple[float, float], f_range: tuple[float, float]) -> dict:
    """Rising/falling energy in a region of (time s, frequency Hz).

    Returns ``up``, ``down`` (energies), ``verdict`` ("rising" / "falling" / "neither"),
    ``ratio_db`` (10 log10 up/down), ``cells_up``/``cells_down`` ``(n2, n1_fr)`` energies
    in the region, and the selected ``n1``/``t`` index arrays.
    """
    n1_sel = np.flatnonzero((n1_hz >= min(f_range)) & (n1_hz <= max(f_range)))
    t_sel = np.flatnonzero((times >= min(t_range)) & (times <= max(t_range)))
    if n1_sel.size == 0 or t_sel.size == 0:
        z = np.zeros(up.shape[:2])
        return dict(up=0.0, down=0.0, verdict="neither", ratio_db=0.0, cells_up=z,
                    cells_down=z, n1=n1_sel, t=t_sel)
    cu = sum_squares(np.asarray(up)[:, :, n1_sel][..., t_sel], (2, 3))
    cd = sum_squares(np.asarray(dn)[:, :, n1_sel][..., t_sel], (2, 3))
    eu, ed = float(cu.sum()), float(cd.sum())
    tiny = 1e-30
    ratio_db = 10 * np.log10((eu + tiny) / (ed + tiny))
    if eu > DOMINANCE * ed:
        verdict = "rising"
    elif ed > DOMINANCE * eu:
        verdict = "falling"
    else:
        verdict = "neither"
    return dict(up=eu, down=ed, verdict=verdict, ratio_db=float(ratio_db), cells_up=cu,
                cells_down=cd, n1=n1_sel, t=t_sel)


# --------------------------------------------------------------------------------------------
# Frequential responses
# --------------------------------------------------------------------------------------------

def frequential_responses(tf) -> dict:
    """The JTFS frequential wavelets (both spins) and low-pass of ``tf`` (a
    `engine.jtfs.TimeFrequencyScattering`) as magnitude responses on a grid of at least
    `FR_GRID` frequential frequencies (cycles per ``n1`` bin, ``-0.5 .. 0.5``): the engine's
    `engine.jtfs.frequential_responses`, which every scatviz use goes through.

    Returns ``{"freqs": (L,), "up": (n_fr, L), "dn": (n_fr, L), "phi": (L,) or None}``.
    """
    r = engine_frequential_responses(tf)
    return dict(freqs=r["freqs"], up=r["up"], dn=r["dn"], phi=r["phi"])


# --------------------------------------------------------------------------------------------
# Second order
# --------------------------------------------------------------------------------------------

_PATHS: WeakKeyDictionary = WeakKeyDictionary()


def second_order_paths(scat: Scattering) -> dict:
    """Where each second-order path of ``scat`` sits in the (n1, n2) plane, from the engine's
    ``xi_hz`` meta (the carrier ``xi1`` and the modulation ``xi2`` of each channel).

    Returns ``xi1`` ``(n1,)`` Hz (the first-order wavelets, engine order: highest first),
    ``xi2`` ``(n2,)`` Hz (the second-order wavelets that occur, highest first), ``rows``
    ``(P,)`` the channels of order 2 in ``scat.coefs``, and their ``n1`` and ``n2`` indices
    ``(P,)``. Cached per result (keyed by the object).

    >>> p = second_order_paths(scat)                      # doctest: +SKIP
    >>> scat.xi_hz[p["rows"][0]] == (p["xi1"][p["n1"][0]], p["xi2"][p["n2"][0]])  # doctest: +SKIP
    """
    hit = _PATHS.get(scat)
    if hit is not None:
        return hit
    order = np.asarray(scat.order)
    xi = np.asarray(scat.xi_hz, dtype=np.float64)
    xi1 = xi[order == 1, 0]
    rows = np.flatnonzero(order == 2)
    xi2 = np.unique(xi[rows, 1])[::-1] if rows.size else np.zeros(0)

    def nearest(values, grid):
        if not grid.size:
            return np.zeros(len(values), int)
        return np.abs(values[:, None] - grid[None, :]).argmin(axis=1)

    out = dict(xi1=xi1, xi2=xi2, rows=rows, n1=nearest(xi[rows, 0], xi1),
               n2=nearest(xi[rows, 1], xi2))
    _PATHS[scat] = out
    return out


def scattergram(scat: Scattering, n1: int) -> tuple[np.ndarray, np.ndarray]:
    """The second-order scattergram of first-order wavelet ``n1`` (engine order): the
    averaged ``S2[n1, n2](t)`` as ``(k, L)`` float32, rows from the lowest modulation rate
    to the highest, and their modulation frequencies ``(k,)`` Hz (ascending). ``k`` is 0
    for a wavelet with no second-order path (the highest scales: ``j2 > j1`` is needed).

    Raises ValueError for an ``n1`` outside ``0 .. n_1 - 1``."""
    p = second_order_paths(scat)
    if not 0 <= n1 < len(p["xi1"]):
        raise ValueError(f"n1={n1} is not a first-order wavelet; choose 0..{len(p['xi1']) - 1}.")
    sel = np.flatnonzero(p["n1"] == n1)
    sel = sel[np.argsort(p["xi2"][p["n2"][sel]])]           # lowest modulation first
    return (np.asarray(scat.coefs[p["rows"][sel]], np.float32),
            p["xi2"][p["n2"][sel]].astype(np.float64))


def _inner(L: int) -> slice:
    """The frames away from the first and last 10 % (boundary effects)."""
    cut = L // 10
    return slice(cut, L - cut) if L - 2 * cut > 0 else slice(0, L)


def loudest_second_order(scat: Scattering) -> tuple[int, int]:
    """``(n1, frame)``: the first-order wavelet (engine order) and the time frame with the
    most second-order energy, both counted away from the first and last 10 % of the frames
    (where boundary effects can dominate)."""
    p = second_order_paths(scat)
    if not p["rows"].size:
        return 0, 0
    sl = _inner(scat.coefs.shape[-1])
    e = np.asarray(scat.coefs[p["rows"]], np.float64)[:, sl] ** 2
    n1 = int(np.argmax(np.bincount(p["n1"], weights=e.sum(axis=1), minlength=len(p["xi1"]))))
    return n1, int(np.argmax(e.sum(axis=0))) + (sl.start or 0)


def second_order_slice(scat: Scattering, frame: int) -> np.ndarray:
    """``S2`` at one time frame in the (n1, n2) plane, as ScatNet's ``display_slice``:
    ``(n1, n2)`` float32 in the engine's order (highest frequency first on both axes), NaN
    where no path exists."""
    p = second_order_paths(scat)
    L = scat.coefs.shape[-1]
    if not 0 <= frame < L:
        raise ValueError(f"frame={frame} is outside the scattering's 0..{L - 1} frames.")
    out = np.full((len(p["xi1"]), len(p["xi2"])), np.nan, np.float32)
    out[p["n1"], p["n2"]] = scat.coefs[p["rows"], frame]
    return out


# --------------------------------------------------------------------------------------------
# Energy per first-order frequency
# --------------------------------------------------------------------------------------------

def energy_profile(jt) -> dict:
    """The energy of each JTFS pair per first-order frequency (WaveSpin's
    ``energy_profile_jtfs`` with ``flatten``): every coefficient of a pair summed over all
    but its ``n1`` axis, from a `scatviz.results.JTFSResult`.

    Returns ``n1_hz`` ``(n1,)`` Hz (the joint pairs' ``n1`` bins, engine order: highest
    first), ``energy`` {pair: ``(n1,)``} for the joint pairs present (`JTFS_PAIRS` order),
    ``s1_hz`` and ``s1`` (first order, on its own wavelets: without frequential averaging
    the same as ``n1_hz``).

    >>> prof = energy_profile(state.result.jtfs)                 # doctest: +SKIP
    >>> prof["energy"]["psi_t * psi_f_up"].shape == prof["n1_hz"].shape   # doctest: +SKIP
    """
    n1 = jt.up.shape[2]
    energy = {}
    for name in JTFS_PAIRS:
        a = jt.pairs.get(name) if jt.pairs else None
        if a is None or name in ("S0", "S1"):
            continue
        a = np.asarray(a)
        if a.ndim < 2 or a.shape[-2] != n1:
            continue
        energy[name] = sum_squares(a.reshape(-1, n1, a.shape[-1]), (0, 2))
    meta = jt.meta
    s1 = np.asarray(jt.pairs["S1"]) if jt.pairs and "S1" in jt.pairs else np.zeros((0, 1))
    s1 = s1.reshape(-1, s1.shape[-1])
    sel = np.asarray(meta["pair"]) == "S1" if meta is not None else np.zeros(0, bool)
    s1_hz = np.asarray(meta["xi1_hz"], float)[sel] if sel.any() else np.full(len(s1), np.nan)
    return dict(n1_hz=np.asarray(jt.n1_hz, float), energy=energy, s1_hz=s1_hz[:len(s1)],
                s1=sum_squares(s1, 1))


# --------------------------------------------------------------------------------------------
# Note names
# --------------------------------------------------------------------------------------------

NOTE_NAMES = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")


def note_name(hz: float, cents: bool = False) -> str:
    """The equal-tempered note nearest ``hz`` (A4 = 440 Hz, librosa's ``hz_to_note``
    spelling: ``"C♯4"``); with ``cents`` the offset too (``"A4+12"``); "" for a frequency
    that is not positive.

    >>> note_name(440.0), note_name(261.63), note_name(450, cents=True)
    ('A4', 'C4', 'A4+39')
    """
    if not (hz > 0 and np.isfinite(hz)):
        return ""
    midi = 69 + 12 * math.log2(hz / 440.0)
    m = int(round(midi))
    name = f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"
    if cents:
        c = int(round(100 * (midi - m)))
        name += f"{c:+d}" if c else ""
    return name


def note_ticks(ticks: dict, freqs_at) -> dict:
    """Tick labels as note names: ``ticks`` {position: label} and ``freqs_at(position)`` the
    frequency (Hz) at each position."""
    return {pos: note_name(float(freqs_at(pos))) or lbl for pos, lbl in ticks.items()}
