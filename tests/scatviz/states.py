"""States that the server tests share: one on seeded noise that computes through a given
`TransformService`."""

from __future__ import annotations

import numpy as np

from scatviz.state import ScatState


def noise_state(service, seed: int, **params) -> ScatState:
    """A state (``auto=False``: it computes when asked) on 4096 samples of white noise seeded
    by ``seed`` at 8 kHz, computing through ``service``; J=5, Q1=4 and no JTFS unless
    ``params`` say otherwise."""
    st = ScatState(auto=False, **{"J": 5, "Q1": 4, "with_jtfs": False, **params})
    st.service = service
    x = np.random.default_rng(seed).standard_normal(4096).astype(np.float32)
    st.param.update(signal=x, sample_rate=8000.0)
    return st
