"""The server's transform service: costing, the fair queue, the worker processes and the
results cache shared by every session, behind one object per process (`get_service`).

A session (`scatviz.state.ScatState` with its ``service`` set) asks `TransformService.submit`
for a setting's transforms; the service

1. answers from the shared cache (bounded in bytes) when any session computed that setting;
2. otherwise queues a job (`scatviz.server.queue.FairScheduler`) whose memory is the
   request's costed peak (`scatviz.server.costing`), run in a worker process
   (`scatviz.server.workers.WorkerPool`) when its turn, a worker and the budget allow.

The filter bank arrays of a result depend on the length and the Scattering1D setting only:
the service keeps them in its cache (key `TransformService._bank_key`) and a job whose bank it
holds has its worker leave the bank out of the result (the windows of a long recording: half
of each result's bytes through the pipe), put back on arrival.

A job's failure (a crash of its worker, a MemoryError, a bug) is that job's exception, which
`failure_message` turns into a sentence for the page.

While the worker processes start (seconds: they import torch), a job whose turn has come runs
in a thread of this process instead (`TransformService.local_jobs` counts them), so that the
first picture of a page does not wait for them; it is costed, queued and counted in the
memory in flight like every other job (one per slot), only not isolated and without a time
limit. A job with a test hook always waits for a worker. The first such job starts the
workers if nothing had (`WorkerPool.warm_async`).
"""

from __future__ import annotations

import dataclasses
import threading
import zlib
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from scatviz.cache import LRUCache
from scatviz.server.budget import ServerBudget, format_bytes
from scatviz.server.costing import Plan
from scatviz.server.holdings import SignalHoldings
from scatviz.server.queue import FairScheduler, Job
from scatviz.server.workers import JobTimeout, WorkerPool, compute_in_worker

__all__ = ["TransformService", "get_service", "current_service", "failure_message"]

_SERVICE: TransformService | None = None
_SERVICE_LOCK = threading.Lock()


def failure_message(exc: BaseException) -> str:
    """What the page says when a transform failed in its worker."""
    if isinstance(exc, JobTimeout):
        return (f"The transform was stopped: {exc}, so it was taken to be hung, and its "
                f"worker process was replaced. Only this request was lost: the server and "
                f"the other pages go on. Lower J or Q1, turn JTFS off, or use a shorter "
                f"signal.")
    if isinstance(exc, BrokenProcessPool):
        return ("The transform's worker process crashed (native code ended it). Only this "
                "request was lost: the server and the other pages go on. Try another "
                "setting or a shorter signal.")
    if isinstance(exc, MemoryError):
        return ("The transform ran out of memory. Only this request was lost: lower J or "
                "Q1, turn JTFS off, or use a shorter signal.")
    return (f"Internal error in the transform ({type(exc).__name__}: {exc}). Only this "
            f"request was lost; the page keeps its last picture.")


class _Payload(tuple):
    """A job's arguments of `compute_in_worker` ``(x, sample_rate, name, stage, settings,
    hook)``, with the cost estimate's ``estimate_s`` (its time limit is derived from it) and
    the filter ``bank`` the service holds for its length and setting (then the worker does not
    send it back: a 2**17-sample window's bank is 29 MiB of a 53 MiB result)."""

    estimate_s: float | None = None
    bank = None


class TransformService:
    """Costed, queued, isolated transforms shared by the sessions of one server.

    ``budget``: the `ServerBudget`; ``start``: how a job runs (default: a `WorkerPool` of
    ``budget.workers`` processes)."""

    def __init__(self, budget: ServerBudget | None = None, start=None):
        self.budget = budget or ServerBudget.from_env()
        self.pool = None
        if start is None:
            worker_cache = max(32 << 20, self.budget.cache // (2 * self.budget.workers))
            self.pool = WorkerPool(self.budget.workers, cache_bytes=worker_cache)
            start = self._start_job
        #: Jobs computed in this process while the workers started (see the module).
        self.local_jobs = 0
        self._local: ThreadPoolExecutor | None = None
        self.scheduler = FairScheduler(start, slots=self.budget.workers,
                                       memory_bytes=self.budget.in_flight)
        self.cache = LRUCache(max_bytes=max(1, self.budget.cache))
        self._lock = threading.Lock()
        #: The decoded signals the sessions hold (`scatviz.server.holdings`): what they take
        #: is taken from the transforms' share of the budget.
        self.holdings = SignalHoldings(self.budget.signal_bytes, on_change=self._held)

    def _held(self, held_bytes: int) -> None:
        self.scheduler.memory_bytes = max(0, self.budget.in_flight - int(held_bytes))

    # ---- jobs ------------------------------------------------------------------------------

    def _start_job(self, slot: int, job: Job) -> Future:
        """In slot ``slot``'s worker, or in this process while the workers start."""
        if self.pool.ready.is_set() or job.payload[5]:        # payload[5]: the test hook
            return self._start_in_pool(slot, job)
        self.pool.warm_async()
        with self._lock:
            if self._local is None:
                self._local = ThreadPoolExecutor(self.budget.workers,
                                                 thread_name_prefix="scatviz-first-jobs")
            self.local_jobs += 1
        x, sr, name, stage, settings, _ = job.payload
        return self._local.submit(compute_in_worker, x, sr, name, stage, settings, None)

    def _start_in_pool(self, slot: int, job: Job) -> Future:
        x, sr, name, stage, settings, hook = job.payload
        estimate_s = getattr(job.payload, "estimate_s", None)
        omit = getattr(job.payload, "bank", None) is not None
        threads = self._threads_for(job)
        extra = {} if threads is None else {"threads": threads}
        return self.pool.submit(slot, compute_in_worker, x, sr, name, stage, settings, hook,
                                omit_bank=omit, **extra,
                                timeout_s=self.budget.job_timeout(estimate_s),
                                estimate_s=estimate_s)

    def _threads_for(self, job: Job) -> int | None:
        """A JTFS part (stage "jtfs") with no other page's job running or queued takes every
        worker's threads (its page's base job is done: the cores are idle but for the
        server publishing those views). Anything else: None (its worker's share)."""
        if job.payload[3] != "jtfs" or self.pool is None or self.pool.n < 2:
            return None
        others = [j for j in self.scheduler.running_jobs() if j.session != job.session]
        return None if others or self.scheduler.queued() else self.pool.n * self.pool.threads

    @staticmethod
    def _bank_key(samples: int, sample_rate: float, settings: dict) -> tuple:
        """What a result's filter bank (`scatviz.results.FilterBankArrays`) depends on: the
        length, the Scattering1D setting and the rate, not the signal."""
        return ("bank", int(samples), float(sample_rate), int(settings.get("J", 0)),
                int(settings.get("Q1", 0)), int(settings.get("Q2", 0)),
                int(settings.get("T") or 0), str(settings.get("design")))

    @staticmethod
    def slot_for(samples: int, settings: dict, slots: int) -> int:
        """The worker a job prefers: the one that built the transform modules of this length
        and Scattering1D setting (a module is built per length, J, Q, T and design, seconds
        for a long window, and kept by the worker that built it), whatever the signal: the
        windows of a long recording, all of one length, go to one worker and reuse them."""
        key = (int(samples), int(settings.get("J", 0)), int(settings.get("Q1", 0)),
               int(settings.get("Q2", 0)), int(settings.get("T") or 0),
               str(settings.get("design")))
        return zlib.crc32(repr(key).encode()) % max(1, slots)

    @staticmethod
    def _key(digest: str, samples: int, settings: dict) -> tuple:
        return (digest, int(samples), tuple(sorted(settings.items())))

    def submit(self, session: Hashable, x: np.ndarray, sample_rate: float, name: str,
               stage: str, settings: dict, plan: Plan, digest: str,
               hook: str | None = None) -> Job:
        """Queue the transforms of ``settings`` on ``x[:plan.samples]`` for ``session``.
        ``job.future`` gives a `Transforms` (its ``x`` the caller's prefix) or raises the
        job's failure. ``plan`` must be ok (see `scatviz.server.costing.plan_request`)."""
        if not plan.ok:
            raise ValueError(plan.message)
        x = x[:plan.samples]
        key = self._key(digest, plan.samples, settings)
        hit = self.cache.get(key)
        if hit is None and stage == "jtfs":         # the JTFS part alone (`merge_jtfs`)
            key = ("jtfs",) + key
            hit = self.cache.get(key)
        if hit is not None:
            job = Job(session, None, 0)
            job.state = "done"
            job.future.set_result(dataclasses.replace(hit, x=x, name=name))
            return job
        peak, estimate_s = _job_cost(plan, stage)
        cost = peak + 3 * x.nbytes                  # the signal's copies: pickle, worker
        slot = self.slot_for(plan.samples, settings, self.scheduler.slots)
        if stage == "jtfs":
            # the other worker than its "base" job's (always the same one for this setting:
            # it keeps the JTFS modules it built), so the next change's base finds its own
            # worker free while this JTFS computes
            slot = (slot + 1) % max(1, self.scheduler.slots)
        payload = _Payload((x, float(sample_rate), name, stage, settings, hook))
        payload.estimate_s = estimate_s
        bank_key = self._bank_key(plan.samples, sample_rate, settings)
        payload.bank = self.cache.get(bank_key)     # held: the worker need not send it back
        # A session's JTFS jobs run one at a time: a superseded one still running keeps
        # its worker, the newer change's JTFS waits for it (and is cancelled there when a
        # change supersedes it too), and the other worker stays free for base views.
        group = ((session, "jtfs") if stage in ("all", "jtfs")
                 and settings.get("with_jtfs", True) else None)
        job = self.scheduler.submit(session, payload, cost_bytes=cost, slot=slot, group=group)
        out: Future = Future()

        def done(f: Future) -> None:
            if f.cancelled():
                out.cancel()
                return
            exc = f.exception()
            if exc is not None:
                out.set_exception(exc)
                return
            res = dataclasses.replace(f.result(), x=x, name=name)
            if stage == "jtfs":                     # no Scattering1D part, no bank
                pass
            elif res.bank is None and payload.bank is not None:
                res = dataclasses.replace(res, bank=payload.bank)
            elif res.bank is not None and payload.bank is None:
                self.cache.put(bank_key, res.bank)
            if not res.jtfs_pending:
                self.cache.put(key, dataclasses.replace(res, x=np.zeros(0, np.float32)))
            out.set_result(res)

        job.future.add_done_callback(done)
        outer = Job(session, job.payload, cost, slot, out, job.state, job.id)
        outer._inner = job                          # state and position follow the inner job
        return outer

    def ready(self) -> bool:
        """True: a job submitted now is served without waiting for the workers to start
        (while they start it computes in this process, costed and queued: see the module).
        `workers_ready` says whether the workers answer."""
        return True

    def workers_ready(self) -> bool:
        """True once the worker processes answer (False while they start: seconds, they
        import torch)."""
        return self.pool is None or self.pool.ready.is_set()

    def state_of(self, job: Job) -> str:
        inner = getattr(job, "_inner", job)
        return "done" if job.future.done() else inner.state

    def position(self, job: Job) -> int:
        return self.scheduler.position(getattr(job, "_inner", job))

    def cancel(self, job: Job) -> bool:
        """Cancel ``job`` (from `submit`) if it is still queued: a newer change of its page
        superseded it. True when it was cancelled; a running job finishes in its worker (its
        result goes to the shared cache, the page does not show it)."""
        inner = getattr(job, "_inner", None)
        return inner is not None and self.scheduler.cancel(inner)

    def cancel_session(self, session: Hashable) -> int:
        """Cancel a closed page's queued work."""
        return self.scheduler.cancel_session(session)

    def describe(self) -> str:
        return (f"{self.budget.describe()}; cache {format_bytes(self.cache.nbytes)} in "
                f"{len(self.cache)} results; {self.holdings.describe()}")

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        if self._local is not None:
            self._local.shutdown(wait=False, cancel_futures=True)


def _job_cost(plan: Plan, stage: str) -> tuple[int, float | None]:
    """The memory (bytes) and the estimated seconds of a job of ``stage`` for ``plan``: the
    whole setting's, or the JTFS transform's alone for a "jtfs" job (its part of the cost,
    `scatviz.server.costing.setting_cost`)."""
    if plan.cost is None:
        return 0, None
    if stage == "jtfs":
        part = plan.cost.jtfs
        if part is not None:
            return int(part.peak_bytes) + int(part.output_bytes), float(part.seconds)
    return int(plan.cost.peak_bytes), float(plan.cost.seconds)


def current_service() -> TransformService | None:
    """The process's `TransformService` if one was made (a served dashboard's), else None
    (a notebook, a test: nothing is made)."""
    return _SERVICE


def get_service() -> TransformService:
    """The process's `TransformService` (made on first use, from the environment)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = TransformService()
        return _SERVICE
