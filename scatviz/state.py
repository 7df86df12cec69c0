"""Session state of the views, and the scheduler that computes its transforms.

One `ScatState` (a ``param.Parameterized``) owns everything a dashboard session can change:
the signal and its sample rate, the scattering parameters (J, Q1, Q2, T), the JTFS parameters
(J_fr, Q_fr, F), the filter bank design, the dB range and the time cursors. Views depend on it
and never compute a transform themselves: they read ``state.result``, a `Transforms` computed
once per distinct setting by `compute_transforms` and cached (keyed by the signal's hash and
the parameters) in a process-wide LRU (`scatviz.pipeline`), so that every view and every session
with the same setting share one computation. The result types live in `scatviz.results`; this
module re-exports them, the pipeline's names and the presets for the views and tests that
import them from here.

Two ways to drive it:

* synchronous (notebooks, tests): with ``auto=True`` (the default) a change of any parameter
  recomputes ``result`` at once;
* asynchronous (the dashboard): ``auto=False``, and the app calls ``await state.refresh_async()``
  which computes in a worker thread, so that the server keeps answering while it computes.

Every refresh is costed first (`ScatState.plan`, `scatviz.server.costing`): a setting beyond
the request budget runs on the longest prefix of the signal that fits (``notice`` says so) or
is refused (``error`` says why). With ``state.service`` set (the served dashboard: a
`scatviz.server.service.TransformService`) the transforms are queued fairly with the other
sessions' (``waiting`` says so while queued) and run in a worker process, so that a crash
fails that request only.

Errors of the engine (an invalid J for the signal length, ...) never raise out of a refresh:
they land in ``state.error`` (the engine's message) and ``result`` keeps its last valid value.

>>> st = ScatState.from_signal(np.random.randn(4096).astype("float32"), 8000, J=6, Q1=8)
>>> st.result.scalogram.mag.shape[0] == len(st.result.scalogram.freqs)
True
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import CancelledError
from functools import lru_cache, partial

import numpy as np
import param

from engine import available_designs
from scatviz.analysis import MAX_COLUMNS
from scatviz.analysis import pool_rows as _pool_rows
from scatviz.pipeline import (
    TRANSFORM_CACHE,
    _s1d_module,
    compute_transforms,
    default_design,
    merge_jtfs,
)
from scatviz.presets import PRESETS
from scatviz.results import (
    JTFS_UNAVAILABLE,
    FilterBankArrays,
    JTFSResult,
    Scalogram,
    Scattering,
    Transforms,
)
from scatviz.server.budget import ServerBudget
from scatviz.server.costing import Plan, plan_request
from scatviz.server.service import failure_message
from scatviz.signals_io import LoadedSignal, signal_digest

__all__ = ["ScatState", "Transforms", "Scalogram", "Scattering", "FilterBankArrays",
           "JTFSResult", "compute_transforms", "jtfs_available", "JTFS_UNAVAILABLE",
           "TRANSFORM_CACHE", "PRESETS", "MAX_COLUMNS", "_pool_rows", "_s1d_module"]

#: The dashboard publishes the Scattering1D views before the JTFS ones when the last JTFS of
#: the session took longer than this (seconds); otherwise one message per change.
PROGRESSIVE_ABOVE = 0.3

#: The longest a synchronous `ScatState.refresh` through the server's service waits for its
#: transforms (seconds; a served page's first picture): then the page says it failed.
SYNC_TIMEOUT = 300.0

#: ``busy`` turns on only when a change's transforms take longer than this (seconds): a
#: setting from the cache publishes at once, with no badge switched on and off (two more
#: messages and page layouts per change). The last publication switches it off in its own
#: message. Under ~0.2 s a user sees the views change without a sign that work is under way
#: (what response-time guidelines say: an indicator for a wait that is noticed, not for
#: every one), and a badge shown for 0.1 s before the views change is a flash; turning it
#: on costs the server ~6 ms and the browser ~15 ms (a commit of the whole page's layers)
#: in the middle of the transform, on the same two cores.
BUSY_AFTER = 0.2


@lru_cache(maxsize=1)
def _default_budget() -> ServerBudget:
    return ServerBudget.from_env()


def _failure(exc: BaseException) -> str:
    """The page's sentence for a transform that failed (`failure_message`)."""
    return failure_message(exc)


def jtfs_available() -> bool:
    """True: `engine.jtfs` is part of the engine, and `scatviz.pipeline` imports it. Kept for
    the tests that still import this name."""
    return True


# --------------------------------------------------------------------------------------------
# The session state
# --------------------------------------------------------------------------------------------

class ScatState(param.Parameterized):
    """One session's signal, parameters and shared transforms.

    Views take a `ScatState` and watch ``result`` (recomputed transforms), ``db_range``,
    ``playhead`` and ``jtfs_frame``. Use `ScatState.from_signal` in a notebook.
    """

    signal = param.Array(default=None, doc="The signal, (N,) float32.", precedence=-1)
    sample_rate = param.Number(default=8000.0, bounds=(1, None), doc="Hz")
    signal_name = param.String(default="signal", doc="Shown in the views.")
    info = param.Dict(default={}, precedence=-1)

    J = param.Integer(default=6, bounds=(1, 16), doc="Octaves of the first-order wavelets.")
    Q1 = param.Integer(default=8, bounds=(1, 32), doc="Wavelets per octave, order 1.")
    Q2 = param.Integer(default=1, bounds=(1, 8), doc="Wavelets per octave, order 2.")
    T = param.Integer(default=0, bounds=(0, None),
                      doc="Low-pass support in samples; 0 = 2**J (the default).")
    J_fr = param.Integer(default=3, bounds=(1, 8), doc="JTFS frequential octaves.")
    Q_fr = param.Integer(default=1, bounds=(1, 4), doc="JTFS frequential wavelets per octave.")
    F = param.Integer(default=1, bounds=(0, None),
                      doc="JTFS frequential averaging (in n1 bins); 1 = none (full n1 "
                          "resolution, what the JTFS views need); 0 = the engine default "
                          "2**J_fr.")
    design = param.Selector(default=default_design("scattering"),
                            objects=list(available_designs()),
                            doc="Filter bank design: any of engine.available_designs().")
    db_range = param.Number(default=60.0, bounds=(10.0, 140.0), doc="Colour range in dB.")
    playhead = param.Number(default=0.0, bounds=(0, None), doc="Audio playhead, seconds.")
    jtfs_frame = param.Integer(default=0, bounds=(0, None), doc="JTFS time frame index.")
    with_jtfs = param.Boolean(default=True, doc="Compute JTFS (when the engine has it).")

    result = param.Parameter(default=None, precedence=-1, doc="Transforms of the last setting.")
    error = param.String(default="", doc="Last engine error, shown beside the controls.")
    notice = param.String(default="", doc="Why the analysis was reduced (cost), if it was.")
    waiting = param.String(default="", doc="While queued behind other pages' work: says so.")
    busy = param.Boolean(default=False, doc="True while a transform computes.")
    auto = param.Boolean(default=True, precedence=-1,
                         doc="Recompute synchronously on every change (False: the app drives).")

    _inputs = ("signal", "sample_rate", "J", "Q1", "Q2", "T", "J_fr", "Q_fr", "F", "design",
               "with_jtfs")

    def __init__(self, **params):
        self._jtfs_seconds = 0.0
        #: A `scatviz.server.service.TransformService` (the served dashboard) or None
        #: (compute in this process); ``session`` names this state's line in its queue;
        #: ``hook`` a test-only worker hook (`scatviz.server.workers`).
        self.service = None
        self.session = id(self)
        self.hook = None
        #: JTFS computations a newer change superseded before they were shown (with how
        #: many of them were still queued, hence cancelled): see `refresh_async`.
        self.jtfs_superseded = 0
        self.jtfs_cancelled = 0
        designs = list(available_designs())
        super().__init__(**params)
        self.param.design.objects = designs
        if self.design not in designs:
            self.design = designs[0]
        self.param.watch(self._on_input, list(self._inputs))
        if self.auto and self.signal is not None:
            self.refresh()

    @classmethod
    def from_signal(cls, x, sample_rate: float, name: str = "signal", **params) -> ScatState:
        """A state around a numpy signal ``(N,)`` (Hz), computed at once.

        >>> st = ScatState.from_signal(np.ones(2048, "float32"), 8000, J=5)
        """
        return cls(signal=np.ascontiguousarray(x, dtype=np.float32),
                   sample_rate=float(sample_rate), signal_name=name, **params)

    @classmethod
    def from_loaded(cls, sig: LoadedSignal, **params) -> ScatState:
        return cls(signal=sig.x, sample_rate=sig.sample_rate, signal_name=sig.name, info=sig.info,
                   **params)

    # ---- signal ----------------------------------------------------------------------------

    def set_signal(self, sig: LoadedSignal) -> None:
        """Replace the signal (and rate, name) in one batched change."""
        self.param.update(signal=sig.x, sample_rate=sig.sample_rate, signal_name=sig.name,
                          info=sig.info, playhead=0.0, jtfs_frame=0)

    @property
    def digest(self) -> str:
        return signal_digest(self.signal, self.sample_rate)

    @property
    def duration(self) -> float:
        return 0.0 if self.signal is None else len(self.signal) / self.sample_rate

    # ---- compute ---------------------------------------------------------------------------

    def settings(self) -> dict:
        """The parameters of `compute_transforms`, from the current values."""
        return dict(J=self.J, Q1=self.Q1, Q2=self.Q2, T=self.T, J_fr=self.J_fr, Q_fr=self.Q_fr,
                    F=self.F, design=self.design, with_jtfs=self.with_jtfs)

    def key(self) -> tuple:
        return (id(self.signal), self.sample_rate, tuple(sorted(self.settings().items())))

    def request_budget(self) -> int:
        """Bytes one request of this session may use: its service's per-request budget, or
        the one `ServerBudget.from_env` gives (``SCATVIZ_REQUEST_BUDGET``...)."""
        if self.service is not None:
            return self.service.budget.per_request
        return _default_budget().per_request

    def plan(self) -> Plan:
        """The cost of the current setting and what to do with it (run, reduce, refuse:
        `scatviz.server.costing.plan_request`), before anything is allocated."""
        if self.signal is None:
            raise ValueError("No signal loaded: choose a bundled signal, the generator or "
                             "upload a file.")
        return plan_request(len(self.signal), self.sample_rate, self.settings(),
                            budget_bytes=self.request_budget())

    def compute(self, stage: str = "all", plan: Plan | None = None) -> Transforms:
        """Compute the transforms of the current setting in this process, costed first
        (``plan``, by default `plan`): refused beyond the request budget (ValueError with
        the reason), or computed on the prefix that fits. Raises the engine's errors."""
        plan = plan or self.plan()
        if not plan.ok:
            raise ValueError(plan.message)
        return compute_transforms(self.signal[:plan.samples], self.sample_rate,
                                  name=self.signal_name, stage=stage, **self.settings())

    def apply(self, res: Transforms | None, error: str = "") -> None:
        """Publish a result (views update in their watchers) or an error message."""
        if res is None:
            self.error = error
            return
        if "jtfs" in res.timings:
            self._jtfs_seconds = res.timings["jtfs"]
        frame = self.jtfs_frame               # kept while JTFS is pending or missing
        if res.jtfs is not None:
            frame = min(frame, max(len(res.jtfs.times) - 1, 0))
        if not error and res.jtfs_error and res.jtfs_error.startswith("JTFS:"):
            error = res.jtfs_error           # an invalid JTFS combination: say so by the controls
        self.param.update(result=res, error=error, jtfs_frame=frame)

    def refresh(self) -> Transforms | None:
        """Recompute now (synchronously, through the service when there is one and its
        workers are up; in this process, costed all the same, while they start: a served
        page's first picture does not wait for them to import torch); engine errors and
        refusals go to ``error``, a reduction's reason to ``notice``."""
        try:
            plan = self.plan()
            self.notice = plan.message if plan.ok else ""
            if self.service is not None and self.service.ready():
                res = self._submit("all", plan).future.result(timeout=SYNC_TIMEOUT)
            else:
                res = self.compute(plan=plan)
        except (ValueError, TypeError) as exc:
            self.apply(None, str(exc))
            return None
        except Exception as exc:            # a worker's crash, a MemoryError: this request
            self.apply(None, _failure(exc))
            return None
        self.apply(res)
        return res

    def _submit(self, stage: str, plan: Plan):
        """Queue this setting's transforms with the service: a `scatviz.server.queue.Job`."""
        x = self.signal[:plan.samples]
        return self.service.submit(self.session, x, self.sample_rate, self.signal_name, stage,
                                   self.settings(), plan, signal_digest(x, self.sample_rate),
                                   hook=self.hook)

    async def refresh_async(self, hold=None) -> Transforms | None:
        """Recompute in a worker thread until the parameters stop changing, then publish.

        ``hold`` is a context manager factory (e.g. ``panel.io.hold``) that batches every view
        update into one message. When JTFS is slow (`PROGRESSIVE_ABOVE`) the Scattering1D
        views are published first (``jtfs_pending``, ``busy``), then the JTFS ones; a change
        made meanwhile supersedes that JTFS: it is cancelled if still queued in the service,
        never shown, and the newer change starts at once (``jtfs_superseded``,
        ``jtfs_cancelled`` count them).
        """
        loop = asyncio.get_running_loop()

        def publish(res, err, busy=False):
            with hold() if hold is not None else contextlib.nullcontext():
                self.apply(res, err)
                self.busy = busy

        def start(stage, plan):
            if self.service is None:
                return None, loop.run_in_executor(None, partial(self.compute, stage, plan))
            job = self._submit(stage, plan)
            return job, asyncio.wrap_future(job.future)

        async def computed(stage, plan):
            job, fut = start(stage, plan)
            done, _ = await asyncio.wait({fut}, timeout=BUSY_AFTER)
            if not done:
                self.busy = True
            for _ in range(100_000):                # bounded; each pass waits up to 0.25 s
                if done or job is None or self.service.state_of(job) != "queued":
                    break
                ahead = self.service.position(job)
                self.waiting = (f"Waiting for the server: {ahead} request(s) of other pages "
                                f"ahead of this one…" if ahead else
                                "Waiting for the server: this request is next…")
                done, _ = await asyncio.wait({fut}, timeout=0.25)
            self.waiting = ""
            return await fut

        try:
            while True:
                key = self.key()
                plan = None
                try:
                    plan = self.plan()
                    self.notice = plan.message if plan.ok else ""
                    # Publish the Scattering1D views first only when JTFS is slow for this
                    # setting (one message per change otherwise).
                    stage = "base" if self._progressive(plan) else "all"
                    res = await computed(stage, plan)
                    err = ""
                except (asyncio.CancelledError, CancelledError):
                    return None            # the page was closed: its queued work is dropped
                except (ValueError, TypeError) as exc:
                    res, err = None, str(exc)
                except Exception as exc:   # never let a failure take the session down
                    res, err = None, _failure(exc)
                if key != self.key():      # changed while computing: compute the latest
                    continue
                if res is None or not res.jtfs_pending:
                    publish(res, err)
                    return res
                # The JTFS part alone (the Scattering1D arrays are here: `merge_jtfs`) starts
                # before the Scattering1D views are published, so that it computes while this
                # thread builds their update and the browser draws it. Not beside the base
                # job: on two cores that slowed the first views, and in Chromium the last
                # ones too (benchmarks/RESULTS.md, issue 16's detail changes).
                job, pending = start("jtfs", plan)
                base = res
                publish(res, err, busy=True)
                if await self._superseded(key, pending):
                    self.jtfs_superseded += 1
                    if job is not None and self.service.cancel(job):
                        self.jtfs_cancelled += 1
                    continue               # the newer change, its base views first
                try:
                    res = merge_jtfs(base, await pending)
                except (asyncio.CancelledError, CancelledError):
                    return None
                except Exception as exc:
                    publish(None, _failure(exc))
                    return None
                if key != self.key():
                    continue
                publish(res, "")
                return res
        finally:
            self.busy = False
            self.waiting = ""

    def _progressive(self, plan: Plan) -> bool:
        """Whether a change publishes its Scattering1D views before its JTFS: when the JTFS
        is expected to take longer than `PROGRESSIVE_ABOVE`, by the engine's cost estimate
        of this setting (so the session's first change too) or by the session's last JTFS
        (an estimate that under-predicts on a loaded machine)."""
        if not self.with_jtfs:
            return False
        part = plan.cost.jtfs if plan is not None and plan.cost is not None else None
        est = 0.0 if part is None else float(part.seconds)
        return max(est, self._jtfs_seconds) > PROGRESSIVE_ABOVE

    async def _superseded(self, key: tuple, pending) -> bool:
        """Wait for ``pending`` (a change's JTFS) unless the parameters change first: True
        when they did (a newer change: the caller drops ``pending``, whose eventual result or
        failure is then read here, never shown). Woken by a watcher of the inputs (an
        `asyncio.Event` set from whichever thread changed them), not by polling."""
        pending.add_done_callback(lambda f: f.cancelled() or f.exception())
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake(*events) -> None:
            with contextlib.suppress(RuntimeError):       # the loop closed meanwhile
                loop.call_soon_threadsafe(changed.set)

        watcher = self.param.watch(wake, list(self._inputs))
        try:
            for _ in range(100_000):                      # bounded: one pass per change
                if key != self.key():
                    return True
                waiter = asyncio.ensure_future(changed.wait())
                try:
                    done, _ = await asyncio.wait({pending, waiter}, timeout=4 * SYNC_TIMEOUT,
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                if pending in done:
                    return False
                if not done:                              # nothing for 20 minutes
                    return False
                changed.clear()
            return False
        finally:
            self.param.unwatch(watcher)

    def _on_input(self, *events) -> None:
        if self.auto and self.signal is not None:
            self.refresh()
