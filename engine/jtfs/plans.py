"""JTFS's typed plans and how they are built: what each stage of the forward pass applies.

A `TimeFrequencyScattering` holds, after construction:

* ``_groups``: one `TimeGroup` per first-order time resolution;
* ``_order2``: one `SecondOrderPath` per second-order wavelet ``n2`` with a valid path, with
  its `FrPlan` (the frequential scattering of ``Y2[n2]``);
* ``_fr_s1``: the `FrPlan` of the ``phi_t`` branch (the frequential scattering of ``S1``);
* ``_plans``: the time-axis fold plans by name, ``(engine._fold plan, buffer name)``.

The arrays a plan applies are the module's buffers (so that ``.to(device)`` moves them); a
plan names them (fields typed ``str``), and the forward pass reads them with
``_buffer(name)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from engine._fold import fold_plan
from engine.jtfs.frequential import (
    FR_ALIAS_GUARD,
    FR_MIN_LENGTH,
    FR_PAD_FACTOR,
    _fft_size,
    _reaches,
    _taps_at,
    frequential_bank,
    frequential_filters,
)
from engine.jtfs.stream import StreamPlan, plan_stream, prefilter_bins

__all__ = ["TimeGroup", "SecondOrderPart", "SecondOrderPath", "FrGroup", "FrPlan"]


@dataclass
class TimeGroup:
    """First-order wavelets ``n1`` that share the time resolution ``2**k1``: ``psi1`` is the
    prefix of their fold plans (one per wavelet, ``f"{psi1}_{i}"`` for its ``i``-th: each
    holds its own wavelet's support only, where one plan of the group would hold every
    wavelet over the union of their supports, 4x more at Q=16), ``phi`` the low-pass plan
    from ``2**k1`` to the stride (None when the averaging is global)."""

    k1: int
    n1: list[int]
    psi1: str
    phi: str | None


@dataclass
class SecondOrderPart:
    """The first ``count`` rows of `TimeGroup` ``g`` filtered by one ``psi2`` (fold plan
    ``plan``)."""

    g: int
    count: int
    plan: str


@dataclass
class FrGroup:
    """Frequential filters sharing a subsampling ``2**k``: ``nf`` filters on ``Lk`` rows.

    ``w`` names their responses over ``2**k``, ``(nf, Lk)`` when ``starts`` (each filter's
    window of ``Lk`` bins) is given, else ``(nf, L)``; ``A`` the frequential averaging
    ``(F_bins, Lk)``; ``gains`` the per-filter gains ``(nf, 1)`` (None: all 1); ``bins`` the
    windows' bins (windowed groups only)."""

    k: int
    nf: int
    Lk: int
    starts: list[int] | None
    w: str
    A: str
    gains: str | None
    bins: str | None


@dataclass
class FrPlan:
    """Frequential scattering of one input on a circular grid of ``L`` rows: the filter
    groups, the filters' records (`frequential_bank` order, spin-down filters dropped for
    real inputs), ``order`` the buffer that restores that order from the groups' and ``cols``
    the number of filter-response values (for the chunk size)."""

    L: int
    groups: list[FrGroup]
    filters: list[dict]
    order: str
    cols: int


@dataclass
class SecondOrderPath:
    """One second-order wavelet ``n2`` (scale ``j2``, resolution ``2**k2``) applied to the
    ``n`` first-order rows with ``j1 < j2`` (a `SecondOrderPart` per group), its low-pass
    plan ``phi``, its frequential plan ``fr`` and its time window ``crop``
    (``TimeFrequencyScattering._time_window``)."""

    n2: int
    j2: int
    k2: int
    n: int
    parts: list[SecondOrderPart]
    phi: str | None
    fr: FrPlan
    crop: tuple[int, int] | None
    stream: StreamPlan | None = None


def _family_reaches(family, rows: int = 4) -> np.ndarray:
    """`_reaches` of a family of `engine.filterbank.Filter`, ``rows`` dense responses at a
    time (the whole dense bank is ``n_filters x N`` float64: 2.7 GB at N = 2^21)."""
    return np.concatenate([_reaches(np.stack([f.response for f in family[i:i + rows]]))
                           for i in range(0, len(family), rows)])


class _Planner:
    """The construction of `TimeFrequencyScattering`'s plans (a mixin of the module)."""

    def _k(self, j: int) -> int:
        """Time resolution (log2 subsampling) of a path whose filter tolerates ``2**j``."""
        return j if self._t_mode == "global" else min(j, self.log2_stride)

    def _phi_plan(self, level: int):
        """Low-pass from resolution ``2**level`` to the output stride (None when global)."""
        if self._t_mode == "global":
            return None
        name = f"phi_{level}"
        if name not in self._plans:
            # A half-spectrum plan (engine._fold): blocks above Nyquist are read as mirrored
            # slices of the rfft, no full spectrum is built.
            self._time_fold(name, ("phi", level), self.N_padded >> self.log2_stride, True)
        return name

    def _time_filters(self, which: tuple) -> list:
        """The compact time filters of a fold plan: ``("phi", level)``, ``("psi1", n1s)``
        or ``("psi2", n2, k1)`` (``psi2[n2]`` periodised to resolution ``2**k1``)."""
        bank = self.bank
        if which[0] == "phi":
            return [bank.phi.compact[0].periodise(which[1])]
        if which[0] == "psi1":
            return [bank.psi1[n].compact[0] for n in which[1]]
        return [bank.psi2[which[1]].compact[0].periodise(which[2])]

    def _time_fold_weights(self, which: tuple, m_out: int, half: bool) -> np.ndarray:
        """The float64 weights of the fold plan of `_time_filters` ``(which)``: the exact
        values of its buffer, rebuilt on a cast to float64 (`PlannedTransform`)."""
        return fold_plan(self._time_filters(which), m_out, half).weights

    def _time_fold(self, name: str, which: tuple, m_out: int, half: bool) -> None:
        """Build the fold plan ``name`` of `_time_filters` ``(which)`` and register its
        weights, float64 ones rebuilt from the filter bank on demand (not kept: the plan
        in ``_plans`` has ``weights=None``; the buffer holds them)."""
        plan = fold_plan(self._time_filters(which), m_out, half)
        if plan.blocks == ((-1, False),) and plan.ranges[0][1] <= plan.m_in // 2 + 1:
            # Unsubsampled and zero above Nyquist: read the half spectrum itself (the same
            # bins) rather than the whole spectrum rebuilt from it at each fold.
            plan = replace(plan, blocks=((0, False),))
        buf = self.register_plan(name, plan.weights,
                                 recipe=("_time_fold_weights", (which, m_out, half), None))
        self._plans[name] = (replace(plan, weights=None), buf)

    def _build(self) -> None:
        bank, Np = self.bank, self.N_padded
        self._plans: dict = {}
        self._reach1 = self._reach2 = None       # per-filter reaches, see _time_window
        j1s = [p.j for p in bank.psi1]
        if any(b < a for a, b in zip(j1s, j1s[1:])):
            raise RuntimeError("first-order subsamplings must not decrease with n1")
        k1s = [self._k(j) for j in j1s]
        self._phi_plan(0)
        self._groups = []
        for k1 in sorted(set(k1s)):
            n1s = [n for n, k in enumerate(k1s) if k == k1]
            g = len(self._groups)
            for i, n in enumerate(n1s):
                self._time_fold(f"g{g}_psi1_{i}", ("psi1", (n,)), Np >> k1, False)
            self._groups.append(TimeGroup(k1, n1s, f"g{g}_psi1", self._phi_plan(k1)))

        # Second order: for each n2, the prefix n1 < n1_max with j1 < j2, gathered per group.
        self._order2 = []
        # Without time averaging (stride 1) every pair is computed: a frame needs them all.
        def valid(j1, j2):
            return j1 < j2 or not self.average

        for n2, psi2 in enumerate(bank.psi2):
            n_valid = sum(valid(j, psi2.j) for j in j1s)
            if n_valid == 0:
                continue
            k2 = self._k(psi2.j)
            parts = []
            for g, grp in enumerate(self._groups):
                count = sum(valid(j1s[n], psi2.j) for n in grp.n1)
                if count == 0:
                    continue
                name = f"o2_{n2}_g{g}"
                self._time_fold(name, ("psi2", n2, grp.k1), Np >> k2, False)
                parts.append(SecondOrderPart(g, count, name))
            phi = self._phi_plan(k2)
            fr = self._fr_plan(f"fr{n2}", n_valid, spinned=True)
            self._order2.append(SecondOrderPath(n2, psi2.j, k2, n_valid, parts, phi, fr,
                                                self._time_window(n2, k2),
                                                self._stream_plan(k2, fr)))
        if not self._order2:
            raise ValueError("No second-order path: every psi2 has j2 <= j1; increase J.")
        # The phi_t branch: S1 (real) along all N1.
        self._fr_s1 = self._fr_plan("frs1", self.N1, spinned=False)
        self._spec1_bins = self._spec1_reads()
        self._build_meta()

    def _spec1_reads(self) -> list[int]:
        """Per time group, the number ``n`` of low bins ``[0, n)`` of the half spectra
        ``rfft(U1)`` that the second order's folds read (their blocks' columns): the psi2
        are band-pass, below ~0.22 cycles per sample for the tight design, so that the
        first order keeps 43 % of its spectra (at least one bin; all of them where a fold
        rebuilds the whole spectrum)."""
        full = [(self.N_padded >> g.k1) // 2 + 1 for g in self._groups]
        top = [1] * len(self._groups)
        for o in self._order2:
            for p in o.parts:
                plan, _ = self._plans[p.plan]
                for (start, mirrored), (c0, c1) in zip(plan.blocks, plan.ranges):
                    end = full[p.g] if start < 0 else (start - c0 + 1 if mirrored
                                                       else start + c1)
                    top[p.g] = max(top[p.g], end)
        return [min(t, f) for t, f in zip(top, full)]

    def _phi_cutoff(self) -> float:
        """Frequency (cycles per sample) beyond which ``phi_t`` is below 1e-13 of its
        peak: its support, for the compact designs."""
        c = self.bank.phi.compact[0]
        big = np.abs(c.val) > 1e-13 * np.abs(c.val).max()
        k = np.asarray(c.idx)[big]
        return float(np.minimum(k, c.N - k).max() + 1) / c.N

    def _stream_plan(self, k2: int, fr: FrPlan) -> StreamPlan | None:
        """How a branch at resolution ``2**k2`` streams its frequential stage in time blocks
        (`engine.jtfs.stream`), or None when it cannot (global or no time averaging) or
        would not gain. A block holds about an eighth of ``memory_budget`` per signal."""
        if self._t_mode != "local" or not self.average:
            return None
        rows = max(sum(g.nf for g in fr.groups) * self.F_bins,
                   sum(g.nf * g.Lk for g in fr.groups))
        # float32 bytes per sample of a block: the rows and their rfft, the n1 spectrum and
        # the block of Y2 (complex)
        per_sample = rows * 8 + fr.L * 16
        hint = 1 << max(10, int(math.log2(max(1, self.memory_budget // 8 // per_sample))))
        M_full = self.N_padded >> k2
        got = plan_stream(self._phi_cutoff() * 2**k2, self.log2_stride - k2, M_full, hint)
        if got is None:
            return None
        d, R, P = got
        name = self.register_plan(f"stream_{k2}_{P}", self._stream_prefilter(k2, d, P),
                                  recipe=("_stream_prefilter", (k2, d, P), None))
        self._phi_plan(k2 + d)
        return StreamPlan(d, R, P, name, max(1, self.memory_budget // 8 // (P * per_sample)))

    def _stream_prefilter(self, k2: int, d: int, P: int) -> np.ndarray:
        """`prefilter_bins` of a streamed branch at resolution ``2**k2`` (float64)."""
        return prefilter_bins(self._phi_cutoff() * 2**k2, d, P)

    def _time_window(self, n2: int, k2: int) -> tuple[int, int] | None:
        """Samples ``[c0, c1)`` of ``Y2[n2]`` (at resolution ``2**k2``) that the output can
        see, or None for all of them. The frequential stage is computed on this window only
        and is zero outside it.

        Without time averaging after the last modulus (``average=False``) or with global
        averaging, the output crops to the signal: the window is the signal. With local
        averaging and zero padding, the input is zero in the padding, so ``Y2 = |x * psi1| *
        psi2`` is non-negligible only up to the reach of ``psi1`` plus that of ``psi2``
        beyond the signal's edges (`REACH_CRITERION`); the low-pass ``phi_t`` then sees zeros
        beyond the window, whatever its own tails. With reflect padding the padding holds
        signal: no window (None)."""
        Np, s = self.N_padded, self.pad_left
        e = s + self.shape[0]
        if self.average and self._t_mode == "local":
            if self.pad_mode != "zero":
                return None
            if self._reach1 is None:     # once per module: one rfft per filter
                self._reach1 = _family_reaches(self.bank.psi1)
                self._reach2 = _family_reaches(self.bank.psi2)
            j2 = self.bank.psi2[n2].j
            below = [r for p, r in zip(self.bank.psi1, self._reach1) if p.j < j2]
            reach = int(max(below or self._reach1)) + int(self._reach2[n2])
            s, e = max(0, s - reach), min(Np, e + reach)
        c0, c1 = s >> k2, -(-e >> k2)
        return None if (c0, c1) == (0, Np >> k2) else (c0, c1)

    def _fr_length(self, n: int) -> int:
        """Length ``L`` of the zero-padded ``n1`` grid for an input of ``n`` rows: the
        shortest FFT-friendly length (``2**a 3**b 5**c``, a multiple of the largest
        frequential subsampling, at least twice it) that holds the ``n`` rows plus the longest
        frequential kernel's reach on both sides, but at most about ``FR_PAD_FACTOR + 1``
        times ``n``
        (the widest kernels then wrap around: Kymatio's ``max_pad_factor_fr``), and at least
        `FR_MIN_LENGTH`."""
        filters, _ = frequential_filters(self.design, self.J_fr, self.Q_fr, None, self.N1)
        H = max(f["taps"].size // 2 for f in filters)
        k_max = 0 if self._f_mode == "none" else max(
            min(f["j"], self.log2_stride_fr) if self._f_mode == "local" else f["j"]
            for f in filters)
        target = max(min(n + 2 * H, (FR_PAD_FACTOR + 1) * n), FR_MIN_LENGTH)
        return _fft_size(max(target, 2 << k_max), 1 << k_max)

    @staticmethod
    def _fr_positions(n: int, L: int) -> np.ndarray:
        """Signed ``n1`` position of each of the ``L`` circular rows: the input's ``n`` rows,
        then half of the padding after them (``n .. n + P - 1``), the other half before them
        (negative positions)."""
        c = np.arange(L)
        P = (L - n) // 2
        return np.where(c < n + P, c, c - L)

    def _fr_rows(self, ns: list[int]) -> tuple[int, int]:
        """``(bin_start, F_bins)`` without frequential averaging: the union of the rows of
        every frequential grid (one per input size in ``ns``)."""
        lo = hi = 0
        for n in ns:
            p = self._fr_positions(n, self._fr_length(n))
            lo, hi = min(lo, int(p.min())), max(hi, int(p.max()))
        return lo, hi - lo + 1

    def _fr_window_subsampling(self, resp: np.ndarray) -> int:
        """log2 of the largest subsampling of a compactly supported frequential filter
        ``resp`` ``(L,)`` whose output modulus, once averaged by ``phi_F``, stays clean: the
        filter's circular support (``width`` bins) plus a guard must fit in the ``L / 2**k``
        bins of the subsampled grid. The filter's window is demodulated to the grid (the
        modulus discards the phase), so only the support's *width* matters, not its upper
        edge; ``|z|^2`` then aliases only beyond ``width`` bins, and the guard
        (`FR_ALIAS_GUARD` cycles per row plus the cutoff of ``phi_F``) keeps the aliased tail
        of ``|z|`` out of the band that ``phi_F`` keeps. Measured against no subsampling at
        all (N=8192, J=8, Q=16, J_fr=5, Q_fr=2, noise, chirps, speech): the same error
        (0.2-0.8 % for F=16) as the upper-edge rule at about half the work."""
        L = resp.size
        nzb = np.flatnonzero(np.abs(resp) > 1e-12 * np.abs(resp).max())
        width = L - int(np.diff(np.concatenate([nzb, nzb[:1] + L])).max()) + 1
        b_F = self.design.lowpass_cutoff(self.F if self._f_mode == "local" else self.N1)
        guard = int(math.ceil((FR_ALIAS_GUARD + b_F) * L))
        k = 0
        while (L >> (k + 1)) << (k + 1) == L and (L >> (k + 1)) >= width + guard:
            k += 1
        return k

    def _fr_design(self, n: int, spinned: bool):
        """The float64 design of `_fr_plan` (``n`` rows): ``(L, filters, groups)``, a group
        a dict of its ``k``, filter indices ``idx``, ``Lk``, ``starts`` (None: not
        windowed) and its arrays ``w``, ``A`` (``(F_bins, Lk)``) and ``g`` (``(nf, 1)``, None
        when all gains are 1)."""
        L = self._fr_length(n)
        meta, resp = frequential_bank(self.design, self.J_fr, self.Q_fr, L)
        keep = [i for i, f in enumerate(meta) if spinned or f["spin"] >= 0]
        filters, resp = [meta[i] for i in keep], resp[keep]
        _, phi_F = frequential_filters(self.design, self.J_fr, self.Q_fr,
                                       self.F if self._f_mode == "local" else None, self.N1)
        s_fr, N1, Fb = self.log2_stride_fr, self.N1, self.F_bins
        pos = self._fr_positions(n, L)
        by_k: dict[int, list[int]] = {}
        for i, f in enumerate(filters):
            j = f["j"]
            if self.design.compact and self._f_mode != "none":
                j = max(j, self._fr_window_subsampling(resp[i]))
            k = {"local": min(j, s_fr), "global": j, "none": 0}[self._f_mode]
            by_k.setdefault(k, []).append(i)
        groups = []
        for k, idx in sorted(by_k.items()):
            r, Lk = 2**k, L >> k
            # Each filter's non-zero bins, if they fit in a circular window of Lk bins: the
            # fold is then a slice (its start's phase ramp along the output rows is removed by
            # the modulus). Otherwise (Gaussian tails) the full spectrum is folded.
            starts = []
            for i in idx:
                nzb = np.flatnonzero(np.abs(resp[i]) > 1e-12 * np.abs(resp[i]).max())
                gaps = np.diff(np.concatenate([nzb, nzb[:1] + L]))
                s = int(nzb[(int(np.argmax(gaps)) + 1) % nzb.size])     # after the widest gap
                starts.append(s if ((nzb - s) % L).max() < Lk else None)
            windowed = k > 0 and all(s is not None for s in starts)
            if windowed:
                w = np.stack([np.roll(resp[i], -s)[:Lk] / r for i, s in zip(idx, starts)])
            else:
                starts = None
                w = resp[idx] / r
            p = pos[::r]                                                    # (Lk,)
            # The frequential averaging of the Lk rows onto the output bins is one matrix
            # (Lk, F_bins) for the whole group, times a gain per filter (sqrt 2 for the
            # phi_t branch's spin up, which stands for both spins).
            gains = np.array([math.sqrt(2) if (not spinned and filters[i]["spin"] == 1)
                              else 1.0 for i in idx])
            A = np.zeros((Lk, Fb))
            if self._f_mode == "local":
                q = np.arange(Fb) * 2**s_fr
                A[:] = r * _taps_at(phi_F, q[None, :] - p[:, None])
            elif self._f_mode == "global":
                A[:, 0] = r / N1
            else:
                A[np.arange(Lk), p - self.bin_start] = 1.0
            groups.append(dict(k=k, idx=idx, Lk=Lk, starts=starts if windowed else None,
                               w=w, A=A.T, g=gains[:, None] if np.any(gains != 1.0)
                               else None))
        return L, filters, groups

    def _fr_arrays(self, n: int, spinned: bool) -> dict:
        """`_fr_design`'s arrays by buffer suffix (``k{k}_w``, ``k{k}_A``, ``k{k}_g``): the
        exact values of `_fr_plan`'s buffers, rebuilt on a cast to float64."""
        out = {}
        for grp in self._fr_design(n, spinned)[2]:
            for a in ("w", "A", "g"):
                if grp[a] is not None:
                    out[f"k{grp['k']}_{a}"] = grp[a]
        return out

    def _fr_plan(self, prefix: str, n: int, spinned: bool) -> FrPlan:
        """Frequential plan for an input of ``n`` rows ``n1 = 0..n-1``, zero-padded to a
        circular grid of ``L`` rows (`_fr_length`). Filters sharing a subsampling ``k`` form a
        group with ``w``, the responses over ``2**k``, and ``A`` ``(nf, Lk, F_bins)``, the
        frequential averaging of the ``Lk = L / 2**k`` subsampled rows onto the output bins.
        When every filter of a subsampled group is zero outside a circular window of ``Lk``
        bins (compact support, `Design.compact`), ``starts`` holds each window's first bin and
        ``w`` is ``(nf, Lk)``: the fold is a slice. Otherwise ``starts`` is None, ``w`` is
        ``(nf, L)`` and the product is folded by summing its ``2**k`` blocks."""
        L, filters, design = self._fr_design(n, spinned)
        groups, order, cols = [], [], 0
        for grp in design:
            k, idx, Lk, starts = grp["k"], grp["idx"], grp["Lk"], grp["starts"]
            windowed, name, names = starts is not None, f"{prefix}_k{k}", {}
            for a in ("w", "A", "g"):
                if grp[a] is not None:
                    names[a] = self.register_plan(
                        f"{name}_{a}", grp[a],
                        recipe=("_fr_arrays", (n, spinned), f"k{k}_{a}"))
            w_name, A_name, g_name = names["w"], names["A"], names.get("g")
            bins_name = None
            if windowed:   # the windows' bins, for a one-buffer gather when differentiating
                bins = (np.array(starts)[:, None] + np.arange(Lk)) % L
                bins_name = name + "_bins"
                self.register_buffer(bins_name, torch.as_tensor(bins.ravel()),
                                     persistent=False)
            groups.append(FrGroup(k, len(idx), Lk, starts, w_name, A_name, g_name, bins_name))
            cols += grp["w"].size
            order += idx
        inverse = np.argsort(order)
        self.register_buffer(prefix + "_order", torch.as_tensor(inverse), persistent=False)
        return FrPlan(L, groups, filters, prefix + "_order", cols)
