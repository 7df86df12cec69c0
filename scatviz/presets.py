"""Teaching presets of the dashboard: name -> the `ScatState` parameter values they set."""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS"]

PRESETS: dict[str, dict[str, Any]] = {
    "Default": dict(J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1),
    "Speech (fine frequency)": dict(J=7, Q1=12, Q2=1, T=0, J_fr=4, Q_fr=1, F=1),
    "Transients (Q=1, small J)": dict(J=4, Q1=2, Q2=1, T=0, J_fr=1, Q_fr=1, F=1),
    "Chirps & spin (JTFS)": dict(J=6, Q1=16, Q2=1, T=0, J_fr=4, Q_fr=2, F=1),
    "Long averaging": dict(J=9, Q1=8, Q2=2, T=0, J_fr=4, Q_fr=1, F=1),
}
