"""Small helpers shared by the demos and ``scatviz render``."""

from __future__ import annotations

import numpy as np

from scatviz.pipeline import compute_scalogram
from scatviz.render import draw_scalogram

__all__ = ["scalogram", "draw_scalogram"]


def scalogram(x: np.ndarray, J: int, Q, design: str | None = None, sample_rate: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray]:
    """``|x * psi1|`` from the engine (``Scattering1D(J, N, Q, T=0)`` order 1) on the
    dashboard's grid (`scatviz.pipeline.compute_scalogram`): ``(img (n1, M), freqs (n1,))``,
    rows from high to low frequency as the engine orders them, frequencies in Hz (cycles/sample
    when ``sample_rate=1``)."""
    sc = compute_scalogram(x, sample_rate, J, Q, design)
    return sc.mag, sc.freqs
