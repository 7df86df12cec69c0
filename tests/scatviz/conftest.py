"""Fixtures that the scatviz tests share."""

from __future__ import annotations

import pytest

from scatviz.signals_io import load_asset
from scatviz.state import ScatState, jtfs_available


@pytest.fixture(scope="module")
def jstate() -> ScatState:
    """The exponential chirp with JTFS (J=6, Q1=8, J_fr=3, F=1: every ``n1`` kept), computed
    once per test module; skipped without ``engine/jtfs.py``."""
    if not jtfs_available():
        pytest.skip("engine/jtfs.py not available")
    return ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8, J_fr=3, F=1)
