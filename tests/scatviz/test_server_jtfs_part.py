"""The JTFS part of a served change (stage "jtfs"): computed alone, beside the change's base
views, sent back without the Scattering1D arrays and merged with the base result; the cores
it may take; the service's cache of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scatviz.pipeline import TRANSFORM_CACHE, compute_transforms, merge_jtfs
from scatviz.server.budget import ServerBudget
from scatviz.server.queue import Job
from scatviz.server.service import TransformService
from scatviz.server.workers import compute_in_worker
from scatviz.state import ScatState

KW = dict(J=5, Q1=4, Q2=1, T=0, J_fr=2, Q_fr=1, F=1, design="kymatio", with_jtfs=True)


def _x(seed=0):
    return np.random.default_rng(seed).standard_normal(4096).astype(np.float32)


def test_the_jtfs_stage_computes_the_jtfs_alone_and_merges_into_the_base():
    TRANSFORM_CACHE.clear()
    x = _x()
    base = compute_transforms(x, 8000.0, stage="base", **KW)
    part = compute_transforms(x, 8000.0, stage="jtfs", **KW)
    assert base.jtfs_pending and base.jtfs is None
    assert part.scalogram is None and part.scattering is None and part.bank is None
    assert part.jtfs is not None and not part.jtfs_pending
    full = merge_jtfs(base, part)
    assert full.scalogram is base.scalogram and full.jtfs is part.jtfs
    assert not full.jtfs_pending and "jtfs" in full.timings
    ref = compute_transforms(x, 8000.0, **KW)                  # the one-stage result
    np.testing.assert_array_equal(full.jtfs.up, ref.jtfs.up)
    other = compute_transforms(x, 8000.0, stage="jtfs", **{**KW, "J_fr": 3})
    with pytest.raises(ValueError, match="different settings"):
        merge_jtfs(base, other)


def test_the_jtfs_stage_says_what_is_wrong():
    with pytest.raises(ValueError, match="stage must be one of"):
        compute_transforms(_x(), 8000.0, stage="jtfs-only", **KW)
    with pytest.raises(ValueError, match="needs with_jtfs=True"):
        compute_transforms(_x(), 8000.0, stage="jtfs", **{**KW, "with_jtfs": False})


def test_a_job_restores_its_workers_thread_count():
    own = torch.get_num_threads()
    res = compute_in_worker(_x(1), 8000.0, "x", "jtfs", KW, threads=own + 1)
    assert res.jtfs is not None and res.x.size == 0
    assert torch.get_num_threads() == own


def _job(session, stage):
    return Job(session, (np.zeros(0), 8000.0, "x", stage, KW, None))


def test_a_jtfs_part_alone_takes_every_workers_threads():
    svc = TransformService(ServerBudget(total=1 << 30, per_request=1 << 29, cache=1 << 26,
                                        workers=2))
    try:
        everyone = svc.pool.n * svc.pool.threads
        assert svc._threads_for(_job("a", "jtfs")) == everyone
        assert svc._threads_for(_job("a", "base")) is None       # its worker's share
        svc.scheduler._running[0] = _job("a", "base")           # its own page's base: ok
        assert svc._threads_for(_job("a", "jtfs")) == everyone
        svc.scheduler._running[0] = _job("b", "all")            # another page's: its share
        assert svc._threads_for(_job("a", "jtfs")) is None
    finally:
        svc.scheduler._running.clear()
        svc.shutdown()


def test_the_service_answers_a_repeated_jtfs_part_from_its_cache():
    svc = TransformService(ServerBudget(total=1 << 30, per_request=1 << 29, cache=1 << 26,
                                        workers=2),
                           start=lambda slot, job: _run_now(job))
    st = ScatState(auto=False, J=5, Q1=4, J_fr=2)
    st.service = svc
    st.param.update(signal=_x(2), sample_rate=8000.0)
    first = st._submit("jtfs", st.plan()).future.result(timeout=60)
    again = st._submit("jtfs", st.plan())
    assert again.state == "done" and again.future.result().jtfs is first.jtfs
    assert first.scalogram is None and first.bank is None


def _run_now(job):
    from concurrent.futures import Future

    f = Future()
    x, sr, name, stage, settings, hook = job.payload
    f.set_result(compute_in_worker(x, sr, name, stage, settings, hook))
    return f
