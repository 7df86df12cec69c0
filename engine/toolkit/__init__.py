"""Numerical toolkit: filter bank validation, energies, distances, JTFS packing, normalisation.

* `validate_filterbank` checks a filter bank (an engine `FilterBank`, a `Scattering1D` or
  `TimeFrequencyScattering` instance, or raw arrays) and returns a `Report`: a list of
  `Finding` objects, one per check and family, plus the arrays a plot needs.
* `energy_conservation`, `coeff_energy`, `coeff_distance`: output/input energies and
  distances between coefficients, per scattering order or per JTFS pair.
* `pack_coeffs_jtfs`: JTFS pairs packed into one 4-D (or 3-D) array per sample, for 3-D/4-D
  convolutions.
* `normalize`: ``log1p`` contraction with a sparse mean, then standardisation.

Modules: `engine.toolkit.validation` (`validate_filterbank`), `engine.toolkit.checks` (one
function per check, in the table `CHECKS`), `engine.toolkit.report` (`Finding`, `Report`,
`THRESHOLDS`), `engine.toolkit.energies` (`lp_sum` and the coefficients' energies) and
`engine.toolkit.features` (packing and normalisation); this package re-exports their public
names.

Everything here is numpy in float64 (inputs may be torch tensors; they are moved to the CPU).

Filter conventions
------------------
A family is ``psi_f`` of shape ``(K, N)``: frequency responses on the FFT grid
(``np.fft.fftfreq(N)`` order, cycles per sample), optionally with a low-pass ``phi_f``
``(N,)``. Filters may be complex. An *analytic* family (every peak at a positive frequency) is
meant for real signals: its Littlewood-Paley sum folds negative frequencies onto positive
ones. A family with peaks on both sides (JTFS's frequential up and down wavelets) is checked
over the whole circle.
"""

from engine.toolkit.checks import CHECKS
from engine.toolkit.energies import coeff_distance, coeff_energy, energy_conservation, lp_sum
from engine.toolkit.features import normalize, pack_coeffs_jtfs, sparse_mean
from engine.toolkit.report import SEVERITIES, THRESHOLDS, FamilyData, Finding, Report
from engine.toolkit.validation import validate_filterbank

__all__ = [
    "Finding",
    "FamilyData",
    "Report",
    "THRESHOLDS",
    "validate_filterbank",
    "lp_sum",
    "energy_conservation",
    "coeff_energy",
    "coeff_distance",
    "pack_coeffs_jtfs",
    "normalize",
    "sparse_mean",
    "CHECKS",
    "SEVERITIES",
]
