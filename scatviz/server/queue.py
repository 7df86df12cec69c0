"""A fair queue of transforms across sessions, with a limit on how many run at once and on
the memory they use together.

Each session has its own first-in-first-out line; the scheduler starts the head of the line
of the session served least recently (round robin; a newcomer first), so one session that
submits many jobs never holds back another's. A job starts when a slot is free and the
memory of every job in flight plus its own stays within the budget (a job alone always
starts: `scatviz.server.costing` refused the ones larger than a request may be).
`FairScheduler.cancel_session` cancels a session's queued jobs (a closed page), and
`FairScheduler.cancel` one queued job (superseded by a newer change); a job already running
finishes and its result is dropped.

The scheduler only decides *when*; ``start(slot, job) -> concurrent.futures.Future`` runs a
job (in a `scatviz.server.workers.WorkerPool`, or a thread in tests).

>>> from concurrent.futures import Future
>>> def start(slot, job):
...     f = Future(); f.set_result(job.payload * 2); return f
>>> s = FairScheduler(start, slots=1, memory_bytes=100)
>>> s.submit("a", 21, cost_bytes=10).future.result()
42
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FairScheduler", "Job", "CancelledError"]

_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One queued transform: its ``session``, ``payload`` (what ``start`` runs), memory
    ``cost_bytes``, preferred ``slot`` (None: any), and ``future`` (its result).

    ``state``: "queued", "running", "done" or "cancelled"."""

    session: Hashable
    payload: Any
    cost_bytes: int = 0
    slot: int | None = None
    future: Future = field(default_factory=Future)
    state: str = "queued"
    id: int = field(default_factory=lambda: next(_ids))
    #: Jobs of one ``group`` (not None) run one at a time: a job whose group has one running
    #: waits, and its session's line with it, while the other sessions' go on.
    group: Hashable | None = None


class FairScheduler:
    """Round-robin over sessions, ``slots`` jobs at once, ``memory_bytes`` in flight.

    ``start(slot, job) -> Future`` runs a job in slot ``slot`` (0..slots-1)."""

    def __init__(self, start: Callable[[int, Job], Future], slots: int = 2,
                 memory_bytes: int | None = None):
        if slots < 1:
            raise ValueError(f"slots must be at least 1; got {slots}.")
        self._start = start
        self.slots = slots
        self.memory_bytes = memory_bytes
        self._lines: OrderedDict[Hashable, deque[Job]] = OrderedDict()
        self._running: dict[int, Job] = {}         # slot -> job
        self._served: dict[Hashable, int] = {}     # session -> when it last started a job
        self._lock = threading.RLock()
        self.in_flight_bytes = 0
        self.peak_in_flight_bytes = 0
        self.started = 0

    # ---- public ----------------------------------------------------------------------------

    def submit(self, session: Hashable, payload: Any, cost_bytes: int = 0,
               slot: int | None = None, group: Hashable | None = None) -> Job:
        """Queue a job for ``session``; it starts as soon as its turn, a slot and the memory
        allow (and no other job of its ``group`` runs). Returns the `Job` (``job.future``
        gives its result)."""
        job = Job(session, payload, int(cost_bytes), slot, group=group)
        with self._lock:
            self._lines.setdefault(session, deque()).append(job)
        self._dispatch()
        return job

    def position(self, job: Job) -> int:
        """Jobs that start before ``job`` (0 when it is next or running), counting the
        sessions' turns: an estimate for "N requests ahead of yours"."""
        with self._lock:
            if job.state != "queued":
                return 0
            line = self._lines.get(job.session, deque())
            mine = list(line).index(job) if job in line else 0
            others = sum(min(len(q), mine + 1) for s, q in self._lines.items()
                         if s != job.session)
            return mine + others

    def cancel_session(self, session: Hashable) -> int:
        """Cancel the queued jobs of ``session`` (e.g. its page was closed); returns how many.
        Running jobs finish; nobody waits for their result."""
        with self._lock:
            line = self._lines.pop(session, deque())
            self._served.pop(session, None)
        for job in line:
            job.state = "cancelled"
            job.future.cancel()
        return len(line)

    def cancel(self, job: Job) -> bool:
        """Cancel ``job`` if it is still queued (e.g. a newer change of its page superseded
        it); returns True when it was. A running or finished job is left alone (its worker
        finishes it; whoever submitted it drops the result)."""
        with self._lock:
            line = self._lines.get(job.session)
            if job.state != "queued" or line is None or job not in line:
                return False
            line.remove(job)
            if not line:
                del self._lines[job.session]
            job.state = "cancelled"
        job.future.cancel()
        return True

    def queued(self, session: Hashable | None = None) -> int:
        with self._lock:
            if session is not None:
                return len(self._lines.get(session, ()))
            return sum(len(q) for q in self._lines.values())

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def running_jobs(self) -> list[Job]:
        """The jobs running now (a copy)."""
        with self._lock:
            return list(self._running.values())

    # ---- internals -------------------------------------------------------------------------

    def _fits(self, job: Job) -> bool:
        if self.memory_bytes is None or not self._running:
            return True
        return self.in_flight_bytes + job.cost_bytes <= self.memory_bytes

    def _free_slot(self, job: Job) -> int | None:
        free = [s for s in range(self.slots) if s not in self._running]
        if not free:
            return None
        return job.slot if job.slot in free else free[0]

    def _next(self) -> tuple[Job, int] | None:
        """The next job to start: the head of the line of the session served least recently
        (a session new to the queue first), or None."""
        for session in list(self._lines):
            line = self._lines[session]
            while line and line[0].future.cancelled():
                line.popleft()
            if not line:
                del self._lines[session]
        busy = {j.group for j in self._running.values() if j.group is not None}
        ready = [s for s, q in self._lines.items() if q[0].group not in busy]
        if not ready:
            return None
        session = min(ready, key=lambda s: self._served.get(s, 0))
        line = self._lines[session]
        job = line[0]
        slot = self._free_slot(job)
        if slot is None or not self._fits(job):
            return None               # strictly fair: the head waits, nobody overtakes it
        line.popleft()
        if not line:
            del self._lines[session]
        self._served[session] = self.started + 1      # its turn is used
        return job, slot

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                nxt = self._next()
                if nxt is None:
                    return
                job, slot = nxt
                job.state = "running"
                self._running[slot] = job
                self.in_flight_bytes += job.cost_bytes
                self.peak_in_flight_bytes = max(self.peak_in_flight_bytes,
                                                self.in_flight_bytes)
                self.started += 1
            try:
                inner = self._start(slot, job)
            except BaseException as exc:            # could not even start: that job fails
                self._finish(slot, job)
                job.state = "done"
                if not job.future.cancelled():
                    job.future.set_exception(exc)
                continue
            inner.add_done_callback(lambda f, s=slot, j=job: self._done(s, j, f))

    def _finish(self, slot: int, job: Job) -> None:
        with self._lock:
            if self._running.get(slot) is job:
                del self._running[slot]
                self.in_flight_bytes -= job.cost_bytes

    def _done(self, slot: int, job: Job, inner: Future) -> None:
        self._finish(slot, job)
        job.state = "done"
        if not job.future.cancelled():
            try:
                exc = inner.exception()
            except CancelledError as c:
                exc = c
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(inner.result())
        self._dispatch()
