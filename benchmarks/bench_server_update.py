"""The server's share of a dashboard change, in-process: no browser, no websocket.

Builds a `scatviz.views.dashboard.Dashboard` (``live=False``: a change computes and updates
every view synchronously) on the bundled exponential chirp (N=8192 at 8 kHz) and makes the
same 20 changes to new settings as `bench_dashboard.py` (Q1 up 9..18 at J=6, then J=5 and
Q1 down 17..9), then 10 toggles between two settings already computed. Per change: wall time
and CPU time of the process (all threads; on a shared host the CPU time varies less than
the wall time), and the parts that `scatviz.state.compute_transforms` times (scalogram,
scattering, JTFS, each including its module's construction when new).

The browser benchmark measures what a user waits for; this one isolates the server's work so
that a change of ~10 ms can be seen through the host's noise. For an A/B, run it from two
checkouts, alternating (``--no-retain`` measures without the app's `retain_freed_memory`),
e.g.::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_server_update.py
    (cd ../other && OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. ../main/.venv/bin/python \\
        benchmarks/bench_server_update.py)
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _measure(d, changes) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"wall": [], "cpu": [], "faults": []}
    for name, value in changes:
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        c0, t0 = time.process_time(), time.perf_counter()
        setattr(d.state, name, value)
        out["wall"].append(time.perf_counter() - t0)
        out["cpu"].append(time.process_time() - c0)
        out["faults"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        res = d.state.result
        if res is None or res.jtfs is None:
            raise RuntimeError(f"{name}={value}: no JTFS result ({d.state.error})")
        if name == "Q1" and res.seconds > 0.005:   # computed, not from the cache
            for part, seconds in res.timings.items():
                out.setdefault(part, []).append(seconds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-retain", action="store_true",
                    help="keep glibc's default malloc (skip retain_freed_memory)")
    args = ap.parse_args()
    from scatviz.process import freeze_startup_objects
    from scatviz.views.dashboard import Dashboard

    if not args.no_retain:                    # as the app does
        from scatviz.process import retain_freed_memory

        retain_freed_memory()
    freeze_startup_objects()
    d = Dashboard(live=False)
    d.template()                              # every view's figures exist, as when served
    new = [("Q1", q) for q in range(9, 19)] + [("J", 5)] + [("Q1", q) for q in range(17, 8, -1)]
    fresh = _measure(d, new)
    cached = _measure(d, [("Q1", 10 if i % 2 == 0 else 9) for i in range(10)])
    print(f"{len(new)} new settings (N=8192): median wall "
          f"{1e3 * np.median(fresh['wall']):.1f} ms, CPU {1e3 * np.median(fresh['cpu']):.1f} ms, "
          f"page faults {np.median(fresh['faults']):.0f}")
    for part in ("scalogram", "scattering", "jtfs"):
        if part in fresh:
            print(f"  {part:10s} median {1e3 * np.median(fresh[part]):6.1f} ms")
    print(f"10 cached settings: median wall {1e3 * np.median(cached['wall']):.1f} ms, "
          f"CPU {1e3 * np.median(cached['cpu']):.1f} ms")


if __name__ == "__main__":
    main()
