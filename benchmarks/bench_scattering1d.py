"""Scattering1D speed and memory, scatviz beside Kymatio, in one run.

Usage (from the repository root)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_scattering1d.py \
        --kymatio-python .venv-kymatio/bin/python [--repeats 15] [--out benchmarks/_out/s1d.json]

``--kymatio-python`` is an interpreter with ``kymatio`` installed, Kymatio main or 0.3.0 (0.3.0 needs
``scipy<1.17``; make it with ``python3 -m venv .venv-kymatio && .venv-kymatio/bin/pip install
torch==2.13.0 'scipy<1.17' kymatio==0.3.0``). Without it only scatviz is timed.

Method
------
* One worker process per library, each with 2 torch threads and ``OMP_WAIT_POLICY=PASSIVE``,
  driven over stdin/stdout. Repetitions alternate between the libraries (A, B, A, B, ...), so
  that load from elsewhere on the machine hits both alike. Each case is warmed up first;
  the report gives medians and the ratio of medians.
* Before timing, the outputs of both are checked equal on the benchmark input: Kymatio 0.3
  scales each path by a power of two relative to Kymatio main (see shared/reference/README.md):
  ``2**k1`` at order 1, ``2**(k1 + min(j2, log2 T))`` at order 2. The check asserts these exact
  factors and a relative error under 1e-5 after them.
* Peak memory: a fresh process per library builds the transform and the input, resets the
  kernel's high-water mark of its resident memory (``/proc/self/clear_refs``), runs one
  forward pass and reads ``VmHWM``: the peak added by the forward pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "J8_Q12_N8192_B64_fwd": dict(J=8, Q=12, N=8192, B=64, backward=False),
    "J8_Q12_N8192_B64_fwd_bwd": dict(J=8, Q=12, N=8192, B=64, backward=True),
    "J6_Q16_N8192_B1_fwd_bwd": dict(J=6, Q=16, N=8192, B=1, backward=True),
    # the seed's classification example: all 3000 FSDD recordings in one call
    "J8_Q12_N8192_B3000_fwd": dict(J=8, Q=12, N=8192, B=3000, backward=False),
}

# --------------------------------------------------------------------------------------------
# Worker side (runs inside either interpreter)
# --------------------------------------------------------------------------------------------

WORKER = r'''
import json, os, sys, time
import numpy as np
import torch
torch.set_num_threads(2)
lib = sys.argv[1]
if lib == "scatviz":
    sys.path.insert(0, sys.argv[2])
    from engine import Scattering1D
else:
    from kymatio.torch import Scattering1D
cache = {}

def setup(case):
    key = json.dumps(case, sort_keys=True)
    if key not in cache:
        S = Scattering1D(J=case["J"], shape=case["N"], Q=case["Q"])
        rng = np.random.default_rng(0)
        x = torch.from_numpy(rng.standard_normal((case["B"], case["N"])).astype(np.float32))
        cache[key] = (S, x)
    return cache[key]

def run(case):
    S, x = setup(case)
    if case["backward"]:
        xg = x.clone().requires_grad_()
        S(xg).square().sum().backward()
    else:
        with torch.no_grad():
            S(x)

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            yield int(line.split()[1])

for line in sys.stdin:
    msg = json.loads(line)
    if msg["cmd"] == "output":
        S, x = setup(msg["case"])
        with torch.no_grad():
            out = S(x).numpy()
        np.save(msg["path"], out)
        reply = {"shape": list(out.shape)}
    elif msg["cmd"] == "time":
        t0 = time.perf_counter()
        run(msg["case"])
        reply = {"seconds": time.perf_counter() - t0}
    elif msg["cmd"] == "memory":
        S, x = setup(msg["case"])
        import gc; gc.collect()
        rss_before = list(hwm_kib())[1]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        run(msg["case"])
        hwm = list(hwm_kib())[0]
        reply = {"peak_added_mib": (hwm - rss_before) / 1024}
    print(json.dumps(reply), flush=True)
'''


class Worker:
    def __init__(self, python: str, lib: str):
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="2")
        self.lib = lib
        self.proc = subprocess.Popen([python, "-c", WORKER, lib, str(ROOT)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.lib} worker died")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def check_equal(case: dict, ours_path: Path, kym_path: Path) -> float:
    """Largest relative error per channel: as they are (Kymatio main computes our numbers), or
    after Kymatio 0.3's known power-of-two scale, whichever matches."""
    import math

    import numpy as np
    sys.path.insert(0, str(ROOT))
    from engine import Scattering1D

    S = Scattering1D(J=case["J"], shape=case["N"], Q=case["Q"])
    meta = S.meta()
    log2_T = S.log2_T
    ours, kym = np.load(ours_path), np.load(kym_path)
    assert ours.shape == kym.shape, (ours.shape, kym.shape)
    factors = np.ones(len(meta["order"]))
    for c, (order, j) in enumerate(zip(meta["order"], meta["j"])):
        if order >= 1:
            k1 = min(int(j[0]), log2_T)
            factors[c] = 2.0**k1 if order == 1 else 2.0 ** (k1 + min(int(j[1]), log2_T))

    def worst(scale):
        scaled = kym * scale[None, :, None]
        err = np.linalg.norm(ours - scaled, axis=(0, 2)) / np.maximum(
            np.linalg.norm(scaled, axis=(0, 2)), 1e-30)
        return float(err.max())

    best = min(worst(np.ones_like(factors)), worst(factors))
    if not best < 1e-5 or math.isnan(best):
        raise AssertionError(f"outputs differ: worst channel relative error {best:.2e}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kymatio-python", help="interpreter with kymatio installed")
    parser.add_argument("--repeats", type=int, default=15, help="timed repetitions per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed repetitions per case")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/_out/s1d.json")
    parser.add_argument("--cases", nargs="*", default=list(CASES)[:3],
                        help="cases to time (default: the three at batch 1 and 64)")
    parser.add_argument("--memory-case", default="J8_Q12_N8192_B64_fwd", choices=list(CASES),
                        help="the case whose peak memory is measured in fresh processes")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    libs = {"scatviz": sys.executable}
    if args.kymatio_python:
        libs["kymatio"] = args.kymatio_python
    workers = {lib: Worker(py, lib) for lib, py in libs.items()}
    results: dict = {"cases": {}, "memory": {}}
    try:
        for name in args.cases:
            case = CASES[name]
            entry = results["cases"].setdefault(name, {})
            if "kymatio" in workers and not case["backward"]:
                paths = {lib: args.out.parent / f"{name}_{lib}.npy" for lib in workers}
                for lib, w in workers.items():
                    w.ask(cmd="output", case=case, path=str(paths[lib]))
                entry["max_rel_err_vs_kymatio"] = check_equal(case, paths["scatviz"],
                                                              paths["kymatio"])
            times = {lib: [] for lib in workers}
            for i in range(args.warmup + args.repeats):
                for lib, w in workers.items():
                    t = w.ask(cmd="time", case=case)["seconds"]
                    if i >= args.warmup:
                        times[lib].append(t)
            for lib, ts in times.items():
                entry[lib] = {"median_s": statistics.median(ts), "min_s": min(ts),
                              "max_s": max(ts)}
            if "kymatio" in workers:
                entry["speedup"] = entry["kymatio"]["median_s"] / entry["scatviz"]["median_s"]
            print(name, json.dumps(entry), flush=True)
    finally:
        for w in workers.values():
            w.close()

    case = CASES[args.memory_case]
    for lib, py in libs.items():
        w = Worker(py, lib)
        try:
            results["memory"][lib] = w.ask(cmd="memory", case=case)["peak_added_mib"]
        finally:
            w.close()
    if "kymatio" in results["memory"]:
        results["memory"]["ratio"] = results["memory"]["scatviz"] / results["memory"]["kymatio"]
    print("memory", args.memory_case, json.dumps(results["memory"]), flush=True)
    results["memory_case"] = args.memory_case
    results["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
