"""Peak memory of a gradient-descent reconstruction at long N (issue 15: forward + backward
within the budget).

The demo's reconstruction (`scatviz.demos.reconstruction.reconstruct`: Adam on
``||S x - S y||``) of the blips signal with the demo's transform, ``Scattering1D(J=6, Q=16)``,
at ``N`` samples, for a few iterations. Each setting runs in a fresh process (this script
re-runs itself), which builds the transform, warms it up with one reconstruction step,
resets the peak resident size (``/proc/self/clear_refs``) and reports the growth of
``VmHWM`` over ``VmRSS`` during ``reconstruct``: the forward passes, the backward passes,
the optimiser's state and the signal's gradient.

    python benchmarks/bench_recon_memory.py [--N 262144] [--iterations 3]
        [--budgets default,inf,268435456]

``default`` is the transform's default ``memory_budget`` (512 MiB), ``inf`` no budget.
Run it with ``PYTHONPATH`` pointing at another checkout to measure that code (an engine
without ``estimate_cost(requires_grad=...)`` prints no prediction). Linux only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

from _proc import reset_peak, status


def _child(N: int, iterations: int, budget: str) -> dict:
    import ctypes

    import torch

    from engine import Scattering1D, estimate_cost
    from engine.signals import blips
    from scatviz.demos.reconstruction import reconstruct

    torch.set_num_threads(2)
    b = None if budget == "default" else math.inf if budget == "inf" else int(budget)
    try:
        pred = estimate_cost("scattering1d", N, J=6, Q=16, memory_budget=b,
                             requires_grad=True).peak_bytes
    except TypeError:                       # an engine without the gradient model
        pred = None
    S = Scattering1D(6, N, 16, memory_budget=b)
    x = torch.from_numpy(blips(N))
    reconstruct(x, S, n_iterations=1)       # warm-up: the block module, the FFT plans
    ctypes.CDLL(None).malloc_trim(0)
    reset_peak()
    base = status("VmRSS")
    t = time.perf_counter()
    r = reconstruct(x, S, n_iterations=iterations)
    wall = time.perf_counter() - t
    return {"N": N, "budget": budget, "iterations": iterations,
            "peak_MiB": round((status("VmHWM") - base) / 2**20, 1),
            "predicted_MiB": None if pred is None else round(pred / 2**20, 1),
            "seconds_per_iteration": round(wall / iterations, 2),
            "final_loss": r.final_loss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=2**18)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--budgets", default="default,inf")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(_child(a.N, a.iterations, a.child)))
        return
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    for budget in a.budgets.split(","):
        run = subprocess.run([sys.executable, __file__, "--N", str(a.N), "--iterations",
                              str(a.iterations), "--child", budget], env=env,
                             capture_output=True, text=True)
        lines = [s for s in run.stdout.splitlines() if s.startswith("{")]
        print(lines[-1] if lines else json.dumps({"budget": budget,
                                                  "error": run.stderr[-500:]}), flush=True)


if __name__ == "__main__":
    main()
