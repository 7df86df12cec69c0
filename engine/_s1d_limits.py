"""Scattering1D's limits: the longest signal, the memory budget's default and parsing, and
the padded length computed without an ``N``-point filter (from `engine._s1d_model`)."""

from __future__ import annotations

import math
import os

from engine import _params
from engine._costs import BudgetError
from engine.filterbank import SIGMA0, gauss_1d, temporal_support

#: Longest signal a Scattering1D accepts (samples): beyond, one signal's output alone (at
#: stride 1) or the padded length's indices would not fit any machine.
MAX_LENGTH = 2**40


def _ram() -> int | None:
    """The machine's physical memory in bytes (None where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_feasible(N: int, N_padded: int) -> None:
    """Refuse, before building anything, a length whose padded signal could not be held in
    the machine's memory (`BudgetError`, no budget would do)."""
    ram = _ram()
    if N > MAX_LENGTH or (ram is not None and 4 * N_padded > ram):
        raise BudgetError(
            f"shape={N} samples is too long for any memory budget on this machine: its "
            f"padded length {N_padded} alone needs {4 * N_padded / 2**30:.1f} GiB in float32"
            + (f" of the machine's {ram / 2**30:.1f} GiB" if ram else "") + ". Transform it "
            "block by block from disk with engine.scatter_file or engine.BlockTransform.",
            minimum_bytes=None)


#: Scattering1D's default working-memory budget (bytes), which `estimate_cost` assumes when
#: ``memory_budget`` is None.
DEFAULT_BUDGET = 512 * 2**20


def parse_budget(budget, default=DEFAULT_BUDGET):
    """``memory_budget`` as bytes (int), or None for no budget (``math.inf``)."""
    if budget is None:
        return default
    if isinstance(budget, float) and math.isinf(budget) and budget > 0:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
        raise ValueError(f"memory_budget must be a positive number of bytes (e.g. 512 * 2**20)"
                         f", None (the default, {DEFAULT_BUDGET // 2**20} MiB) or math.inf "
                         f"(no budget); got {budget!r}.")
    return int(budget)


def padded_length_fast(N: int, T: int) -> int:
    """`engine._params.padded_length` ``(N, T)`` without an ``N``-point filter: the low-pass's
    temporal support is measured on a grid of ``64 T`` points (or ``N`` if shorter), where
    its Gaussian impulse response (standard deviation ``T / (2 pi sigma0)``, about ``1.6 T``)
    has long decayed below the criterion, so the support is the same integer."""
    n = min(N, 1 << max(1, (64 * T - 1).bit_length()))
    if n == N:
        return _params.padded_length(N, T)
    min_to_pad = 3 * temporal_support(gauss_1d(n, SIGMA0 / T)[None], criterion=1e-3)
    J_pad = min(int(math.ceil(math.log2(N + 2 * min_to_pad))),
                int(math.floor(math.log2(3 * N - 2))))
    return 2**J_pad
