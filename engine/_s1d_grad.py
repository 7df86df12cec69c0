"""The Scattering1D cost model of a call that records gradients: forward + backward.

A call whose input requires gradients keeps a graph from its forward to its backward; under
a memory budget it runs in passes that the backward recomputes one at a time
(`engine._blocked`). `GRAD` is the `engine._s1d_model.Model` of such a call: the whole call
with plain autograd (`unblocked_grad`), or in passes (`blocked_grad`), so that
`engine._s1d_model.plan_call` sizes the passes for the backward's peak and the budget bounds
the forward and the backward together. Pure arithmetic on the transform's
`engine._s1d_model.Structure`, like the forward's model.
"""

from __future__ import annotations

from engine._s1d_model import (
    OVERHEAD_BYTES,
    Estimate,
    Model,
    Structure,
    blocked,
    geometry,
    plan_module,
    unblocked,
)

__all__ = ["GRAD", "graph_bytes", "unblocked_grad", "blocked_grad", "plan_module_grad"]


#: The backward's transient tensors, in units of the largest task's largest complex
#: intermediate, per worker: the gradients of a modulus (``grad / u``, real,
#: and ``z * scale``, complex), of its inverse FFT and of its fold, alive together.
#: Calibrated with `GRAD_FACTOR` on measured VmHWM growth of forward + backward (see
#: ``tests/engine/test_grad_budget.py``).
BACKWARD_TRANSIENTS = 3

#: Measured fwd + bwd growth over the tensors counted (`graph_bytes`, the transients, the
#: output and the gradients): the allocator's retained holes between the graph's tensors and
#: the backward's, and the gradient buffers autograd accumulates in. Calibrated on whole
#: calls, J=6..10, N=2^13..2^16, batch 1 and 8, both dtypes, on an idle machine (2 threads):
#: with 1.25 the prediction was 1.09x to 1.36x the measured growth (and 1.51x once in CI),
#: so 1.05 centres it (0.92x to 1.14x); load raises the measured growth.
GRAD_FACTOR = 1.05

#: The same for a call in passes, over one recomputed pass's tensors: the allocator also
#: keeps part of the earlier passes' (as `engine._s1d_model.PASS_FACTOR` for the forward).
#: Calibrated on J=6..10 at N=2^18 and batches of 2^13-sample signals: measured growth
#: 0.9x to 1.15x of the tensors counted with `GRAD_FACTOR`, up to 1.25x in a reconstruction
#: (`benchmarks/bench_recon_memory.py`: the optimiser, the loss, a few iterations).
PASS_GRAD_FACTOR = 1.35


def graph_bytes(st: Structure, B: int, Np: int, s: int) -> int:
    """Bytes autograd keeps from the forward of ``B`` signals padded to ``Np`` until the
    backward: each modulus saves its complex input and its output (``U1``, ``U2``), the
    tasks keep their uncropped outputs, and the half spectrum the tasks read."""
    cb = 2 * s
    total = B * (Np // 2 + 1) * cb + B * (Np >> st.log2_stride) * s
    for g in st.groups:
        m1 = Np >> g.k1
        total += B * g.n1 * m1 * (cb + s)
        total += B * g.n1 * ((Np >> st.log2_stride) if g.phi else m1) * s
        for o in g.order2:
            m2 = m1 >> o.k2
            total += B * o.valid * m2 * (cb + s)
            total += B * o.valid * ((Np >> st.log2_stride) if o.phi else m2) * s
    return total


def _task_values(st: Structure, B: int, Np: int, s: int, per_worker: int) -> list[int]:
    """The largest complex intermediate (values) of each task, as
    `engine.scattering1d.Scattering1D._scatter_blocks` cuts the groups into chunks of
    signals, largest first."""
    sizes = []
    for g in st.groups:
        m1 = Np >> g.k1
        values = max([g.n1 * m1] + [o.grid * (m1 >> o.k2) for o in g.order2])
        step = max(1, per_worker // (values * 2 * s))
        sizes += [values * min(step, B - a) for a in range(0, B, step)]
    return sorted(sizes, reverse=True)


def unblocked_grad(st: Structure, N: int, Np: int, B: int, s: int, out_bytes: int,
                   chunk_bytes: int, threads: int) -> Estimate:
    """Forward + backward of a whole call on ``B`` signals with gradients (plain autograd):
    the forward's working set on top of the growing graph, then the backward (the graph,
    the output and its gradient, the input's gradient, the transients of the tasks
    running)."""
    fwd = unblocked(st, B, Np, s, out_bytes, chunk_bytes, threads, split=False)
    graph = graph_bytes(st, B, Np, s)
    workers = min(threads, B * len(st.groups)) if B * len(st.groups) > 1 else 1
    per_worker = chunk_bytes // workers
    # every worker's task as large as the largest (measured: closer than the tasks' own sizes,
    # since the backward's tasks overlap the recomputed forward's on the pool)
    transients = BACKWARD_TRANSIENTS * workers * _task_values(st, B, Np, s, per_worker)[0] * 2 * s
    during = max(fwd.during + graph,
                 graph + 2 * out_bytes + 3 * B * Np * s + B * N * s + transients)
    peak = GRAD_FACTOR * max(during, fwd.final + graph)
    return Estimate(int(peak + OVERHEAD_BYTES), int(during), int(fwd.final + graph),
                    3 * fwd.seconds, 2 * fwd.n_tasks)


def blocked_grad(st: Structure, N: int, Np: int, B: int, s: int, L: int, R: int, rows: int,
                 out_bytes: int, chunk_bytes: int, threads: int, array: bool = True
                 ) -> Estimate:
    """Forward + backward of a call in passes with gradients (`engine._blocked`): the
    forward as without them (`blocked`), then the backward: the output and its gradient,
    the input's gradient, and one pass recomputed with its graph and backward
    (`unblocked_grad` on ``rows`` blocks of ``L`` samples)."""
    fwd = blocked(st, N, Np, B, s, L, R, rows, out_bytes, chunk_bytes, threads, array)
    H, _, nb = geometry(st, N, Np, L, R)
    frames = H >> st.log2_stride
    pass_out = rows * st.channels * frames * s
    one = unblocked_grad(st, L, L, rows, s, pass_out, chunk_bytes, threads)
    index = 3 * rows * L * 8 if L < Np else 0
    # output, its gradient (and, for lists, its reassembled copy), the input's gradient
    kept = (2 if array else 3) * out_bytes + B * N * s
    during = kept + index + PASS_GRAD_FACTOR * one.during
    passes = -(-B * nb // rows)
    seconds = fwd.seconds + passes * one.seconds
    peak = max(fwd.peak, int(during + OVERHEAD_BYTES))
    return Estimate(peak, int(max(fwd.during, during)), fwd.final, seconds,
                    fwd.n_tasks + passes * one.n_tasks)


#: A call that records gradients: its forward and its backward.
GRAD = Model(unblocked_grad, blocked_grad, " with gradients")


def plan_module_grad(S, batch: int, dtype=None):
    """`engine._s1d_model.plan_module` for a call of ``S`` that records gradients."""
    return plan_module(S, batch, dtype, GRAD)
