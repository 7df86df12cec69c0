"""The server's policy parts with injected costs: the byte-bounded cache, the budget option,
the cost plan (run / reduce / refuse) and the fair queue. No worker process, no Panel."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest

from engine._costs import BudgetError, Cost
from scatviz.cache import LRUCache, nbytes
from scatviz.server.budget import ServerBudget, parse_bytes
from scatviz.server.costing import (
    plan_request,
    scalogram_cost,
    setting_cost,
    transforms_for,
)
from scatviz.server.queue import FairScheduler

SETTINGS = dict(J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1, design="kymatio", with_jtfs=True)


# ---- cache ---------------------------------------------------------------------------------

def test_cache_is_bounded_in_bytes_not_entries():
    c = LRUCache(max_bytes=10_000)
    for i in range(5):
        c.put(i, np.zeros(500, np.float32))           # 2,000 bytes each
    assert len(c) == 5 and c.nbytes == 10_000
    c.put("big", np.zeros(1000, np.float32))          # 4,000: the two oldest go
    assert 0 not in c and 1 not in c and 2 in c and c.nbytes <= 10_000
    assert not c.put("huge", np.zeros(10_000))        # larger than the bound: not stored
    assert "huge" not in c and c.refused == 1
    c.resize(max_bytes=4_000)
    assert c.nbytes <= 4_000 and "big" in c


def test_nbytes_counts_arrays_inside_results_once():
    a = np.zeros(1000, np.float32)
    assert nbytes({"x": a, "y": [a, a]}) < 2 * a.nbytes
    assert nbytes({"x": a, "y": np.ones(10)}) >= a.nbytes + 80


def test_cache_needs_a_bound():
    with pytest.raises(ValueError, match="bound"):
        LRUCache()


# ---- budget option ---------------------------------------------------------------------------

def test_budget_option_and_its_default():
    b = ServerBudget.from_env({"SCATVIZ_MEMORY_BUDGET": "4G", "SCATVIZ_WORKERS": "3"})
    assert b.total == 4 * 2**30 and b.per_request == 2 * 2**30 and b.workers == 3
    assert b.cache + b.in_flight == b.total
    d = ServerBudget.from_env({})
    from scatviz.server.budget import machine_ram_bytes
    assert d.total == machine_ram_bytes() // 4
    assert parse_bytes("512M") == 512 * 2**20 and parse_bytes("1.5G") == 3 * 2**29
    for bad in ("lots", "-1G", "0"):
        with pytest.raises(ValueError):
            parse_bytes(bad)


# ---- costing ---------------------------------------------------------------------------------

def linear(per_sample: int, calls: list | None = None):
    """An injected estimator: peak and output grow linearly with the length."""
    def est(kind, shape, batch=1, **params):
        if calls is not None:
            calls.append((kind, shape, params))
        n = int(shape)
        return Cost(peak_bytes=per_sample * n, output_bytes=n * 4, output_shape=(1, n),
                    seconds=n * 1e-7)
    return est


def test_the_setting_is_the_transforms_the_dashboard_runs():
    kinds = [k for k, _ in transforms_for(SETTINGS)]
    assert kinds == ["scattering1d", "jtfs"]
    short_T = [k for k, _ in transforms_for({**SETTINGS, "T": 16})]
    assert short_T == ["scattering1d", "scattering1d", "jtfs"]      # + the unaveraged one
    assert [k for k, _ in transforms_for({**SETTINGS, "with_jtfs": False})] == ["scattering1d"]
    calls = []
    c = setting_cost(1000, SETTINGS, estimator=linear(100, calls))
    sc = scalogram_cost(1000, SETTINGS)                 # the moduli kept as the scalogram
    assert sc.output_bytes == (6 * 8 + 1) * 1000 * 4
    # sequential: each peak comes on top of the outputs kept before it
    s1d_out = 4 * 1000
    assert c.peak_bytes == max(100 * 1000, s1d_out + sc.peak_bytes,
                               s1d_out + sc.output_bytes + 100 * 1000)
    assert c.output_bytes == 8000 + sc.output_bytes
    assert calls[1][2]["J_fr"] == 3 and calls[0][2]["Q"] == (8, 1)


def test_a_request_that_fits_runs_whole():
    p = plan_request(10_000, 8000.0, SETTINGS, budget_bytes=10**7, estimator=linear(100))
    assert p.ok and p.samples == 10_000 and not p.message


def test_a_long_signal_is_reduced_to_the_prefix_that_fits_with_a_message():
    sr = 192_000.0
    N = int(30 * sr)
    budget = 100 << 20
    est = linear(1000)
    p = plan_request(N, sr, SETTINGS, budget_bytes=budget, estimator=est)
    assert p.ok and p.reduced and 0 < p.samples < N
    assert setting_cost(p.samples, SETTINGS, estimator=est).peak_bytes <= budget
    assert setting_cost(int(p.samples * 1.05), SETTINGS, estimator=est).peak_bytes > budget
    assert "Analysing the first" in p.message and "of 30.00 s" in p.message


def test_a_request_no_prefix_can_hold_is_refused_with_what_is_allowed():
    p = plan_request(10**9, 8000.0, SETTINGS, budget_bytes=1000, estimator=linear(10**6))
    assert not p.ok and p.samples == 0
    assert "Too large" in p.message and "1000 B" in p.message and "Lower J" in p.message


def test_a_budget_error_from_the_engine_reduces_too():
    def est(kind, shape, batch=1, **params):
        if shape > 50_000:
            raise BudgetError("too long for any budget", minimum_bytes=None)
        return Cost(shape * 10, shape * 4, (1, shape), 0.0)
    assert setting_cost(50_000, SETTINGS, estimator=est).peak_bytes < 10**9
    p = plan_request(10**6, 8000.0, SETTINGS, budget_bytes=10**9, estimator=est)
    assert p.ok and p.reduced and p.samples <= 50_000


def test_jtfs_is_costed_by_the_engines_own_model():
    from engine import estimate_cost

    work = transforms_for(SETTINGS)
    i = [k for k, _ in work].index("jtfs")
    c = setting_cost(2**14, SETTINGS)
    want = estimate_cost("jtfs", 2**14, 1, **work[i][1])
    assert c.parts[f"jtfs#{i}"] == want and c.peak_bytes >= want.peak_bytes


def test_an_invalid_setting_is_left_to_the_transform():
    def est(kind, shape, batch=1, **params):
        raise ValueError("2**J > N")
    p = plan_request(100, 8000.0, SETTINGS, budget_bytes=10**9, estimator=est)
    assert p.ok and p.samples == 100 and p.cost is None


def test_the_real_estimate_refuses_the_hostile_sizes():
    """With the engine's model (Scattering1D and JTFS): a billion samples never fits a quarter of
    this machine, and a 1 s signal does."""
    b = ServerBudget.from_env({})
    huge = plan_request(10**9, 8000.0, SETTINGS, budget_bytes=b.per_request)
    assert not huge.ok or huge.samples < 10**9
    small = plan_request(8192, 8000.0, SETTINGS, budget_bytes=b.per_request)
    assert small.ok and small.samples == 8192 and not small.message


# ---- fair queue ------------------------------------------------------------------------------

class ManualStart:
    """A ``start`` whose jobs finish when the test says so."""

    def __init__(self):
        self.started: list = []

    def __call__(self, slot, job):
        f = Future()
        self.started.append((slot, job, f))
        return f

    def finish(self, i=0, value="ok"):
        slot, job, f = self.started.pop(i)
        f.set_result(value)
        return job


def test_sessions_take_turns_and_concurrency_is_limited():
    start = ManualStart()
    s = FairScheduler(start, slots=1)
    a = [s.submit("A", f"a{i}") for i in range(3)]         # A floods the queue
    b = s.submit("B", "b0")
    assert [j.payload for _, j, _ in start.started] == ["a0"] and s.running() == 1
    assert s.position(b) == 1                             # B is next, not after all of A
    order = []
    for _ in range(4):                                    # bounded
        order.append(start.finish().payload)
    assert order == ["a0", "b0", "a1", "a2"]
    assert all(j.future.result() == "ok" for j in [*a, b])


def test_in_flight_memory_is_bounded():
    start = ManualStart()
    s = FairScheduler(start, slots=3, memory_bytes=100)
    s.submit("A", "a", cost_bytes=60)
    b = s.submit("B", "b", cost_bytes=60)                 # 120 > 100: waits for memory
    assert len(start.started) == 1 and b.state == "queued"
    start.finish()
    assert b.state == "running" and s.peak_in_flight_bytes == 60


def test_closing_a_page_cancels_its_queued_work():
    start = ManualStart()
    s = FairScheduler(start, slots=1)
    s.submit("A", "a0")
    queued = [s.submit("B", f"b{i}") for i in range(3)]
    c = s.submit("C", "c0")
    assert s.cancel_session("B") == 3
    assert all(j.future.cancelled() for j in queued)
    start.finish()
    assert [j.payload for _, j, _ in start.started] == ["c0"]
    start.finish()
    assert c.future.result() == "ok" and s.queued() == 0 and s.running() == 0


def test_a_failing_job_fails_alone():
    def start(slot, job):
        f = Future()
        if job.payload == "bad":
            f.set_exception(MemoryError("boom"))
        else:
            f.set_result(job.payload)
        return f
    s = FairScheduler(start, slots=1)
    bad, good = s.submit("A", "bad"), s.submit("B", "good")
    with pytest.raises(MemoryError):
        bad.future.result(timeout=5)
    assert good.future.result(timeout=5) == "good"


def test_the_queue_is_thread_safe_under_many_sessions():
    lock = threading.Lock()
    done = []

    def start(slot, job):
        f = Future()

        def run():
            with lock:
                done.append(job.payload)
            f.set_result(job.payload)
        threading.Timer(0.001, run).start()
        return f
    s = FairScheduler(start, slots=2, memory_bytes=10)
    jobs = [s.submit(f"S{i % 8}", i, cost_bytes=5) for i in range(80)]
    assert sorted(j.future.result(timeout=30) for j in jobs) == list(range(80))
    assert s.peak_in_flight_bytes <= 10 and s.running() == 0
