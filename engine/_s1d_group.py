"""One task of `engine.scattering1d.Scattering1D`'s forward pass: a group of paths (one
first-order resolution, see `Scattering1D._build_plans`) on a chunk of signals, or on a part
of the group's first-order wavelets.

`task_layout` cuts a group into tasks: chunks of signals whose largest intermediate fits the
worker's share of ``chunk_bytes``; where one signal alone does not fit (long signals, e.g.
one signal of ``2**19`` padded samples holds 14 full-resolution ``U1`` rows, 58 MiB), into
*parts* of the group's first-order wavelets instead, each part with its own order-2 paths
(``j1 < j2`` of the part's ``n1``). Parts bound each task's working set (so its temporaries
are reused scratch buffers, `engine._scratch`, rather than fresh allocations that page-fault)
and give the workers tasks of similar size. Each row of the result is computed by the same
operations as with the whole group; the FFT library may round a batch of rows differently
from fewer rows (float32 rounding).
"""

from __future__ import annotations

import torch

from engine._fold import apply_fold, apply_folds, fold_shape, modulus_, rfft
from engine._scratch import KEEP_BYTES, scratch, scratch_allowed

__all__ = ["task_layout", "n1_parts", "scatter_group", "PART_BYTES"]

#: Parts of a group are cut to intermediates of at most this many bytes (or the worker's
#: share of ``chunk_bytes`` if larger): what a scratch buffer holds (`engine._scratch`).
#: Not smaller: every part pays its own FFTs' set-up, and one wavelet per part (14 parts for
#: the full-resolution group) made the forward pass 1.5x slower.
PART_BYTES = KEEP_BYTES


def n1_parts(n1: int, values: int, budget_values: int) -> list[tuple[int, int]]:
    """The group's first-order wavelets ``0 .. n1`` cut into contiguous, balanced parts
    ``(a, b)`` whose largest intermediate (``values`` complex values per signal for the
    whole group, proportional to the wavelets) fits ``budget_values``: ``[(0, n1)]`` when
    the whole group fits, else as few parts as needed (down to one wavelet each)."""
    if values <= budget_values or n1 <= 1:
        return [(0, n1)]
    per = max(1, budget_values // -(-values // n1))
    k = -(-n1 // per)
    return [(n1 * i // k, n1 * (i + 1) // k) for i in range(k)]


def task_layout(values: int, n1: int, B: int, budget_bytes: int, cb: int, split: bool
                ) -> tuple[int, list[tuple[int, int]]]:
    """``(signals per task, parts)`` of a group whose largest intermediate is ``values``
    complex values (``cb`` bytes each) per signal, on ``B`` signals, a worker's share of
    ``chunk_bytes`` being ``budget_bytes``. ``split``: whether a signal too large for it may
    be cut into parts of its first-order wavelets (`n1_parts`; only without gradients on
    CPU, see `Scattering1D._scatter_blocks`)."""
    step = max(1, budget_bytes // (values * cb))
    if step > 1 or not split:
        return step, [(0, n1)]
    return 1, n1_parts(n1, values, max(budget_bytes, PART_BYTES) // cb)


def _part_valid(o: dict, a: int, b: int) -> list[int] | None:
    """The kept rows (``j1 < j2``) of a part ``a:b`` of the group's first-order wavelets, in
    the part's grid ``(n1 in a:b) x n2s``; None when all are kept."""
    if o["valid_rows"] is None:
        return None
    n2 = len(o["n2"])
    rows = [v - a * n2 for v in o["valid_rows"] if a * n2 <= v < b * n2]
    return None if len(rows) == (b - a) * n2 else rows


def scatter_group(S, g: dict, spec0: torch.Tensor, m_out: int, keep_u1: bool = False,
                  part: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """The blocks of one group of `Scattering1D` ``S`` (order 1, then its order-2 blocks)
    from half spectra ``spec0`` ``(b, N_padded // 2 + 1)``; with ``keep_u1``, first a copy
    of the group's cropped first-order modulus ``U1`` (see `Scattering1D.forward_with_u1`).
    ``part`` ``(a, b)``: only the group's first-order wavelets ``a:b`` and their order-2
    paths (the rows of each block that they make, in order).

    Without gradients, the folded spectra and the moduli live in this thread's scratch
    buffers (see `engine._scratch`), one per role; what is returned is never one of them.
    (Not the FFTs' outputs: torch's ``out=`` for FFTs allocates and copies.)"""
    out = []
    cplx, real = spec0.dtype, spec0.real.dtype
    reuse = scratch_allowed(spec0)
    a, b = part if part is not None else (0, len(g["n1"]))
    whole = (a, b) == (0, len(g["n1"]))

    def tmp(role, shape, dtype):
        return scratch(role, tuple(shape), dtype) if reuse else None

    w1 = getattr(S, g["psi1"])
    psi1 = S._fold_plans[g["psi1"]], (w1 if whole else w1[a:b])
    y1 = apply_fold(spec0, *psi1, out=tmp("fold", fold_shape(spec0, *psi1, False), cplx))
    z1 = torch.fft.ifft(y1)
    del y1
    u1 = modulus_(z1, out=None if S.average is False else tmp("mod", z1.shape, real))
    del z1                                                                   # (b, G, m1)
    if keep_u1:       # cropped (never averaged), a copy: u1 may be a scratch buffer
        k1 = g["k1"]
        out.append(u1[..., S.ind_start[k1]:S.ind_end[k1]].clone())
    if g["phi"] is None:
        out.append(S._finish(u1, g["k1"]))
    if g["phi"] is None and not g["order2"]:
        return out
    spec1 = rfft(u1)
    del u1
    # The S1 low-pass and every psi2 of the group read spec1: fold them together.
    names = [(g["phi"], True)] if g["phi"] is not None else []
    names += [(o["psi2"], False) for o in g["order2"]]
    folds = [(S._fold_plans[n], getattr(S, n), shared) for n, shared in names]
    folded = iter(apply_folds(spec1, folds, (lambda shape: tmp("fold", shape, cplx))
                              if reuse else None))
    if g["phi"] is not None:
        s1 = torch.fft.irfft(next(folded), n=m_out)
        out.append(S._finish(s1, S.log2_stride))
    for o, y2 in zip(g["order2"], folded):
        y2 = y2.reshape(y2.shape[0], -1, o["m2"])                      # (b, G n2s, m2)
        level = S.log2_stride if o["phi"] is not None else g["k1"] + o["k2"]
        if whole:
            valid = getattr(S, o["valid"]) if o["valid"] is not None else None
        else:
            rows = _part_valid(o, a, b)
            valid = None if rows is None else torch.tensor(rows, device=y2.device)
        if valid is not None and len(valid) == 0:     # a part without paths in this block
            empty = y2.new_zeros((y2.shape[0], 0, m_out if o["phi"] else o["m2"]),
                                 dtype=real)
            out.append(S._finish(empty, level))
            continue
        if valid is not None:
            y2 = torch.index_select(y2, 1, valid, out=tmp(
                "valid", (y2.shape[0], len(valid), o["m2"]), cplx))
        z2 = torch.fft.ifft(y2)
        del y2
        if o["phi"] is None:
            out.append(S._finish(modulus_(z2), level))
            continue
        u2 = modulus_(z2, out=tmp("mod", z2.shape, real))
        del z2
        spec2 = rfft(u2)
        s2 = torch.fft.irfft(S._fold(spec2, o["phi"], True), n=m_out)
        out.append(S._finish(s2, level))
    return out
