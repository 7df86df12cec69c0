"""`memprobe.probe_quietest`'s rule, with a stand-in measurement (no process, no torch call):
only the points above their band are measured again, at most ``retries`` times, and each
keeps its quietest run."""

from __future__ import annotations

from tests.engine.memprobe import probe_quietest


def _runner(peaks: dict):
    """Measures point ``p`` (a name) as the next of ``peaks[p]``; logs each list it gets."""
    calls = []

    def run(points):
        calls.append(list(points))
        return [{"point": p, "pred_peak": 100, "peak": peaks[p].pop(0)} for p in points]

    return run, calls


def test_only_points_above_the_band_are_measured_again_and_keep_their_quietest_run():
    # "a" in its band at once; "b" above, then in it; "c" above in every run
    run, calls = _runner({"a": [120], "b": [200, 140], "c": [400, 300, 350]})
    rows = probe_quietest(["a", "b", "c"], band=1.5, retries=2, run=run)
    assert calls == [["a", "b", "c"], ["b", "c"], ["c"]]   # "b" stops once in its band
    assert [r["point"] for r in rows] == ["a", "b", "c"]
    assert [r["peak"] for r in rows] == [120, 140, 300]    # the smallest growth of each
    assert [r.get("runs", 1) for r in rows] == [1, 2, 3]


def test_retries_bound_the_measurements():
    run, calls = _runner({"c": [400, 300]})
    rows = probe_quietest(["c"], retries=1, run=run)
    assert len(calls) == 2 and rows[0]["peak"] == 300 and rows[0]["runs"] == 2
    run, calls = _runner({"c": [400]})
    assert probe_quietest(["c"], retries=0, run=run)[0]["peak"] == 400 and len(calls) == 1
