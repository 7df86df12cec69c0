"""The "tight" filter bank: analytic, Littlewood-Paley-tight, usable by Scattering1D."""

import numpy as np
import pytest
import torch

from engine import Scattering1D, available_designs, build_filterbank
from engine.filterbank import temporal_support
from engine.tight import NYQUIST_TAPER, smooth_step, tight_lowpass, tight_wavelets


def _lp_real(bank):
    """phi^2 + 1/2 sum_n (|psi_n(w)|^2 + |psi_n(-w)|^2) on the FFT grid, per family."""
    a = bank.as_arrays()
    out = {}
    for fam in ("psi1", "psi2"):
        p = a[fam]
        mirrored = np.roll(p[:, ::-1], 1, axis=1)
        out[fam] = a["phi"] ** 2 + 0.5 * (p**2 + mirrored**2).sum(0)
    return out


def test_registered():
    assert "tight" in available_designs()


@pytest.mark.parametrize("J,Q,T", [(6, (8, 1), 64), (8, (16, 1), 256), (5, (1, 1), 16),
                                   (6, (8, 2), 32)])
def test_lp_sum_is_one_and_analytic(J, Q, T):
    N = 2 ** (J + 4)
    bank = build_filterbank(N, J, Q, T, "tight")
    w = np.fft.fftfreq(N)
    inside = np.abs(w) < 0.5 - NYQUIST_TAPER
    for fam, lp in _lp_real(bank).items():
        assert np.abs(lp[inside] - 1).max() < 1e-12, fam
        assert lp.max() <= 1 + 1e-12
        psi = bank.as_arrays()[fam]
        assert np.all(psi[:, w <= 0] == 0), "wavelets must be exactly 0 at DC and below"
    assert bank.phi.response[0] == 1.0
    # Same centre frequencies (and count) as Kymatio's design.
    kym = build_filterbank(N, J, Q, T, "kymatio")
    assert [p.xi for p in bank.psi1] == [p.xi for p in kym.psi1]


def test_energy_conserved_first_order():
    """For real x: ||x * phi||^2 + sum ||x * psi_n||^2 = ||x||^2 up to the Nyquist taper."""
    N, J, Q, T = 2048, 6, (8, 1), 64
    bank = build_filterbank(N, J, Q, T, "tight")
    a = bank.as_arrays()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N)
    X = np.fft.fft(x)
    e = np.sum(np.abs(np.fft.ifft(X * a["phi"])) ** 2)
    e += np.sum(np.abs(np.fft.ifft(X[None] * a["psi1"], axis=1)) ** 2)
    ratio = e / np.sum(x**2)
    assert 1 - 2 * NYQUIST_TAPER < ratio <= 1 + 1e-12
    # Below the taper, exact: a low-passed signal.
    X[np.abs(np.fft.fftfreq(N)) > 0.45] = 0
    x = np.fft.ifft(X).real
    X = np.fft.fft(x)
    e = np.sum(np.abs(np.fft.ifft(X * a["phi"])) ** 2)
    e += np.sum(np.abs(np.fft.ifft(X[None] * a["psi1"], axis=1)) ** 2)
    assert abs(e / np.sum(x**2) - 1) < 1e-10


def test_filters_decay_in_time():
    N, J = 4096, 6
    bank = build_filterbank(N, J, (8, 1), 2**J, "tight")
    h = np.abs(np.fft.ifft(bank.as_arrays()["psi1"], axis=1))
    h /= h.max(axis=1, keepdims=True)
    # The constant-Q wavelets have fallen under 1 % of their peak 8 * 2**J samples from their
    # centre; the lowest ones (they reach down to the low-pass) within 24 * 2**J.
    assert h[:-8, 8 * 2**J: N - 8 * 2**J].max() < 1e-2
    assert h[:, 24 * 2**J: N - 24 * 2**J].max() < 1e-2
    # The low-pass is no longer than Kymatio's Gaussian (its padding rule still holds).
    kym = build_filterbank(N, J, (8, 1), 2**J, "kymatio")
    assert temporal_support(bank.phi.response[None]) <= temporal_support(
        kym.phi.response[None])


def test_lowpass_compact_support_and_steps():
    phi = tight_lowpass(1024, 16)
    w = np.abs(np.fft.fftfreq(1024))
    assert np.all(phi[w >= 0.5 / 16] == 0)
    t = np.linspace(-0.5, 1.5, 41)
    s = smooth_step(t)
    assert s[0] == 0 and s[-1] == 1
    np.testing.assert_allclose(smooth_step(t) + smooth_step(1 - t), 1, atol=1e-15)


def test_crossfade_bank_is_tight_for_complex_inputs():
    N = 512
    centres = [0.35, 0.175, 0.0875, 0.04375]
    phi = tight_lowpass(N, 16)
    psi = tight_wavelets(N, centres, 16, gain=1.0, delta=0.1, crossfade=True)
    mirrored = np.roll(psi[:, ::-1], 1, axis=1)
    lp = phi**2 + (psi**2 + mirrored**2).sum(0)
    np.testing.assert_allclose(lp, 1, atol=1e-12)


def test_bad_centres():
    with pytest.raises(ValueError, match="decrease"):
        tight_wavelets(64, [0.1, 0.2], 8)


def test_scattering1d_accepts_tight():
    S = Scattering1D(J=6, shape=1024, Q=8, filterbank="tight")
    x = torch.randn(2, 1024)
    Sx = S(x)
    assert Sx.shape == (2, S.output_size(), 16)
    assert torch.isfinite(Sx).all()
