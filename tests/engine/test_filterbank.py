"""engine.filterbank: the Kymatio design's building blocks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.filterbank import _periodised_gaussian, kymatio_frequencies, periods_needed


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
