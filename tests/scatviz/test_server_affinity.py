"""A job goes preferably to the worker that built the transform modules of its length and
Scattering1D setting, whatever its signal: the windows of a long recording (one length, new
samples every change) reuse one worker's modules instead of building them in every worker.
A JTFS-only change (J_fr, Q_fr, F) keeps the worker, whose cache has the Scattering1D part."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from scatviz.server.budget import ServerBudget
from scatviz.server.service import TransformService
from scatviz.state import ScatState


class Recorder:
    def __init__(self):
        self.slots = []

    def __call__(self, slot, job) -> Future:
        self.slots.append((slot, job.slot))
        f = Future()
        f.set_exception(RuntimeError("not computed in this test"))
        return f


def _service(workers: int = 4):
    rec = Recorder()
    svc = TransformService(ServerBudget(total=8 << 30, per_request=2 << 30, cache=1 << 30,
                                        workers=workers), start=rec)
    return svc, rec


def _job(svc, x, **settings):
    st = ScatState(auto=False, with_jtfs=False, **settings)
    st.service = svc
    st.param.update(signal=x, sample_rate=48_000.0)
    return st._submit("all", st.plan())


def test_the_windows_of_one_length_prefer_one_worker_whatever_their_samples():
    svc, rec = _service()
    rng = np.random.default_rng(0)
    for _ in range(12):
        _job(svc, rng.standard_normal(8192).astype(np.float32), J=6, Q1=8)
    preferred = {p for _, p in rec.slots}
    assert len(preferred) == 1
    assert {s for s, _ in rec.slots} == preferred            # free: it got that worker


def test_a_jtfs_only_change_keeps_the_worker_and_the_slot_follows_the_setting():
    svc, _ = _service(workers=8)
    s = ScatState(auto=False).settings()
    a = svc.slot_for(8192, s, 8)
    assert svc.slot_for(8192, dict(s, J_fr=4, Q_fr=2, F=0), 8) == a
    others = {svc.slot_for(8192, dict(s, J=j), 8) for j in range(3, 13)} | \
        {svc.slot_for(n, s, 8) for n in (2**12, 2**14, 2**15, 2**16, 2**17)}
    assert len(others) > 1                                   # not one worker for everything
    assert all(0 <= v < 8 for v in others)


class FakePool:
    """A ready `WorkerPool` stand-in computing in this thread; records the keyword arguments
    and what the "worker" sent back."""

    def __init__(self):
        import threading

        self.ready = threading.Event()
        self.ready.set()
        self.calls = []

    def submit(self, slot, fn, *args, timeout_s=None, estimate_s=None, **kwargs):
        f = Future()
        res = fn(*args, **kwargs)
        self.calls.append((kwargs, res.bank))
        f.set_result(res)
        return f

    def shutdown(self):
        pass


def test_a_windows_filter_bank_is_not_sent_back_when_the_service_holds_that_lengths():
    svc = TransformService(ServerBudget(total=2 << 30, per_request=1 << 30, cache=256 << 20,
                                        workers=1))
    svc.pool.shutdown()
    svc.pool = FakePool()
    rng = np.random.default_rng(1)
    try:
        first = _job(svc, rng.standard_normal(8192).astype(np.float32), J=6, Q1=8)
        r1 = first.future.result(timeout=120)
        assert svc.pool.calls[-1][0] == {"omit_bank": False} and r1.bank is not None
        second = _job(svc, rng.standard_normal(8192).astype(np.float32), J=6, Q1=8)
        r2 = second.future.result(timeout=120)
        kwargs, sent = svc.pool.calls[-1]
        assert kwargs == {"omit_bank": True} and sent is None       # not through the pipe
        assert r2.bank is r1.bank                                   # put back on arrival
        assert not np.array_equal(r2.scalogram.mag, r1.scalogram.mag)
        other = _job(svc, rng.standard_normal(8192).astype(np.float32), J=7, Q1=8)
        r3 = other.future.result(timeout=120)
        assert svc.pool.calls[-1][0] == {"omit_bank": False}        # a new setting's bank
        assert r3.bank is not r1.bank and len(r3.bank.xi1_hz) != len(r1.bank.xi1_hz)
    finally:
        svc.shutdown()
