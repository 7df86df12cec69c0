"""Transforms in worker processes: a crash ends one request, never the server.

`WorkerPool` holds ``n`` slots, each a one-process `concurrent.futures.ProcessPoolExecutor`
started with the *spawn* context (no fork of a server that runs threads and an event loop).
A worker keeps the pipeline's caches (filter banks, transform modules and results, bounded in
bytes) from one request to the next, so a slot that served a signal before serves it again
at the cost of the IPC alone; the service sends a job to the worker that built its modules
(`scatviz.server.service.TransformService.slot_for`).

When a worker dies (``os.abort``, a segfault in native code, the kernel's OOM killer) its
request's future raises `concurrent.futures.process.BrokenProcessPool`; the slot is replaced
by a fresh process and the other slots go on. A MemoryError or any other exception in a
worker is that request's exception.

A job submitted with ``timeout_s`` that is still running that long after its worker took it
up (a hung transform: native code that never returns) has its worker killed (SIGKILL); its
future raises `JobTimeout` and the slot is replaced on its next use, as after a crash. The
clock starts when the worker answers a ping queued just before the job, so that neither the
start of a fresh worker (it imports torch) nor a job queued ahead counts.

Results come back as numpy (`scatviz.results.Transforms`), without the signal, which the
caller has (`compute_in_worker` drops it, `WorkerPool.submit` callers put it back).

Test-only hook: with ``SCATVIZ_TEST_HOOKS=1`` in the server's environment (inherited by its
workers), a request whose ``hook`` is ``"abort"`` calls ``os.abort()`` in its worker, and
``"memory"`` raises MemoryError there, and ``"hang"`` sleeps until its worker is killed.
Without that variable the hook is ignored, so no visitor can reach it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

__all__ = ["WorkerPool", "compute_in_worker", "hooks_enabled", "BrokenProcessPool",
           "JobTimeout"]

#: Environment variable that enables the test-only crash hooks (see the module).
HOOKS_ENV = "SCATVIZ_TEST_HOOKS"


class JobTimeout(TimeoutError):
    """A job ran past its time limit and its worker was killed.

    ``seconds``: the limit; ``estimate_s``: the cost model's estimate it was derived from
    (None when unknown)."""

    def __init__(self, seconds: float, estimate_s: float | None = None):
        self.seconds, self.estimate_s = float(seconds), estimate_s
        est = (f" (the cost estimate was {estimate_s:.2g} s)" if estimate_s is not None
               else "")
        super().__init__(f"the transform ran for more than {self.seconds:.0f} s{est} and was "
                         f"stopped")


def hooks_enabled() -> bool:
    """True when this process was started with ``SCATVIZ_TEST_HOOKS=1``."""
    return os.environ.get(HOOKS_ENV) == "1"


def _init_worker(threads: int, cache_bytes: int) -> None:
    """A worker's start-up: its torch threads, passive OpenMP, its byte-bounded caches."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(max(1, threads))
    from scatviz.pipeline import TRANSFORM_CACHE

    TRANSFORM_CACHE.resize(max_bytes=max(1, cache_bytes))


def compute_in_worker(x: np.ndarray, sample_rate: float, name: str, stage: str,
                      settings: dict, hook: str | None = None, *, omit_bank: bool = False,
                      threads: int | None = None):
    """`scatviz.pipeline.compute_transforms` of ``x`` ``(N,)`` in this process, returned
    without the signal (``x`` is an empty array: the caller holds it) and, with
    ``omit_bank``, without the filter bank (``bank=None``: the caller holds that of this
    length and setting). ``threads``: torch threads for this job only (the worker's own
    count is restored after it; None: the worker's). ``hook``: see the module (test-only,
    ignored unless `hooks_enabled`)."""
    if hook and hooks_enabled():
        if hook == "abort":
            os.abort()
        if hook == "memory":
            raise MemoryError("test hook: a transform that runs out of memory")
        if hook == "hang":                  # a transform that never returns
            for _ in range(10**9):
                time.sleep(1.0)
    from scatviz.pipeline import compute_transforms

    t0 = time.perf_counter()
    if threads is None:
        res = compute_transforms(x, sample_rate, name=name, stage=stage, **settings)
    else:
        import torch

        own = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        try:
            res = compute_transforms(x, sample_rate, name=name, stage=stage, **settings)
        finally:
            torch.set_num_threads(own)
    res = dataclasses.replace(res, x=np.zeros(0, np.float32),
                              **({"bank": None} if omit_bank else {}))
    res.timings["worker"] = time.perf_counter() - t0
    return res


def _ping() -> int:
    return os.getpid()


class WorkerPool:
    """``n`` worker processes (spawn), each its own one-process executor; a slot whose
    process died is replaced on its next use.

    >>> pool = WorkerPool(1)                                     # doctest: +SKIP
    >>> pool.submit(0, compute_in_worker, x, 8000.0, "x", "all", settings,
    ...             timeout_s=120.0).result()                     # doctest: +SKIP
    """

    def __init__(self, n: int = 2, threads_per_worker: int | None = None,
                 cache_bytes: int = 256 << 20):
        if n < 1:
            raise ValueError(f"a worker pool needs at least one worker; got n={n}.")
        self.n = n
        self.threads = threads_per_worker or max(1, (os.cpu_count() or 1) // n)
        self.cache_bytes = int(cache_bytes)
        self._ctx = multiprocessing.get_context("spawn")
        self._slots: list[ProcessPoolExecutor | None] = [None] * n
        self._lock = threading.Lock()
        self.restarts = 0
        #: Workers killed because their job ran past its time limit.
        self.kills = 0
        self._closed = False
        self._warming = False
        #: Set once a worker has answered (`warm` done, or any job finished): until then a
        #: caller that cannot wait for a worker to import torch may compute elsewhere.
        self.ready = threading.Event()

    def _executor(self, slot: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down.")
            ex = self._slots[slot]
            if ex is None or getattr(ex, "_broken", False):
                if ex is not None:
                    ex.shutdown(wait=False, cancel_futures=True)
                    self.restarts += 1
                ex = ProcessPoolExecutor(1, mp_context=self._ctx, initializer=_init_worker,
                                         initargs=(self.threads, self.cache_bytes))
                self._slots[slot] = ex
            return ex

    def submit(self, slot: int, fn, *args, timeout_s: float | None = None,
               estimate_s: float | None = None, **kwargs) -> Future:
        """Run ``fn(*args, **kwargs)`` in slot ``slot``'s process (a fresh one if it died).

        ``timeout_s``: kill the worker and fail the job with `JobTimeout` when it runs longer
        (see the module); ``estimate_s``: the cost estimate, for the message."""
        if timeout_s is None:
            return self._submit(slot, fn, *args, **kwargs)[1]
        ex, ping = self._submit(slot, _ping)
        ex2, fut = self._submit(slot, fn, *args, **kwargs)
        out: Future = Future()
        timer: list[threading.Timer] = []
        expired = threading.Event()

        def expire() -> None:
            if not fut.done():
                expired.set()
                self._kill(slot, ex2)
                try:                              # now: not when the dead worker is noticed
                    out.set_exception(JobTimeout(float(timeout_s), estimate_s))
                except Exception:
                    pass

        def start_clock(f: Future) -> None:
            if fut.done() or self._closed:
                return
            t = threading.Timer(float(timeout_s), expire)
            t.daemon = True
            timer.append(t)
            t.start()

        def finished(f: Future) -> None:
            for t in timer:
                t.cancel()
            try:
                if expired.is_set():
                    out.set_exception(JobTimeout(float(timeout_s), estimate_s))
                elif f.cancelled():
                    out.cancel()
                elif f.exception() is not None:
                    out.set_exception(f.exception())
                else:
                    out.set_result(f.result())
            except Exception:                     # out cancelled by its caller meanwhile
                pass

        ping.add_done_callback(start_clock)
        fut.add_done_callback(finished)
        return out

    def _submit(self, slot: int, fn, *args, **kwargs) -> tuple[ProcessPoolExecutor, Future]:
        try:
            ex = self._executor(slot)
            fut = ex.submit(fn, *args, **kwargs)
        except BrokenProcessPool:               # died between the check and the submit
            with self._lock:
                dead, self._slots[slot] = self._slots[slot], None
                self.restarts += 1
            if dead is not None:
                dead.shutdown(wait=False, cancel_futures=True)
            ex = self._executor(slot)
            fut = ex.submit(fn, *args, **kwargs)
        fut.add_done_callback(self._answered)
        return ex, fut

    def _kill(self, slot: int, ex: ProcessPoolExecutor) -> None:
        """Kill ``ex``'s worker (a hung job): its futures raise, the slot is replaced now."""
        with self._lock:
            if self._slots[slot] is ex:
                self._slots[slot] = None
                self.restarts += 1
            procs = list((getattr(ex, "_processes", None) or {}).values())
        self.kills += 1
        for p in procs:
            try:
                p.kill()
            except (OSError, ValueError, AttributeError):
                pass
        ex.shutdown(wait=False, cancel_futures=True)

    def _answered(self, fut: Future) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self.ready.set()

    def warm(self) -> None:
        """Start every worker now (they import torch: seconds) instead of on first use."""
        for f in [self.submit(i, _ping) for i in range(self.n)]:
            f.result()

    def warm_async(self) -> None:
        """Start every worker in the background (once; no wait)."""
        with self._lock:
            if self._warming or self._closed:
                return
            self._warming = True
        for i in range(self.n):
            self.submit(i, _ping)

    def pids(self) -> list[int | None]:
        """The worker processes' ids (None for a slot not started)."""
        out = []
        for ex in self._slots:
            procs = getattr(ex, "_processes", None) or {}
            out.append(next(iter(procs), None))
        return out

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            slots, self._slots = self._slots, [None] * self.n
        for ex in slots:
            if ex is not None:
                ex.shutdown(wait=False, cancel_futures=True)
