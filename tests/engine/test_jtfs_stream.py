"""The streamed psi_t branches (`engine.jtfs.stream`) equal the unstreamed ones, outputs and
gradients, and the budget's argument is checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.jtfs import PAIRS, TimeFrequencyScattering
from engine.jtfs.stream import _margin, prefilter, prefilter_bins, streamed_rows

SMALL = dict(J=8, Q=8, J_fr=4, Q_fr=1, F=8)
ISSUE = dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16)


class _Unchecked(TimeFrequencyScattering):
    """A transform whose budget only sizes its blocks (not enforced: a tiny one here)."""

    _enforce_budget = False


def _both(params, N, grad=False, seed=0):
    """Outputs (and input gradients of a random projection) unstreamed and streamed."""
    # (a small budget: several blocks even at these lengths)
    S = _Unchecked(shape=N, out_type="pairs", memory_budget=2**22,
                                chunk_bytes=2**25, **params).double()
    assert any(o.stream is not None for o in S._order2)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, N, generator=g, dtype=torch.float64)
    results = []
    for budget, force in ((2**50, False), (S.memory_budget, True)):
        S.memory_budget, S._force_stream = budget, force
        xi = x.clone().requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            out = S(xi)
            if grad:
                w = torch.Generator().manual_seed(seed + 1)
                loss = sum((out[p] * torch.randn(out[p].shape, generator=w,
                                                 dtype=torch.float64)).sum() for p in PAIRS)
                loss.backward()
        results.append(({p: out[p].detach() for p in PAIRS}, xi.grad))
    return results


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_streamed_outputs_and_gradients_equal_unstreamed():
    (ref, gref), (got, ggot) = _both(SMALL, 2**14, grad=True)
    for p in PAIRS:
        assert _rel(got[p], ref[p]) < 1e-9, p
    assert _rel(ggot, gref) < 1e-9


@pytest.mark.slow
def test_streamed_equal_unstreamed_long_signal():
    """Issue 15's configuration on a long signal, float64 (about 1e-13 measured)."""
    (ref, _), (got, _) = _both(ISSUE, 2**17)
    for p in PAIRS:
        assert _rel(got[p], ref[p]) < 1e-9, p


def test_default_budget_streams_long_signals_only():
    S = TimeFrequencyScattering(shape=2**13, **SMALL)
    assert S.memory_budget == 512 * 2**20 and S.chunk_bytes == 32 * 2**20
    assert _Unchecked(shape=2**13, memory_budget=2**24, **SMALL).chunk_bytes == 2**20
    x = torch.randn(1, 2**13)
    y2 = torch.zeros(1, 1, 2**13)
    assert all(S._stream_for(o, y2) is None for o in S._order2)     # small: today's path
    with torch.no_grad():
        assert S(x).shape[0] == 1


def test_a_batch_streams_in_groups_of_its_plan():
    """A streamed branch runs its batch StreamPlan.batch signals at a time (a block is sized
    for them): the same output as one signal at a time."""
    S = _Unchecked(shape=2**14, memory_budget=2**22, chunk_bytes=2**25, **SMALL).double()
    S._force_stream = True
    assert all(o.stream.batch == 1 for o in S._order2 if o.stream is not None)
    x = torch.randn(3, 2**14, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = S(x)
        one = torch.cat([S(x[i:i + 1]) for i in range(3)])
    assert _rel(whole, one) < 1e-12


@pytest.mark.parametrize("bad", [0, 1000, 2.5, True, "512M"])
def test_memory_budget_is_checked(bad):
    with pytest.raises(ValueError, match="memory_budget"):
        TimeFrequencyScattering(shape=2**13, memory_budget=bad, **SMALL)


def test_prefilter_is_one_on_the_pass_band_and_short_in_time():
    f = np.linspace(0, 0.5, 1001)
    h = prefilter(f, 0.01, 0.05)
    assert np.all(h[f <= 0.01] == 1.0) and np.all(h[f >= 0.05] == 0.0)
    assert np.all(np.diff(h) <= 0)
    R = _margin(0.01, 0.05)
    assert 50 < R < 2000                         # decays fast: a few hundred samples
    assert prefilter_bins(0.01, 3, 1024).shape == (1024 // 16 + 1,)


@pytest.mark.parametrize("filterbank", ["tight", "kymatio"])
def test_first_order_in_chunks_of_wavelets_equals_whole(filterbank):
    """At long N the first order filters a group's wavelets a few at a time (one complex
    intermediate under chunk_bytes): the same spectra (on the bins the second order reads,
    the only ones kept) and S1, bit for bit."""
    S = TimeFrequencyScattering(shape=2**13, filterbank=filterbank, **SMALL)
    x = torch.randn(2, 2**13, generator=torch.Generator().manual_seed(3))
    spec0 = torch.fft.rfft(torch.nn.functional.pad(x, (S.pad_left, S.pad_right)))
    g = 0
    assert len(S._groups[g].n1) > 2
    nb = S._spec1_bins[g]
    assert nb < S.N_padded // 2 + 1                      # cropped: the psi2 are band-pass

    def same(whole, parts):
        return torch.equal(whole[0], parts[0]) and torch.equal(whole[1], parts[1])

    with torch.no_grad():
        whole = S._first_order(g, spec0)
        assert whole[0].shape[-1] == nb
        for rows in (1, 2):
            assert same(whole, S._first_order_chunked(g, spec0, rows))
        S.chunk_bytes = 2**10                   # the call takes the chunked path itself
        assert S._first_order_rows(g, 2) == 1
        assert same(whole, S._first_order(g, spec0))


@pytest.mark.parametrize("filterbank", ["tight", "kymatio"])
def test_kept_first_order_bins_cover_every_second_order_read(filterbank):
    """`_spec1_bins` holds every bin a psi2 fold reads (so cropping the kept spectra changes
    no output): at most the half spectrum, and the same output, bit for bit, as with the
    whole spectra kept (the first order chunked, which crops)."""
    S = TimeFrequencyScattering(shape=2**13, filterbank=filterbank, **SMALL)
    for o in S._order2:
        for p in o.parts:
            plan, _ = S._plans[p.plan]
            for (start, mirrored), (c0, c1) in zip(plan.blocks, plan.ranges):
                assert start >= 0
                top = start - c0 + 1 if mirrored else start + c1
                assert top <= S._spec1_bins[p.g] <= (S.N_padded >> S._groups[p.g].k1) // 2 + 1
    x = torch.randn(1, 2**13, generator=torch.Generator().manual_seed(4))
    cropped = S._spec1_bins
    for budget in (2**10, S.chunk_bytes):       # the first order chunked, and not
        S.chunk_bytes = budget
        with torch.no_grad():
            S._spec1_bins = [(S.N_padded >> g.k1) // 2 + 1 for g in S._groups]
            whole = S(x)
            S._spec1_bins = cropped
            assert torch.equal(whole, S(x))


def test_odd_batch_halves_chunked_and_whole_give_one_output():
    """A batch of 3 is split 1 + 2: the halves may take the chunked and the whole first
    order (chunk_bytes per signal) and must keep spectra of one shape; each signal's output
    is that of a call on it alone."""
    S = TimeFrequencyScattering(shape=2**13, **SMALL)
    g0 = S._groups[0]
    S.chunk_bytes = len(g0.n1) * (S.N_padded >> g0.k1) * 16       # 1 signal: whole; 2: chunked
    assert S._first_order_rows(0, 1) >= len(g0.n1) > S._first_order_rows(0, 2)
    x = torch.randn(3, 2**13, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        out = S(x)
        for i in range(3):
            assert torch.allclose(out[i], S(x[i:i + 1])[0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("filterbank", ["tight", "kymatio"])
def test_streamed_branch_on_its_window_of_y2_equals_whole_y2(filterbank):
    """A streamed branch computes Y2 on its time window only, row by row: the same Y2 there
    as the whole Y2 (bit for bit), and the same streamed rows from it as from the whole."""
    S = _Unchecked(shape=2**15, filterbank=filterbank, memory_budget=2**22, **SMALL)
    x = torch.randn(2, 2**15, generator=torch.Generator().manual_seed(5))
    spec0 = torch.fft.rfft(torch.nn.functional.pad(x, (S.pad_left, S.pad_right)))
    with torch.no_grad():
        spec1s = [S._first_order(g, spec0)[0] for g in range(len(S._groups))]
        paths = [o for o in S._order2 if o.crop is not None and o.stream is not None]
        assert any(len(o.parts) > 1 for o in paths)
        for o in paths:
            c0, c1 = o.crop
            whole = S._second_order_into(o, spec1s) if len(o.parts) > 1 else \
                torch.fft.ifft(S._fold(spec1s[0][:, :o.n], o.parts[0].plan, True))
            win = S._second_order_window(o, spec1s, o.crop)
            assert torch.equal(win, whole[..., c0:c1])

            def pointwise(part, plan=o.fr):
                return S._pointwise(part, plan, False, 64).flatten(2)

            H = S._buffer(o.stream.H)
            ref = streamed_rows(pointwise, whole, o.crop, o.stream, H)
            got = streamed_rows(pointwise, win, o.crop, o.stream, H, whole.shape[-1])
            assert torch.equal(ref, got)
