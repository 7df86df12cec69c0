"""A hung transform (native code that never returns) is stopped after its time limit: its
worker is killed and replaced, that request alone fails with a message saying so, and the
other sessions and the next request go on. The limit comes from the job's cost estimate with
a floor (`ServerBudget.job_timeout`), configurable from the environment."""

from __future__ import annotations

import dataclasses
import time

import pytest

from scatviz.server.budget import ServerBudget
from scatviz.server.service import TransformService, failure_message
from scatviz.server.workers import JobTimeout, WorkerPool
from tests.scatviz.states import noise_state


def test_a_jobs_limit_is_the_floor_or_a_multiple_of_its_estimate():
    b = ServerBudget(8 << 30, 4 << 30, 1 << 30, 2, job_timeout_floor=60, job_timeout_factor=10)
    assert b.job_timeout(0.5) == 60.0 and b.job_timeout(None) == 60.0
    assert b.job_timeout(30.0) == 300.0
    assert dataclasses.replace(b, job_timeout_floor=0).job_timeout(30.0) is None


def test_the_limit_is_configured_from_the_environment():
    env = {"SCATVIZ_MEMORY_BUDGET": "4G", "SCATVIZ_JOB_TIMEOUT": "30",
           "SCATVIZ_JOB_TIMEOUT_FACTOR": "5"}
    b = ServerBudget.from_env(env)
    assert (b.job_timeout_floor, b.job_timeout_factor) == (30.0, 5.0)
    assert "30 s" in b.describe()
    d = ServerBudget.from_env({"SCATVIZ_MEMORY_BUDGET": "4G"})
    assert d.job_timeout_floor >= 60                 # a generous default floor
    with pytest.raises(ValueError, match="SCATVIZ_JOB_TIMEOUT must be a number"):
        ServerBudget.from_env({"SCATVIZ_JOB_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="0 or more"):
        ServerBudget.from_env({"SCATVIZ_JOB_TIMEOUT": "-1"})


def test_the_pages_message_says_the_transform_was_stopped_as_hung():
    msg = failure_message(JobTimeout(120.0, 2.5))
    assert "more than 120 s" in msg and "2.5 s" in msg and "hung" in msg
    assert "Only this request was lost" in msg


def _alive(pid: int, wait_s: float = 30.0) -> bool:
    """True while process ``pid`` exists and is no zombie (waits up to ``wait_s`` for it to
    go)."""
    for _ in range(int(wait_s / 0.1)):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except OSError:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.slow
def test_a_hung_transform_is_stopped_its_worker_replaced_and_the_others_go_on(monkeypatch):
    monkeypatch.setenv("SCATVIZ_TEST_HOOKS", "1")        # inherited by the spawned workers
    svc = TransformService(ServerBudget(total=2 << 30, per_request=1 << 30, cache=64 << 20,
                                        workers=2, job_timeout_floor=3.0,
                                        job_timeout_factor=0.0))
    try:
        svc.pool.warm()
        hung, other = noise_state(svc, 1), noise_state(svc, 2)
        hung.hook = "hang"
        pid_before = set(svc.pool.pids())
        t0 = time.monotonic()
        hang_job = hung._submit("all", hung.plan())
        other.Q1 = 6
        ok = other._submit("all", other.plan()).future.result(timeout=300)
        assert ok.scalogram.mag.shape[0] > 0                 # the other session is served
        with pytest.raises(JobTimeout) as info:
            hang_job.future.result(timeout=300)
        assert time.monotonic() - t0 >= 3.0                  # not before its limit
        assert info.value.seconds == 3.0
        assert svc.pool.kills == 1 and svc.scheduler.running() == 0
        assert any(not _alive(pid) for pid in pid_before)   # the hung worker is gone
        # through the state: the page's message; the last picture (none yet) is kept
        hung.Q1 = 5
        assert hung.refresh() is None
        assert "was stopped" in hung.error and "hung" in hung.error
        assert svc.pool.kills == 2
        # the replaced worker serves the session's next request (a generous limit now: a
        # loaded machine may take seconds for a first transform in a fresh worker)
        svc.budget = dataclasses.replace(svc.budget, job_timeout_floor=300.0)
        hung.hook = None
        hung.Q1 = 7
        assert hung.refresh() is not None and not hung.error
        assert svc.pool.restarts >= 2
    finally:
        svc.shutdown()


@pytest.mark.slow
def test_a_job_within_its_limit_is_not_stopped():
    pool = WorkerPool(1)
    try:
        pool.warm()
        assert pool.submit(0, time.sleep, 0.2, timeout_s=60.0).result(timeout=120) is None
        assert pool.kills == 0 and pool.restarts == 0
    finally:
        pool.shutdown()


def test_the_url_asks_for_the_hang_hook_only_when_the_server_enables_hooks(monkeypatch):
    from scatviz.views.query import parse_query

    monkeypatch.delenv("SCATVIZ_TEST_HOOKS", raising=False)
    assert parse_query({"test_hook": [b"hang"]}, generators={}).hook is None
    monkeypatch.setenv("SCATVIZ_TEST_HOOKS", "1")
    assert parse_query({"test_hook": [b"hang"]}, generators={}).hook == "hang"
    assert parse_query({"test_hook": [b"sleep"]}, generators={}).hook is None
