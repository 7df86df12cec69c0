"""The joint wavelets psi_t * psi_f: the engine's filters, the grid's layout, the spin's
orientation, the cache, and the view that draws them in place."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.state import jtfs_available

pytestmark = pytest.mark.skipif(not jtfs_available(), reason="engine/jtfs.py not available")


def _orientation(cell: np.ndarray) -> float:
    """Sign of k_t * k_f at the peak of the cell's 2D spectrum (rows: frequency upwards,
    columns: time): negative when the stripes rise (phase constant along a rising line)."""
    spec = np.abs(np.fft.fft2(np.nan_to_num(cell)))
    spec[0, 0] = 0
    kf, kt = np.unravel_index(np.argmax(spec), spec.shape)
    kf = kf if kf <= cell.shape[0] // 2 else kf - cell.shape[0]
    kt = kt if kt <= cell.shape[1] // 2 else kt - cell.shape[1]
    return float(np.sign(kf * kt))


def test_joint_wavelets_layout_and_spin_orientation(jstate):
    from scatviz.joint import CELL, joint_wavelets

    res = jstate.result
    g = joint_wavelets(res, "re")
    n2, nfr = res.jtfs.up.shape[:2]
    fh, fw = CELL
    assert g.image.shape == ((2 * nfr + 1) * (fh + 2) + 2, (n2 + 1) * (fw + 2) + 2)
    # every cell of the JTFS grid, each scaled to its peak modulus
    assert len(g.cells) == 2 * n2 * nfr + n2 + 1 + nfr
    assert np.nanmax(np.abs(g.image)) <= 1 + 1e-6
    assert min(g.row_of[("up", j)] for j in range(nfr)) > g.row_of[("phi", 0)] > max(
        g.row_of[("down", j)] for j in range(nfr))
    assert g.col_of["phi_t"] < min(g.col_of[n] for n in range(n2))
    # a spin-up wavelet's ridges rise (it answers rising frequencies), spin down's fall
    def cell(k, n):
        return g.image[g.row_of[k]:g.row_of[k] + fh, g.col_of[n]:g.col_of[n] + fw]

    for n in range(n2):
        for j in range(1, nfr):               # (the finest frequential scale is ~Nyquist)
            assert _orientation(cell(("up", j), n)) < 0, (n, j)
            assert _orientation(cell(("down", j), n)) > 0, (n, j)
    # modulus: non-negative, the same cells
    a = joint_wavelets(res, "abs")
    assert np.nanmin(a.image) >= 0 and a.cells == g.cells
    with pytest.raises(ValueError, match="part must be one of"):
        joint_wavelets(res, "phase")


def test_joint_wavelets_cached_per_setting(jstate):
    from scatviz.joint import joint_wavelets

    res = jstate.result
    assert joint_wavelets(res, "im") is joint_wavelets(res, "im")


def test_joint_wavelets_view_updates_in_place(jstate):
    from scatviz.views.base import ViewContext
    from scatviz.views.joint_wavelets import JointWaveletsView

    v = JointWaveletsView(jstate, context=ViewContext(jstate.duration))
    d = v.wavelet_data()
    assert d["image"].shape == d["grid"].image.shape and d["part"] == "re"
    assert v.image.mapper.low == -1 and v.image.mapper.high == 1
    fig, src = v.figure, v.image.source
    v.part = "abs"
    assert v.wavelet_data()["part"] == "abs" and v.image.mapper.low == 0
    assert np.nanmin(v.wavelet_data()["image"]) >= 0
    assert v.figure is fig and v.image.source is src
    assert set(v.figure.yaxis[0].major_label_overrides.values()) >= {"φ_f"}
    draws = []
    draw = v.image.draw
    v.image.draw = lambda *a, **k: (draws.append(1), draw(*a, **k))[1]
    jstate.db_range = 50                       # the same JTFS: nothing drawn, nothing sent
    v.part = "abs"
    assert not draws
    jstate.J_fr = 2                            # another frequential bank: drawn once
    nfr = jstate.result.jtfs.up.shape[1]
    assert len(draws) == 1 and len(v.wavelet_data()["grid"].yticks) == 2 * nfr + 1
    jstate.param.update(J_fr=3, db_range=60)
