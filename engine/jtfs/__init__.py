"""`TimeFrequencyScattering`: Joint Time-Frequency Scattering (JTFS), batched and fast.

JTFS (Andén, Lostanlen and Mallat 2019; Muradeli et al. 2022) scatters the first-order
scalogram ``U1(n1, t) = |x * psi1_n1|(t)`` jointly along time and along log-frequency ``n1``:

* ``S0 = x * phi_t``; ``S1 = U1 * phi_t`` (time scattering's first order);
* time wavelets: ``Y2[n2] = U1 * psi2_n2`` (complex, for the ``n1`` with ``j1 < j2``);
* frequential wavelets along ``n1``: ``psi_f`` with both *spins* (``psi_f_up`` is analytic
  along ``n1``, ``psi_f_dn`` its mirror) and a frequential low-pass ``phi_f`` of width
  ``2**J_fr``; then the modulus, then averaging by ``phi_t`` (time, support ``T``) and by
  ``phi_F`` (frequency, width ``F``).

This gives the seven named pairs of the literature:

============================  ===================================================  ======
pair                          coefficient                                          spin
============================  ===================================================  ======
``S0``                        ``x * phi_t``                                        0
``S1``                        ``U1 * phi_t``                                       0
``phi_t * phi_f``             ``|S1 *_fr phi_f| *_fr phi_F``                       0
``phi_t * psi_f``             ``sqrt(2) |S1 *_fr psi_f_up| *_fr phi_F``            0
``psi_t * phi_f``             ``|Y2 *_fr phi_f| * phi_t *_fr phi_F``               0
``psi_t * psi_f_up``          ``|Y2 *_fr psi_f_up| * phi_t *_fr phi_F``            +1
``psi_t * psi_f_dn``          ``|Y2 *_fr psi_f_dn| * phi_t *_fr phi_F``            -1
============================  ===================================================  ======

**Orientation and spin.** ``n1`` is ordered as Kymatio's: ``n1 = 0`` is the *highest*
frequency. ``psi_f_up`` (spin +1) has a positive centre frequency along increasing ``n1``. A
**rising** chirp draws a ridge whose ``n1`` *decreases* with time; against the analytic time
wavelet ``psi_t`` its phase advances along ``n1``, so it lights up ``psi_t * psi_f_up``; a
**falling** chirp lights up ``psi_t * psi_f_dn`` (checked by ``tests/engine/test_jtfs.py``).
Plain words for displays are in `SPIN_DIRECTION` and in ``meta()["direction"]``.

``phi_t * psi_f`` sees a real input (``S1``), for which both spins have the same modulus: it is
computed with spin up only and scaled by ``sqrt 2`` so that it carries both spins' energy.

**Energy.** With ``filterbank="tight"`` (the default, see `engine.tight`) every filtering
stage is a tight frame, and the modulus preserves energy, so with ``average=False,
average_fr=False`` (no averaging after the last modulus; ``stride=1``) the pairs other than
``S1`` (which they decompose) hold the input's energy up to boundary and Nyquist-taper losses:
``||S0||^2 + ||phi_t*phi_f||^2 + ||phi_t*psi_f||^2 + ||psi_t*phi_f||^2 + ||up||^2 +
||dn||^2 ~= ||x||^2`` (`energy_ratio`).

**Schedule.** The time part follows Scattering1D (one batched fold per resolution). The
frequential part works at the time resolution that ``Y2`` already has
(``2**min(j2, log2 stride)``): per ``n2``, the ``n`` valid rows are zero-padded along ``n1``
to a circular grid of ``L`` rows (about ``2n``, an FFT-friendly size; see ``_fr_length``),
transformed by one FFT along ``n1`` (time-major layout, the FFT on the contiguous axis),
on the samples of ``Y2`` that the output can see only (``_time_window``: with zero padding,
the signal plus the reach of ``psi1`` and ``psi2`` into the padding, where ``Y2`` is
otherwise ~0), and
each group of frequential filters sharing a subsampling ``2**k`` (``k = min(j_fr, log2
stride_fr)``; for the compact ``"tight"`` filters ``j_fr`` may be raised to what the width of
the filter's support allows, see ``_fr_window_subsampling``: same accuracy, half the work) is
applied as a multiply on the spectrum folded to ``L / 2**k`` bins (a slice of
``L / 2**k`` bins per filter for the compactly supported ``"tight"`` filters), then an inverse
FFT, the modulus, the frequential averaging onto the ``F_bins`` output rows (a small matrix
product), and finally one ``rfft``-fold-``irfft`` in time. Time is chunked so that the
intermediates stay under ``chunk_bytes``. Frequential filters whose reach exceeds the padding
(the widest ones, when ``2**J_fr`` is comparable with ``N1``) wrap around the circular grid,
as in Kymatio's JTFS with a bounded ``max_pad_factor_fr``; the frame stays exactly tight on
the grid.

**Layout.** `engine.jtfs.frequential` (the frequential filters, from the design's
`engine.design.Design.frequential_filters`), `engine.jtfs.plans` (typed plans and their
construction), `engine.jtfs.forward` (the forward pass), `engine.jtfs.meta` (``meta()``),
`engine.jtfs.transform` (the module and its parameters), `engine.jtfs.pairs` (the pair names).
"""

from engine.jtfs import cost as _cost  # noqa: F401  (sets the transform's cost model)
from engine.jtfs import grad_cost as _grad_cost  # noqa: F401  (and with gradients)
from engine.jtfs.frequential import (
    FR_ALIAS_GUARD,
    FR_MIN_LENGTH,
    FR_PAD_FACTOR,
    REACH_CRITERION,
    TAP_ENERGY,
    _fft_size,
    _frequential_design,
    _reaches,
    _taps_at,
    frequential_bank,
    frequential_filters,
    frequential_responses,
)
from engine.jtfs.pairs import PAIR_SPIN, PAIRS, SPIN_DIRECTION, energy_ratio
from engine.jtfs.plans import FrGroup, FrPlan, SecondOrderPart, SecondOrderPath, TimeGroup
from engine.jtfs.transform import TimeFrequencyScattering

__all__ = ["TimeFrequencyScattering", "PAIRS", "SPIN_DIRECTION", "PAIR_SPIN", "energy_ratio",
           "frequential_filters", "frequential_bank", "frequential_responses",
           "REACH_CRITERION", "TAP_ENERGY", "FR_PAD_FACTOR", "FR_MIN_LENGTH", "FR_ALIAS_GUARD",
           "TimeGroup", "SecondOrderPart", "SecondOrderPath", "FrGroup", "FrPlan",
           "_fft_size", "_frequential_design", "_reaches", "_taps_at"]
