"""The README's table of Kymatio features stays true: each row is checked against the code,
and the table lists exactly the features checked here (a new row needs a check, a removed
feature fails its row)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
import engine.jtfs
from engine import Scattering1D
from engine import TimeFrequencyScattering as TF

README = Path(__file__).resolve().parents[2] / "README.md"
N = 1024


def _table() -> dict[str, str]:
    text = README.read_text()
    block = text.split("<!-- kymatio-table -->")[1].split("<!-- /kymatio-table -->")[0]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        feature, verdict = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows[feature] = verdict
    return rows


def _params(cls) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def _s1d(**kw):
    return Scattering1D(J=5, shape=N, Q=8, **kw)


def _jtfs(**kw):
    return TF(J=5, J_fr=2, Q=8, shape=N, **kw)


def _x():
    return torch.randn(2, N)


def check_s1d_args(verdict):
    kymatio = {"J", "shape", "Q", "T", "stride", "max_order", "oversampling", "out_type"}
    extras = set(re.findall(r"`(\w+)`", verdict.split("plus", 1)[1]))
    assert kymatio | extras <= _params(Scattering1D)


def check_s1d_out_types(verdict):
    for out_type, kind in (("array", torch.Tensor), ("list", list), ("dict", dict)):
        assert isinstance(_s1d(out_type=out_type)(_x()), kind)


def check_s1d_meta(verdict):
    meta = _s1d().meta()
    assert {"order", "xi", "sigma", "j", "n", "key"} <= set(meta)
    assert {"xi_hz", "sigma_hz", "bandwidth_hz"} <= set(_s1d(sample_rate=8000).meta())


def check_s1d_output_size(verdict):
    S = _s1d()
    assert S.output_size() == S(_x()).shape[-2]
    assert len(S.output_size(detail=True)) == 3


def check_s1d_filters(verdict):
    S = _s1d()
    for name in ("psi1_f", "psi2_f"):
        assert {"levels", "xi", "sigma", "j"} <= set(getattr(S, name)[0])
    assert "levels" in S.phi_f


def check_s1d_attributes(verdict):
    names = re.findall(r"\w+", verdict.split(":", 1)[1])
    S = _s1d()
    assert names and all(hasattr(S, n) for n in names), [n for n in names if not hasattr(S, n)]


def check_s1d_settable(verdict):
    S = _s1d()
    S.max_order = 1
    assert S(_x()).shape[-2] == _s1d(max_order=1).output_size()
    S.out_type = "dict"
    assert isinstance(S(_x()), dict)


def check_s1d_T(verdict):
    assert isinstance(_s1d(T=0, out_type="list")(_x()), list)
    assert _s1d(T="global")(_x()).shape[-1] == 1


def check_jtfs_args(verdict):
    kymatio = {"J", "J_fr", "Q", "shape", "T", "stride", "Q_fr", "F", "stride_fr", "out_type",
               "format"}
    extras = set(re.findall(r"`(\w+)`", verdict.split("plus", 1)[1]))
    assert kymatio | extras <= _params(TF)


def check_jtfs_array_time(verdict):
    jtfs = TF(J=8, J_fr=3, Q=8, shape=4096)
    assert "differs" in verdict and jtfs.output_size() == 468


def check_jtfs_array_joint(verdict):
    jtfs = TF(J=8, J_fr=3, Q=3, shape=8192, format="joint")
    assert "differs" in verdict and jtfs.F_bins == 3


def check_jtfs_list(verdict):
    paths = _jtfs(out_type="list")(_x())
    assert {"coef", "n", "j", "n_fr", "j_fr", "spin", "order", "pair"} <= set(paths[1])


def check_jtfs_dict(verdict):
    out = _jtfs(out_type="dict")(_x())
    assert all(isinstance(k, tuple) for k in out)


def check_jtfs_meta(verdict):
    meta = _jtfs().meta()
    fields = set(re.findall(r"`(\w+)`", verdict)) - {"kymatio_meta"}
    assert fields <= set(meta), fields - set(meta)
    assert callable(_jtfs().kymatio_meta)


def check_jtfs_output_size(verdict):
    jtfs = _jtfs()
    assert jtfs.output_size() == jtfs(_x()).shape[-2]


def check_jtfs_no_averaging(verdict):
    assert isinstance(_jtfs(T=0, out_type="list")(_x()), list)
    assert isinstance(_jtfs(F=0, out_type="list")(_x()), list)


def check_jtfs_q_fr(verdict):
    assert np.array_equal(_jtfs(Q_fr=(1,))(_x()[:1] * 0 + 1), _jtfs(Q_fr=1)(_x()[:1] * 0 + 1))


def check_jtfs_padded_fr(verdict):
    assert verdict.startswith("lacks") and not hasattr(_jtfs(), "_N_padded_fr")


def check_jtfs_filters_fr(verdict):
    assert verdict.startswith("differs") and not hasattr(_jtfs(), "filters_fr")
    assert callable(engine.jtfs.frequential_filters)
    assert callable(engine.jtfs.frequential_responses)


def check_frontends(verdict):
    assert verdict.startswith("lacks")
    assert not any(hasattr(engine, n) for n in ("numpy", "tensorflow", "jax", "sklearn"))


def check_other_dims(verdict):
    assert verdict.startswith("lacks")
    assert not hasattr(engine, "Scattering2D") and not hasattr(engine, "HarmonicScattering3D")


CHECKS = {
    "`Scattering1D(J, shape, Q, T, stride, max_order, oversampling, out_type)`": check_s1d_args,
    '`Scattering1D` out_type "array", "list", "dict"': check_s1d_out_types,
    "`Scattering1D.meta()`": check_s1d_meta,
    "`Scattering1D.output_size(detail=)`": check_s1d_output_size,
    "`Scattering1D.psi1_f`, `psi2_f`, `phi_f`": check_s1d_filters,
    "`Scattering1D` attributes": check_s1d_attributes,
    "`Scattering1D` settable `max_order`, `out_type`": check_s1d_settable,
    '`Scattering1D` `T=0`, `T="global"`': check_s1d_T,
    "`TimeFrequencyScattering(J, J_fr, Q, shape, T, stride, Q_fr, F, stride_fr, out_type, "
    "format)`": check_jtfs_args,
    '`TimeFrequencyScattering` out_type "array", format "time"': check_jtfs_array_time,
    '`TimeFrequencyScattering` out_type "array", format "joint"': check_jtfs_array_joint,
    '`TimeFrequencyScattering` out_type "list"': check_jtfs_list,
    '`TimeFrequencyScattering` out_type "dict"': check_jtfs_dict,
    "`TimeFrequencyScattering.meta()`": check_jtfs_meta,
    "`TimeFrequencyScattering.output_size()`": check_jtfs_output_size,
    "`TimeFrequencyScattering` `T=0`, `F=0`": check_jtfs_no_averaging,
    "`TimeFrequencyScattering` `Q_fr` as a 1-tuple": check_jtfs_q_fr,
    "`TimeFrequencyScattering._N_padded_fr`": check_jtfs_padded_fr,
    "`TimeFrequencyScattering.filters_fr`": check_jtfs_filters_fr,
    "numpy, TensorFlow, JAX, scikit-learn front ends": check_frontends,
    "`Scattering2D`, `HarmonicScattering3D`": check_other_dims,
}


def test_table_lists_exactly_the_checked_features():
    assert list(_table()) == list(CHECKS)


@pytest.mark.parametrize("feature", list(CHECKS))
def test_row_holds(feature):
    torch.manual_seed(0)
    CHECKS[feature](_table()[feature])
