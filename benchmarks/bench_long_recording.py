"""Long recordings: time to the overview, detail changes at a 2**17-sample window, peak RSS.

Usage (from the repository root)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_long_recording.py \
        [--minutes 10] [--rate 48000] [--window 131072] [--changes 9] \
        [--file benchmarks/_out/long.flac] [--json benchmarks/_out/long_recording.json]

Method (issue 16's targets, measured in one process on the server's side, no browser):

1. A recording of ``--minutes`` at ``--rate`` Hz (a slow chirp, bird-like calls and noise) is
   written as a 16-bit FLAC in blocks of 2**16 frames (soundfile 0.14 can crash encoding a
   long compressed file in one write call); its generation is not timed.
2. **Overview**: `compute_overview(path)` (envelope and coarse scalogram, block by block,
   cold: no cache, the block transform's filters built inside the timing) and the
   `RecordingOverview` view built from it (its Bokeh models: what the page then draws).
3. **Detail changes**: a `ScatState` (``auto=False``, the dashboard's default setting, JTFS
   on) fed by `LongRecording` with a window of ``--window`` samples; each change is either
   the window moved to a new position (read by seek, all transforms recomputed) or a slider
   released (J or Q1 changed and back), timed from the change to ``state.refresh()``
   returning (every view's transforms, JTFS included), and to the Scattering1D part alone
   (``compute("base")``: the scalogram and scattering, which the dashboard publishes first
   when JTFS is slow). The first change builds the engine's modules for that length
   (reported as "first"); the medians and max are over the others.
4. **Peak RSS**: the process's ``VmHWM`` at the end (and the baseline after imports).

``--served``: the detail changes go through the server's `TransformService` as a served page's
do (costed, queued, computed in its worker processes, ``--workers``, warmed before the
timing; results back by IPC), timed from the change to ``state.refresh()`` returning; the
overview is not timed again. The peak RSS is then the server process's (the workers' own
memory is reported apart, from their ``/proc/PID/status``).

Times depend on the machine's load: the script prints ``os.getloadavg()`` beside them.
The same recording uploaded in real Chromium pages against ``panel serve`` (several at once,
the server process tree's peak RSS): ``benchmarks/bench_long_browser.py --pages 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scatviz.longrec.overview import compute_overview  # noqa: E402
from scatviz.longrec.session import LongRecording  # noqa: E402
from scatviz.state import ScatState  # noqa: E402


def vm(key: str = "VmHWM") -> int:
    """The process's ``VmHWM`` (peak) or ``VmRSS`` in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def write_recording(path: Path, minutes: float, rate: int, block: int = 2**16) -> int:
    """A FLAC of ``minutes`` at ``rate`` Hz written block by block; returns its frames."""
    n = int(minutes * 60 * rate)
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16", format="FLAC") as f:
        for i in range(0, n, block):
            t = (np.arange(i, min(i + block, n)) / rate)
            f0 = 200 + 1800 * (t / (n / rate))                     # slow chirp over the file
            x = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / rate + i)
            calls = (np.sin(2 * np.pi * t / 3.7) > 0.97) * np.sin(2 * np.pi * 3000 * t) * 0.5
            x = x + calls + 0.02 * rng.standard_normal(len(t))
            f.write(np.clip(x, -1, 1).astype(np.float32))
    return n


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=48_000)
    ap.add_argument("--window", type=int, default=2**17, help="detail window (samples)")
    ap.add_argument("--changes", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--file", type=Path, default=ROOT / "benchmarks/_out/long.flac")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--served", action="store_true",
                    help="changes through the server's TransformService and its workers")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--window-from-cost", action="store_true",
                    help="--served: let the engine's cost estimate choose the window (as the "
                         "dashboard does: `choose_window`), --window being the request")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.served:
        return served(args)

    if not args.file.exists() or sf.info(args.file).frames != int(args.minutes * 60 * args.rate):
        write_recording(args.file, args.minutes, args.rate)
    info = sf.info(args.file)
    import panel  # noqa: F401  (the view's imports, before the baseline)

    from scatviz.views.overview import RecordingOverview

    base = vm("VmRSS")
    load0 = os.getloadavg()

    t0 = time.perf_counter()
    ov = compute_overview(args.file, cache=False)
    t_compute = time.perf_counter() - t0
    rec_state = ScatState(auto=False)
    rec = LongRecording(rec_state, str(args.file), window_s=args.window / args.rate,
                        cost=lambda *a, **k: _free())
    view = RecordingOverview(overview=ov, window=(0.0, rec.choice.length_s))
    t_overview = time.perf_counter() - t0
    hwm_overview = vm()

    rng = np.random.default_rng(1)
    positions = rng.uniform(0, info.duration - args.window / args.rate, size=args.changes)
    times, base_times, kinds = [], [], []
    for i, pos in enumerate(positions):
        t1 = time.perf_counter()
        if i % 3 == 2:                        # a slider released (and the next one back)
            rec_state.J = 7 if rec_state.J == 6 else 6
            kind = "slider J"
        else:
            rec.apply_window(float(pos))
            view.set_window(rec.window[0])
            kind = "window moved"
        rec_state.compute("base")             # what the dashboard publishes first
        base_times.append(time.perf_counter() - t1)
        res = rec_state.refresh()             # every view: the base from the cache, + JTFS
        if res is None:
            raise SystemExit(f"the transform failed: {rec_state.error}")
        times.append(time.perf_counter() - t1)
        kinds.append(kind)
    load1 = os.getloadavg()
    warm = times[1:]
    out = dict(
        file=str(args.file), minutes=args.minutes, rate=args.rate, frames=int(info.frames),
        file_mb=round(args.file.stat().st_size / 2**20, 1),
        overview_compute_s=round(t_compute, 2), overview_with_view_s=round(t_overview, 2),
        overview_settings=ov.settings, scalogram_shape=list(ov.scal_mag.shape),
        window=args.window, first_change_s=round(times[0], 3),
        median_change_s=round(statistics.median(warm), 3), max_change_s=round(max(warm), 3),
        median_base_s=round(statistics.median(base_times[1:]), 3),
        changes=[(k, round(b, 3), round(t, 3)) for k, b, t in zip(kinds, base_times, times)],
        baseline_rss_mib=round(base / 2**20), hwm_after_overview_mib=round(hwm_overview / 2**20),
        peak_rss_mib=round(vm() / 2**20), threads=args.threads,
        loadavg_start=[round(v, 2) for v in load0], loadavg_end=[round(v, 2) for v in load1],
    )
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return out


def _proc_hwm(pid) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def served(args) -> dict:
    """The detail changes through `TransformService` (see the module's ``--served``)."""
    from scatviz.server.budget import ServerBudget
    from scatviz.server.service import TransformService

    if not args.file.exists() or sf.info(args.file).frames != int(args.minutes * 60 * args.rate):
        write_recording(args.file, args.minutes, args.rate)
    info = sf.info(args.file)
    budget = ServerBudget.from_env({**os.environ, "SCATVIZ_WORKERS": str(args.workers)})
    svc = TransformService(budget)
    t0 = time.perf_counter()
    svc.pool.warm()
    t_warm = time.perf_counter() - t0
    load0 = os.getloadavg()
    st = ScatState(auto=False)
    st.service = svc
    rec = LongRecording(st, str(args.file), window_s=args.window / args.rate,
                        cost=None if args.window_from_cost else (lambda *a, **k: _free()))
    rng = np.random.default_rng(1)
    positions = rng.uniform(0, info.duration - args.window / args.rate, size=args.changes)
    times, kinds = [], []
    for i, pos in enumerate(positions):
        t1 = time.perf_counter()
        if i % 3 == 2:
            st.J = 7 if st.J == 6 else 6
            kind = "slider J"
        else:
            rec.apply_window(float(pos))
            kind = "window moved"
        if st.refresh() is None:
            raise SystemExit(f"the transform failed: {st.error}")
        times.append(time.perf_counter() - t1)
        kinds.append(kind)
    load1 = os.getloadavg()
    warm = times[1:]
    out = dict(mode="served", workers=args.workers, threads_per_worker=svc.pool.threads,
               file=str(args.file), rate=args.rate, window_requested=args.window,
               window=rec.choice.length, window_message=rec.choice.message,
               workers_start_s=round(t_warm, 2), first_change_s=round(times[0], 3),
               median_change_s=round(statistics.median(warm), 3),
               max_change_s=round(max(warm), 3),
               changes=[(k, round(t, 3)) for k, t in zip(kinds, times)],
               server_peak_rss_mib=round(vm() / 2**20),
               worker_peak_rss_mib=[round(_proc_hwm(p) / 2**20) for p in svc.pool.pids() if p],
               loadavg_start=[round(v, 2) for v in load0],
               loadavg_end=[round(v, 2) for v in load1])
    svc.shutdown()
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return out


def _free():
    """A cost model that lets the benchmark's window through unshortened (the window length
    is the benchmark's parameter, not the default model's choice)."""
    from engine._costs import Cost

    return Cost(0, 0, (), 0.0)


if __name__ == "__main__":
    main()
