"""Scattering1D: Kymatio's numbers, API and error messages."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine import Scattering1D
from engine.filterbank import periodise
from tests.conftest import REFERENCE_DIR

REFERENCE = sorted(REFERENCE_DIR.glob("s1d_*.npz"))


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# --------------------------------------------------------------------------------------------
# Against Kymatio main's outputs
# --------------------------------------------------------------------------------------------

@pytest.fixture(params=[p.name for p in REFERENCE] or ["no reference files"])
def reference_case(request, reference_dir):
    if not REFERENCE:
        pytest.fail(f"no s1d_*.npz in {reference_dir}")
    data = np.load(reference_dir / request.param)
    params = json.loads(str(data["params"]))
    if isinstance(params.get("Q"), list):
        params["Q"] = tuple(params["Q"])
    return params, data


def test_matches_kymatio_reference_per_order_and_meta(reference_case):
    params, data = reference_case
    S = Scattering1D(**params)
    Sx = S(torch.from_numpy(data["x"])).numpy()
    assert Sx.shape == data["Sx"].shape
    meta = S.meta()
    for order in np.unique(meta["order"]):
        sel = meta["order"] == order
        assert _rel(Sx[:, sel], data["Sx"][:, sel]) < 1e-5, f"order {order}"
    assert meta["key"] == [tuple(k) for k in json.loads(str(data["meta_key"]))]
    for key in ("order", "n", "xi", "sigma", "j"):
        np.testing.assert_array_equal(meta[key], data[f"meta_{key}"], err_msg=key)


def test_matches_kymatios_own_test_fixture(reference_dir):
    data = np.load(reference_dir / "kymatio_test_data_1d.npz")
    S = Scattering1D(J=int(data["J"]), shape=data["x"].shape[-1], Q=int(data["Q"]))
    assert _rel(S(torch.from_numpy(data["x"])).numpy(), data["Sx"]) < 1e-5


# --------------------------------------------------------------------------------------------
# Against Kymatio's algorithm written path by path (float64 numpy), on cases the reference
# files do not cover: odd lengths, strides, T=0, T='global', T != 2**J.
# --------------------------------------------------------------------------------------------

def naive_scattering(S: Scattering1D, x: np.ndarray) -> dict:
    """Kymatio's core loop, one path at a time, full spectra, periodisation by mean."""
    bank, s, local = S.bank, S.log2_stride, S.average == "local"

    def sub(X, k):
        return X.reshape(X.shape[:-1] + (2**k, -1)).mean(-2)

    def finish(c, level):
        if S.average == "global":
            return c.mean(-1, keepdims=True)
        return c[..., S.ind_start[level]:S.ind_end[level]]

    xp = np.pad(x, [(0, 0), (S.pad_left, S.pad_right)], mode="reflect")
    X = np.fft.fft(xp)
    phi = bank.phi.response
    out = {(): finish(np.fft.ifft(sub(X * phi, s)).real, s) if local else finish(xp, 0)}
    for n1, p1 in enumerate(bank.psi1):
        k1 = min(p1.j, s) if local else p1.j
        U1 = np.abs(np.fft.ifft(sub(X * p1.response, k1)))
        U1_hat = np.fft.fft(U1)
        if local:
            S1 = np.fft.ifft(sub(U1_hat * periodise(phi, k1), max(s - k1, 0))).real
            out[(n1,)] = finish(S1, s)
        else:
            out[(n1,)] = finish(U1, k1)
        if S.max_order < 2:
            continue
        for n2, p2 in enumerate(bank.psi2):
            if p2.j <= p1.j:
                continue
            sub2 = min(p2.j, s) if local else p2.j
            k2 = max(sub2 - k1, 0)
            U2 = np.abs(np.fft.ifft(sub(U1_hat * periodise(p2.response, k1), k2)))
            if local:
                S2 = np.fft.ifft(sub(np.fft.fft(U2) * periodise(phi, k1 + k2),
                                     max(s - sub2, 0))).real
                out[(n1, n2)] = finish(S2, s)
            else:
                out[(n1, n2)] = finish(U2, k1 + k2)
    return out


@pytest.mark.parametrize("kwargs", [
    dict(J=4, shape=1000, Q=4),                       # length not a power of two
    dict(J=5, shape=777, Q=(6, 2), T=20),             # T not a power of two, odd length
    dict(J=6, shape=2048, Q=8, stride=8),             # oversampled output
    dict(J=5, shape=1024, Q=2, T=0, out_type="dict"),           # no averaging
    dict(J=5, shape=1024, Q=3, T="global", out_type="dict"),    # global averaging
    dict(J=3, shape=300, Q=1, max_order=1),
])
def test_batched_schedule_equals_path_by_path_algorithm(kwargs):
    x = np.random.default_rng(0).standard_normal((2, kwargs["shape"]))
    S = Scattering1D(**{**kwargs, "out_type": "dict"}).double()
    got = S(torch.from_numpy(x))
    want = naive_scattering(S, x)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key].shape == value.shape, key
        np.testing.assert_allclose(got[key].numpy(), value, rtol=1e-7,
                                   atol=1e-9 * np.abs(value).max(), err_msg=str(key))


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------

def test_output_shape_channels_and_order0_first():
    S = Scattering1D(J=6, shape=4096, Q=8)
    Sx = S(torch.randn(3, 4096))
    assert Sx.shape == (3, S.output_size(), 4096 // 64)
    assert S.output_size(detail=True)[0] == 1
    assert S.meta()["order"][0] == 0 and (np.diff(S.meta()["order"]) >= 0).all()


def test_any_batch_shape_gives_the_same_coefficients():
    S = Scattering1D(J=4, shape=512, Q=4)
    x = torch.randn(2, 3, 512)
    Sx = S(x)
    assert Sx.shape[:2] == (2, 3)
    torch.testing.assert_close(Sx[1, 2], S(x[1, 2]))
    torch.testing.assert_close(Sx.reshape(6, *Sx.shape[2:]), S(x.reshape(6, 512)))


@pytest.mark.parametrize("kwargs", [dict(), dict(T=0, out_type="dict"),
                                    dict(T="global", out_type="dict")])
def test_outputs_survive_later_calls_on_the_same_thread(kwargs):
    """Temporaries are reused between calls (engine._scratch): no output may alias them."""
    S = Scattering1D(J=5, shape=1024, Q=4, **kwargs)
    x = torch.randn(3, 1024)
    first = S(x)
    snapshot = ({k: v.clone() for k, v in first.items()} if isinstance(first, dict)
                else first.clone())
    S(torch.randn(3, 1024) * 100)
    if isinstance(first, dict):
        for k in first:
            torch.testing.assert_close(first[k], snapshot[k], rtol=0, atol=0)
    else:
        torch.testing.assert_close(first, snapshot, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_with_u1_is_the_scattering_and_the_unaveraged_first_order(dtype):
    """One pass gives the scattering and the scalogram ``|x * psi1|``: the same numbers as
    `forward` and as the unaveraged module's order 1, bit for bit, for any batch shape; the
    moduli are copies (a later call leaves them) and carry gradients."""
    S = Scattering1D(J=6, shape=2048, Q=8).to(dtype)
    S0 = Scattering1D(J=6, shape=2048, Q=8, T=0, max_order=1, out_type="list").to(dtype)
    assert S.u1_log2_strides == [p.j for p in S.bank.psi1]
    x = torch.randn(3, 2, 2048, dtype=dtype)
    Sx, U1 = S.forward_with_u1(x)
    want = [o["coef"] for o in S0(x) if o["order"] == 1]
    assert torch.equal(Sx, S(x))
    assert len(U1) == len(want) == len(S.bank.psi1)
    for got, ref in zip(U1, want):
        assert got.shape == ref.shape and got.shape[:2] == (3, 2)
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
    snapshot = [u.clone() for u in U1]
    S.forward_with_u1(torch.randn(3, 2, 2048, dtype=dtype) * 100)
    assert all(torch.equal(u, s) for u, s in zip(U1, snapshot))

    xg = torch.randn(2048, dtype=dtype, requires_grad=True)
    _, U1g = S.forward_with_u1(xg)
    U1g[0].sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_forward_with_u1_is_unaveraged_under_global_averaging():
    S = Scattering1D(J=5, shape=1024, Q=4, T="global")
    S0 = Scattering1D(J=5, shape=1024, Q=4, T=0, max_order=1, out_type="list")
    x = torch.randn(1024)
    Sx, U1 = S.forward_with_u1(x)
    assert torch.equal(Sx, S(x)) and Sx.shape[-1] == 1
    for got, ref in zip(U1, [o["coef"] for o in S0(x) if o["order"] == 1]):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_forward_with_u1_strides_follow_a_short_averaging():
    """With a low-pass shorter than the largest wavelets, U1 is kept at the finer stride the
    order-2 filtering uses, and says so."""
    S = Scattering1D(J=6, shape=2048, Q=8, T=8)
    _, U1 = S.forward_with_u1(torch.randn(2048))
    assert S.u1_log2_strides == [min(p.j, 3) for p in S.bank.psi1]
    assert max(S.u1_log2_strides) == 3 < max(p.j for p in S.bank.psi1)
    assert [len(u) for u in U1] == [2048 >> k for k in S.u1_log2_strides]


def test_numpy_input_is_accepted_and_gives_the_torch_result():
    S = Scattering1D(J=4, shape=256, Q=2)
    x = np.random.default_rng(1).standard_normal((2, 256)).astype(np.float32)
    torch.testing.assert_close(S(x), S(torch.from_numpy(x)))


def test_list_and_dict_outputs_hold_the_array_channels():
    S_arr = Scattering1D(J=5, shape=1024, Q=4)
    x = torch.randn(2, 1024)
    arr = S_arr(x)
    as_list = Scattering1D(J=5, shape=1024, Q=4, out_type="list")(x)
    as_dict = Scattering1D(J=5, shape=1024, Q=4, out_type="dict")(x)
    assert [p["n"] for p in as_list] == S_arr.meta()["key"]
    for c, path in enumerate(as_list):
        torch.testing.assert_close(path["coef"], arr[:, c])
        torch.testing.assert_close(as_dict[path["n"]], arr[:, c])
        assert path["order"] == len(path["n"])


def test_float64_transform_agrees_with_float32():
    x = torch.randn(2, 2048, dtype=torch.float64)
    S32 = Scattering1D(J=6, shape=2048, Q=8)
    S64 = Scattering1D(J=6, shape=2048, Q=8).double()
    out64 = S64(x)
    assert out64.dtype == torch.float64
    assert _rel(S32(x.float()).double().numpy(), out64.numpy()) < 1e-5


def test_meta_in_hertz_and_lowpass_entry():
    S = Scattering1D(J=6, shape=4096, Q=8)
    m = S.meta(sample_rate=8000)
    np.testing.assert_array_equal(m["xi_hz"], m["xi"] * 8000)
    np.testing.assert_allclose(m["bandwidth_hz"], m["sigma"] * 8000 * 2.3548200450309493)
    # The highest first-order wavelet sits below Nyquist, the lowest above the low-pass.
    first = m["order"] == 1
    assert m["xi_hz"][first, 0].max() < 4000
    assert m["phi"]["T"] == 64 and m["phi"]["j"] == 6
    assert m["phi"]["sigma_hz"] == pytest.approx(m["phi"]["sigma"] * 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        S.meta(sample_rate=0)


def test_module_moves_and_converts_like_any_nn_module():
    S = Scattering1D(J=4, shape=256, Q=2)
    assert all(not b.is_complex() for b in S.buffers())
    assert S.double()(torch.randn(256, dtype=torch.float64)).dtype == torch.float64
    # Plans derive from the constructor's arguments: nothing to save in a checkpoint.
    assert S.state_dict() == {}


@pytest.mark.gpu
def test_cuda_matches_cpu():
    S = Scattering1D(J=6, shape=4096, Q=8)
    x = torch.randn(4, 4096)
    torch.testing.assert_close(S.cuda()(x.cuda()).cpu(), S.cpu()(x), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------

def test_gradient_matches_finite_differences():
    S = Scattering1D(J=3, shape=64, Q=2).double()
    x = torch.randn(1, 64, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: S(v), (x,), eps=1e-6, atol=1e-6)


def test_gradient_descent_reconstructs_a_signal_from_its_scattering():
    torch.manual_seed(0)
    N = 1024
    t = torch.arange(N) / N
    target = torch.sin(2 * math.pi * (40 * t + 80 * t**2)) * torch.hann_window(N)
    S = Scattering1D(J=5, shape=N, Q=8)
    Sx = S(target)
    y = (0.1 * torch.randn(N)).requires_grad_()
    opt = torch.optim.Adam([y], lr=0.05)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(S(y), Sx)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 50


# --------------------------------------------------------------------------------------------
# Bad input: clear errors, never a silent wrong answer
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(J=11, shape=1024), r"J=11 is too large.*J <= 10"),
    (dict(J=4, shape=1024, Q=0), r"Q must be >= 1"),
    (dict(J=4, shape=1024, Q=(4, 0)), r"Q must be >= 1"),
    (dict(J=4, shape=1024, T=2048), r"cannot exceed the input length 1024"),
    (dict(J=4, shape=1024, T=-3), r"T must be 0 .* or >= 1"),
    (dict(J=4, shape=1024, T=0), r"T=0 .* out_type='list' or 'dict'"),
    (dict(J=4, shape=1024, stride=3), r"stride must be a power of two"),
    (dict(J=4, shape=1024, stride=32), r"exceeds the low-pass support T=16"),
    (dict(J=4, shape=1024, out_type="tensor"), r"out_type must be"),
    (dict(J=4, shape=1024, max_order=3), r"max_order must be 1 or 2"),
    (dict(J=4, shape=1024, filterbank="nope"), r"not a known design"),
    (dict(J=0, shape=1024), r"J must be an integer >= 1"),
])
def test_bad_parameters_raise_a_message_with_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Scattering1D(**kwargs)


def test_q_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="Q must be an integer or a pair"):
        Scattering1D(J=4, shape=1024, Q=1.5)


@pytest.fixture(scope="module")
def small():
    return Scattering1D(J=4, shape=256, Q=2)


@pytest.mark.parametrize("x, error, match", [
    (torch.randn(2, 255), ValueError, r"last dimension .* shape=256.*\(2, 255\)"),
    (torch.full((1, 256), float("nan")), ValueError, r"NaN or inf"),
    (torch.tensor([[float("inf")] * 256]), ValueError, r"NaN or inf"),
    (torch.ones(2, 256, dtype=torch.int64), TypeError, r"floating-point .* x.float\(\)"),
    (torch.ones(2, 256, dtype=torch.complex64), TypeError, r"must be real"),
    (torch.ones(0, 256), ValueError, r"batch is empty"),
    (torch.ones(2, 256, dtype=torch.float64), TypeError, r"does not match"),
    ([0.0] * 256, TypeError, r"torch tensor or a numpy array"),
    (np.ones(256, dtype=np.complex64), TypeError, r"real-valued"),
])
def test_bad_input_raises_a_message_with_the_fix(small, x, error, match):
    with pytest.raises(error, match=match):
        small(x)
