"""The joint time-frequency wavelets of JTFS, ``psi_t * psi_f``, as images in the layout of
the JTFS grid (`scatviz.views.jtfs2d.mosaic_layout`: spin up above, ``phi_f`` in the middle,
spin down below; ``phi_t`` left of the ``n2`` columns).

A joint wavelet is the outer product of a temporal wavelet ``psi_t`` (a second-order wavelet
``psi2[n2]``, or the low-pass ``phi_t``) and a frequential kernel ``psi_f`` along ``n1``
(``psi_f_up``/``psi_f_dn`` at scale ``n1_fr``, or ``phi_f``): convolving the scalogram with
it is what JTFS does before the modulus. The filters are the engine's: the temporal ones
from the Scattering1D filter bank of the setting (`scatviz.results.FilterBankArrays`: the
same design, ``J``, ``Q`` and ``T`` as the JTFS), the frequential ones from
`engine.jtfs.frequential_filters` (the very taps the transform applies).

Each cell shows its own wavelet around its centre (time: where ``|psi_t|`` exceeds 1 % of
its peak; frequency: the kernel's taps), resampled to ``CELL`` pixels and scaled to its
own peak (as WaveSpin's ``viz_jtfs_2d`` colour-norms each wavelet): the cells compare
shapes and orientations, not sizes. Up in a cell is higher frequency (lower ``n1``), right
is later time, so a spin-up wavelet's ridges rise: it responds to rising frequencies.

Built once per JTFS result and part (`joint_wavelets`), shared by every view and session
that shows that setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np

from engine.jtfs import frequential_filters
from scatviz.results import Transforms

__all__ = ["CELL", "PARTS", "JointGrid", "joint_wavelets", "take_part"]

#: Pixels of a cell: (frequency rows, time columns).
CELL = (32, 48)
#: Parts of a complex filter: real, imaginary, modulus.
PARTS = ("re", "im", "abs")
#: A cell shows the centred window that holds this fraction of its filter's energy.
REACH = 0.995


def take_part(z: np.ndarray, part: str) -> np.ndarray:
    """``Re z``, ``Im z`` or ``|z|`` (``part`` "re", "im", "abs"), float32."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}.")
    f = {"re": np.real, "im": np.imag, "abs": np.abs}[part]
    return f(z).astype(np.float32)


@dataclass(frozen=True)
class JointGrid:
    """The joint wavelets' image and where each cell is.

    ``image`` ``(H, W)`` float32 (NaN separators), each cell scaled to its peak modulus
    (values in ``[-1, 1]``, ``[0, 1]`` for "abs"); ``row_of``: per ``("up" | "down", n1_fr)``
    and ``("phi", 0)`` the first row of its cells; ``col_of``: per ``n2`` (and ``"phi_t"``)
    the first column; ``xticks``/``yticks`` {position: label}; ``cells`` the list of
    ``(pair, row key, column key)`` drawn; ``part``."""

    image: np.ndarray
    row_of: dict
    col_of: dict
    xticks: dict
    yticks: dict
    cells: list
    part: str


def _crop(h: np.ndarray, c: int) -> np.ndarray:
    """The window of ``h`` centred on index ``c`` that holds `REACH` of its energy."""
    e = np.abs(h) ** 2
    total = e.sum()
    if total <= 0:
        return h
    dist = np.abs(np.arange(len(h)) - c)
    within = np.cumsum(np.bincount(dist, weights=e))
    half = max(int(np.searchsorted(within, REACH * total)), 2)
    return h[max(c - half, 0):c + half + 1]


def _centred_time(response: np.ndarray) -> np.ndarray:
    """A filter's impulse response (complex) from its full-grid frequency response, cropped
    to the centred window that holds `REACH` of its energy (centred on t = 0)."""
    h = np.fft.fftshift(np.fft.ifft(response))
    return _crop(h, len(h) // 2)


def _resample(z: np.ndarray, n: int) -> np.ndarray:
    """``z`` (complex, 1-D) at ``n`` evenly spaced points over its extent (linear)."""
    x = np.linspace(0, len(z) - 1, n)
    i = np.arange(len(z))
    return np.interp(x, i, z.real) + 1j * np.interp(x, i, z.imag)


_CACHE: WeakKeyDictionary = WeakKeyDictionary()


def _filters(tr: Transforms) -> dict:
    """The temporal and frequential filters of the grid, resampled to the cells (complex;
    cached per result): ``t`` {n2 or "phi_t": (CELL[1],)}, ``f`` {(spin, n1_fr) or
    ("phi", 0): (CELL[0],)} with rows low to high frequency."""
    jt = tr.jtfs
    per = _CACHE.setdefault(jt, {})
    if "filters" in per:
        return per["filters"]
    full = tr.bank.full
    xi2 = np.asarray(tr.bank.xi2_hz, np.float64)
    temporal = {"phi_t": _resample(_centred_time(full["phi"]), CELL[1])}
    for n, hz in enumerate(jt.n2_hz):
        k = int(np.argmin(np.abs(xi2 - hz)))             # the bank's psi2 of this n2
        temporal[n] = _resample(_centred_time(full["psi2"][k]), CELL[1])
    key = tr.key                 # (digest, J, Q, T, J_fr, Q_fr, F, design, with_jtfs)
    J_fr, Q_fr, design = int(key[4]), int(key[5]), key[7]
    n1_max = len(tr.scalogram.freqs)
    filters, _ = frequential_filters(design, J_fr, Q_fr, None, n1_max)
    # taps at n1 offsets -H..H; a larger n1 is a lower frequency: reversed, rows go up in Hz
    def kernel(taps):
        return _resample(_crop(taps[::-1], len(taps) // 2), CELL[0])

    freq = {("phi", 0): kernel(filters[0]["taps"])}
    for f in filters[1:]:
        spin = "up" if f["spin"] == 1 else "down"
        freq[(spin, f["n_fr"])] = kernel(f["taps"])
    per["filters"] = out = dict(t=temporal, f=freq)
    return out


def joint_wavelets(tr: Transforms, part: str = "re") -> JointGrid:
    """The joint wavelets of the JTFS of ``tr`` (a `Transforms` with its JTFS) in the grid
    layout; ``part`` of each complex wavelet: "re", "im" or "abs". Cached per result and
    part.

    Raises ValueError when ``tr`` has no JTFS (its message), or for an unknown part.

    >>> g = joint_wavelets(tr, "re")                         # doctest: +SKIP
    >>> g.image.shape                                        # doctest: +SKIP
    """
    if tr.jtfs is None:
        raise ValueError(tr.jtfs_error or "this result has no JTFS (with_jtfs=False).")
    take_part(np.zeros(1, complex), part)                    # check the part
    jt = tr.jtfs
    per = _CACHE.setdefault(jt, {})
    if part in per:
        return per[part]
    filt = _filters(tr)
    n2, nfr = jt.up.shape[:2]
    fh, fw = CELL
    ch, cw = fh + 2, fw + 2                                  # 2-pixel separators
    H, W = (2 * nfr + 1) * ch + 2, (n2 + 1) * cw + 2
    img = np.full((H, W), np.nan, np.float32)
    row_of, yticks = {}, {}
    for j in range(nfr):
        row_of[("down", j)] = j * ch + 2
        row_of[("up", j)] = (2 * nfr - j) * ch + 2
        yticks[row_of[("down", j)] + fh / 2] = f"↓ {jt.n1_fr_labels[j]}"
        yticks[row_of[("up", j)] + fh / 2] = f"↑ {jt.n1_fr_labels[j]}"
    row_of[("phi", 0)] = nfr * ch + 2
    yticks[row_of[("phi", 0)] + fh / 2] = "φ_f"
    col_of, xticks = {"phi_t": 2}, {2 + fw / 2: "φ_t"}
    for n in range(n2):
        col_of[n] = (n2 - n) * cw + 2                        # slowest next to phi_t
        xticks[col_of[n] + fw / 2] = f"{jt.n2_hz[n]:.3g}"
    cells = []

    def put(pair, rk, ck) -> None:
        z = filt["f"][rk][:, None] * filt["t"][ck][None, :]
        peak = float(np.abs(z).max()) or 1.0
        r, c = row_of[rk], col_of[ck]
        img[r:r + fh, c:c + fw] = take_part(z, part) / peak
        cells.append((pair, rk, ck))

    for n in range(n2):
        for j in range(nfr):
            put("psi_t * psi_f_up", ("up", j), n)
            put("psi_t * psi_f_dn", ("down", j), n)
        put("psi_t * phi_f", ("phi", 0), n)
    put("phi_t * phi_f", ("phi", 0), "phi_t")
    for j in range(nfr):                                     # drawn once, as the grid does
        put("phi_t * psi_f", ("down", j), "phi_t")
    per[part] = out = JointGrid(img, row_of, col_of, xticks, yticks, cells, part)
    return out
