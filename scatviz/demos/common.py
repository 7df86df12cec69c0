"""Small helpers shared by the demos and ``scatviz render``."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["scalogram", "draw_scalogram"]


def scalogram(x: np.ndarray, J: int, Q, design: str = "kymatio", sample_rate: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray]:
    """``|x * psi1|`` from the engine (``Scattering1D(J, N, Q, T=0)`` order 1), every row
    resampled to the finest row's length: ``(img (n1, L), freqs (n1,))``, rows from high to
    low frequency as the engine orders them, frequencies in Hz (cycles/sample when
    ``sample_rate=1``)."""
    from engine import Scattering1D

    x = np.asarray(x, dtype=np.float32)
    S = Scattering1D(J, len(x), Q, T=0, max_order=1, out_type="list", filterbank=design)
    with torch.no_grad():
        out = S(torch.from_numpy(x))
    rows = [c["coef"].numpy() for c in out if c["order"] == 1]
    L = max(len(r) for r in rows)
    img = np.stack([np.interp(np.linspace(0, len(r) - 1, L), np.arange(len(r)), r)
                    for r in rows])
    meta = S.meta()
    return img, meta["xi"][meta["order"] == 1, 0] * sample_rate


def draw_scalogram(ax, img: np.ndarray, freqs: np.ndarray, duration: float,
                   dynamic_range_db: float = 60.0, unit: str = "Hz", n_ticks: int = 6):
    """Draw a scalogram (rows high to low frequency) on ``ax`` in dB, low frequencies at the
    bottom, ticks labelled with frequencies."""
    db = 20 * np.log10(img + 1e-30)
    top = db.max()
    im = ax.imshow(db[::-1], aspect="auto", origin="lower", cmap="magma",
                   extent=(0, duration, 0, len(freqs)), vmin=top - dynamic_range_db, vmax=top,
                   interpolation="nearest")
    idx = np.linspace(0, len(freqs) - 1, n_ticks).round().astype(int)
    fmt = "{:.0f}" if unit == "Hz" else "{:.3f}"
    ax.set_yticks(len(freqs) - 1 - idx + 0.5, [fmt.format(freqs[i]) for i in idx])
    ax.set_ylabel(f"frequency ({unit})")
    return im
