"""Measure a transform call's memory growth and time, point by point, each in a fresh process.

Run as a script: ``python tests/engine/memprobe.py '<json list of points>'``; prints one JSON
line per point. A point is ``{"kind": "scattering1d", "params": {...}, "N": int, "B": int,
"dtype": "float32"|"float64", "budget": bytes or None}`` (``Q`` may be a list: it is made a
tuple; ``budget`` is the transform's ``memory_budget``).

This process imports torch and the engine once and computes nothing; each point runs in a
child forked from it (a fresh heap, a fresh thread pool), which:

1. predicts the call with ``engine.estimate_cost`` (same threads, same machine);
2. builds the transform (and, for a call in time blocks, its block module: filters, which
   the estimate leaves out) and warms the machinery up on a small transform of the same
   configuration (torch's lazy set-up, the worker threads, the FFT library);
3. resets the peak resident size (``/proc/self/clear_refs``, ``5``) and reads ``VmRSS``;
4. calls the transform on ``B x N`` samples without gradient and reads ``VmHWM``: the
   growth is ``VmHWM - VmRSS`` (``ru_maxrss`` cannot be reset, so it would include the
   build);
   the same call's wall and CPU seconds are reported too.

Linux only (``/proc``, ``fork``).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import time

import torch

import engine  # noqa: F401  (imported once, before forking)
from engine import Scattering1D, estimate_cost

_libc = ctypes.CDLL(None)


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def point_setting(pt: dict) -> tuple[torch.dtype, dict, int, int]:
    """Point ``pt``'s threads set (default 2); its dtype, transform parameters (a list ``Q``
    made a tuple), ``N`` and ``B``."""
    torch.set_num_threads(int(pt.get("threads", 2)))
    params = dict(pt["params"])
    if isinstance(params.get("Q"), list):
        params["Q"] = tuple(params["Q"])
    return getattr(torch, pt.get("dtype", "float32")), params, int(pt["N"]), int(pt["B"])


def reset_peak() -> int:
    """What can be freed freed (``gc``, ``malloc_trim``) and the peak resident size reset
    (``VmHWM := VmRSS``); the resident size then (``VmRSS``, bytes): a growth's base."""
    gc.collect()
    _libc.malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _measure(pt: dict) -> dict:
    dtype, params, N, B = point_setting(pt)
    budget = pt.get("budget")
    cost = estimate_cost("scattering1d", N, B, dtype=dtype, memory_budget=budget, **params)
    n_small = max(2**params["J"], params.get("T") or 0, 4096)
    small = Scattering1D(shape=n_small, **params).to(dtype)
    with torch.no_grad():
        small(torch.randn(1, n_small, dtype=dtype))
    S = Scattering1D(shape=N, memory_budget=budget, **params).to(dtype)
    passes = S.plan_call(B)[1]
    if passes is not None:       # its block module is part of the transform's filters
        from engine._blocked import block_module

        if passes.L < S.N_padded:
            block_module(S, passes.L, passes.R)
    x = torch.randn(B, N, dtype=dtype)
    base = reset_peak()
    t, c = time.perf_counter(), time.process_time()
    with torch.no_grad():
        y = S(x)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = _status("VmHWM") - base
    out_bytes = y.numel() * y.element_size()
    shape = list(y.shape)
    return {**pt, "peak": peak, "out_bytes": out_bytes, "shape": shape, "wall": wall,
            "cpu": cpu, "threads": torch.get_num_threads(), "pred_peak": cost.peak_bytes,
            "pred_out": cost.output_bytes, "pred_shape": list(cost.output_shape),
            "pred_seconds": cost.seconds, "passes": passes is not None}


def run_point(pt: dict, measure=None) -> dict:
    """``pt`` measured by ``measure`` (default: this module's forward measurement) in a forked
    child (see the module docstring)."""
    measure = measure or _measure
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                       # the child: measure, write, exit without cleanup
        code = 1
        try:
            os.close(r)
            os.write(w, json.dumps(measure(pt)).encode())
            code = 0
        except BaseException as e:    # report, never return into the parent's code
            os.write(w, json.dumps({**pt, "error": repr(e)}).encode())
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data) if data else {**pt, "error": "child died"}


def main(measure=None) -> None:
    """The script: each point of ``argv[1]`` (a JSON list) measured, one JSON line each."""
    for point in json.loads(sys.argv[1]):
        print(json.dumps(run_point(point, measure)), flush=True)


def probe(points: list[dict], script: str | os.PathLike = __file__) -> list[dict]:
    """Run ``script`` (this probe or another built on it) on ``points`` in one fresh
    interpreter (OMP_WAIT_POLICY=PASSIVE); its rows, checked for errors (for the tests)."""
    import subprocess

    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    run = subprocess.run([sys.executable, str(script), json.dumps(points)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(points), run.stderr[-2000:]
    for r in rows:
        assert "error" not in r, r
    return rows


def probe_quietest(points: list, script: str | os.PathLike = __file__,
                   band: float = 1.5, retries: int = 2, run=None) -> list[dict]:
    """`probe`, then each point measured above its prediction's band (``pred_peak / peak <
    1 / band``) measured again, ``retries`` times at most, keeping its quietest run (the
    smallest growth; ``runs`` counts them). The models predict an idle machine: load (another
    process on the two cores) makes the worker threads overlap longer and the allocator keep
    more of their temporaries, so a loaded run measures more, never less; a point truly
    under-predicted stays so in every run.

    ``run`` (default: `probe` of ``script``) measures a list of points into as many rows,
    each with ``peak`` and ``pred_peak`` (bytes): another measurement under the same rule."""
    run = run or (lambda pts: probe(pts, script))
    rows = run(points)
    for _ in range(retries):
        again = [i for i, r in enumerate(rows) if r["pred_peak"] / r["peak"] < 1 / band]
        if not again:
            break
        for i, r in zip(again, run([points[i] for i in again])):
            runs = rows[i].get("runs", 1) + 1
            rows[i] = {**(r if r["peak"] < rows[i]["peak"] else rows[i]), "runs": runs}
    return rows


def peak_misses(rows: list[dict], label, band: float = 1.5, slack: int = 0) -> list[str]:
    """Each row whose predicted peak (``pred_peak``) is off its measured growth (``peak``) by
    more than ``band``, either way, and by more than ``slack`` bytes, said (``label(row)``,
    both in MiB, the ratio, the runs of `probe_quietest`): for an assertion's message."""
    out = []
    for r in rows:
        ratio = r["pred_peak"] / r["peak"]
        if not 1 / band <= ratio <= band and abs(r["pred_peak"] - r["peak"]) > slack:
            out.append(f"{label(r)}: predicted {r['pred_peak'] / 2**20:.1f} MiB, measured "
                       f"{r['peak'] / 2**20:.1f} MiB (x{ratio:.2f}, best of "
                       f"{r.get('runs', 1)} runs)")
    return out


def time_misses(rows: list[dict], label, factor: float = 5) -> list[str]:
    """Each row whose predicted seconds (``pred_seconds``) are off the call's CPU seconds per
    thread by more than ``factor``, either way, said as `peak_misses` says its rows. CPU time,
    unlike wall time, hardly grows with the machine's load (the models predict an idle
    machine's wall time)."""
    out = []
    for r in rows:
        seconds = r["cpu"] / r["threads"]
        if not seconds / factor <= r["pred_seconds"] <= factor * seconds:
            out.append(f"{label(r)}: predicted {r['pred_seconds']:.3f} s, measured "
                       f"{seconds:.3f} CPU s per thread")
    return out


if __name__ == "__main__":
    main()
