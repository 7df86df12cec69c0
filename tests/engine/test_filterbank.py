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
def test_as_arrays_stack_the_responses_read_only(design):
    """The families come as read-only arrays equal to stacking the responses. (They used to
    be the bank's own cached rows; the bank now keeps its filters compact and builds full
    responses on request.)"""
    from engine.filterbank import build_filterbank

    fb = build_filterbank(4096, 5, (8, 2), 32, design)
    arrays = fb.as_arrays()
    for name, family in (("psi1", fb.psi1), ("psi2", fb.psi2)):
        a = arrays[name]
        np.testing.assert_array_equal(a, np.stack([p.response for p in family]))
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0, 0] = 1.0

# ---- compact banks ------------------------------------------------------------------------

def _dense_bank(N, J, Q, T, design):
    """The bank as the designs' dense `time_filters` give it (the former construction)."""
    from engine.filterbank import get_design

    (_, phi), fam1, fam2 = get_design(design).time_filters(N, J, Q, T)
    return phi, [h for *_, h in fam1], [h for *_, h in fam2]


@pytest.mark.parametrize("design,N,J,Q,T", [
    ("kymatio", 1024, 5, (1, 1), 32), ("kymatio", 8192, 8, (12, 2), 256),
    ("kymatio", 2**16, 12, (12, 1), 4096), ("tight", 4096, 6, (8, 2), 64),
    ("tight", 2**15, 9, (12, 1), 512)])
def test_compact_bank_equals_dense_design_on_kept_bins(design, N, J, Q, T):
    """Each compact filter has the dense design's float64 values, bit for bit, wherever the
    value exceeds 1e-12 of the peak (the fold plans' threshold), and differs elsewhere by
    less than 1e-19 of the peak (dropped tails read as 0)."""
    from engine.filterbank import build_filterbank

    fb = build_filterbank(N, J, Q, T, design)
    phi, psi1, psi2 = _dense_bank(N, J, Q, T, design)
    pairs = [(fb.phi, phi)] + list(zip(fb.psi1, psi1)) + list(zip(fb.psi2, psi2))
    assert len(pairs) == 1 + len(fb.psi1) + len(fb.psi2)
    for f, want in pairs:
        got = f.response
        peak = np.abs(want).max()
        kept = np.abs(want) > 1e-12 * peak
        np.testing.assert_array_equal(got[kept], want[kept])
        assert np.abs(got - want).max() <= 1e-19 * peak


def test_compact_bank_long_signal_relative_error():
    """Beyond EXACT_NORM_MAX the L1 norm comes from a coarser grid: values within 1e-12."""
    from engine.morlet import EXACT_NORM_MAX, kymatio_frequencies, morlets_1d, morlets_sparse

    N = 4 * EXACT_NORM_MAX
    params = list(kymatio_frequencies(10, 4))[::3]
    for sp, want in zip(morlets_sparse(N, params), morlets_1d(N, params)):
        np.testing.assert_allclose(sp.dense(), want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_compact_bank_memory_follows_support():
    """A bank of 2**20 bins holds far less than n_filters x N float64 values, and its levels
    periodise like the dense responses."""
    from engine.filterbank import build_filterbank

    N = 2**20
    fb = build_filterbank(N, 12, (12, 1), 4096)
    n_filters = 1 + len(fb.psi1) + len(fb.psi2)
    assert fb.nbytes < n_filters * N * 8 / 5
    lv = fb.psi2[3].compact
    for k in range(1, len(lv)):
        np.testing.assert_array_equal(lv[k].dense(),
                                      lv[0].dense().reshape(2**k, -1).sum(axis=0))


def test_bank_cache_is_bounded_in_bytes(monkeypatch):
    """The bank cache evicts the least recently used banks beyond CACHE_BYTES."""
    import engine.filterbank as fbm

    fbm.build_filterbank.cache_clear()
    a = fbm.build_filterbank(4096, 5, (8, 1), 32)
    monkeypatch.setattr(fbm, "CACHE_BYTES", a.nbytes + 1)
    assert fbm.build_filterbank(4096, 5, (8, 1), 32) is a       # cached
    fbm.build_filterbank(4096, 6, (8, 1), 64)                     # evicts a
    assert fbm.build_filterbank(4096, 5, (8, 1), 32) is not a
    fbm.build_filterbank.cache_clear()
