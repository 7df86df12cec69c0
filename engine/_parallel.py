"""Coarse-grained CPU parallelism: independent pieces of one transform on single-threaded workers.

A scattering transform is hundreds of small tensor operations. With PyTorch's intra-op threads,
every one of them wakes the threads, splits a small array and waits at a barrier; on two cores
with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep rather than spin) that overhead is a third of
the forward pass. The pieces of a transform (a group of paths for a chunk of the batch) are
independent, so we run *them* in parallel instead: ``torch.get_num_threads()`` worker threads,
each running its operations single-threaded. The number of cores used is the caller's setting.

`run_tasks` runs a list of ``(fn, rows)`` tasks on a tensor and is differentiable: each task
records its own small autograd graph on a worker (from a detached slice of the input); the
backward pass runs those graphs on the workers too and adds their gradients into the input's.

Workers are made single-threaded with ``torch.set_num_threads(1)`` in the worker thread: the
OpenMP and MKL thread counts it sets are per thread, but it also stores the count as the
default for threads created later, so the pool restores the caller's count once its workers
have started. A child process after ``fork`` starts its own pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

__all__ = ["run_keyed", "run_tasks", "workers_for"]

Task = tuple[Callable[..., list[torch.Tensor]], slice]

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
_worker = threading.local()

# Whether the backward pass under way keeps its graph (retain_graph=True, as gradcheck does):
# the tasks' graphs are then kept too. A private PyTorch call; without it, graphs are kept.
_keep_graph = getattr(torch._C._autograd, "_get_current_graph_task_keep_graph", lambda: True)


def _reset_after_fork() -> None:
    # the parent's workers do not exist in the child, and its lock may have been held by a
    # thread that does not exist either
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _init_worker(barrier: threading.Barrier) -> None:
    try:
        torch.get_num_threads()    # this thread's lazy thread-count set-up, before changing it
        torch.set_num_threads(1)
        _worker.active = True
    finally:
        barrier.wait()             # never leave the creating thread waiting


def _pool(n: int) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(n)
        if pool is None:
            barrier = threading.Barrier(n + 1)
            pool = ThreadPoolExecutor(n, thread_name_prefix="scatviz-engine",
                                      initializer=_init_worker, initargs=(barrier,))
            for _ in range(n):          # start every worker now, each blocks in the barrier
                pool.submit(int)
            barrier.wait()
            # set_num_threads(1) in the workers also set the default for new threads: restore it
            torch.set_num_threads(n)
            _pools[n] = pool
        return pool


class _Inline:
    """`ThreadPoolExecutor.map`'s interface, run in the calling thread."""

    @staticmethod
    def map(fn, iterable):
        return list(map(fn, iterable))


def workers_for(x: torch.Tensor, n_tasks: int) -> int:
    """How many workers `run_tasks` would use for ``n_tasks`` tasks on ``x``: 1 (run inline)
    on GPUs, inside a worker, with one torch thread or one task."""
    if x.device.type != "cpu" or n_tasks < 2 or getattr(_worker, "active", False):
        return 1
    return min(torch.get_num_threads(), n_tasks)


def _call(task: Task, xs: tuple[torch.Tensor, ...], grad: bool, inference: bool):
    fn, rows = task
    with torch.inference_mode(inference), torch.set_grad_enabled(grad):
        leaves = tuple(x[rows].detach().requires_grad_(grad and x.requires_grad) for x in xs)
        return leaves, fn(*leaves)


class _Tasks(torch.autograd.Function):
    """The tasks' outputs, flattened; gradients flow back to the inputs through each task's
    own graph, run on the workers."""

    @staticmethod
    def forward(ctx, tasks, pool, counts, *xs):
        ctx.set_materialize_grads(False)
        results = list(pool.map(lambda t: _call(t, xs, True, False), tasks))
        ctx.tasks, ctx.pool, ctx.counts = tasks, pool, counts
        ctx.leaves = [leaves for leaves, _ in results]
        ctx.outs = [outs for _, outs in results]
        counts.extend(len(outs) for outs in ctx.outs)
        ctx.shapes = [x.shape for x in xs]
        return tuple(o.detach() for _, outs in results for o in outs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        if ctx.outs is None:
            raise RuntimeError("Trying to backward through a scattering transform a second "
                               "time: its graph was freed after the first backward. Compute "
                               "the transform again for a second backward pass.")
        keep = bool(_keep_graph())
        per_task, start = [], 0
        for c in ctx.counts:
            per_task.append(grads[start:start + c])
            start += c

        def run(i):
            pairs = [(o, g) for o, g in zip(ctx.outs[i], per_task[i])
                     if g is not None and o.requires_grad]
            leaves = [leaf for leaf in ctx.leaves[i] if leaf.requires_grad]
            if not pairs or not leaves:
                return None
            outs, gs = zip(*pairs)
            got = iter(torch.autograd.grad(outs, leaves, gs, retain_graph=keep,
                                           allow_unused=True))
            return [next(got) if leaf.requires_grad else None for leaf in ctx.leaves[i]]

        grad_xs = [None] * len(ctx.shapes)
        for (_, rows), gs in zip(ctx.tasks, ctx.pool.map(run, range(len(ctx.tasks)))):
            for k, g in enumerate(gs or ()):
                if g is None:
                    continue
                if grad_xs[k] is None:
                    grad_xs[k] = g.new_zeros(ctx.shapes[k])
                grad_xs[k][rows] += g
        if not keep:
            ctx.outs = ctx.leaves = None
        return (None, None, None, *grad_xs)


def run_tasks(x: torch.Tensor | Sequence[torch.Tensor], tasks: Sequence[Task]
              ) -> list[list[torch.Tensor]]:
    """Run ``fn(x[rows])`` for every task ``(fn, rows)``; returns each task's list of tensors.

    ``x`` may be a sequence of tensors: ``fn`` then receives ``x0[rows], x1[rows], ...``.
    Tasks run in parallel on ``torch.get_num_threads()`` single-threaded workers on CPU (in
    the given order: put the largest first), inline otherwise (see `workers_for`). Gradients
    of the outputs reach ``x`` either way. ``fn`` must not modify its inputs.

    >>> x = torch.randn(8, 16, requires_grad=True)
    >>> outs = run_tasks(x, [(lambda v: [v.square()], slice(0, 4)),
    ...                      (lambda v: [v.square()], slice(4, 8))])
    >>> torch.cat([o[0] for o in outs]).sum().backward()
    >>> bool(torch.allclose(x.grad, 2 * x))
    True
    """
    xs = (x,) if torch.is_tensor(x) else tuple(x)
    tasks = list(tasks)
    n = workers_for(xs[0], len(tasks))
    grad = torch.is_grad_enabled() and any(x.requires_grad for x in xs)
    if not grad:
        if n == 1:
            return [fn(*(x[rows] for x in xs)) for fn, rows in tasks]
        inference = torch.is_inference_mode_enabled()
        pool = _pool(torch.get_num_threads())
        return [outs for _, outs in pool.map(lambda t: _call(t, xs, False, inference), tasks)]
    # With gradients, inline too: one gradient buffer per input, where slicing the input per
    # task would make autograd add a zero-padded full-size gradient per task.
    pool = _pool(torch.get_num_threads()) if n > 1 else _Inline
    counts: list[int] = []    # outputs per task, filled in by the forward
    flat = _Tasks.apply(tasks, pool, counts, *xs)
    return _unflatten(flat, counts)


def run_keyed(x: torch.Tensor | Sequence[torch.Tensor],
              tasks: Sequence[tuple[Hashable, Callable[..., list[torch.Tensor]], slice, float]]
              ) -> dict[Hashable, list[torch.Tensor]]:
    """`run_tasks` for tasks ``(key, fn, rows, cost)``, the costliest started first.

    The tasks of one key are consecutive chunks of rows of one computation, given in row
    order: returns, per key, that computation's outputs, each concatenated over its chunks.

    >>> x = torch.arange(6.0)[:, None]
    >>> out = run_keyed(x, [("sq", lambda v: [v ** 2], slice(0, 3), 1),
    ...                     ("sq", lambda v: [v ** 2], slice(3, 6), 1),
    ...                     ("neg", lambda v: [-v], slice(0, 6), 2)])
    >>> out["sq"][0].flatten().tolist(), out["neg"][0].shape
    ([0.0, 1.0, 4.0, 9.0, 16.0, 25.0], torch.Size([6, 1]))
    """
    order = sorted(range(len(tasks)), key=lambda t: -tasks[t][3])
    results = run_tasks(x, [tasks[t][1:3] for t in order])
    chunks: dict[Hashable, list] = {key: [] for key, *_ in tasks}
    for t, res in sorted(zip(order, results), key=lambda tr: tr[0]):
        chunks[tasks[t][0]].append(res)
    return {key: [torch.cat(outs) for outs in zip(*parts)] if len(parts) > 1 else parts[0]
            for key, parts in chunks.items()}


def _unflatten(flat, counts):
    out, start = [], 0
    for c in counts:
        out.append(list(flat[start:start + c]))
        start += c
    return out
