"""engine.filterbank's design registry: a registered design object is used by Scattering1D and
by TimeFrequencyScattering alike, through its methods and never through its name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine.filterbank as fb
from engine import Scattering1D, TimeFrequencyScattering, available_designs
from engine.design import Design
from engine.morlet import SIGMA0, KymatioDesign, gauss_1d
from engine.tight import TightDesign

N = 1024
JTFS = dict(J=5, J_fr=3, Q=8, shape=N, F=4, out_type="pairs")


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    """A private copy of the registry, so that the designs registered here do not leak."""
    monkeypatch.setattr(fb, "_DESIGNS", dict(fb._DESIGNS))
    fb.build_filterbank.cache_clear()
    yield
    fb.build_filterbank.cache_clear()


def _x():
    return torch.randn(2, N, generator=torch.Generator().manual_seed(0))


class WideFrequentialLowpass(KymatioDesign):
    """Kymatio's design with a frequential low-pass twice as wide (half the bandwidth)."""

    def frequential_lowpass(self, L, width):
        return gauss_1d(L, SIGMA0 / (2 * width))


@pytest.mark.parametrize("base", [KymatioDesign, TightDesign])
def test_a_copy_of_a_design_under_another_name_gives_the_same_outputs(base):
    """Registered under a new name, a copy of "kymatio" or "tight" gives bit for bit the
    outputs of the original in both transforms: nothing looks at the name (the compact
    "tight" filters' subsampling included)."""
    name = f"copy-of-{base.name}"
    fb.register_design(name, type("Copy", (base,), {})())
    assert name in available_designs()
    x = _x()
    s_copy = Scattering1D(J=5, shape=N, Q=8, filterbank=name)
    assert s_copy.bank.design == name
    assert torch.equal(s_copy(x), Scattering1D(J=5, shape=N, Q=8, filterbank=base.name)(x))
    t_copy = TimeFrequencyScattering(**JTFS, filterbank=name)(x)
    t_base = TimeFrequencyScattering(**JTFS, filterbank=base.name)(x)
    assert all(torch.equal(t_copy[k], t_base[k]) for k in t_base)


def test_a_reparameterised_design_is_used_by_both_transforms():
    """A design that changes one filter (the frequential low-pass) changes the JTFS pairs that
    it averages and nothing else, with the same layout; Scattering1D takes it too."""
    fb.register_design("wide-fr", WideFrequentialLowpass)       # a class, as a decorator would
    x = _x()
    S = Scattering1D(J=5, shape=N, Q=8, filterbank="wide-fr")
    assert torch.equal(S(x), Scattering1D(J=5, shape=N, Q=8, filterbank="kymatio")(x))
    wide = TimeFrequencyScattering(**JTFS, filterbank="wide-fr")
    ref = TimeFrequencyScattering(**JTFS, filterbank="kymatio")
    yw, yr = wide(x), ref(x)
    assert {k: v.shape for k, v in yw.items()} == {k: v.shape for k, v in yr.items()}
    assert torch.equal(yw["S0"], yr["S0"]) and torch.equal(yw["S1"], yr["S1"])
    for k in ("phi_t * phi_f", "psi_t * psi_f_up", "psi_t * psi_f_dn"):
        assert not torch.allclose(yw[k], yr[k], rtol=1e-3)
    m_w, m_r = wide.meta(), ref.meta()
    assert all(np.array_equal(m_w[k], m_r[k], equal_nan=np.asarray(m_r[k]).dtype.kind == "f")
               for k in m_r)


def test_a_time_only_design_serves_scattering1d_and_jtfs_says_why_not():
    """A design given as a function has time filters only: Scattering1D uses it; JTFS refuses
    it with a ValueError that names what is missing."""
    @fb.register_design("fn-kymatio")
    def fn(N, J, Q, T):
        return KymatioDesign().time_filters(N, J, Q, T)

    x = _x()
    assert torch.equal(Scattering1D(J=5, shape=N, Q=8, filterbank="fn-kymatio")(x),
                       Scattering1D(J=5, shape=N, Q=8, filterbank="kymatio")(x))
    with pytest.raises(ValueError, match="frequential"):
        TimeFrequencyScattering(**JTFS, filterbank="fn-kymatio")


def test_unknown_designs_and_bad_registrations_are_refused():
    with pytest.raises(ValueError, match="not a known design"):
        TimeFrequencyScattering(**JTFS, filterbank="nope")
    with pytest.raises(TypeError, match="Design"):
        fb.register_design("bad", 3)
    assert isinstance(fb.get_design("tight"), Design)
