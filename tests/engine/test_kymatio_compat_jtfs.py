"""TimeFrequencyScattering speaks Kymatio's API (issue 17): one test per behaviour."""

import numpy as np
import pytest
import torch

from engine.jtfs import PAIRS, TimeFrequencyScattering

KW = dict(J=5, J_fr=3, Q=8, shape=1024, F=4)


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 1024, generator=torch.Generator().manual_seed(0))


def test_pairs_out_type_keeps_the_seven_named_pairs(x):
    out = TimeFrequencyScattering(**KW, out_type="pairs")(x)
    assert tuple(out) == PAIRS


def test_list_out_type_is_kymatios_path_dicts_in_array_order(x):
    S = TimeFrequencyScattering(**KW, out_type="list")
    paths = S(x)
    arr = TimeFrequencyScattering(**KW)(x)
    assert len(paths) == arr.shape[1] == S.output_size()
    for key in ("coef", "n", "j", "n_fr", "j_fr", "spin", "order"):
        assert all(key in p for p in paths), key
    for c in (0, 1, 100, len(paths) - 1):
        torch.testing.assert_close(paths[c]["coef"], arr[:, c], rtol=0, atol=0)
    o2 = [p for p in paths if p["order"] == 2]
    assert all(len(p["n"]) == 3 and len(p["n_fr"]) == 1 and len(p["j_fr"]) == 1 for p in o2)
    assert {p["spin"] for p in o2} == {-1, 0, 1}


def test_dict_out_type_is_keyed_by_kymatios_path_tuples(x):
    S = TimeFrequencyScattering(**KW, out_type="dict")
    d = S(x)
    assert list(d) == list(S.meta()["key"])
    assert () in d                                              # S0
    lens = {len(k) for k in d}
    assert lens == {0, 1, 2, 3}     # S0, our S1 rows (n1,), (n1, n_fr), (n1, n2, n_fr)


def test_joint_format_keys_and_path_fields(x):
    S = TimeFrequencyScattering(**KW, format="joint", out_type="list")
    paths = S(x)
    assert paths[0]["n"] == () and paths[0]["coef"].shape == (2, 32)
    assert {len(p["n"]) for p in paths[1:]} == {1, 2}
    assert all("n1_max" in p and "n1_stride" in p for p in paths[1:])
    assert paths[1]["coef"].shape == (2, S.F_bins, 32)


def test_out_type_may_be_set_on_a_built_transform(x):
    S = TimeFrequencyScattering(**KW)
    S.out_type = "pairs"
    assert tuple(S(x)) == PAIRS
    with pytest.raises(ValueError, match="out_type must be one of"):
        S.out_type = "doesnotexist"


def test_meta_has_kymatios_fields_beside_ours():
    S = TimeFrequencyScattering(**KW)
    m = S.meta()
    C = S.output_size()
    for key in ("key", "order", "n_fr", "sigma_fr", "xi_fr", "j_fr", "pair", "n2", "n1_fr"):
        assert len(m[key]) == C, key
    for key in ("n", "sigma", "kymatio_xi", "kymatio_j"):
        assert m[key].shape == (C, 2), key
    np.testing.assert_array_equal(m["kymatio_spin"], np.sign(m["xi_fr"]))
    assert np.all(m["kymatio_spin"][m["pair"] == "phi_t * psi_f"] == 1)
    assert np.all(m["spin"][m["pair"] == "phi_t * psi_f"] == 0)
    up = m["pair"] == "psi_t * psi_f_up"
    np.testing.assert_array_equal(m["kymatio_xi"][up, 1], m["xi"][up])
    assert list(m["order"][:2]) == [0, 1] and np.all(m["order"][up] == 2)


def test_kymatio_meta_uses_kymatios_names_and_layouts():
    k = TimeFrequencyScattering(**KW).kymatio_meta()
    assert isinstance(k["key"], list)
    assert k["xi"].shape[1] == k["sigma"].shape[1] == k["j"].shape[1] == 2
    np.testing.assert_array_equal(k["spin"], np.sign(k["xi_fr"]))


def test_T_zero_is_no_time_averaging_and_refuses_array(x):
    with pytest.raises(ValueError, match="Cannot convert"):
        TimeFrequencyScattering(**KW, T=0)
    a = TimeFrequencyScattering(**KW, T=0, out_type="pairs")(x)
    b = TimeFrequencyScattering(**KW, average=False, out_type="pairs")(x)
    assert all(torch.equal(a[p], b[p]) for p in PAIRS)
    assert a["S1"].shape[-1] == 1024


def test_F_zero_is_no_frequential_averaging(x):
    a = TimeFrequencyScattering(**{**KW, "F": 0})(x)
    b = TimeFrequencyScattering(**KW, average_fr=False)(x)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="Cannot convert to format='joint'"):
        TimeFrequencyScattering(**{**KW, "F": 0}, format="joint")


def test_Q_fr_as_one_tuple_and_kymatios_messages():
    S = TimeFrequencyScattering(**KW, Q_fr=(2,))
    assert S.Q_fr == 2
    with pytest.raises(ValueError, match="Q_fr must be >= 1"):
        TimeFrequencyScattering(**KW, Q_fr=0.9)
    with pytest.raises(ValueError, match="Q_fr must be an integer or 1-tuple"):
        TimeFrequencyScattering(**KW, Q_fr=[1])
    with pytest.raises(ValueError, match="Q_fr must be an integer or 1-tuple"):
        TimeFrequencyScattering(**KW, Q_fr=(1, 2))


def test_F_is_parsed_like_T_against_the_first_order_wavelets():
    S = TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024)
    assert S.F == 2**S.J_fr
    with pytest.raises(ValueError, match=f"F <= {S.N1}"):
        TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, F=S.N1 + 1)
    assert TimeFrequencyScattering(J=5, J_fr=3, Q=8, shape=1024, F="global").F_bins == 1


def test_format_error_has_kymatios_words():
    with pytest.raises(ValueError, match="format must be"):
        TimeFrequencyScattering(**KW, format="doesnotexist")


def test_sample_rate_in_the_constructor_gives_hz():
    S = TimeFrequencyScattering(**KW, sample_rate=8000)
    m = S.meta()
    np.testing.assert_allclose(m["xi_hz"], m["xi"] * 8000)
    assert "xi_hz" not in TimeFrequencyScattering(**KW).meta()
    with pytest.raises(ValueError, match="positive"):
        TimeFrequencyScattering(**KW, sample_rate=-1)


def test_output_size_counts_the_array_channels(x):
    for fmt in ("time", "joint"):
        S = TimeFrequencyScattering(**KW, format=fmt)
        assert S(x).shape[1] == S.output_size()


def test_channel_count_against_kymatios_selection():
    """The docstring's accounting of the 468 vs 279 channels (J=8, J_fr=3, Q=8, N=4096):
    removing S1 and cropping each psi_t path to the rows of its n1 with j1 < j2 gives
    Kymatio's count."""
    S = TimeFrequencyScattering(J=8, J_fr=3, Q=8, shape=4096, filterbank="kymatio")
    assert S.output_size() == 468
    m = S.meta()
    s = 2**S.log2_stride_fr
    n1_max = {o.n2: o.n for o in S._order2}
    keep = (m["pair"] != "S1") & ~((m["order"] == 2) & np.array(
        [n2 >= 0 and b >= n1_max.get(n2, 0) for n2, b in zip(m["n2"], m["n1"])]))
    assert int(keep.sum()) == 279
    assert -(-n1_max[S._order2[0].n2] // s) < S.F_bins
