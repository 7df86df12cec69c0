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
