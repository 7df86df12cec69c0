"""ScatState and the shared transform cache (no browser)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from scatviz.signals_io import load_asset
from scatviz.state import TRANSFORM_CACHE, ScatState, compute_transforms


@pytest.fixture
def chirp():
    return load_asset("chirp_exp")


def test_state_computes_scalogram_in_hz(chirp):
    st = ScatState.from_loaded(chirp, J=6, Q1=8)
    res = st.result
    sc = res.scalogram
    assert sc.mag.dtype == np.float32
    assert sc.mag.shape == (len(sc.freqs), len(sc.times))
    # frequencies from the engine, in Hz, highest first, below Nyquist
    assert sc.freqs[0] < chirp.sample_rate / 2 and np.all(np.diff(sc.freqs) < 0)
    assert sc.duration == pytest.approx(len(chirp.x) / chirp.sample_rate)
    assert st.error == ""
    # scattering energies per order
    assert set(res.scattering.energy_per_order) == {0, 1, 2}


def test_cache_one_transform_per_setting(chirp):
    TRANSFORM_CACHE.clear()
    kw = dict(J=5, Q1=4, Q2=1, T=0, J_fr=2, Q_fr=1, F=0, design="kymatio", with_jtfs=False)
    a = compute_transforms(chirp.x, chirp.sample_rate, **kw)
    misses = TRANSFORM_CACHE.misses
    b = compute_transforms(chirp.x.copy(), chirp.sample_rate, **kw)
    assert b.scalogram is a.scalogram and b.scattering is a.scattering      # shared, not redone
    assert TRANSFORM_CACHE.misses == misses
    c = compute_transforms(chirp.x, chirp.sample_rate, **{**kw, "J": 6})
    assert c.scalogram is not a.scalogram


@pytest.mark.parametrize("T", [0, 2**6, 8])
def test_scalogram_is_the_unaveraged_first_order_whatever_T(chirp, T):
    """The scalogram is ``|x * psi1|`` of the unaveraged module (T=0), pooled for display,
    whether it comes from the scattering's own pass (default T) or, with a low-pass shorter
    than the largest wavelets, from the unaveraged module: it never changes with T."""
    import torch

    from engine import Scattering1D
    from scatviz.state import _pool_rows

    x, sr = chirp.x, chirp.sample_rate
    TRANSFORM_CACHE.clear()
    res = compute_transforms(x, sr, J=6, Q1=8, Q2=1, T=T, J_fr=2, Q_fr=1, F=0,
                             design="kymatio", with_jtfs=False)
    S0 = Scattering1D(6, len(x), Q=(8, 1), T=0, max_order=1, out_type="list")
    with torch.no_grad():
        rows = [o["coef"].numpy() for o in S0(torch.from_numpy(x)) if o["order"] == 1]
    hop = res.scalogram.hop
    want = _pool_rows(rows, [len(x) // len(r) for r in rows], len(x), hop)
    np.testing.assert_array_equal(res.scalogram.mag, want)
    m = S0.meta(sample_rate=sr)
    np.testing.assert_array_equal(res.scalogram.freqs, m["xi_hz"][m["order"] == 1, 0])
    S = Scattering1D(6, len(x), Q=(8, 1), T=T or None)
    with torch.no_grad():
        np.testing.assert_array_equal(res.scattering.coefs, S(torch.from_numpy(x)).numpy())


def test_base_stage_then_jtfs(chirp):
    TRANSFORM_CACHE.clear()
    kw = dict(J=5, Q1=8, Q2=1, T=0, J_fr=2, Q_fr=1, F=1, design="kymatio")
    a = compute_transforms(chirp.x, chirp.sample_rate, stage="base", **kw)
    assert a.jtfs_pending and a.jtfs is None
    b = compute_transforms(chirp.x, chirp.sample_rate, **kw)
    assert not b.jtfs_pending and b.jtfs is not None and b.scalogram is a.scalogram
    # changing a JTFS parameter reuses the Scattering1D part
    c = compute_transforms(chirp.x, chirp.sample_rate, stage="base", **{**kw, "J_fr": 3})
    assert c.scalogram is a.scalogram and c.jtfs_pending


def test_invalid_setting_keeps_last_result_and_reports(chirp):
    st = ScatState.from_loaded(chirp, J=6)
    good = st.result
    st.J = 14          # 2**14 > 8192 samples
    assert st.result is good
    assert "J=14" in st.error and "too large" in st.error
    st.J = 7
    assert st.error == "" and st.result is not good


def test_jtfs_missing_is_reported_not_faked(chirp):
    st = ScatState.from_loaded(chirp, J=6)
    assert st.result.jtfs is not None or st.result.jtfs_error


def test_refresh_async_publishes(chirp):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    st = ScatState.from_loaded(chirp, auto=False, J=5)
    assert st.result is None
    # A fresh thread has no event loop, whatever earlier tests (playwright's sync API) left
    # running in this one.
    with ThreadPoolExecutor(1) as pool:
        res = pool.submit(asyncio.run, st.refresh_async()).result()
    assert st.result is res and not st.busy


def test_jtfs_computes_while_the_first_views_are_published(chirp, monkeypatch):
    """When JTFS is slow (progressive publication), its computation starts before the
    Scattering1D views are published, not after: publishing the first views (and the browser
    drawing them) overlaps with JTFS."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    TRANSFORM_CACHE.clear()
    st = ScatState.from_loaded(chirp, auto=False, J=5, Q1=6)
    st._jtfs_seconds = 10.0                      # as if the last JTFS was slow
    started = threading.Event()
    seen = []
    compute, apply = st.compute, st.apply

    def spy_compute(stage="all", plan=None):
        if stage == "jtfs":
            started.set()
        return compute(stage, plan)

    def spy_apply(res, error=""):
        if res is not None and res.jtfs_pending:  # the first views: JTFS must be under way
            seen.append(started.wait(timeout=5))
        apply(res, error)

    monkeypatch.setattr(st, "compute", spy_compute)
    monkeypatch.setattr(st, "apply", spy_apply)
    with ThreadPoolExecutor(1) as pool:
        res = pool.submit(asyncio.run, st.refresh_async()).result()
    assert seen == [True]
    assert res.jtfs is not None and st.result is res


def test_busy_only_for_slow_changes_and_cleared_in_the_last_message(chirp, monkeypatch):
    """A setting from the cache publishes without switching ``busy`` on and off; a slow one
    switches it on while it computes, and off inside the held publication (same message)."""
    import asyncio
    import contextlib
    import time as _time
    from concurrent.futures import ThreadPoolExecutor

    from scatviz import state as state_mod

    st = ScatState.from_loaded(chirp, auto=False, J=5, with_jtfs=False)
    log = []
    st.param.watch(lambda e: log.append(("busy", e.new)), "busy")

    @contextlib.contextmanager
    def hold():
        log.append("hold")
        yield
        log.append("release")

    def run():
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, st.refresh_async(hold=hold)).result()

    run()                                    # computes (and caches) this setting
    log.clear()
    run()                                    # from the cache: no busy flag at all
    assert log == ["hold", "release"]

    compute = ScatState.compute
    monkeypatch.setattr(ScatState, "compute", lambda self, stage="all", plan=None: (
        _time.sleep(3 * state_mod.BUSY_AFTER), compute(self, stage, plan))[1])
    run()
    assert log[2:] == [("busy", True), "hold", ("busy", False), "release"]


def _run_fresh(coro):
    """``asyncio.run(coro)`` in a thread of its own: an earlier test of the suite may leave an
    event loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


def test_a_change_from_another_thread_wakes_the_jtfs_wait_without_polling(chirp):
    """`ScatState._superseded` is woken by a change of the inputs (a watcher setting an
    event: the other thread's change is seen at once), returns False when the JTFS arrives
    first, and leaves no watcher behind either way."""
    import asyncio
    import threading

    st = ScatState.from_loaded(chirp, auto=False, J=5, with_jtfs=False)
    watchers = lambda: sum(len(w) for p in st.param.watchers.values()   # noqa: E731
                           for w in p.values())
    n0 = watchers()
    calls, key = [], st.key
    st.key = lambda: (calls.append(1), key())[1]        # each look at the parameters

    async def wait_change():
        key, pending = st.key(), asyncio.get_running_loop().create_future()
        threading.Timer(0.2, lambda: setattr(st, "J", 6)).start()
        return await asyncio.wait_for(st._superseded(key, pending), timeout=60)

    async def wait_result():
        key, pending = st.key(), asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.2, pending.set_result, "jtfs")
        return await asyncio.wait_for(st._superseded(key, pending), timeout=60)

    assert _run_fresh(wait_change()) is True and st.J == 6
    assert len(calls) <= 3, f"looked at the parameters {len(calls)} times: polling"
    assert watchers() == n0
    assert _run_fresh(wait_result()) is False
    assert watchers() == n0


def test_the_first_change_is_progressive_when_the_engine_expects_a_slow_jtfs(chirp):
    """Progressive publication is decided from the engine's JTFS cost estimate (so the first
    change of a session too), or from the session's last JTFS when that was slower."""
    from engine._costs import Cost
    from scatviz.server.costing import Plan, SettingCost

    def plan(jtfs_s):
        parts = {"scattering1d#0": Cost(0, 0, (), 5.0), "jtfs#1": Cost(0, 0, (), jtfs_s)}
        return Plan(True, 4096, SettingCost(4096, 0, 0, 5.0 + jtfs_s, parts))

    st = ScatState.from_loaded(chirp, auto=False, J=5)
    assert st._jtfs_seconds == 0.0                       # nothing measured yet
    assert st._progressive(plan(1.0)) is True
    assert st._progressive(plan(0.05)) is False          # the Scattering1D's 5 s do not count
    st._jtfs_seconds = 1.0                               # the last JTFS was slow
    assert st._progressive(plan(0.05)) is True
    st.with_jtfs = False
    assert st._progressive(plan(1.0)) is False
    assert ScatState.from_loaded(chirp, auto=False, J=5)._progressive(
        Plan(True, 4096, None)) is False                 # no estimate, nothing measured
