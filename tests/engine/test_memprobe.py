"""`memprobe`'s rules, on stand-in rows (no process, no torch call): `probe_quietest` measures
only the points above their band again, at most ``retries`` times, and each keeps its
quietest run; `peak_misses` and `time_misses` name the rows outside their bands."""

from __future__ import annotations

from tests.engine.memprobe import peak_misses, probe_quietest, time_misses


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


def test_misses_name_the_rows_outside_their_band_either_way():
    MiB = 2**20
    rows = [{"n": k, "pred_peak": p * MiB, "peak": 100 * MiB, "runs": 3,
             "pred_seconds": s, "cpu": 2.0, "threads": 2} for k, (p, s) in
            enumerate([(100, 1.0), (149, 4.9), (151, 5.1), (66, 0.19), (67, 0.21)])]
    label = "point {n}".format_map
    assert peak_misses(rows, label) == [
        "point 2: predicted 151.0 MiB, measured 100.0 MiB (x1.51, best of 3 runs)",
        "point 3: predicted 66.0 MiB, measured 100.0 MiB (x0.66, best of 3 runs)"]
    assert [m.split(":")[0] for m in time_misses(rows, label)] == ["point 2", "point 3"]
    assert peak_misses(rows, label, band=2) == [] and time_misses(rows, label, factor=6) == []
