"""The engine's Fourier primitives: fold plans, modulus and rfft, with their custom gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine._fold import apply_fold, fold_plan, modulus, modulus_, rfft
from engine.filterbank import gauss_1d, morlet_1d


def _naive_fold(x: np.ndarray, h: np.ndarray, m_out: int) -> np.ndarray:
    """Kymatio's definition: multiply the full spectrum, average the periods."""
    X = np.fft.fft(x)
    return (X * h).reshape(x.shape[:-1] + (-1, m_out)).mean(-2)


@pytest.mark.parametrize("m_out, half", [(256, False), (64, False), (256, True), (32, True),
                                         (16, False)])
def test_fold_equals_multiply_then_periodise(m_out, half):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 256))
    filters = [morlet_1d(256, xi, s) for xi, s in [(0.3, 0.05), (0.1, 0.02), (0.02, 0.01)]]
    plan = fold_plan(filters, m_out, half)
    got = apply_fold(torch.fft.rfft(torch.from_numpy(x)), plan, torch.from_numpy(plan.weights))
    want = np.stack([_naive_fold(x, h, m_out) for h in filters], axis=1)[..., :plan.cols]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("m_out", [16, 64])        # 64: no subsampling, full spectrum
@pytest.mark.parametrize("shared", [False, True])
def test_fold_gradient_matches_finite_differences(shared, m_out):
    filters = [morlet_1d(64, 0.2, 0.04)] if shared else [morlet_1d(64, 0.2, 0.04),
                                                         morlet_1d(64, 0.05, 0.02)]
    plan = fold_plan(filters, m_out, half=False)
    w = torch.from_numpy(plan.weights)
    spec = torch.fft.rfft(torch.randn(2, 64, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: apply_fold(s, plan, w, shared), (spec,))


@pytest.mark.parametrize("m_out", [16, 64])
def test_fold_gradient_of_filters_with_negative_frequencies(m_out):
    """A symmetric low-pass reads the spectrum on both sides of Nyquist: the full-spectrum
    plan (m_out == m_in) rebuilds the negative half as conjugates, whose gradient the custom
    backward folds back onto the half spectrum."""
    filters = [gauss_1d(64, 0.15), morlet_1d(64, 0.45, 0.08)]
    plan = fold_plan(filters, m_out, half=False)
    assert any(c1 > 33 for c0, c1 in plan.ranges) or m_out < 64
    w = torch.from_numpy(plan.weights)
    spec = torch.fft.rfft(torch.randn(2, 64, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: apply_fold(s, plan, w), (spec,))


def test_modulus_value_and_gradient_match_torch_abs():
    z = torch.randn(4, 33, dtype=torch.complex128, requires_grad=True)
    torch.testing.assert_close(modulus(z), z.abs())
    assert torch.autograd.gradcheck(modulus, (z,))
    zero = torch.zeros(3, dtype=torch.complex128, requires_grad=True)
    modulus(zero).sum().backward()
    assert torch.equal(zero.grad, torch.zeros_like(zero))       # like torch.abs at 0


def test_in_place_modulus_matches_torch_abs_and_keeps_gradients():
    z = torch.randn(3, 5, 64, dtype=torch.complex128)
    want = z.abs()
    torch.testing.assert_close(modulus_(z.clone()), want, rtol=1e-15, atol=0)
    zg = z.clone().requires_grad_()
    out = modulus_(zg)           # with gradients: out of place, differentiable
    out.sum().backward()
    torch.testing.assert_close(zg.detach(), z)
    torch.testing.assert_close(zg.grad, z / want)


def test_rfft_value_and_gradient_match_torch():
    u = torch.randn(3, 32, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(rfft(u), torch.fft.rfft(u))
    assert torch.autograd.gradcheck(rfft, (u,))
