"""TimeFrequencyScattering: spins, energy, shapes, meta, errors, dtype and gradients."""

import numpy as np
import pytest
import torch

from engine.jtfs import PAIRS, SPIN_DIRECTION, TimeFrequencyScattering, energy_ratio
from engine.signals import linear_chirp

N = 4096


@pytest.fixture(scope="module")
def spin_jtfs():
    return TimeFrequencyScattering(J=6, J_fr=4, Q=8, shape=N, Q_fr=1, F=1, out_type="dict")


def _spin_energies(out, i):
    up = out["psi_t * psi_f_up"][i].pow(2).sum().item()
    dn = out["psi_t * psi_f_dn"][i].pow(2).sum().item()
    return up, dn


def test_rising_chirp_lights_spin_up(spin_jtfs):
    """The documented convention: a rising chirp -> psi_t * psi_f_up, falling -> _dn."""
    x = linear_chirp(N, 0.02, 0.40)
    out = spin_jtfs(torch.tensor(np.stack([x, x[::-1].copy()])))
    up, dn = _spin_energies(out, 0)
    assert up > 30 * dn, f"rising chirp: up/dn = {up / dn:.1f}"
    up, dn = _spin_energies(out, 1)
    assert dn > 30 * up, f"falling chirp: dn/up = {dn / up:.1f}"
    assert SPIN_DIRECTION[1] == "rising" and SPIN_DIRECTION[-1] == "falling"


def test_dict_shapes_and_formats():
    kw = dict(J=5, J_fr=3, Q=8, shape=1024, F=4)
    x = torch.randn(3, 1024)
    d = TimeFrequencyScattering(**kw, out_type="dict")(x)
    assert list(d) == list(PAIRS)
    n2, nfr, fb, t = d["psi_t * psi_f_up"].shape[1:]
    assert d["psi_t * psi_f_dn"].shape == d["psi_t * psi_f_up"].shape
    assert d["S0"].shape == (3, 1, t) and d["S1"].shape[-1] == t
    assert d["phi_t * phi_f"].shape == (3, 1, 1, fb, t)
    assert d["phi_t * psi_f"].shape == (3, 1, nfr, fb, t)
    assert d["psi_t * phi_f"].shape == (3, n2, 1, fb, t)
    assert t == 1024 // 32 and fb == -(-d["S1"].shape[1] // 4)
    # format "time": every pair flattened, in PAIRS order; same numbers as the dict.
    St = TimeFrequencyScattering(**kw, format="time")
    a = St(x)
    flat = torch.cat([d[p].reshape(3, -1, t) for p in PAIRS], dim=1)
    torch.testing.assert_close(a, flat)
    assert a.shape[1] == St.output_size() == len(St.meta()["pair"])
    # format "joint": (B, C, F_bins, t), joint pairs only.
    Sj = TimeFrequencyScattering(**kw, format="joint")
    b = Sj(x)
    assert b.shape == (3, Sj.output_size(), fb, t)
    torch.testing.assert_close(b[:, 0], d["phi_t * phi_f"][:, 0, 0])
    # batch dimensions are kept
    assert St(torch.randn(2, 2, 1024)).shape == (2, 2) + a.shape[1:]


def test_meta_fields():
    S = TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, F=4)
    m = S.meta(sample_rate=8000)
    C = S.output_size()
    for key in ("pair", "spin", "direction", "n2", "n1_fr", "n1", "j", "j_fr", "xi", "xi_fr",
                "xi1", "xi_hz", "xi1_hz"):
        assert len(m[key]) == C, key
    up = m["pair"] == "psi_t * psi_f_up"
    assert np.all(m["spin"][up] == 1) and np.all(m["direction"][up] == "rising")
    assert np.all(m["xi_fr"][up] > 0) and np.all(m["xi_fr"][m["spin"] == -1] < 0)
    assert np.all(m["direction"][m["spin"] == 0] == "none")
    np.testing.assert_allclose(m["xi_hz"], m["xi"] * 8000)
    assert m["stride"] == 32 and m["stride_fr"] == 4


def test_errors_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"J_fr <= \d"):
        TimeFrequencyScattering(J=5, J_fr=9, Q=8, shape=1024)
    with pytest.raises(ValueError, match="F <= "):
        TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, F=10_000)
    with pytest.raises(ValueError, match="'time'.*'joint'"):
        TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, format="4d")
    with pytest.raises(ValueError, match="power of two"):
        TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, stride_fr=3)
    with pytest.raises(ValueError, match="stride must be 1"):
        TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, average=False, stride=4)
    S = TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024)
    with pytest.raises(ValueError, match="shape=1024"):
        S(torch.randn(2, 1000))
    with pytest.raises(TypeError, match="dtype"):
        S(torch.randn(2, 1024, dtype=torch.float64))


def test_global_averaging_and_kymatio_bank():
    x = torch.randn(2, 1024)
    S = TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, T="global", F="global")
    y = S(x)
    assert y.shape[-1] == 1 and torch.isfinite(y).all()
    K = TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, filterbank="kymatio")
    assert torch.isfinite(K(x)).all()


def test_float64_and_gradient():
    S = TimeFrequencyScattering(J=4, J_fr=2, Q=4, shape=256, F=2).double()
    x = torch.randn(2, 256, dtype=torch.float64, requires_grad=True)
    y = S(x)
    assert y.dtype == torch.float64
    y.pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # float32 and float64 agree
    y32 = S.float()(x.detach().float())
    torch.testing.assert_close(y32.double(), y.detach(), rtol=1e-3, atol=1e-5)


def test_time_shift_invariance():
    S = TimeFrequencyScattering(J=6, J_fr=3, Q=8, shape=N, F=8)
    x = torch.tensor(linear_chirp(N, 0.05, 0.2)) * torch.hann_window(N, periodic=False)
    y0 = S(x[None])
    y1 = S(torch.roll(x, 8)[None])          # T / 8 (16 samples gives 5.6 %)
    assert (y1 - y0).norm() / y0.norm() < 0.05


@pytest.mark.slow
def test_energy_frame(fsdd_dir):
    """With no averaging after the last modulus, the tight JTFS keeps the input's energy."""
    import soundfile as sf

    n = 2048
    wav = sorted(fsdd_dir.glob("**/*.wav"))[0]
    d, _ = sf.read(wav)
    d = np.pad(d, (0, max(0, n - len(d))))[:n]
    rng = np.random.default_rng(0)
    x = torch.tensor(np.stack([rng.standard_normal(n), linear_chirp(n, 0.02, 0.4), d]))
    S = TimeFrequencyScattering(J=5, J_fr=2, Q=8, shape=n, average=False, average_fr=False,
                                out_type="dict").double()
    r = energy_ratio(S(x), x)
    assert torch.all((r >= 0.94) & (r <= 1.0)), r


@pytest.mark.gpu
def test_cuda():
    S = TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024).cuda()
    x = torch.randn(2, 1024)
    torch.testing.assert_close(S(x.cuda()).cpu(), S.cpu()(x), rtol=1e-3, atol=1e-5)
