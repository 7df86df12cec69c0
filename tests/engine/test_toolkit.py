"""engine.toolkit: filter bank validation, energies, distances, packing, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Scattering1D, TimeFrequencyScattering
from engine.filterbank import build_filterbank, gauss_1d, morlet_1d, sigma_for_q
from engine.toolkit import (
    THRESHOLDS,
    coeff_distance,
    coeff_energy,
    energy_conservation,
    lp_sum,
    normalize,
    pack_coeffs_jtfs,
    sparse_mean,
    validate_filterbank,
)


def gaussian_bank(N, centres, widths):
    f = np.fft.fftfreq(N)
    return np.stack([np.exp(-((f - c) ** 2) / (2 * w**2)) for c, w in zip(centres, widths)])


@pytest.fixture(scope="module")
def kymatio_report():
    return validate_filterbank(Scattering1D(6, 8192, Q=16))


def test_kymatio_design_real_numbers(kymatio_report):
    r = kymatio_report
    assert set(r.families) == {"psi1", "psi2"}
    assert r.params["design"] == "kymatio" and r.params["J"] == 6
    # Littlewood-Paley sum, energy convention for real inputs: Kymatio's Morlets (peak 1)
    # keep about half the energy, 0.23..0.56 in the wavelet band; its own convention (no 1/2)
    # gives the well-known 0.43..1.13
    (flat,) = r.get("lp_flatness", "psi1")
    (top,) = r.get("lp_max", "psi1")
    assert not flat.ok and top.ok
    assert 0.2 < flat.value < 0.25
    assert "0.43..1.13" in flat.message
    d = r.families["psi1"]
    f = np.fft.fftfreq(len(d.lp))
    kym = 2 * d.lp - np.abs(d.phi_f) ** 2
    band = (f >= 0) & (f <= d.peaks.max())
    assert 0.42 < kym[band].min() < 0.44 and 1.12 < kym[band].max() < 1.13
    assert flat.filters == [48, 49]          # the dip at the elbow of the linear region
    # Morlet's negative-frequency part (kappa term) on the lowest wavelet; periodisation on the top
    (an,) = r.get("analyticity", "psi1")
    assert an.severity == "warning" and 62 in an.filters and 0 in an.filters
    assert 5e-4 < an.value < 1e-3
    # what Kymatio gets right
    for check in ("zero_mean", "redundancy", "time_decay", "spacing", "temporal_peaks"):
        assert all(x.ok for x in r.get(check, "psi1")), check
    text = r.text()
    assert "psi1.analyticity" in text and "WARNING" in text and "J=6" in text


def test_ideal_bank_passes():
    # Gaussians in log-frequency: geometric peaks, constant Q, neighbours crossing at 1/sqrt(2)
    N = 4096
    xi = 0.25 * 2.0 ** (-np.arange(12) / 2)
    sig = np.array([sigma_for_q(x, 2) for x in xi])
    psi = gaussian_bank(N, xi, sig)
    r = validate_filterbank(psi * np.sqrt(2), thresholds={"lp_flatness": 0.5, "lp_max": 1.5})
    assert set(r.families) == {"psi"}
    bad = {f.check for f in r.problems}
    assert bad <= {"zero_mean"}, r.text()
    assert all(x.ok for x in r.get("constant_q")) and all(x.ok for x in r.get("spacing"))


def test_each_check_names_its_filter():
    N = 2048
    xi = 0.3 * 2.0 ** (-np.arange(8) / 2)
    psi = gaussian_bank(N, xi, xi * 0.1)
    f = np.fft.fftfreq(N)
    # 3: a duplicate of filter 2; 5: moved off its progression
    bad = psi.copy()
    bad[5] = np.exp(-((f - xi[5] * 1.25) ** 2) / (2 * (xi[5] * 0.1) ** 2))
    bad = np.vstack([bad, psi[2:3]])
    r = validate_filterbank(bad)
    assert 8 in r.get("redundancy")[0].filters
    assert 5 in r.get("spacing")[0].filters
    # non-analytic: a real cosine-like filter with a mirror peak
    twin = psi[1] + 0.1 * psi[1][(-np.arange(N)) % N]
    r = validate_filterbank(np.vstack([psi, twin]))
    assert r.get("analyticity")[0].filters == [8]
    # zero mean: Morlet passes, a plain Gaussian at low frequency does not
    r = validate_filterbank(np.vstack([morlet_1d(N, 0.01, 0.01), gaussian_bank(N, [0.01], [0.01])]))
    assert r.get("zero_mean")[0].filters == [1]
    # time decay: a filter too narrow in frequency for N wraps around in time
    narrow = gaussian_bank(N, [0.1], [0.2 / N])
    assert validate_filterbank(narrow).get("time_decay")[0].filters == [0]
    # frequency decay: wide at Nyquist
    wide = gaussian_bank(N, [0.45], [0.05])
    assert validate_filterbank(wide).get("frequency_decay")[0].filters == [0]
    # two temporal peaks: a filter made of two delayed copies
    h = np.zeros(N, complex)
    t = np.arange(N)
    for c in (300, 700):
        h += np.exp(-((t - c) ** 2) / (2 * 30**2)) * np.exp(2j * np.pi * 0.1 * t)
    r = validate_filterbank(np.fft.fft(h)[None])
    assert r.get("temporal_peaks")[0].filters == [0]
    assert r.get("temporal_peaks")[0].value == 2


def test_inputs_and_thresholds():
    fb = build_filterbank(1024, 5, (8, 1), 32)
    r1 = validate_filterbank(fb, families=["psi1"])
    r2 = validate_filterbank(torch.from_numpy(fb.as_arrays()["psi1"]), phi_f=fb.phi.response)
    v1 = {f.check: f.value for f in r1.findings}
    v2 = {f.check: f.value for f in r2.findings}
    assert v1 == pytest.approx(v2)
    assert set(THRESHOLDS) >= {f.check for f in r1.findings}
    with pytest.raises(ValueError, match="Unknown thresholds"):
        validate_filterbank(fb, thresholds={"nope": 1})
    with pytest.raises(ValueError, match="shape"):
        validate_filterbank(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="No families"):
        validate_filterbank(fb, families=["psi9"])


def test_lp_sum_folds_analytic():
    N = 512
    phi = gauss_1d(N, 0.01)
    psi = np.stack([morlet_1d(N, 0.2, 0.03)])
    A = lp_sum(psi)
    assert A.shape == (N,) and np.allclose(A, A[(-np.arange(N)) % N])
    peak = np.abs(psi).max() ** 2
    assert A.max() == pytest.approx(peak / 2, rel=1e-3)        # halved for real inputs
    assert lp_sum(psi, phi)[0] == pytest.approx(phi[0] ** 2)
    assert lp_sum(psi, fold=False).max() == pytest.approx(peak)


def test_lp_sum_equals_its_definition_for_real_and_complex_families():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((5, 64))
    cplx = real + 1j * rng.standard_normal((5, 64))
    for psi in (real, cplx):
        direct = (np.abs(psi) ** 2).sum(0)
        np.testing.assert_allclose(lp_sum(psi, fold=False), direct, rtol=1e-13)
        np.testing.assert_allclose(lp_sum(psi, fold=True),
                                   0.5 * (direct + direct[(-np.arange(64)) % 64]), rtol=1e-13)
    np.testing.assert_allclose(lp_sum(real[0], fold=False), real[0] ** 2, rtol=1e-13)


def test_energy_conservation_and_energy():
    x = torch.randn(2, 4096, generator=torch.Generator().manual_seed(0))
    S = Scattering1D(6, 4096, 8)
    r = energy_conservation(x, S)
    assert set(r) == {"order0", "order1", "order2", "total"}
    assert r["total"] == pytest.approx(r["order0"] + r["order1"] + r["order2"])
    # unaveraged: order 0 is the signal itself (ratio 1); analytic Morlets keep about half
    r0 = energy_conservation(x, Scattering1D(6, 4096, 8, T=0, out_type="dict"))
    assert r0["order0"] == pytest.approx(1.0, rel=1e-5)
    assert 0.3 < r0["order1"] < 0.6
    # the same numbers from array, list and dict outputs
    Sx = S(x)
    e_arr = coeff_energy(Sx, transform=S)
    e_list = coeff_energy(Scattering1D(6, 4096, 8, out_type="list")(x))
    assert e_arr == pytest.approx(e_list)
    assert e_arr["total"] == pytest.approx(float((Sx.double() ** 2).sum()), rel=1e-6)


def test_coeff_distance():
    S = Scattering1D(5, 2048, 8)
    x = torch.randn(2048, generator=torch.Generator().manual_seed(1))
    d0 = coeff_distance(S(x), S(x), transform=S)
    assert all(v == 0 for v in d0.values())
    d = coeff_distance(S(x), S(torch.roll(x, 1)), transform=S)
    assert 0 < d["total"] < 0.05                       # near-invariant to a small shift
    d = coeff_distance({"a": np.ones(3)}, {"a": np.zeros(3)})
    assert d["a"] == 1.0
    with pytest.raises(ValueError, match="different groups"):
        coeff_distance({"a": np.ones(3)}, {"b": np.ones(3)})


def test_pack_coeffs_jtfs_synthetic():
    B, n2, nfr, n1, t = 2, 3, 4, 5, 6
    rng = np.random.default_rng(0)
    Sx = {
        "S0": rng.random((B, 1, t)),
        "S1": rng.random((B, n1, t)),
        "phi_t * phi_f": rng.random((B, 1, 1, n1, t)),
        "phi_t * psi_f": rng.random((B, 1, nfr, n1, t)),
        "psi_t * phi_f": rng.random((B, n2, 1, n1, t)),
        "psi_t * psi_f_up": rng.random((B, n2, nfr, n1, t)),
        "psi_t * psi_f_dn": rng.random((B, n2, nfr, n1, t)),
    }
    P = pack_coeffs_jtfs(Sx)
    assert P.shape == (B, n2 + 1, 2 * nfr + 1, n1, t)
    np.testing.assert_array_equal(P[:, 1:, nfr + 1:], Sx["psi_t * psi_f_up"])
    np.testing.assert_array_equal(P[:, 1:, :nfr], Sx["psi_t * psi_f_dn"][:, :, ::-1])
    np.testing.assert_array_equal(P[:, 1:, nfr], Sx["psi_t * phi_f"][:, :, 0])
    np.testing.assert_array_equal(P[:, 0, nfr], Sx["phi_t * phi_f"][:, 0, 0])
    joint = sum((Sx[k] ** 2).sum() for k in Sx if k not in ("S0", "S1"))
    assert (P**2).sum() == pytest.approx(joint)
    assert pack_coeffs_jtfs(Sx, "3d").shape == (B, (n2 + 1) * (2 * nfr + 1), n1, t)
    with pytest.raises(ValueError, match="missing"):
        pack_coeffs_jtfs({"S0": Sx["S0"]})


def test_normalize_and_sparse_mean():
    rng = np.random.default_rng(0)
    X = np.abs(rng.normal(size=(8, 5, 32)))
    Xn = normalize(X)
    assert np.allclose(Xn.mean(axis=(1, 2)), 0) and np.allclose(Xn.std(axis=(1, 2)), 1)
    # loudness invariance: sparse mean rescales C, so a louder copy normalises the same
    np.testing.assert_allclose(normalize(X * 100.0), Xn, atol=1e-10)
    # an empty extra octave of zeros does not change the contraction of the others
    Xz = np.concatenate([X, np.zeros((8, 5, 32))], axis=1)
    assert sparse_mean(Xz) == pytest.approx(sparse_mean(X), rel=0.02)
    per_feature = normalize(X, mean_axis=(0, 2), std_axis=(0, 2), mu="median")
    assert np.allclose(per_feature.mean(axis=(0, 2)), 0)
    with pytest.raises(ValueError, match="3-D"):
        normalize(X[0])
    with pytest.raises(ValueError, match="non-negative"):
        normalize(-X)


def test_jtfs_frequential_family_and_packing():
    J = TimeFrequencyScattering(6, 3, 8, 4096, out_type="pairs")
    r = validate_filterbank(J)
    assert set(r.families) == {"psi1", "psi2", "psi_fr"}
    d = r.families["psi_fr"]
    assert not d.analytic and (d.peaks > 0).any() and (d.peaks < 0).any()   # both spins
    (flat,) = r.get("lp_flatness", "psi_fr")
    assert flat.ok and flat.value > 0.99              # the tight frequential bank: LP = 1
    assert r.params["J_fr"] == 3
    x = torch.randn(2, 4096, generator=torch.Generator().manual_seed(0))
    out = J(x)
    P = pack_coeffs_jtfs(out)
    n2, nfr = out["psi_t * psi_f_up"].shape[1:3]
    assert P.shape[:3] == (2, n2 + 1, 2 * nfr + 1)
    joint = sum(v for k, v in coeff_energy(out).items() if k not in ("S0", "S1", "total"))
    assert float((P.astype(np.float64) ** 2).sum()) == pytest.approx(joint, rel=1e-5)
    e = energy_conservation(x, J)
    assert set(e) == set(out) | {"total"}
