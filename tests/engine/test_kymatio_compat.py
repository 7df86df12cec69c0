"""Scattering1D as a Kymatio user touches it: the behaviours Kymatio main's own torch tests
(tests/scattering1d/test_torch_scattering1d.py) rely on, one test each."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import engine.scattering1d as s1d
from engine import Scattering1D, _params


@pytest.fixture(scope="module")
def S():
    return Scattering1D(J=5, shape=1000, Q=4)


def _x(N, B=2, seed=0):
    return torch.randn(B, N, generator=torch.Generator().manual_seed(seed))


# ---- the filter dicts ----------------------------------------------------------------------

def test_filter_dicts_have_kymatios_keys_and_the_banks_responses(S):
    assert len(S.psi1_f) == len(S.bank.psi1) and len(S.psi2_f) == len(S.bank.psi2)
    for dicts, family in ((S.psi1_f, S.bank.psi1), (S.psi2_f, S.bank.psi2)):
        for d, f in zip(dicts, family):
            assert set(d) == {"levels", "xi", "sigma", "j"}
            assert (d["xi"], d["sigma"], d["j"]) == (f.xi, f.sigma, f.j)
            assert len(d["levels"]) == len(f.levels)
            for k, level in enumerate(d["levels"]):
                assert torch.is_tensor(level) and level.shape == (S.N_padded >> k, 1)
                assert torch.equal(level[:, 0], torch.as_tensor(f.levels[k]).float())
    assert S.phi_f["N"] == S.N_padded and S.phi_f["j"] == S.log2_T
    assert S.phi_f["sigma"] == S.bank.phi.sigma and len(S.phi_f["levels"]) == len(S.bank.phi.levels)


def test_filter_dicts_follow_the_modules_dtype():
    S = Scattering1D(J=4, shape=256, Q=2)
    assert S.psi1_f[0]["levels"][0].dtype == torch.float32
    S.double()
    level = S.psi1_f[0]["levels"][0]
    assert level.dtype == torch.float64
    assert torch.equal(level[:, 0], torch.as_tensor(S.bank.psi1[0].levels[0]))


def test_psi_j_matches_the_paths_kept_at_order_two(S):
    keys = set(S.meta()["key"])
    for n1, f1 in enumerate(S.psi1_f):
        for n2, f2 in enumerate(S.psi2_f):
            assert ((n1, n2) in keys) == (f2["j"] > f1["j"])


# ---- max_order and out_type changed on a built transform -----------------------------------

@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_setting_max_order_replans_as_a_fresh_transform(first, then):
    x = _x(1000)
    S = Scattering1D(J=5, shape=1000, Q=4, max_order=first)
    S(x)
    S.max_order = then
    fresh = Scattering1D(J=5, shape=1000, Q=4, max_order=then)
    assert torch.equal(S(x), fresh(x))
    assert S.output_size() == fresh.output_size()
    assert S.meta()["key"] == fresh.meta()["key"]
    assert S.meta()["n"].shape == (fresh.output_size(), then)


def test_setting_max_order_keeps_the_modules_dtype():
    x = _x(512).double()
    S = Scattering1D(J=4, shape=512, Q=4, max_order=1).double()
    S.max_order = 2
    fresh = Scattering1D(J=4, shape=512, Q=4).double()
    assert all(b.dtype != torch.float32 for b in S.buffers())
    assert torch.equal(S(x), fresh(x))


def test_setting_max_order_without_averaging_adds_the_second_order():
    S = Scattering1D(J=6, shape=4096, Q=8, T=0, max_order=1, out_type="dict")
    assert all(len(k) <= 1 for k in S(_x(4096, 1)))
    S.max_order = 2
    s = S(_x(4096, 1))
    expected = 1 + len(S.psi1_f) + sum(f2["j"] > f1["j"] for f1 in S.psi1_f for f2 in S.psi2_f)
    assert len(s) == expected


def test_setting_out_type_changes_the_next_output(S):
    x = _x(1000)
    arr = S(x)
    try:
        S.out_type = "dict"
        d = S(x)
        S.out_type = "list"
        lst = S(x)
    finally:
        S.out_type = "array"
    for c, key in enumerate(S.meta()["key"]):
        assert torch.equal(d[key], arr[:, c]) and torch.equal(lst[c]["coef"], arr[:, c])


def test_array_out_type_without_averaging_is_refused_in_kymatios_words():
    S = Scattering1D(J=3, shape=1024, T=0, out_type="list")
    with pytest.raises(ValueError, match="Please set out_type to") as err:
        S.out_type = "array"
    assert "Cannot convert" in str(err.value)
    assert S.out_type == "list"
    with pytest.raises(ValueError, match="Cannot convert"):
        Scattering1D(J=3, shape=1024, T=0, out_type="array")


def test_an_unknown_out_type_is_refused_in_kymatios_words(S):
    with pytest.raises(ValueError, match="out_type must be one of"):
        S.out_type = "tensor"
    with pytest.raises(ValueError, match="out_type must be one of"):
        Scattering1D(J=3, shape=1024, out_type="doesnotexist")


# ---- parameters ----------------------------------------------------------------------------

def test_q_as_a_one_tuple_is_q1_with_q2_one():
    x = _x(1024)
    a, b, c = (Scattering1D(J=3, shape=1024, Q=q) for q in ((8,), 8, (8, 1)))
    assert a.Q == b.Q == c.Q == (8, 1)
    assert torch.equal(a(x), c(x))


@pytest.mark.parametrize("Q, error, words", [
    (0.9, ValueError, "Q must always be >= 1"),
    ([8], ValueError, "Q must be an integer or a tuple"),
    (1.5, TypeError, "Q must be an integer or a pair"),
])
def test_bad_q_raises_kymatios_error(Q, error, words):
    with pytest.raises(error, match=words):
        Scattering1D(J=3, shape=1024, Q=Q)


@pytest.mark.parametrize("shape, words", [((5, 6), "exactly one element"),
                                          (1.5, "1-tuple.*integer|integer.*1-tuple")])
def test_bad_shape_raises_kymatios_error(shape, words):
    with pytest.raises(ValueError, match=words):
        Scattering1D(J=3, shape=shape)


@pytest.mark.parametrize("kwargs, words", [
    (dict(oversampling=-1), "nonnegative"),
    (dict(oversampling=0.5), "integer"),
    (dict(stride="noninteger"), "integer"),
    (dict(stride=17), "power of two"),
    (dict(T=0, stride=16, out_type="list"), "incompatible"),
    (dict(T="global", stride=16), "incompatible"),
    (dict(stride=16, oversampling=1), "incompatible"),
])
def test_bad_stride_or_oversampling_raises_kymatios_words(kwargs, words):
    with pytest.raises(ValueError, match=words), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)    # oversampling > 0 warns first
        Scattering1D(J=3, shape=1024, **kwargs)


def test_a_0d_input_is_refused_in_kymatios_words(S):
    with pytest.raises(ValueError, match="at least one axis"):
        S(torch.zeros(()))


# ---- attributes, output_size, meta ---------------------------------------------------------

def test_kymatios_attributes_describe_the_padding_and_the_stride():
    N = 1000
    S = Scattering1D(J=5, shape=N, Q=4, stride=8)
    assert (S.J, S.Q, S.T, S.shape, S.stride, S.log2_stride) == (5, (4, 1), 32, (N,), 8, 3)
    assert S._N_padded == S.N_padded and S.pad_left + N + S.pad_right == S._N_padded
    assert (S.ind_start[0], S.ind_end[0]) == (S.pad_left, S.pad_left + N)
    k = S.log2_stride
    assert S(_x(N)).shape[-1] == S.ind_end[k] - S.ind_start[k] == -(-N // S.stride)


@pytest.mark.parametrize("max_order", [1, 2])
def test_output_size_detail_counts_the_channels_per_order(max_order):
    S = Scattering1D(J=5, shape=1024, Q=4, max_order=max_order, out_type="dict")
    keys = list(S(_x(1024)))
    detail = S.output_size(detail=True)
    assert detail == tuple(sum(len(k) == o for k in keys) for o in range(max_order + 1))
    assert S.output_size() == len(keys) == sum(detail)


def test_sample_rate_in_the_constructor_gives_meta_in_hz():
    with_sr = Scattering1D(J=5, shape=1024, Q=4, sample_rate=8000)
    plain = Scattering1D(J=5, shape=1024, Q=4)
    m, ref = with_sr.meta(), plain.meta(sample_rate=8000)
    assert set(m) == set(ref) and "xi_hz" in m
    np.testing.assert_array_equal(m["xi_hz"], ref["xi_hz"])
    assert "xi_hz" not in plain.meta()
    np.testing.assert_array_equal(with_sr.meta(sample_rate=16000)["xi_hz"], m["xi"] * 16000)


@pytest.mark.parametrize("sample_rate, error", [(0, ValueError), (-1.0, ValueError),
                                                ("16k", TypeError)])
def test_a_bad_sample_rate_is_refused(sample_rate, error):
    with pytest.raises(error, match="sample_rate"):
        Scattering1D(J=3, shape=256, sample_rate=sample_rate)


def test_the_parsers_stay_importable_from_scattering1d():
    assert s1d.parse_T is _params.parse_T and s1d.compute_padding is _params.compute_padding
    assert s1d.border_indices is _params.border_indices
    assert s1d._parse_Q is _params.parse_Q is s1d.parse_Q
