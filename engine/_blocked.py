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
the whole signal exists; only the output grows with ``N``. Gradients flow through the
gather. The passes' outputs are assembled as `Scattering1D._scatter_blocks` returns them.
"""

from __future__ import annotations

import torch
from torch import nn

from engine import _malloc
from engine._module import PlannedTransform
from engine._s1d_model import BlockChoice
from engine.filterbank import build_filterbank

__all__ = ["scatter_in_passes", "block_module"]

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
            buf = (torch.as_tensor(inner._masters[name]) if ref.dtype == torch.float64
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


def scatter_in_passes(S, x: torch.Tensor, choice: BlockChoice, array: bool = False):
    """`Scattering1D._scatter_blocks(pad(x))[0]` for signals ``x`` ``(B, N)``, computed in
    passes of ``choice.rows`` blocks (see the module docstring). With ``array``, the output
    of out_type "array" instead, ``(B, C, frames)`` in the transform's channel order: each
    pass writes into it, so that nothing but one pass and the output is alive."""
    B = x.shape[0]
    whole = choice.L >= S.N_padded                   # groups of whole signals
    inner = S if whole else block_module(S, choice.L, choice.R)
    s = S.log2_stride
    first = choice.a0 >> s
    lo, hi = S.ind_start[s] - first, S.ind_end[s] - first
    if whole:
        lo, hi = 0, S.ind_end[s] - S.ind_start[s]
    nb = choice.n_blocks
    rows = B * nb
    out = parts = None
    if array:
        out = x.new_empty((B, len(S._paths), hi - lo))
    else:
        parts = []
    if not whole:
        pos = _positions(S, choice, x.device)
    for q0 in range(0, rows, choice.rows):
        q1 = min(q0 + choice.rows, rows)
        if whole:
            xb = nn.functional.pad(x[q0:q1, None], (S.pad_left, S.pad_right),
                                   mode="reflect")[:, 0]
        else:
            q = torch.arange(q0, q1, device=x.device)
            xb = x[(q // nb)[:, None], pos[q % nb]]                    # (rows, L)
        blocks, _ = inner._scatter_blocks(xb)
        del xb
        if array:
            ordered = torch.cat(blocks, dim=1).index_select(1, S._order)   # (rows, C, h)
            del blocks
            if whole:
                out[q0:q1] = ordered
            else:
                h = ordered.shape[-1]
                for i, qi in enumerate(range(q0, q1)):     # block j of signal b
                    b, j = divmod(qi, nb)
                    f0, f1 = max(j * h, lo), min((j + 1) * h, hi)
                    if f0 < f1:
                        out[b, :, f0 - lo:f1 - lo] = ordered[i, :, f0 - j * h:f1 - j * h]
            del ordered
        else:
            parts.append([b.contiguous() for b in blocks])             # frees the bases
            del blocks
        _malloc.trim()                   # the pass's freed temporaries (`engine._malloc`)
    if array:
        return out
    result = []
    for k in range(len(parts[0])):
        t = torch.cat([p[k] for p in parts]) if len(parts) > 1 else parts[0][k]
        for p in parts:
            p[k] = None
        if not whole:
            P, h = t.shape[1], t.shape[2]
            t = t.reshape(B, nb, P, h).permute(0, 2, 1, 3).reshape(B, P, nb * h)[..., lo:hi]
        result.append(t)
    return result
