"""Progressive detail changes through the server's service: a change's Scattering1D views are
published before its JTFS, and a newer change supersedes the JTFS of an older one, which is
never shown (and is cancelled when still queued, so no stale job piles up). The service runs
its jobs in threads here, each held at a gate until the test opens it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from scatviz.pipeline import TRANSFORM_CACHE
from scatviz.server.budget import ServerBudget
from scatviz.server.service import TransformService
from scatviz.server.workers import compute_in_worker
from scatviz.state import ScatState
from tests.conftest import wait_until


@pytest.fixture(autouse=True)
def _no_cached_transforms():
    """The jobs here run in this process, where `compute_in_worker` reads the process-wide
    `TRANSFORM_CACHE`: a result an earlier test left there for the same noise and setting
    would answer a gated job at once, and the publication order under test would not
    happen."""
    TRANSFORM_CACHE.clear()
    yield
    TRANSFORM_CACHE.clear()


class StageGates:
    """Runs each job in a thread once the gate of its stage is open ("base"; "all" for the
    jobs that compute a JTFS: stage "all" or "jtfs"), and records ``(session, stage, J)`` of
    every job that started."""

    def __init__(self, base_open=True):
        self.gates = {"base": threading.Event(), "all": threading.Event()}
        if base_open:
            self.gates["base"].set()
        self.started: list[tuple] = []
        self.pool = ThreadPoolExecutor(4)

    def __call__(self, slot, job) -> Future:
        x, sr, name, stage, settings, hook = job.payload
        self.started.append((job.session, stage, settings["J"]))

        def run():
            assert self.gates["base" if stage == "base" else "all"].wait(60)
            return compute_in_worker(x, sr, name, stage, settings, hook)
        return self.pool.submit(run)


def _service(slots: int, gates: StageGates) -> TransformService:
    return TransformService(ServerBudget(total=1 << 30, per_request=1 << 29, cache=1 << 26,
                                         workers=slots), start=gates)


def _state(svc, seed) -> ScatState:
    st = ScatState(auto=False, J=5, Q1=4, J_fr=2)
    st.service = svc
    st._jtfs_seconds = 10.0          # as if the last JTFS was slow: progressive publication
    x = np.random.default_rng(seed).standard_normal(4096).astype(np.float32)
    st.param.update(signal=x, sample_rate=8000.0)
    return st


def _published(st) -> list:
    seen = []
    st.param.watch(lambda e: seen.append(e.new), "result")
    return seen


def _wait_until(pred, timeout=60.0):
    return wait_until(pred, timeout)


def test_the_base_views_are_published_before_the_jtfs_arrives():
    gates = StageGates()
    svc = _service(2, gates)
    st = _state(svc, 1)
    seen = _published(st)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(asyncio.run, st.refresh_async())
        # JTFS held back: the Scattering1D views are out, the page says JTFS is computing
        assert _wait_until(lambda: len(seen) == 1)
        first = seen[0]
        assert first.jtfs_pending and first.jtfs is None and first.scalogram is not None
        assert st.busy and not fut.done()
        gates.gates["all"].set()
        res = fut.result(timeout=60)
    assert len(seen) == 2 and res is seen[-1] and st.result is res
    assert not res.jtfs_pending and res.jtfs is not None
    assert not st.busy and st.jtfs_superseded == 0


def test_a_running_jtfs_superseded_by_a_newer_change_is_never_shown():
    """The older change's JTFS is running (held): the newer change's base views are published
    without waiting for it, and its result, when it comes, is not."""
    gates = StageGates()
    svc = _service(2, gates)
    st = _state(svc, 2)
    seen = _published(st)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(asyncio.run, st.refresh_async())
        assert _wait_until(lambda: (st.session, "jtfs", 5) in gates.started)
        st.J = 6                                   # the newer change
        assert _wait_until(lambda: any(r.key[1] == 6 for r in seen))
        newer = [r for r in seen if r.key[1] == 6][0]
        assert newer.jtfs_pending                  # published while the old JTFS still runs
        assert not gates.gates["all"].is_set() and not fut.done()
        gates.gates["all"].set()
        res = fut.result(timeout=60)
    assert res.key[1] == 6 and res.jtfs is not None and st.result is res
    assert not any(r.key[1] == 5 and r.jtfs is not None for r in seen), \
        "the superseded JTFS was shown"
    assert st.jtfs_superseded == 1 and st.jtfs_cancelled == 0   # it was running: dropped


def test_a_queued_jtfs_superseded_by_a_newer_change_is_cancelled():
    """One slot, taken by another page's job when the older change's JTFS is submitted: that
    JTFS waits in the queue, and the newer change cancels it there (it never runs)."""
    gates = StageGates(base_open=False)
    svc = _service(1, gates)
    st, other = _state(svc, 3), _state(svc, 4)
    seen = _published(st)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(asyncio.run, st.refresh_async())
        assert _wait_until(lambda: (st.session, "base", 5) in gates.started)
        held = other._submit("all", other.plan())   # queued behind our base, then runs
        gates.gates["base"].set()                   # our base done; the other page's starts
        assert _wait_until(lambda: len(seen) == 1 and seen[0].jtfs_pending)
        assert _wait_until(lambda: svc.scheduler.queued(st.session) == 1)   # our JTFS
        st.J = 6
        assert _wait_until(lambda: st.jtfs_cancelled == 1)
        assert svc.scheduler.queued(st.session) == 1      # only the newer change's base
        gates.gates["all"].set()
        res = fut.result(timeout=60)
        assert held.future.result(timeout=60) is not None
    assert res.key[1] == 6 and res.jtfs is not None
    assert (st.session, "jtfs", 5) not in gates.started, "the cancelled JTFS ran"
    assert not any(r.key[1] == 5 and r.jtfs is not None for r in seen)
    assert st.jtfs_superseded == 1


def test_cancel_of_a_queued_job_and_not_of_a_running_one():
    gates = StageGates(base_open=False)
    svc = _service(1, gates)
    a, b = _state(svc, 5), _state(svc, 6)
    running = a._submit("base", a.plan())
    queued = b._submit("base", b.plan())
    assert _wait_until(lambda: svc.state_of(running) == "running")
    assert svc.state_of(queued) == "queued"
    assert not svc.cancel(running)
    assert svc.cancel(queued) and queued.future.cancelled()
    assert svc.scheduler.queued() == 0 and not svc.cancel(queued)
    gates.gates["base"].set()
    assert running.future.result(timeout=60).jtfs_pending


def test_rapid_changes_keep_one_jtfs_per_page_and_a_worker_free_for_the_base_views():
    """Changes faster than JTFS: the superseded JTFS that runs keeps its worker, the newer
    change's JTFS waits for it rather than taking the other worker (which stays free for the
    next change's base views), and a third change cancels that waiting JTFS."""
    gates = StageGates()
    svc = _service(2, gates)
    st = _state(svc, 7)
    seen = _published(st)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(asyncio.run, st.refresh_async())
        assert _wait_until(lambda: (st.session, "jtfs", 5) in gates.started)
        st.J = 6
        # the base views of J=6 out, its JTFS waiting for the running one of J=5
        assert _wait_until(lambda: svc.scheduler.queued(st.session) == 1
                           and any(r.key[1] == 6 and r.jtfs_pending for r in seen))
        assert (st.session, "jtfs", 6) not in gates.started
        st.J = 4                                   # a third change, base views at once
        assert _wait_until(lambda: any(r.key[1] == 4 for r in seen))
        assert st.jtfs_cancelled == 1 and not fut.done()
        gates.gates["all"].set()
        res = fut.result(timeout=60)
    assert res.key[1] == 4 and res.jtfs is not None
    assert (st.session, "jtfs", 6) not in gates.started
    assert [r.key[1] for r in seen if r.jtfs is not None] == [4]
    assert st.jtfs_superseded == 2


def test_a_pages_waiting_jtfs_does_not_hold_back_another_pages_job():
    gates = StageGates(base_open=False)
    svc = _service(2, gates)
    a, b = _state(svc, 8), _state(svc, 9)
    first = a._submit("all", a.plan())
    assert _wait_until(lambda: svc.state_of(first) == "running")
    second = a._submit("all", _plan_at_J6(a))     # same page, JTFS: waits
    other = b._submit("base", b.plan())                      # another page: starts
    assert _wait_until(lambda: svc.state_of(other) == "running")
    assert svc.state_of(second) == "queued"
    gates.gates["base"].set()
    gates.gates["all"].set()
    for job in (first, second, other):
        assert job.future.result(timeout=60) is not None


def _plan_at_J6(st):
    st.J = 6
    return st.plan()


def test_the_page_says_jtfs_is_computing_until_it_arrives():
    from scatviz.pipeline import TRANSFORM_CACHE
    from scatviz.views.dashboard import Dashboard

    d = Dashboard(live=False)
    shown = d.state.result
    TRANSFORM_CACHE.clear()                        # this setting's JTFS is to compute again
    base = d.state.compute("base")
    assert base.jtfs_pending
    d.state.apply(base)
    assert "JTFS computing…" in d.status_pane.object
    assert d.state.result.scalogram is base.scalogram and shown.jtfs is not None
    d.state.apply(d.state.compute("all"))
    assert "all views updated" in d.status_pane.object and d.state.result.jtfs is not None
