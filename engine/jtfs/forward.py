"""The forward pass of `TimeFrequencyScattering` (a mixin of the module): order 0 and 1 in
time, then the ``phi_t`` and ``psi_t`` branches of frequential scattering, each applying the
typed plans of `engine.jtfs.plans`."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from engine._fold import apply_fold, apply_folds, modulus_, rfft
from engine._module import check_signal
from engine._parallel import run_keyed
from engine.jtfs.pairs import PAIRS
from engine.jtfs.plans import FrGroup, FrPlan
from engine.jtfs.stream import STREAM_SHARE, StreamPlan, streamed_rows


class _ForwardPass:
    """The forward pass of `TimeFrequencyScattering`."""

    def _buffer(self, name: str) -> torch.Tensor:
        """The plan array registered as buffer ``name``."""
        return self._buffers[name]

    def _fold(self, spec: torch.Tensor, name: str, shared: bool = False) -> torch.Tensor:
        """`engine._fold.apply_fold` of half spectra ``spec`` with the plan ``name``."""
        plan, buf = self._plans[name]
        return apply_fold(spec, plan, self._buffer(buf), shared)

    def _lowpass(self, spec_half: torch.Tensor, level: int) -> torch.Tensor:
        """Real signals given by their ``rfft`` at resolution ``2**level`` -> low-passed at
        the stride (padded time axis), local averaging only."""
        plan, buf = self._plans[self._phi_plan(level)]
        out = apply_fold(spec_half, plan, self._buffer(buf), shared=True)
        return torch.fft.irfft(out, n=self.N_padded >> self.log2_stride)

    def _time_average(self, u: torch.Tensor, level: int) -> torch.Tensor:
        """Average (or only crop) real ``u`` ``(..., time at 2**level)``: the final step."""
        if self._t_mode == "global":
            return u[..., self.ind_start[level]:self.ind_end[level]].mean(-1, keepdim=True)
        if not self.average:                           # stride 1, level 0
            return u[..., self.ind_start[level]:self.ind_end[level]]
        s = self.log2_stride
        u = self._lowpass(rfft(u), level)
        return u[..., self.ind_start[s]:self.ind_end[s]]

    def _frequential(self, y: torch.Tensor, plan: FrPlan, level: int | None,
                     window: tuple[int, int] | None = None,
                     stream: StreamPlan | None = None,
                     m_full: int | None = None) -> torch.Tensor:
        """Frequential scattering of ``y`` ``(B, n, time)`` (complex, or real for the
        ``phi_t`` branch): FFT along ``n1`` (zero-padded to the plan's ``L``), per filter
        group a multiply that filters and subsamples (a window of the spectrum per filter for
        compact filters), inverse FFT, modulus, frequential averaging (one matrix product onto
        the ``F_bins`` rows per group), then time averaging from resolution ``2**level``
        (``None``: only crop, the input is already averaged). Time is processed in chunks so
        that the intermediates stay under ``chunk_bytes``. ``m_full`` (streamed only): ``y``
        holds the ``window``'s samples only, of a time axis of ``m_full``.
        Returns ``(B, n_filters, F_bins, time_out)`` in the plan's filter order."""
        M_full, y_full = m_full or y.shape[-1], y
        if window is not None and m_full is None:
            y = y[..., window[0]:window[1]]
        B, _, M = y.shape
        L = plan.L
        yt = y.transpose(1, 2)                                          # (B, M, n)
        real_size = 8 if y.dtype in (torch.float64, torch.complex128) else 4
        per_t = B * (2 * L + 4 * plan.cols) * 2 * real_size
        step = max(1, self.chunk_bytes // per_t)
        # The frequential averaging (a matrix per group, per time sample) and the time
        # averaging (per row) are linear and commute: averaged in time first, the frequential
        # averaging works on a few output samples instead of every input one, and the time
        # averaging on the Lk rows of each filter instead of its F_bins rows (the finest n2
        # of a small F: 40 rows instead of 68). `_late_fr_average` picks the cheaper order.
        late = level is not None and self._late_fr_average(plan, M, M_full)
        sp = stream
        if sp is not None:
            # Time blocks (engine.jtfs.stream): the rows prefiltered and decimated by 2**d,
            # then the same time averaging at resolution 2**(level + d).
            # The batch in groups of sp.batch signals: a block's intermediates grow with the
            # signals in it, and its length is already the shortest its margins allow.
            def pointwise(part):
                n_step = max(1, self.chunk_bytes // (part.shape[0] * per_t // B))
                return self._pointwise(part, plan, late, n_step).flatten(2)
            H = self._buffer(sp.H)
            ws = [streamed_rows(pointwise, y_full[i:i + sp.batch], window, sp, H, m_full)
                  for i in range(0, B, sp.batch)]
            w = torch.cat(ws) if len(ws) > 1 else ws[0]
            del ws
            if not late:
                w = w.unflatten(1, (-1, self.F_bins))
            if w.requires_grad:
                v = self._time_average(w, level + sp.d)
            else:               # a few rows at a time: their rfft beside w, not all of it
                n_rows = max(1, self.chunk_bytes // (w[0, :1].numel() * w.element_size()))
                vs = [self._time_average(part, level + sp.d)
                      for part in w.split(n_rows, dim=1)]
                del w
                v = torch.cat(vs, dim=1) if len(vs) > 1 else vs[0]
            if late:
                v = self._fr_average_rows(v, plan)
            return v.index_select(1, self._buffer(plan.order))
        v = self._pointwise(yt, plan, late, step)
        v = v.movedim(1, -1)                   # (B, nf, Fb, M), or late (B, sum nf Lk, M)
        if window is not None:                         # zero outside the window
            v = nn.functional.pad(v, (window[0], M_full - window[1]))
        v = self._crop_avg(v) if level is None else self._time_average(v, level)
        if late:
            v = self._fr_average_rows(v, plan)
        return v.index_select(1, self._buffer(plan.order))

    def _pointwise(self, yt: torch.Tensor, plan: FrPlan, late: bool, step: int
                   ) -> torch.Tensor:
        """The frequential stage of time-major ``yt`` ``(B, m, n)``, time chunks of
        ``step`` samples: ``(B, m, nf, F_bins)``, or ``late`` ``(B, m, sum nf Lk)``."""
        B, L = yt.shape[0], plan.L
        ext_len = max([L >> g.k for g in plan.groups if g.starts is not None],
                      default=0)
        chunks = []
        grad = yt.requires_grad
        # Without gradients each chunk's rows are written into one output array: no
        # concatenation at the end (which held the rows twice), and the chunks' temporaries
        # are reused from one chunk to the next instead of accumulating.
        out, a = None, 0
        # (split, not slices: a slice's backward writes a zero tensor of the whole input)
        for part in yt.split(step, dim=1):
            yf = torch.fft.fft(part, n=L, dim=-1).reshape(-1, L)                 # (Bm, L)
            Bm = yf.shape[0]
            # Circularly extended spectrum, shared by the windowed groups.
            ext = torch.cat([yf, yf[:, :ext_len]], dim=1) if ext_len and not grad else None
            vs = []
            for grp in plan.groups:
                w, At = self._buffer(grp.w), self._buffer(grp.A)
                nf, Lk = w.shape[0], At.shape[1]
                # (complex x real products: a real weight broadcast against view_as_real's
                # last axis of 2 is ~8x slower)
                if grp.starts is not None and grad:
                    g = yf.index_select(1, self._buffer(grp.bins)).view(Bm, nf, Lk) * w
                elif grp.starts is not None:        # one window of Lk bins per filter
                    g = yf.new_empty((Bm, nf, Lk))
                    for i, s in enumerate(grp.starts):
                        torch.mul(ext[:, s:s + Lk], w[i], out=g[:, i])
                else:                                  # multiply everything, then fold
                    g = yf[:, None] * w                                  # (Bm, nf, L)
                    if Lk < L:
                        g = g.reshape(Bm, nf, L // Lk, Lk).sum(2)
                u = modulus_(torch.fft.ifft(g, dim=-1))                  # (Bm, nf, Lk)
                vs.append(u.reshape(Bm, nf * Lk) if late else self._fr_average(u, grp))
            v = torch.cat(vs, dim=1) if len(vs) > 1 else vs[0]
            v = v.reshape(B, -1, *v.shape[1:])
            if grad or step >= yt.shape[1]:
                chunks.append(v)
                continue
            if out is None:
                out = v.new_empty((B, yt.shape[1], *v.shape[2:]))
            out[:, a:a + v.shape[1]].copy_(v)
            a += v.shape[1]
            del v, vs
        if out is not None:
            return out
        return torch.cat(chunks, dim=1) if len(chunks) > 1 else chunks[0]

    def _fr_average(self, u: torch.Tensor, grp: FrGroup) -> torch.Tensor:
        """A group's frequential averaging ``(b, nf, Lk) -> (b, nf, F_bins)`` (with its
        gains), per time sample."""
        v = nn.functional.linear(u, self._buffer(grp.A))
        return v if grp.gains is None else v * self._buffer(grp.gains)

    def _fr_average_rows(self, u: torch.Tensor, plan: FrPlan) -> torch.Tensor:
        """The frequential averaging of every group of ``plan`` on time-averaged rows:
        ``(B, sum nf Lk, t) -> (B, sum nf, F_bins, t)``, groups in plan order."""
        vs, r0 = [], 0
        for grp in plan.groups:
            nf, Lk = grp.nf, grp.Lk
            ug = u[:, r0:r0 + nf * Lk].unflatten(1, (nf, Lk))            # (B, nf, Lk, t)
            v = torch.matmul(self._buffer(grp.A), ug)                 # (B, nf, Fb, t)
            if grp.gains is not None:
                v = v * self._buffer(grp.gains).unsqueeze(-1)
            vs.append(v)
            r0 += nf * Lk
        return torch.cat(vs, dim=1) if len(vs) > 1 else vs[0]

    #: One row-sample of time averaging (pad, ``rfft``, fold) costs about this many
    #: multiply-adds of the frequential averaging's matrix product (CPU, measured: ~4.3 ns
    #: against ~0.03 ns). Only chooses between two orders that give the same result.
    TIME_AVERAGE_PER_MAC = 140

    def _late_fr_average(self, plan: FrPlan, m_in: int, m_full: int) -> bool:
        """Whether to average ``plan``'s outputs in time before the frequential averaging,
        for ``m_in`` time samples computed on a time axis of ``m_full``: time averaging
        first costs ``sum nf Lk`` rows to average; after, ``sum nf F_bins`` rows plus the
        matrix product on every sample (``m_in sum nf Lk F_bins`` multiply-adds)."""
        nfs = [g.nf for g in plan.groups]
        lks = [g.Lk for g in plan.groups]
        rows_late = sum(n * k for n, k in zip(nfs, lks))
        macs = rows_late * self.F_bins * m_in
        rows_early = sum(nfs) * self.F_bins + macs / (m_full * self.TIME_AVERAGE_PER_MAC)
        return rows_late < rows_early

    def _crop_avg(self, v: torch.Tensor) -> torch.Tensor:
        if self._t_mode == "global":
            return v
        s = self.log2_stride
        return v[..., self.ind_start[s]:self.ind_end[s]]

    @staticmethod
    def _halves(B: int) -> list[slice]:
        """The batch in two halves (tasks of even size for two workers), or whole."""
        return [slice(0, B // 2), slice(B // 2, B)] if B >= 2 else [slice(0, B)]

    def _first_order(self, g: int, spec0: torch.Tensor) -> list[torch.Tensor]:
        """Group ``g``'s first order from half spectra ``spec0`` ``(b, N_padded//2+1)``:
        ``[rfft(U1), S1 on the padded axis]`` (and ``U1`` itself without averaging)."""
        grp = self._groups[g]
        rows = self._first_order_rows(g, spec0.shape[0])
        if rows < len(grp.n1) and self.average and self._t_mode == "local" \
                and not spec0.requires_grad:
            return self._first_order_chunked(g, spec0, rows)
        u1 = modulus_(torch.fft.ifft(self._psi1_fold(g, spec0, 0, len(grp.n1))))  # (b,G,m1)
        spec1 = rfft(u1)
        if self._t_mode == "global":
            s1 = u1[..., self.ind_start[grp.k1]:self.ind_end[grp.k1]].mean(
                -1, keepdim=True)
        else:
            s1 = self._lowpass(spec1, grp.k1)
        # (the bins the second order reads, as `_first_order_chunked` keeps: a view here)
        return [spec1[..., :self._spec1_bins[g]], s1] + ([] if self.average else [u1])

    def _psi1_fold(self, g: int, spec0: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
        """Half spectra ``spec0`` ``(b, N_padded//2+1)`` folded by wavelets ``r0:r1`` of
        group ``g`` (one plan each): ``(b, r1 - r0, m1)`` complex. Without gradients each
        fold is written into its row of one array."""
        prefix = self._groups[g].psi1
        folds = [(plan, self._buffer(buf), True)
                 for plan, buf in (self._plans[f"{prefix}_{i}"] for i in range(r0, r1))]
        if spec0.requires_grad:
            return torch.stack(list(apply_folds(spec0, folds)), dim=-2)
        out = spec0.new_empty(spec0.shape[:-1] + (r1 - r0, folds[0][0].cols))
        for i, (plan, weights, _) in enumerate(folds):
            apply_fold(spec0, plan, weights, True, out=out[..., i, :])
        return out

    def _first_order_rows(self, g: int, b: int) -> int:
        """Wavelets of group ``g`` filtered at once for ``b`` signals: as many as keep one
        complex intermediate ``(b, rows, m1)`` under ``chunk_bytes`` (at least one)."""
        m1 = self.N_padded >> self._groups[g].k1
        return max(1, self.chunk_bytes // (b * m1 * 16))

    def _first_order_chunked(self, g: int, spec0: torch.Tensor, rows: int
                             ) -> list[torch.Tensor]:
        """`_first_order` (local averaging, no gradient) ``rows`` wavelets at a time: the
        group's fold and its inverse FFT, complex and at full resolution, are held for
        those rows only (at N = 2^20 the finest group's were 2 x 272 MiB). Each row is
        computed as in one piece (the same fold weights, the same operations). The spectra
        kept are the bins the second order reads (`_spec1_bins`, 43 % of them at J=12 Q=16:
        at N = 2^22 1055 -> 460 MiB), the same values as the whole ones there."""
        grp = self._groups[g]
        b, G = spec0.shape[0], len(grp.n1)
        spec1 = s1 = None
        for r in range(0, G, rows):
            u1 = modulus_(torch.fft.ifft(self._psi1_fold(g, spec0, r, min(r + rows, G))))
            part = rfft(u1)
            del u1
            low = self._lowpass(part, grp.k1)
            part = part[..., :self._spec1_bins[g]]
            if spec1 is None:
                spec1 = part.new_empty((b, G, part.shape[-1]))
                s1 = low.new_empty((b, G, low.shape[-1]))
            spec1[:, r:r + rows].copy_(part)
            s1[:, r:r + rows].copy_(low)
            del part, low
        return [spec1, s1]

    def _branch_cost(self, i: int) -> int:
        o = self._order2[i]
        lo, hi = o.crop or (0, self.N_padded >> o.k2)
        return o.n * (hi - lo)

    def _branch(self, i: int | None, s1_pad: torch.Tensor, *spec1s: torch.Tensor
                ) -> list[torch.Tensor]:
        """Frequential scattering of one branch: ``None`` the phi_t branch (of S1), else
        the psi_t branch of ``self._order2[i]`` (Y2 of one n2)."""
        if i is None:
            return [self._frequential(s1_pad, self._fr_s1, None)]      # (b, 1+K, Fb, t)
        o = self._order2[i]
        grad = any(s.requires_grad for s in spec1s)
        M2 = self._plans[o.parts[0].plan][0].cols
        sp = self._stream_plan_for(o, spec1s[0].shape[0], M2, spec1s[0].dtype)
        if sp is not None and o.crop is not None and not grad:
            # streamed: Y2 on the branch's window only, row by row (half of it at N = 2^22)
            y2 = self._second_order_window(o, spec1s, o.crop)
            return [self._frequential(y2, o.fr, o.k2, o.crop, sp, m_full=M2)]
        if len(o.parts) > 1 and not grad:
            y2 = self._second_order_into(o, spec1s)
        else:
            ys = [torch.fft.ifft(self._fold(spec1s[p.g][:, :p.count], p.plan, True))
                  for p in o.parts]
            y2 = torch.cat(ys, dim=1) if len(ys) > 1 else ys[0]        # (b, n, M2)
            del ys
        return [self._frequential(y2, o.fr, o.k2, o.crop,
                                  self._stream_for(o, y2))]        # (b, 1+2K, Fb, t)

    def _second_order_into(self, o, spec1s) -> torch.Tensor:
        """``Y2`` ``(b, n, M2)`` of path ``o`` without gradients, its parts folded and
        inverse-transformed straight into one array: one part's inverse FFT is held beside
        it, not all of them before their concatenation (at N = 2^20 the finest branch's
        parts held 132 MiB). Each part is computed as in `_branch`'s other path."""
        first = spec1s[o.parts[0].g]
        b, M2 = first.shape[0], self._plans[o.parts[0].plan][0].cols
        y2 = torch.empty((b, o.n, M2), dtype=first.dtype, device=first.device)
        a = 0
        for p in o.parts:
            plan, buf = self._plans[p.plan]
            part = y2[:, a:a + p.count]
            apply_fold(spec1s[p.g][:, :p.count], plan, self._buffer(buf), True, out=part)
            part.copy_(torch.fft.ifft(part))
            a += p.count
        return y2

    def _run_stage(self, stage: int, xs, tasks) -> dict:
        """`run_keyed` of stage 1 (order 1) or 2 (the branches); `engine.jtfs.grad`'s with
        gradients (`TimeFrequencyScattering._run_stage`)."""
        return run_keyed(xs, tasks)

    def _second_order_window(self, o, spec1s, window: tuple[int, int]) -> torch.Tensor:
        """``Y2[..., c0:c1]`` ``(b, n, c1 - c0)`` of path ``o`` without gradients, for a
        ``window`` ``(c0, c1)``: each row folded and inverse-transformed on its own (two
        rows of scratch), its window kept. Each row's values are those of `_branch`'s other
        paths (one row of a batched FFT is that row's FFT)."""
        c0, c1 = window
        first = spec1s[o.parts[0].g]
        b, M2 = first.shape[0], self._plans[o.parts[0].plan][0].cols
        y2 = first.new_empty((b, o.n, c1 - c0))
        spec, row = first.new_empty((b, M2)), first.new_empty((b, M2))
        a = 0
        for p in o.parts:
            plan, buf = self._plans[p.plan]
            weights = self._buffer(buf)
            for r in range(p.count):
                apply_fold(spec1s[p.g][:, r], plan, weights, True, out=spec)
                torch.fft.ifft(spec, out=row)
                y2[:, a + r].copy_(row[:, c0:c1])
            a += p.count
        return y2

    def _stream_plan_for(self, o, b: int, M: int, dtype: torch.dtype):
        """The branch's `StreamPlan` when its unstreamed rows (``b x rows x M`` reals,
        held twice with their ``rfft``) would take more than ``memory_budget /
        STREAM_SHARE``; else None (today's path, unchanged)."""
        if o.stream is None:
            return None
        rs = 8 if dtype in (torch.float64, torch.complex128) else 4
        rows = max(sum(g.nf for g in o.fr.groups) * self.F_bins,
                   sum(g.nf * g.Lk for g in o.fr.groups))
        big = 2 * b * rows * M * rs > self.memory_budget // STREAM_SHARE
        return o.stream if big or self._force_stream else None

    def _stream_for(self, o, y2: torch.Tensor):
        """`_stream_plan_for` the shape of ``Y2`` ``(b, n, M)``."""
        return self._stream_plan_for(o, y2.shape[0], y2.shape[-1], y2.dtype)

    def forward(self, x) -> torch.Tensor | dict:
        """Scatter ``x`` ``(..., N)``; see the class docstring for the output."""
        x = check_signal(x, self.shape[0], self._buffer(
            "phi_0" if "phi_0" in self._buffers else self._plans["g0_psi1_0"][1]))
        batch_shape = x.shape[:-1]
        x = x.reshape(-1, 1, self.shape[0])
        if self._budget_set and self._enforce_budget:
            self.estimate_cost(x.shape[0], x.dtype)       # BudgetError before computing
        mode = "reflect" if self.pad_mode == "reflect" else "constant"
        xp = nn.functional.pad(x, (self.pad_left, self.pad_right), mode=mode)[:, 0]
        B = xp.shape[0]
        spec0 = rfft(xp)
        s = self.log2_stride
        glob = self._t_mode == "global"

        # Order 0 and 1.
        if glob:
            S0 = xp[:, None, self.ind_start[0]:self.ind_end[0]].mean(-1, keepdim=True)
        else:
            S0 = self._lowpass(spec0, 0)[:, None, self.ind_start[s]:self.ind_end[s]]
        # Order 1, one task per group (and half batch): spec1 = rfft(U1), S1 (padded), U1.
        halves = self._halves(B)
        first = self._run_stage(1, spec0, [(g, partial(self._first_order, g), rows, 0)
                                           for g in range(len(self._groups))
                                           for rows in halves])
        del xp, spec0                  # not read again (64 MiB at N = 2^22)
        spec1s = [first[g][0] for g in range(len(self._groups))]
        s1_pad = torch.cat([first[g][1] for g in range(len(self._groups))], dim=1)  # (B,N1,M)
        if not self.average:
            S1 = torch.cat([first[g][2] for g in range(len(self._groups))], dim=1)
            S1 = S1[..., self.ind_start[0]:self.ind_end[0]]
        else:
            S1 = self._crop_avg(s1_pad)
        del first

        # The phi_t branch (frequential scattering of S1, already averaged in time) and the
        # psi_t branches (one per n2, at the time resolution of Y2): independent tasks, the
        # largest first (the phi_t branch first of all).
        costs = {None: math.inf, **{i: self._branch_cost(i) for i in range(len(self._order2))}}
        out = self._run_stage(2, (s1_pad, *spec1s), [(i, partial(self._branch, i), rows, cost)
                                                     for i, cost in costs.items()
                                                     for rows in halves])
        fr1 = out.pop(None)[0]                                           # (B, 1+K, Fb, t)
        K = (fr1.shape[1] - 1)
        pairs = {"S0": S0, "S1": S1,
                 "phi_t * phi_f": fr1[:, None, :1], "phi_t * psi_f": fr1[:, None, 1:]}
        fr = torch.stack([out[i][0] for i in range(len(self._order2))], dim=1)
        pairs["psi_t * phi_f"] = fr[:, :, :1]                        # (B, n2, 1, Fb, t)
        pairs["psi_t * psi_f_up"] = fr[:, :, 1:1 + K]
        pairs["psi_t * psi_f_dn"] = fr[:, :, 1 + K:]

        if self.out_type == "pairs":
            return {p: pairs[p].reshape(batch_shape + pairs[p].shape[1:]) for p in PAIRS}
        t = S0.shape[-1]
        if self.format == "time":
            out = torch.cat([pairs[p].reshape(B, -1, t) for p in PAIRS], dim=1)
        else:
            out = torch.cat([pairs[p].reshape(B, -1, self.F_bins, t) for p in PAIRS[2:]],
                            dim=1)
        if self.out_type == "array":
            return out.reshape(batch_shape + out.shape[1:])
        return self._kymatio_output(out, S0, batch_shape)

    #: Kymatio's name for the forward pass.
    scattering = forward
