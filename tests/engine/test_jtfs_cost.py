"""`engine.jtfs.cost.estimate_jtfs_cost` against measurement.

Each point is measured in a fresh process (a `multiprocessing` forkserver that has imported
torch and the engine once, so that a point costs its own work only): build the transform, a
warm-up call on one signal, ``gc`` and ``malloc_trim`` (so that memory the warm-up freed is
not reused unseen) and a reset of the peak (``/proc/self/clear_refs``; `memprobe.reset_peak`),
then the measured call. The peak
is ``VmHWM`` after the call minus ``VmRSS`` before it: the process's growth during the call,
the output included, the input and the filters excluded (not ``ru_maxrss``, which includes the
building and the warm-up).

Time is not asserted: the host is shared and its load moves wall times by several times (the
estimate is documented as rough); only that it is positive and grows with the work.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import time

import pytest
import torch

from engine._costs import BudgetError, Cost
from engine.jtfs import TimeFrequencyScattering
from engine.jtfs.cost import _skeleton, estimate_jtfs_cost
from tests.engine.memprobe import _libc, _status, peak_misses, probe_quietest, reset_peak

ISSUE = dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16)      # issue 15's configuration
SMALL = dict(J=8, Q=8, J_fr=4, Q_fr=1, F=8)
MORLET = dict(J=10, Q=12, J_fr=4, Q_fr=2, F=8, filterbank="kymatio")

#: The cheap grid (about 20 s on two idle cores, several times that under load), and the
#: full one (slow: minutes).
GRID = [(SMALL, 13, 1), (SMALL, 15, 1), (SMALL, 13, 8), (ISSUE, 13, 1), (ISSUE, 14, 8)]
FULL = [(c, n, b) for c in (SMALL, ISSUE, MORLET) for n in range(13, 18) for b in (1, 8)]


def _measure(params: dict, N: int, B: int) -> dict:
    """In a fresh process: peak growth (bytes) and time of one forward call."""
    # Blocks of 1 MiB and more are mapped and unmapped, not kept by malloc for reuse: the
    # resident set then follows the live tensors (the working set), not the allocator's
    # history (with glibc's adaptive threshold the same call measured 11 to 54 MiB).
    _libc.mallopt(-3, 2**20)                                # M_MMAP_THRESHOLD
    S = TimeFrequencyScattering(shape=N, **params)
    x = torch.randn(B, N)
    with torch.no_grad():
        S(x[:1])
        rss = reset_peak()                                # malloc_trim, VmHWM := VmRSS
        t = time.perf_counter()
        out = S(x)
        t = time.perf_counter() - t
        hwm = _status("VmHWM")
    return dict(peak=hwm - rss, seconds=t, shape=tuple(out.shape),
                nbytes=out.numel() * out.element_size())


@pytest.fixture(scope="module")
def pool():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "engine.jtfs"])
    return ctx


def _run(ctx, params, N, B) -> dict:
    with ctx.Pool(1, maxtasksperchild=1) as p:              # one fresh process per point
        return p.apply(_measure, (params, N, B))


def _row(ctx, params, n, B) -> dict:
    """The point ``(params, n, B)`` (``N = 2**n``) measured in a fresh process, beside its
    prediction (``pred_peak``, ``pred_seconds``) and its ``label``; the output's shape and
    size predicted exactly."""
    m = _run(ctx, params, 2**n, B)
    c = estimate_jtfs_cost(2**n, B, **params)
    assert c.output_shape == m["shape"] and c.output_bytes == m["nbytes"]
    return dict(m, pred_peak=c.peak_bytes, pred_seconds=c.seconds,
                label=f"{params} N=2^{n} B={B}")


#: The band (predicted / measured peak within [1 / BAND, BAND]), and the re-measurements of
#: a point whose growth exceeds it.
BAND, RETRIES = 1.5, 2


def _check(ctx, points):
    # The model predicts an idle machine: a point measured above its band is measured
    # again, twice at most, and its quietest run (the smallest growth) is kept, as a
    # benchmark keeps its best time (`memprobe.probe_quietest`, its rule for every probe).
    rows = probe_quietest(points, band=BAND, retries=RETRIES,
                          run=lambda pts: [_row(ctx, *pt) for pt in pts])
    bad = peak_misses(rows, lambda r: r["label"], band=BAND)
    assert not bad, "\n".join(bad)
    return rows


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_trim"), reason="needs glibc")
def test_peak_memory_within_factor_1_5(pool):
    rows = _check(pool, GRID)
    # the time estimate: positive, and growing with the work (length and batch)
    small = {(n, b): r["pred_seconds"] for (p, n, b), r in zip(GRID, rows) if p is SMALL}
    assert 0 < small[13, 1] < small[15, 1] and small[13, 1] < small[13, 8]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_trim"), reason="needs glibc")
def test_peak_memory_full_grid(pool):
    _check(pool, [p for p in FULL if p not in GRID])


@pytest.mark.parametrize("params", [ISSUE, SMALL, dict(MORLET, format="joint"),
                                    dict(SMALL, average_fr=False, out_type="list"),
                                    dict(SMALL, T="global", F="global")])
def test_skeleton_sizes_match_the_transform(params):
    """The skeleton's plan sizes (built without the time filters at full size) are the
    transform's."""
    N = 2**13
    sk = _skeleton(N, tuple(sorted(params.items())))
    S = TimeFrequencyScattering(shape=N, **params)
    assert (sk.N_padded, sk.N1, sk.F_bins, sk.bin_start) == (S.N_padded, S.N1, S.F_bins,
                                                             S.bin_start)
    assert [(g.k1, g.n1) for g in sk._groups] == [(g.k1, g.n1) for g in S._groups]
    assert [(o.n2, o.k2, o.n, o.crop, o.fr.L, o.fr.cols) for o in sk._order2] == \
           [(o.n2, o.k2, o.n, o.crop, o.fr.L, o.fr.cols) for o in S._order2]
    # the first order's kept bins (from the psi2 supports): at least the transform's, and
    # within a few bins of them
    assert all(0 <= a - b <= 8 for a, b in zip(sk._spec1_bins, S._spec1_bins))


def test_padded_length_matches_at_long_lengths():
    """At long N the skeleton sizes the padding from a short low-pass: same length."""
    for N in (2**18, 3 * 2**18 + 4):
        sk = _skeleton(N, tuple(sorted(ISSUE.items())))
        ref = TimeFrequencyScattering._padded_length(sk, N)      # the full-length rule
        assert sk.N_padded == ref


def test_cost_value_and_errors():
    c = estimate_jtfs_cost(2**16, 2, **ISSUE)
    assert isinstance(c, Cost) and c.budget_bytes is None
    assert c.output_bytes == 4 * c.output_shape[0] * c.output_shape[1] * c.output_shape[2]
    assert estimate_jtfs_cost(2**16, 2, dtype=torch.float64, **ISSUE).output_bytes == \
        2 * c.output_bytes
    with pytest.raises(BudgetError, match="at least") as e:
        estimate_jtfs_cost(2**16, 2, memory_budget=2**20, **ISSUE)
    need = e.value.minimum_bytes                        # a budget that holds its own plan
    assert str(need) in str(e.value)
    assert estimate_jtfs_cost(2**16, 2, memory_budget=need, **ISSUE).peak_bytes <= need
    with pytest.raises(BudgetError, match="no memory_budget") as e:
        estimate_jtfs_cost(2**24, 4096, memory_budget=2**40, **ISSUE)     # > any RAM here
    assert e.value.minimum_bytes is None
    with pytest.raises(TypeError, match="unknown parameters"):
        estimate_jtfs_cost(2**16, J=12, Q=16, J_fr=5, bogus=1)
    with pytest.raises(ValueError, match="batch"):
        estimate_jtfs_cost(2**16, 0, **ISSUE)
    with pytest.raises(ValueError):                      # the constructor's own checks
        estimate_jtfs_cost(2**10, J=12, Q=16, J_fr=5)


def test_budget_too_small_raises_before_building(monkeypatch):
    """A given budget under the configuration's minimum: `BudgetError` from the constructor,
    naming the minimum, before any filter is built; that minimum then constructs."""
    def no_filters(self):
        raise AssertionError("built the filters before checking the budget")

    monkeypatch.setattr(TimeFrequencyScattering, "_filterbank", no_filters)
    with pytest.raises(BudgetError, match=r"at least \d+ \(\d+ MiB\)") as e:
        TimeFrequencyScattering(shape=2**15, memory_budget=2**22, **ISSUE)
    need = e.value.minimum_bytes
    assert need > 2**22 and str(need) in str(e.value)
    monkeypatch.undo()
    S = TimeFrequencyScattering(shape=2**15, memory_budget=need, **ISSUE)
    assert S.estimate_cost(1).peak_bytes <= need


def test_budget_too_small_for_the_batch_raises_before_computing(monkeypatch):
    """A budget that holds one signal but not the call's batch: `BudgetError` from the call,
    naming the minimum for that batch, before anything of the transform runs."""
    one = estimate_jtfs_cost(2**14, 1, **SMALL).peak_bytes
    S = TimeFrequencyScattering(shape=2**14, memory_budget=int(1.1 * one), **SMALL)
    x = torch.randn(8, 2**14)

    def no_work(*args, **kwargs):
        raise AssertionError("computed before checking the budget")

    monkeypatch.setattr("engine.jtfs.forward.rfft", no_work)
    with pytest.raises(BudgetError, match="batch 8") as e:
        S(x)
    assert e.value.minimum_bytes == estimate_jtfs_cost(
        2**14, 8, memory_budget=e.value.minimum_bytes, **SMALL).budget_bytes
    monkeypatch.undo()
    with torch.no_grad():
        assert S(x[:1]).shape[0] == 1                      # one signal fits
        big = TimeFrequencyScattering(shape=2**14, memory_budget=e.value.minimum_bytes,
                                      **SMALL)
        assert big(x).shape[0] == 8                        # the minimum named fits the batch


def test_default_budget_is_not_enforced():
    """Without a budget given, the transform runs whatever the model predicts (the default
    only sizes the streamed blocks), as the estimate without a budget does not raise."""
    S = TimeFrequencyScattering(shape=2**13, **SMALL)
    assert S.memory_budget == 512 * 2**20 and not S._budget_set
    c = S.estimate_cost(4)
    assert c.budget_bytes is None and c == estimate_jtfs_cost(2**13, 4, **SMALL)
