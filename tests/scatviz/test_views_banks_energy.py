"""Filter-bank heatmaps (psi1, psi2, frequential; re/im/abs) and the JTFS energy per n1."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.analysis import energy_profile, note_name, sum_squares
from scatviz.state import jtfs_available
from scatviz.views.base import ViewContext

needs_jtfs = pytest.mark.skipif(not jtfs_available(), reason="engine/jtfs.py not available")


@needs_jtfs
def test_filterbank_heatmaps_parts_and_axes(jstate):
    from scatviz.views.fb_heatmap import FilterBankHeatmapView

    ctx = ViewContext(jstate.duration)
    v = FilterBankHeatmapView(jstate, context=ctx)
    bank = jstate.result.bank
    re1 = v.heatmap_data("psi1")["image"].copy()
    assert re1.shape[0] == len(bank.xi1_hz)
    assert v.heatmap_data("psi2")["image"].shape[0] == len(bank.xi2_hz)
    nfr = jstate.result.jtfs.up.shape[1]
    fr = v.heatmap_data("fr")
    assert fr["image"].shape[0] == 2 * nfr + 1 and "φ_f" in fr["yticks"].values()
    # each row scaled to its peak modulus; rows low to high frequency, labelled in Hz
    assert np.abs(re1).max(axis=1) == pytest.approx(np.ones(len(re1)), abs=0.05)
    labels = list(v.heatmap_data("psi1")["yticks"].values())
    assert float(labels[0]) < float(labels[-1])
    v.part = "im"
    im1 = v.heatmap_data("psi1")["image"]
    v.part = "abs"
    ab1 = v.heatmap_data("psi1")["image"]
    np.testing.assert_allclose(ab1 ** 2, re1 ** 2 + im1 ** 2, atol=2e-3)
    assert ab1.min() >= 0 and v.images["psi1"].mapper.low == 0
    # the frequential phi_f is real and even: no imaginary part
    v.part = "im"
    row = list(fr["yticks"].values()).index("φ_f")
    assert np.abs(v.heatmap_data("fr")["image"][row]).max() < 1e-6
    ctx.settings.pitch = True
    assert all(lbl[0] in "ABCDEFG" for lbl in v.heatmap_data("psi1")["yticks"].values())


@needs_jtfs
def test_energy_profile_sums_each_pair_over_all_but_n1(jstate):
    jt = jstate.result.jtfs
    prof = energy_profile(jt)
    assert set(prof["energy"]) == {"phi_t * phi_f", "phi_t * psi_f", "psi_t * phi_f",
                                   "psi_t * psi_f_up", "psi_t * psi_f_dn"}
    up = prof["energy"]["psi_t * psi_f_up"]
    np.testing.assert_allclose(up, sum_squares(jt.up, (0, 1, 3)), rtol=1e-6)
    total = sum(float(sum_squares(jt.pairs[p])) for p in prof["energy"])
    assert sum(float(e.sum()) for e in prof["energy"].values()) == pytest.approx(total)
    assert len(prof["s1"]) == len(prof["s1_hz"]) == jt.pairs["S1"].shape[0]
    # a rising chirp: spin up dominates over most of the band
    assert (up > prof["energy"]["psi_t * psi_f_dn"]).mean() > 0.5


@needs_jtfs
def test_energy_profile_view_and_pitch(jstate):
    from scatviz.views.energy_profile import EnergyProfileView

    ctx = ViewContext(jstate.duration)
    v = EnergyProfileView(jstate, context=ctx)
    d = v.profile_data()
    assert "S1" in d and "psi_t * psi_f_up" in d
    f, e = d["psi_t * psi_f_up"]
    assert np.all(np.diff(f) > 0) and np.all(e > 0)
    assert v.figure.x_range.start < f.min() and f.max() < v.figure.x_range.end
    ctx.settings.pitch = True
    labels = v.figure.xaxis[0].major_label_overrides
    assert labels and all(lbl == note_name(pos) for pos, lbl in labels.items())
    ctx.settings.pitch = False
    assert not v.figure.xaxis[0].major_label_overrides
