"""JTFS forward vs Scattering1D forward, forward+backward, and peak memory (RSS, child process).

Run: OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_jtfs.py [--repeats 3]
Settings (WaveSpin's defaults): N=8192, J=8, Q=16, J_fr=5, Q_fr=2, F=16, batch 8, 2 threads.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

ARGS = dict(N=8192, J=8, Q=16, J_fr=5, Q_fr=2, F=16, B=8)


def build(kind):
    from engine import Scattering1D, TimeFrequencyScattering
    a = ARGS
    if kind == "s1":
        return Scattering1D(J=a["J"], shape=a["N"], Q=a["Q"])
    return TimeFrequencyScattering(J=a["J"], J_fr=a["J_fr"], Q=a["Q"], shape=a["N"],
                                   Q_fr=a["Q_fr"], F=a["F"])


def timed(fn):
    """Wall time and CPU time (time.process_time: far less sensitive to other processes' load
    on a shared machine) of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _peak_kib():
    """This process's peak RSS (KiB): VmHWM, which `_reset_peak` can reset (ru_maxrss can
    carry the parent's peak across fork + exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def child(kind):
    """Peak RSS increase of one forward pass in this fresh process (MiB)."""
    torch.set_num_threads(2)
    m = build(kind)
    x = torch.randn(ARGS["B"], ARGS["N"])
    _reset_peak()
    base = _peak_kib()
    m(x)
    peak = _peak_kib()
    print(json.dumps({"kind": kind, "delta_mib": (peak - base) / 1024,
                      "peak_mib": peak / 1024}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--child")
    args = p.parse_args()
    if args.child:
        return child(args.child)
    # Memory first, in fresh child processes, before this process grows.
    mem = {}
    for kind in ("s1", "jtfs"):
        out = subprocess.run([sys.executable, __file__, "--child", kind], capture_output=True,
                             text=True, check=True).stdout
        mem[kind] = json.loads(out.strip().splitlines()[-1])
    torch.set_num_threads(2)
    x = torch.randn(ARGS["B"], ARGS["N"])
    s1, jt = build("s1"), build("jtfs")
    # Interleaved rounds, so that load changes hit every measure alike.
    xg = x.clone().requires_grad_(True)
    fns = {"s1": lambda: s1(x), "jtfs": lambda: jt(x),
           "jtfs_fb": lambda: jt(xg).sum().backward()}
    for fn in fns.values():                            # warm-up
        fn()
    rounds = {k: [] for k in fns}
    for _ in range(args.repeats):
        for k, fn in fns.items():
            rounds[k].append(timed(fn))
    (w_s1, c_s1), (w_j, c_j), (w_jb, c_jb) = (
        tuple(statistics.median(r[i] for r in rounds[k]) for i in (0, 1)) for k in fns)
    print("medians over", args.repeats, "rounds:   wall            CPU time")
    print(f"Scattering1D forward      {w_s1:8.3f} s        {c_s1:8.3f} s")
    print(f"JTFS forward              {w_j:8.3f} s ({w_j / w_s1:4.1f}x) {c_j:8.3f} s ({c_j / c_s1:4.1f}x"
          f" Scattering1D)")
    print(f"JTFS forward + backward   {w_jb:8.3f} s ({w_jb / w_j:4.1f}x) {c_jb:8.3f} s "
          f"({c_jb / c_j:4.1f}x forward)")
    for kind, r in mem.items():
        print(f"peak RSS, {kind:5s} (whole process) {r['peak_mib']:8.0f} MiB, "
              f"increase during forward {r['delta_mib']:6.0f} MiB")


if __name__ == "__main__":
    main()
