"""Scattering1D under a memory budget: a call in passes of overlapping time blocks.

When a call would not fit its transform's ``memory_budget`` (`engine._s1d_model.plan_call`),
`scatter_in_passes` runs it in passes instead:

* **time blocks** (long signals): the padded signal, read as periodic (the unblocked
  transform's FFTs are circular on ``N_padded``), is cut into blocks of ``L`` samples (a
  power of two) that overlap by ``R`` on each side, ``R`` the cascade's reach
  (`engine._s1d_model.reach`: ``psi1``, ``psi2`` and ``phi``'s envelopes to ``1e-16`` of
  their energy) rounded up to the stride. Block ``b`` starts at padded position
  ``a0 + b H - R`` (``H = L - 2 R``; ``a0``, ``R``, ``H`` multiples of the stride, so its
  subsampled grids are the whole transform's). A second module of the same parameters,
  built on ``L`` samples, transforms ``rows`` blocks at a time as rows of one batch (its
  usual batched schedule) and keeps the frames of each block's middle ``H`` samples: side by
  side they are the whole transform's frames, up to the filters' tails beyond ``R`` and the
  difference between the filters sampled on ``L`` and on ``N_padded`` points (the same
  continuous filters: below ``1e-8`` of them);
* **groups of signals** (large batches of short signals): ``rows`` padded signals per pass.

Blocks are gathered from the unpadded signal through the reflection, so no padded copy of
the whole signal exists; only the output grows with ``N``. The passes' outputs are
assembled as `Scattering1D._scatter_blocks` returns them.

**Gradients.** A call that records gradients runs its passes without a graph and keeps only
its input; the backward recomputes the passes one at a time, each with its own graph from
its slice of the input, and adds their input gradients into the call's (`_Recomputed`). So
between the forward and the backward autograd holds the input and the output, and during the
backward one pass's graph: the forward and the backward stay within the budget
(`engine._s1d_grad.GRAD`, the model `engine._s1d_model.plan_call` then sizes the passes
with, counts the backward's peak).
The recomputed passes are the same computation, so the gradients are the whole call's up to
the blocks' approximation (``1e-8``; exactly for groups of signals).
"""

from __future__ import annotations

import torch
from torch import nn

from engine import _malloc
from engine._module import PlannedTransform
from engine._s1d_model import BlockChoice
from engine.filterbank import build_filterbank

__all__ = ["scatter_in_passes", "block_module", "needs_grad"]

#: Attributes a block module shares with its parent transform.
_SHARED = ("J", "shape", "Q", "T", "average", "_T_arg", "filterbank", "_max_order",
           "_out_type", "oversampling", "chunk_bytes", "sample_rate", "log2_T", "log2_stride")


def block_module(S, L: int, R: int):
    """A module like ``S`` (a `Scattering1D`) on padded blocks of ``L`` samples whose output
    keeps the frames of the samples ``[R, L - R)``, on ``S``'s device and dtype; cached on
    ``S`` (`Scattering1D._replan` clears the cache)."""
    ref = getattr(S, S._groups[0]["psi1"])
    key = (L, R, ref.dtype, ref.device, S._max_order)
    cache = S.__dict__.setdefault("_block_modules", {})
    if key in cache:
        return cache[key]
    inner = type(S).__new__(type(S))
    PlannedTransform.__init__(inner)
    for name in _SHARED:
        object.__setattr__(inner, name, getattr(S, name))
    inner.memory_budget = None
    inner.N_padded, inner.pad_left, inner.pad_right = L, 0, 0
    levels = max(S.log2_T, S.J) + 1
    inner.ind_start = [R >> k for k in range(levels + 1)]
    inner.ind_end = [(L - R) >> k for k in range(levels + 1)]
    inner.bank = build_filterbank(L, S.J, S.Q, S.T, S.filterbank)
    inner._build_plans()
    for name, buf in inner._buffers.items():
        if buf.is_floating_point():
            buf = (torch.as_tensor(inner.exact_plan(name)) if ref.dtype == torch.float64
                   else buf.to(ref.dtype))
        inner._buffers[name] = buf.to(ref.device)
    cache.clear()                      # one block module at a time: they hold filter plans
    cache[key] = inner
    return inner


def _positions(S, choice: BlockChoice, device) -> torch.Tensor:
    """``(n_blocks, L)`` int64: the sample of the unpadded signal at each position of each
    block (circular in the padded signal, then reflected at the signal's ends as the
    transform's padding)."""
    N, Np = S.shape[0], S.N_padded
    starts = choice.a0 - choice.R + choice.H * torch.arange(choice.n_blocks, device=device)
    pos = (starts[:, None] + torch.arange(choice.L, device=device)[None]) % Np - S.pad_left
    pos = pos.abs()
    return torch.where(pos >= N, 2 * (N - 1) - pos, pos)


def needs_grad(*xs: torch.Tensor) -> bool:
    """Whether a call on the tensors ``xs`` records gradients (grad mode on, and one of them
    requires them)."""
    return torch.is_grad_enabled() and any(x.requires_grad for x in xs)


class _Layout:
    """Where the passes of a call read and write: the module that transforms a pass, the
    block positions, and the frames ``[lo, hi)`` of the assembled output that are kept."""

    def __init__(self, S, x: torch.Tensor, choice: BlockChoice):
        self.S, self.choice, self.B = S, choice, x.shape[0]
        self.whole = choice.L >= S.N_padded                # groups of whole signals
        self.inner = S if self.whole else block_module(S, choice.L, choice.R)
        s = S.log2_stride
        first = choice.a0 >> s
        self.lo, self.hi = S.ind_start[s] - first, S.ind_end[s] - first
        if self.whole:                # (global averaging: one frame; time blocks need local)
            self.lo, self.hi = 0, 1 if S.average == "global" else S.ind_end[s] - S.ind_start[s]
        self.nb = choice.n_blocks
        self.rows = self.B * self.nb
        self.pos = None if self.whole else _positions(S, choice, x.device)

    def passes(self):
        step = self.choice.rows
        return [(q0, min(q0 + step, self.rows)) for q0 in range(0, self.rows, step)]

    def gather(self, x: torch.Tensor, q0: int, q1: int) -> torch.Tensor:
        """The pass's padded blocks ``(q1 - q0, L)`` of ``x`` (differentiable)."""
        S = self.S
        if self.whole:
            return nn.functional.pad(x[q0:q1, None], (S.pad_left, S.pad_right),
                                     mode="reflect")[:, 0]
        q = torch.arange(q0, q1, device=x.device)
        return x[(q // self.nb)[:, None], self.pos[q % self.nb]]

    def transform(self, xb: torch.Tensor, array: bool) -> list[torch.Tensor]:
        """A pass's outputs: ``[ordered]`` ``(rows, C, h)`` in the transform's channel order
        with ``array``, else the blocks of `Scattering1D._scatter_blocks`."""
        blocks, _ = self.inner._scatter_blocks(xb)
        if not array:
            return blocks
        ordered = torch.cat(blocks, dim=1).index_select(1, self.S._order)
        return [ordered]

    def spans(self, q0: int, q1: int, h: int):
        """For array output: ``(i, b, f0, f1, j)`` per block of the pass that keeps frames:
        row ``i`` of the pass is block ``j`` of signal ``b``, its frames ``[f0, f1)`` of the
        output's (before ``lo``), at ``[f0 - j h, f1 - j h)`` of its own."""
        for i, qi in enumerate(range(q0, q1)):
            b, j = divmod(qi, self.nb)
            f0, f1 = max(j * h, self.lo), min((j + 1) * h, self.hi)
            if f0 < f1:
                yield i, b, f0, f1, j


def _forward(lay: _Layout, x: torch.Tensor, array: bool):
    """The call in passes (see `scatter_in_passes`), without recording gradients."""
    S, B = lay.S, lay.B
    out = parts = None
    if array:
        out = x.new_empty((B, len(S._paths), lay.hi - lay.lo))
    else:
        parts = []
    for q0, q1 in lay.passes():
        xb = lay.gather(x, q0, q1)
        res = lay.transform(xb, array)
        del xb
        if array:
            ordered = res.pop()
            if lay.whole:
                out[q0:q1] = ordered
            else:
                h = ordered.shape[-1]
                for i, b, f0, f1, j in lay.spans(q0, q1, h):
                    out[b, :, f0 - lay.lo:f1 - lay.lo] = ordered[i, :, f0 - j * h:f1 - j * h]
            del ordered
        else:
            parts.append([b.contiguous() for b in res])                # frees the bases
        del res
        _malloc.trim()                   # the pass's freed temporaries (`engine._malloc`)
    if array:
        return out
    result = []
    for k in range(len(parts[0])):
        t = torch.cat([p[k] for p in parts]) if len(parts) > 1 else parts[0][k]
        for p in parts:
            p[k] = None
        if not lay.whole:
            P, h = t.shape[1], t.shape[2]
            t = t.reshape(B, lay.nb, P, h).permute(0, 2, 1, 3).reshape(B, P, lay.nb * h)
            t = t[..., lay.lo:lay.hi]
        result.append(t)
    return result


def _pass_grads(lay: _Layout, grads, q0: int, q1: int, outs, array: bool):
    """The gradients of one pass's outputs ``outs`` (recomputed) from those of the call's
    output ``grads``: the frames each block kept get their gradient, the rest zero."""
    if array:
        g_out = grads[0]
        if lay.whole:
            return [g_out[q0:q1]]
        ordered = outs[0]
        h = ordered.shape[-1]
        g = ordered.new_zeros(ordered.shape)
        for i, b, f0, f1, j in lay.spans(q0, q1, h):
            g[i, :, f0 - j * h:f1 - j * h] = g_out[b, :, f0 - lay.lo:f1 - lay.lo]
        return [g]
    gs = []
    for g_k, o in zip(grads, outs):
        if g_k is None:
            gs.append(None)
        elif lay.whole:
            gs.append(g_k[q0:q1])
        else:                            # invert `_forward`'s assembly, for these rows
            P, h = o.shape[1], o.shape[2]
            full = g_k.new_zeros((lay.B, P, lay.nb * h))
            full[..., lay.lo:lay.hi] = g_k
            full = full.reshape(lay.B, P, lay.nb, h).permute(0, 2, 1, 3)
            gs.append(full.reshape(lay.rows, P, h)[q0:q1])
    return gs


class _Recomputed(torch.autograd.Function):
    """The call in passes, differentiable with one pass's graph alive at a time: the
    forward keeps no graph (only the input); the backward recomputes each pass with
    gradients from its slice of the input and adds the pass's input gradient into the
    call's, then frees that pass's graph."""

    @staticmethod
    def forward(ctx, lay, array, x):
        ctx.set_materialize_grads(False)
        ctx.lay, ctx.array = lay, array
        ctx.save_for_backward(x)
        out = _forward(lay, x, array)
        return out if array else tuple(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        (x,), lay, array = ctx.saved_tensors, ctx.lay, ctx.array
        if all(g is None for g in grads):
            return None, None, None
        gx = torch.zeros_like(x)
        for q0, q1 in lay.passes():
            with torch.enable_grad():
                if lay.whole:
                    leaf = x[q0:q1].detach().requires_grad_()
                    xb = lay.gather(leaf, 0, q1 - q0)
                else:
                    leaf = xb = lay.gather(x.detach(), q0, q1).requires_grad_()
                outs = lay.transform(xb, array)
                pairs = [(o, g) for o, g in zip(outs, _pass_grads(lay, grads, q0, q1, outs,
                                                                  array)) if g is not None]
                if pairs:
                    outs, gs = zip(*pairs)
                    (g_leaf,) = torch.autograd.grad(outs, leaf, gs)
            del outs, xb
            if pairs:
                if lay.whole:
                    gx[q0:q1] += g_leaf
                else:
                    q = torch.arange(q0, q1, device=x.device)
                    gx.index_put_(((q // lay.nb)[:, None], lay.pos[q % lay.nb]), g_leaf,
                                  accumulate=True)
            del pairs, leaf
            _malloc.trim()
        return None, None, gx


def scatter_in_passes(S, x: torch.Tensor, choice: BlockChoice, array: bool = False):
    """`Scattering1D._scatter_blocks(pad(x))[0]` for signals ``x`` ``(B, N)``, computed in
    passes of ``choice.rows`` blocks (see the module docstring). With ``array``, the output
    of out_type "array" instead, ``(B, C, frames)`` in the transform's channel order: each
    pass writes into it, so that nothing but one pass and the output is alive.

    With gradients (`needs_grad`), the passes run without a graph and the backward
    recomputes them one at a time (`_Recomputed`): what autograd holds between the forward
    and the backward is the input and the output, never a pass's intermediates."""
    lay = _Layout(S, x, choice)
    if not needs_grad(x):
        return _forward(lay, x, array)
    out = _Recomputed.apply(lay, array, x)
    return out if array else list(out)
