"""Time and peak memory against the signal's length, scatviz beside Kymatio main and WaveSpin.

Usage (from the repository root; the peers are optional)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_scaling.py \
        --kymatio-python /path/to/kymatio-main-venv/bin/python \
        --wavespin-python /path/to/wavespin-0.8-venv/bin/python \
        [--lengths 13-22] [--timeout 300] [--max-rss-gib 16] [--out benchmarks/_out/scaling.json]
    .venv/bin/python benchmarks/bench_scaling.py --plot benchmarks/_out/scaling.json \
        --png docs/scaling.png      # redraw the figure and print the table from a saved run

A peer's interpreter is a virtual environment with torch==2.13.0, scipy and the peer installed
from its source: Kymatio main (``pip install --no-deps ./kymatio`` at the commit in the
report) and WaveSpin 0.8 (branch ``dafx2022-jtfs``). Neither is committed here.

Method (issue 15's): the two transforms at one setting each, batch 1, forward, no gradient,
2 torch threads, ``OMP_WAIT_POLICY=PASSIVE``:

* Scattering1D: ``J=12, Q=12`` (Kymatio's defaults otherwise);
* JTFS: ``J=12, Q=16, J_fr=5, Q_fr=2, F=16`` (each library's defaults otherwise).

Every (library, transform, N) runs in a fresh process. It imports, reads its resident size
(the baseline), builds the transform (timed: "build") and a random input, runs the forward
pass once (the first call, timed) and then once more (the second call: the time reported).
Peak memory is the process's high-water resident mark (``VmHWM``) above the baseline: what
the transform, its filters, the input and the output cost together. A run whose first call
took longer than ``--once-after`` seconds reports that call instead of running a second one
(marked ``once``). The JSON also records the second call's process CPU time (``cpu_s``,
all threads): the work done, less sensitive than wall time to a loaded machine. The parent kills a run that passes ``--timeout`` seconds or
``--max-rss-gib`` of resident memory, records why, and does not try that library at larger N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = {
    "scattering1d": dict(J=12, Q=12),
    "jtfs": dict(J=12, Q=16, J_fr=5, Q_fr=2, F=16),
}

WORKER = r'''
import json, resource, sys, time
import torch

lib, transform, N, once_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
settings = json.loads(sys.argv[5])
torch.set_num_threads(2)

if lib == "scatviz":
    import os
    root = os.environ.get("SCATVIZ_ROOT")
    if root:    # measure that tree, not an editable install's (its finder precedes sys.path)
        sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, root)
    from engine import Scattering1D, TimeFrequencyScattering as JTFS
elif lib == "kymatio":
    from kymatio.torch import Scattering1D, TimeFrequencyScattering as JTFS
else:
    from wavespin.torch import Scattering1D, TimeFrequencyScattering1D as JTFS


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


base = status("VmRSS")
reset_peak()
t = time.perf_counter()
if transform == "scattering1d":
    S = Scattering1D(shape=N, **settings)
else:
    S = JTFS(shape=N, **settings)
build = time.perf_counter() - t
x = torch.randn(1, N)
with torch.no_grad():
    t = time.perf_counter()
    y = S(x)
    first = time.perf_counter() - t
    once = first > once_after
    if not once:
        del y
        t, c = time.perf_counter(), time.process_time()
        y = S(x)
        second, cpu = time.perf_counter() - t, time.process_time() - c
shape = tuple(y.shape) if hasattr(y, "shape") else None
print("RESULT " + json.dumps(dict(
    build_s=build, first_s=first, forward_s=first if once else second, once=once,
    cpu_s=None if once else cpu,
    peak_bytes=status("VmHWM") - base, out_shape=shape,
    engine=getattr(sys.modules.get("engine"), "__file__", None))), flush=True)
'''


def rss_of(pid: int) -> int:
    """Resident bytes of process ``pid`` now (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_one(python: str, lib: str, transform: str, N: int, args) -> dict:
    """One fresh process: the result dict, or ``{"failed": why}``."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="2",
               PYTHONPATH=str(args.scatviz_root) if lib == "scatviz" else "",
               SCATVIZ_ROOT=str(args.scatviz_root) if lib == "scatviz" else "")
    cmd = [python, "-c", WORKER, lib, transform, str(N), str(args.once_after),
           json.dumps(SETTINGS[transform])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    t0, cap, why = time.monotonic(), args.max_rss_gib * 2**30, None
    while proc.poll() is None:
        if time.monotonic() - t0 > args.timeout:
            why = f"over {args.timeout:.0f} s"
        elif rss_of(proc.pid) > cap:
            why = f"over {args.max_rss_gib:g} GiB resident"
        if why:
            proc.kill()
            proc.wait()
            return {"failed": why}
        time.sleep(0.1)
    out, err = proc.communicate()
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"failed": (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]}


def measure(args) -> dict:
    """Run every (transform, library, N) not yet in ``args.out``, saving after each."""
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() and not args.fresh else {}
    pythons = {"scatviz": sys.executable}
    if args.kymatio_python:
        pythons["kymatio"] = args.kymatio_python
    if args.wavespin_python:
        pythons["wavespin"] = args.wavespin_python
    if "-" in args.lengths:
        lo, hi = (int(v) for v in args.lengths.split("-"))
        lengths = range(lo, hi + 1)
    else:
        lengths = [int(v) for v in args.lengths.split(",")]
    for transform in args.transforms.split(","):
        for lib, python in pythons.items():
            if lib == "wavespin" and transform == "scattering1d":
                continue                    # WaveSpin's Scattering1D is Kymatio 0.3's
            for k in lengths:
                key = f"{transform}/{lib}/{k}"
                if key in results:
                    if "failed" in results[key]:
                        break
                    continue
                r = run_one(python, lib, transform, 2**k, args)
                results[key] = r
                print(key, json.dumps(r), flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results, indent=1))
                if "failed" in r:
                    break
    return results


def table(results: dict) -> str:
    """A markdown table: per transform and N, each library's forward time and peak memory."""
    rows = []
    for transform in SETTINGS:
        libs = sorted({k.split("/")[1] for k in results if k.startswith(transform + "/")},
                      key=["scatviz", "kymatio", "wavespin"].index)
        if not libs:
            continue
        ks = sorted({int(k.split("/")[2]) for k in results if k.startswith(transform + "/")})
        head = [f"{transform} N"] + [f"{lib}: forward, peak" for lib in libs]
        if "kymatio" in libs:
            head += ["speed-up vs Kymatio", "memory vs Kymatio"]
        rows += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for k in ks:
            cells, got = [f"2^{k}"], {}
            for lib in libs:
                r = results.get(f"{transform}/{lib}/{k}")
                if r is None:
                    cells.append("not run")
                elif "failed" in r:
                    cells.append(f"failed: {r['failed']}")
                else:
                    got[lib] = r
                    once = " (1st call)" if r["once"] else ""
                    cells.append(f"{r['forward_s']:.3g} s{once}, {r['peak_bytes'] / 2**20:.0f} MiB")
            if "kymatio" in libs:
                a, b = got.get("scatviz"), got.get("kymatio")
                cells += ([f"{b['forward_s'] / a['forward_s']:.1f}x",
                           f"{a['peak_bytes'] / b['peak_bytes']:.2f}"] if a and b else ["", ""])
            rows.append("| " + " | ".join(cells) + " |")
        rows.append("")
    return "\n".join(rows)


def plot(results: dict, png: str) -> None:
    """Forward time and peak memory against N, log-log, one column per transform."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"scatviz": "#d62728", "kymatio": "#1f77b4", "wavespin": "#2ca02c"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for col, transform in enumerate(SETTINGS):
        for lib, colour in colours.items():
            pts = sorted((int(k.split("/")[2]), r) for k, r in results.items()
                         if k.startswith(f"{transform}/{lib}/") and "failed" not in r)
            if not pts:
                continue
            n = [2**k for k, _ in pts]
            axes[0, col].loglog(n, [r["forward_s"] for _, r in pts], "o-", color=colour,
                                label=lib, base=2)
            axes[1, col].loglog(n, [r["peak_bytes"] / 2**20 for _, r in pts], "o-",
                                color=colour, label=lib, base=2)
        s = ", ".join(f"{k}={v}" for k, v in SETTINGS[transform].items())
        axes[0, col].set_title(f"{'Scattering1D' if col == 0 else 'JTFS'} ({s})")
        axes[0, col].set_ylabel("forward, seconds")
        axes[1, col].set_ylabel("peak memory, MiB")
        axes[1, col].set_xlabel("N (samples)")
        for ax in axes[:, col]:
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.suptitle("Cost against length: batch 1, forward, 2 CPU threads (benchmarks/bench_scaling.py)")
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kymatio-python")
    p.add_argument("--wavespin-python")
    p.add_argument("--lengths", default="13-22",
                   help="log2 N: a range 13-22 or a list 16,18,20,22")
    p.add_argument("--scatviz-root", default=str(ROOT),
                   help="the scatviz tree to measure (e.g. an exported main, to compare "
                        "before and after a change); default this one")
    p.add_argument("--transforms", default="scattering1d,jtfs")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    p.add_argument("--once-after", type=float, default=30.0,
                   help="report the first call when it took longer than this")
    p.add_argument("--max-rss-gib", type=float, default=16.0)
    p.add_argument("--out", default=str(ROOT / "benchmarks/_out/scaling.json"))
    p.add_argument("--fresh", action="store_true", help="ignore the saved results in --out")
    p.add_argument("--plot", help="only redraw from this saved JSON")
    p.add_argument("--png", default=str(ROOT / "docs/scaling.png"))
    args = p.parse_args()
    results = json.loads(Path(args.plot).read_text()) if args.plot else measure(args)
    plot(results, args.png)
    print(table(results))


if __name__ == "__main__":
    main()
