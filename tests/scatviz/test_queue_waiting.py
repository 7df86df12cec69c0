"""A session whose work is queued says it is waiting, and gets its result when its turn
comes; closing its page (``cancel_session``) drops its queued work. The service runs its jobs
in threads here (no worker process), started when the test says."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from scatviz.server.budget import ServerBudget
from scatviz.server.service import TransformService
from scatviz.server.workers import compute_in_worker
from tests.conftest import wait_until
from tests.scatviz.states import noise_state


class GatedStart:
    """Runs each job in a thread once ``gate`` is set."""

    def __init__(self):
        self.gate = threading.Event()
        self.pool = ThreadPoolExecutor(2)

    def __call__(self, slot, job) -> Future:
        def run():
            assert self.gate.wait(60)
            return compute_in_worker(*job.payload)
        return self.pool.submit(run)


def _wait_until(pred, timeout=30.0):
    return wait_until(pred, timeout)


def _service():
    start = GatedStart()
    svc = TransformService(ServerBudget(total=1 << 30, per_request=1 << 29, cache=1 << 26,
                                        workers=1), start=start)
    return svc, start


def test_a_queued_page_says_it_is_waiting_then_gets_its_result():
    svc, start = _service()
    busy, waiting = noise_state(svc, 1), noise_state(svc, 2)
    first = busy._submit("all", busy.plan())            # takes the only slot
    seen = []
    waiting.param.watch(lambda e: seen.append(e.new), "waiting")
    with ThreadPoolExecutor(1) as pool:                 # asyncio in a thread of its own
        fut = pool.submit(asyncio.run, waiting.refresh_async())
        assert _wait_until(lambda: any("Waiting for the server" in s for s in seen))
        assert any("ahead" in s or "next" in s for s in seen)
        start.gate.set()
        res = fut.result(timeout=60)
    assert first.future.result(timeout=60) is not None
    assert res is not None and waiting.result is res and waiting.waiting == ""


def test_closing_a_page_cancels_its_queued_work():
    svc, start = _service()
    busy, closed = noise_state(svc, 3), noise_state(svc, 4)
    busy._submit("all", busy.plan())
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(asyncio.run, closed.refresh_async())
        assert _wait_until(lambda: svc.scheduler.queued(closed.session) == 1)
        assert svc.cancel_session(closed.session) == 1   # what on_session_destroyed does
        assert fut.result(timeout=30) is None and closed.result is None
    start.gate.set()
    assert svc.scheduler.queued() == 0
