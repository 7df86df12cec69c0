"""engine.filterbank: the Kymatio design's building blocks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.morlet import (
    _l1_normalise,
    _periodised_gaussian,
    gauss_1d,
    kymatio_frequencies,
    morlet_1d,
    morlets_1d,
    periods_needed,
)


def _every_period_everywhere(N, centre, sigma, P):
    """The definition: 2P - 1 periods, each evaluated on the whole grid, then averaged."""
    f = np.arange((1 - P) * N, P * N, dtype=float) / N
    return np.exp(-((f - centre) ** 2) / (2 * sigma**2)).reshape(2 * P - 1, N).mean(axis=0)


@pytest.mark.parametrize("N", [1000, 16384, 131072])
def test_periodised_gaussian_on_its_support_equals_the_definition_bit_for_bit(N):
    cases = [(c, s) for xi, s in kymatio_frequencies(6, 10) for c in (0.0, xi)]
    cases += [(0.0, 0.4), (0.3, 0.25), (0.5, 0.001)]          # wide, very narrow
    for centre, sigma in cases:
        P = min(periods_needed(sigma), 5)
        if P == 1:
            continue
        np.testing.assert_array_equal(_periodised_gaussian(N, centre, sigma, P),
                                      _every_period_everywhere(N, centre, sigma, P),
                                      err_msg=f"centre={centre}, sigma={sigma}, P={P}")


@pytest.mark.parametrize("N", [1000, 16384])
def test_morlets_equal_gabor_minus_kappa_lowpass_bit_for_bit(N):
    """The rows are built in place, and the low-pass correction is skipped where kappa is 0.0:
    the same numbers as the formula evaluated on whole arrays, before the L1 normalisation
    (which both share)."""
    params = list(kymatio_frequencies(6, 20)) + [(0.05, 0.04), (0.3, 0.25)]   # wide: kappa != 0
    want, kappas = np.empty((len(params), N)), []
    for i, (xi, sigma) in enumerate(params):
        P = min(periods_needed(sigma), 5)
        low, gabor = _periodised_gaussian(N, 0.0, sigma, P), _periodised_gaussian(N, xi, sigma, P)
        kappas.append(gabor[0] / low[0])
        want[i] = gabor - kappas[-1] * low
    assert 0.0 in kappas and any(k != 0 for k in kappas)             # both kinds of rows
    np.testing.assert_array_equal(morlets_1d(N, params), _l1_normalise(want))


@pytest.mark.parametrize("N", [1000, 1001, 4096])
def test_l1_normalisation_from_the_half_spectrum_equals_the_full_inverse_fft(N):
    rng = np.random.default_rng(0)
    h_f = np.stack([gauss_1d(N, 0.05), morlet_1d(N, 0.3, 0.02), rng.standard_normal(N)])
    want = h_f / np.abs(np.fft.ifft(h_f, axis=-1)).sum(axis=-1, keepdims=True)
    got = _l1_normalise(h_f, rows=2)
    assert got is h_f                                   # in place (the callers own it)
    np.testing.assert_allclose(np.abs(np.fft.ifft(got, axis=-1)).sum(axis=-1), 1.0,
                               rtol=1e-13)
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("design", ["kymatio", "tight"])
def test_as_arrays_are_the_banks_own_rows_read_only(design):
    """No ~10 MB copy per call: the families come as the arrays the design built, read-only
    (the bank is cached and shared), equal to stacking the responses."""
    from engine.filterbank import build_filterbank

    fb = build_filterbank(4096, 5, (8, 2), 32, design)
    arrays = fb.as_arrays()
    for name, family in (("psi1", fb.psi1), ("psi2", fb.psi2)):
        a = arrays[name]
        np.testing.assert_array_equal(a, np.stack([p.response for p in family]))
        assert np.shares_memory(a, family[0].response) and not a.flags.writeable
        assert fb.as_arrays()[name] is a
        with pytest.raises(ValueError):
            a[0, 0] = 1.0
