"""The first pictures computed while the worker processes still start go through the
service like every other request: costed, queued fairly, one per slot, counted in the memory
in flight; they compute in the server process (the workers are not up) and, once the workers
answer, the next requests go to them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest

import scatviz.server.service as service_mod
from scatviz.server.budget import ServerBudget
from scatviz.server.service import TransformService
from tests.scatviz.states import noise_state


class SlowPool:
    """A stand-in for `WorkerPool` whose workers never finish starting (``ready`` unset);
    records what it was asked."""

    def __init__(self):
        self.ready = threading.Event()
        self.warm_calls = 0
        self.submitted = []

    def warm_async(self):
        self.warm_calls += 1

    def submit(self, slot, fn, *args, **kwargs):
        self.submitted.append(args)
        f = Future()
        f.set_result(fn(*args))
        return f

    def shutdown(self):
        pass


def _service(workers: int = 1) -> TransformService:
    svc = TransformService(ServerBudget(total=2 << 30, per_request=1 << 30, cache=64 << 20,
                                        workers=workers))
    svc.pool.shutdown()
    svc.pool = SlowPool()
    return svc


def test_a_first_picture_while_the_workers_start_is_queued_and_costed():
    svc = _service()
    try:
        st = noise_state(svc, 0)
        plan = st.plan()
        assert st.refresh() is not None and not st.error
        assert svc.local_jobs == 1 and svc.pool.submitted == []     # in this process
        assert svc.scheduler.started == 1                           # through the queue
        assert svc.scheduler.peak_in_flight_bytes >= plan.cost.peak_bytes  # counted
        assert svc.pool.warm_calls >= 1                             # the workers start
        assert svc.scheduler.in_flight_bytes == 0
    finally:
        svc.shutdown()


def test_while_the_workers_start_first_pictures_wait_for_a_slot(monkeypatch):
    svc = _service(workers=1)
    gate = threading.Event()
    started = []
    real = service_mod.compute_in_worker

    def slow(*args):
        started.append(time.monotonic())
        assert gate.wait(60)
        return real(*args)

    monkeypatch.setattr(service_mod, "compute_in_worker", slow)
    try:
        a, b = noise_state(svc, 1), noise_state(svc, 2)
        ja, jb = a._submit("all", a.plan()), b._submit("all", b.plan())
        for _ in range(200):
            if started:
                break
            time.sleep(0.05)
        assert len(started) == 1 and svc.scheduler.running() == 1  # one slot: one at once
        assert svc.state_of(jb) == "queued" and svc.position(jb) == 0
        gate.set()
        assert ja.future.result(timeout=120) is not None
        assert jb.future.result(timeout=120) is not None
        assert svc.local_jobs == 2
    finally:
        gate.set()
        svc.shutdown()


def test_once_the_workers_answer_the_requests_go_to_them():
    svc = _service()
    try:
        st = noise_state(svc, 3)
        assert st.refresh() is not None and svc.local_jobs == 1
        svc.pool.ready.set()                                        # the workers are up
        st.Q1 = 6
        assert st.refresh() is not None and not st.error
        assert svc.local_jobs == 1 and len(svc.pool.submitted) == 1
    finally:
        svc.shutdown()


def test_a_job_with_a_test_hook_never_runs_in_the_server_process(monkeypatch):
    monkeypatch.setenv("SCATVIZ_TEST_HOOKS", "1")
    svc = _service()
    try:
        st = noise_state(svc, 4)
        st.hook = "memory"
        st.refresh()
        assert svc.local_jobs == 0 and len(svc.pool.submitted) == 1
        assert "ran out of memory" in st.error
    finally:
        svc.shutdown()


@pytest.mark.slow
def test_with_real_workers_the_first_picture_does_not_wait_for_them():
    svc = TransformService(ServerBudget(total=2 << 30, per_request=1 << 30, cache=64 << 20,
                                        workers=1))
    try:
        st = noise_state(svc, 5)
        assert not svc.workers_ready()
        assert st.refresh() is not None and svc.local_jobs == 1
        for _ in range(1200):                        # the workers start meanwhile (bounded)
            if svc.workers_ready():
                break
            time.sleep(0.1)
        assert svc.workers_ready()
        st.Q1 = 6
        assert st.refresh() is not None and svc.local_jobs == 1     # in the worker now
    finally:
        svc.shutdown()
