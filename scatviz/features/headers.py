"""The file headers of a feature run: sample rate, frames and channels of each file, read
without decoding anything.

This module imports only numpy and soundfile (the package's ``__init__`` is lazy), so that
the header tasks a Dask worker runs first (`scatviz.features.extraction.gather_headers`) do
not wait for torch to import.

>>> sr, frames, channels = read_headers([])
>>> frames.shape
(0,)
"""

from __future__ import annotations

import numpy as np

__all__ = ["read_headers"]


def read_headers(files) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sample_rate Hz, frames, channels)`` of each file from its header (`soundfile.info`;
    nothing decoded). An unreadable header gives ``(nan, 0, 1)``: the worker records why."""
    import soundfile as sf

    sr, fr, ch = [], [], []
    for p in files:
        try:
            info = sf.info(str(p))
            sr.append(float(info.samplerate))
            fr.append(int(info.frames))
            ch.append(int(info.channels))
        except Exception:       # corrupt or not audio: the worker's read gives the reason
            sr.append(np.nan)
            fr.append(0)
            ch.append(1)
    return np.array(sr), np.array(fr, dtype=np.int64), np.array(ch, dtype=np.int64)
