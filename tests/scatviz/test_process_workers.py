"""Transforms in worker processes: a native crash (``os.abort``) or a MemoryError in one
request fails that request only; the other session's transforms go on, and the dead worker is
replaced. Real spawned processes (slow: each imports torch)."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.server.budget import ServerBudget
from scatviz.server.service import TransformService
from scatviz.server.workers import compute_in_worker, hooks_enabled
from tests.scatviz.states import noise_state

pytestmark = pytest.mark.slow


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setenv("SCATVIZ_TEST_HOOKS", "1")       # inherited by the spawned workers
    svc = TransformService(ServerBudget(total=2 << 30, per_request=1 << 30, cache=64 << 20,
                                        workers=2))
    assert not svc.workers_ready()      # (jobs compute in-process, queued, until)
    svc.pool.warm()
    assert svc.workers_ready()
    yield svc
    svc.shutdown()


def test_a_crashing_transform_fails_alone_and_its_worker_is_replaced(service):
    crasher, other = noise_state(service, 1), noise_state(service, 2)
    assert other.refresh() is not None and not other.error          # workers up
    crasher.hook = "abort"
    crash_job = crasher._submit("all", crasher.plan())
    other.Q1 = 6
    ok_job = other._submit("all", other.plan())
    with pytest.raises(Exception) as info:
        crash_job.future.result(timeout=300)
    assert type(info.value).__name__ == "BrokenProcessPool"
    res = ok_job.future.result(timeout=300)                       # the other session goes on
    assert res.scalogram.mag.shape[0] > 0 and res.x is not None and len(res.x) == 4096
    # through the state: the page's message, the last picture kept
    crasher.Q1 = 5
    assert crasher.refresh() is None and "crashed" in crasher.error
    # the dead worker is replaced: the next request of that session works
    crasher.hook = None
    crasher.Q1 = 7
    assert crasher.refresh() is not None and not crasher.error
    assert service.pool.restarts >= 1
    # results came back as numpy, and the same setting is now shared from the cache
    assert isinstance(crasher.result.scalogram.mag, np.ndarray)
    hits = service.cache.hits
    assert crasher.refresh() is not None and service.cache.hits == hits + 1


def test_a_memory_error_in_a_worker_is_that_requests_message(service):
    st = noise_state(service, 3)
    st.hook = "memory"
    assert st.refresh() is None and "ran out of memory" in st.error
    st.hook = None
    assert st.refresh() is not None and not st.error
    assert service.pool.restarts == 0                  # a Python error kills no worker


def test_the_hook_is_inert_without_the_environment_variable(monkeypatch):
    monkeypatch.delenv("SCATVIZ_TEST_HOOKS", raising=False)
    assert not hooks_enabled()
    x = np.random.default_rng(0).standard_normal(2048).astype(np.float32)
    settings = dict(J=5, Q1=4, Q2=1, T=0, J_fr=3, Q_fr=1, F=1, design="kymatio",
                    with_jtfs=False)
    res = compute_in_worker(x, 8000.0, "x", "all", settings, hook="abort")   # in-process
    assert res.x.size == 0 and res.scalogram.mag.size > 0
