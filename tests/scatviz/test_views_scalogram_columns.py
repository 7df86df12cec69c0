"""The scalogram sent at about the plot's width (``max_columns``) where several sit side by
side (the reconstruction page), and at full resolution on the dashboard."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.signals_io import LoadedSignal
from scatviz.state import ScatState
from scatviz.views.scalogram import ScalogramView, decimate_columns


def test_decimate_columns_keeps_each_blocks_maximum():
    db = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    db[0, 4] = 100.0                                  # a blip survives the decimation
    out = decimate_columns(db, 4)                     # blocks of ceil(10 / 4) = 3 columns
    assert out.shape == (2, 4)
    assert out[0].tolist() == [2.0, 100.0, 8.0, 9.0]  # the last block: its one real column
    assert decimate_columns(db, None) is db and decimate_columns(db, 10) is db
    with pytest.raises(ValueError, match="max_columns"):
        decimate_columns(db, 0)


def _signal(n: int = 1024, sr: float = 8000.0) -> LoadedSignal:
    t = np.arange(n) / sr
    x = np.sin(2 * np.pi * 800 * t).astype(np.float32)
    x[600] += 4.0                                     # a click
    return LoadedSignal(x, sr, "tone and click")


def test_scalogram_view_sends_at_most_max_columns_over_the_same_duration():
    st = ScatState(J=6, Q1=8, with_jtfs=False)
    st.set_signal(_signal())
    st.refresh()
    full = ScalogramView(st)
    small = ScalogramView(st, max_columns=400)
    f, s = full.image_data(), small.image_data()
    width = st.result.scalogram.mag.shape[1]
    assert f["db"].shape[1] == width                  # the dashboard's: every column
    assert width > 400 and s["db"].shape[1] <= 400 and s["db"].shape[0] == f["db"].shape[0]
    k = -(-width // s["db"].shape[1])
    # the image covers the signal's duration (its last, partial column standing for fewer)
    assert s["dw"] == pytest.approx(f["dw"] * s["db"].shape[1] * k / width)
    assert s["dw"] >= f["dw"] and s["dw"] - f["dw"] < f["dw"] * k / width
    assert float(s["db"].max()) == pytest.approx(float(f["db"].max()))  # peak kept
    assert small.source.data["image"][0].nbytes < full.source.data["image"][0].nbytes / 2


def test_reconstruction_page_decimates_its_three_scalograms(monkeypatch, tmp_path):
    monkeypatch.setenv("SCATVIZ_DEMO_PROFILE", "quick")
    monkeypatch.setenv("SCATVIZ_DEMO_CACHE", str(tmp_path / "cache"))
    from scatviz.demos.ui_reconstruction import SCALOGRAM_COLUMNS, ReconstructionPage

    page = ReconstructionPage(compute_first=False)
    scalograms = [scal for _sig, scal in page.views.values()]
    assert len(scalograms) == 3
    assert all(v.max_columns == SCALOGRAM_COLUMNS for v in scalograms)


def test_why_jtfs_page_decimates_its_two_scalograms(monkeypatch, tmp_path):
    monkeypatch.setenv("SCATVIZ_DEMO_PROFILE", "quick")
    monkeypatch.setenv("SCATVIZ_DEMO_CACHE", str(tmp_path / "cache"))
    from scatviz.demos.ui_why_jtfs import SCALOGRAM_COLUMNS, WhyJTFSPage

    page = WhyJTFSPage(compute_first=False)
    assert len(page.scalograms) == 2
    assert all(v.max_columns == SCALOGRAM_COLUMNS for v in page.scalograms)
