"""Background jobs with progress and a stop button, for the demos' long runs.

A `Job` runs ``fn(progress)`` in a daemon thread. ``fn`` reports with ``progress(done,
total, message="", partial=None)``; that call raises `Stopped` once `Job.stop` was asked,
so a loop ends at its next report. The page reads the job's fields from its own thread (a
periodic callback): ``state`` ("idle", "running", "done", "stopped", "failed"), ``done``,
``total``, ``message``, ``partial`` (e.g. the loss curve so far), ``result`` and ``error``.
No web stack here: a test drives a job without a server.

>>> job = Job(lambda progress: [progress(k, 3) for k in range(3)] and "ok")
>>> job.start().wait(5)
'done'
>>> job.result, job.done, job.total
('ok', 3, 3)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Job", "Stopped"]


class Stopped(Exception):
    """Raised inside a job's function by its progress report once a stop was asked."""


class Job:
    """One run of ``fn(progress)`` in a background thread (see the module's docstring)."""

    def __init__(self, fn: Callable[[Callable], Any], name: str = "job"):
        self.fn, self.name = fn, name
        self.state = "idle"
        self.done, self.total = 0, 0
        self.message = ""
        self.partial: Any = None
        self.result: Any = None
        self.error = ""
        self.seconds = 0.0
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self, done: int, total: int, message: str = "", partial: Any = None) -> None:
        """Report (from inside ``fn``); raises `Stopped` when a stop was asked."""
        self.done, self.total = int(done), int(total)
        if message:
            self.message = message
        if partial is not None:
            self.partial = partial
        if self._stop.is_set():
            raise Stopped(f"{self.name} stopped at {done}/{total}")

    def start(self) -> Job:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was started already; make a new Job to run again.")
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name=f"scatviz-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            self.result = self.fn(self.progress)
            self.state = "done"
        except Stopped:
            self.state = "stopped"
        except Exception as exc:           # shown by the page, never raised into the server
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
        finally:
            self.seconds = time.perf_counter() - t0
            self._finished.set()

    def stop(self) -> None:
        """Ask the job to stop at its next progress report."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def wait(self, timeout: float | None = None) -> str:
        """Block until the job ends (or ``timeout`` s); its state."""
        self._finished.wait(timeout)
        return self.state
