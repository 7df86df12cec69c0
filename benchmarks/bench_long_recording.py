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

With ``--progressive``, ``jtfs_transform_s`` is each change's JTFS transform alone (its worker's
``timings["jtfs"]``): what of ``all_views_s`` is not the engine's JTFS forward is the rest.

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
import asyncio
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
    ap.add_argument("--progressive", choices=("off", "settled", "rapid"), default="off",
                    help="--served: drive the changes with `refresh_async` as a served page "
                         "does (its first views, then JTFS) and time both; 'settled': the "
                         "next change once every view of the last one is updated; 'rapid': "
                         "once its first views are (JTFS still computing)")
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
    if args.progressive != "off":
        out = _progressive(args, st, rec, positions)
        out.update(mode=f"served, progressive {args.progressive}", workers=args.workers,
                   window=rec.choice.length, workers_start_s=round(t_warm, 2),
                   server_peak_rss_mib=round(vm() / 2**20),
                   worker_peak_rss_mib=[round(_proc_hwm(p) / 2**20) for p in svc.pool.pids()
                                        if p],
                   loadavg_start=[round(v, 2) for v in load0],
                   loadavg_end=[round(v, 2) for v in os.getloadavg()])
        return _emit(args, out, svc)
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
    return _emit(args, out, svc)


def _emit(args, out: dict, svc) -> dict:
    svc.shutdown()
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return out


def _progressive(args, st, rec, positions) -> dict:
    """``--progressive``: the changes driven by `ScatState.refresh_async` on an event loop, as
    the dashboard drives them (one refresh loop at a time; a change made while it runs is
    picked up by it). For each change: the seconds to its first publication (the first views:
    the Scattering1D ones when JTFS is pending) and to the one with JTFS (all views)."""
    pubs: list[tuple[float, bool]] = []
    jtfs_s: list[float] = []          # the JTFS transform's own seconds, in its worker
    st.param.watch(lambda e: pubs.append((time.perf_counter(), e.new.jtfs_pending))
                   if e.new is not None else None, "result")
    st.param.watch(lambda e: jtfs_s.append(e.new.timings.get("jtfs", float("nan")))
                   if e.new is not None and not e.new.jtfs_pending else None, "result")

    async def drive():
        marks, kinds, task = [], [], None
        for i, pos in enumerate(positions):
            n0 = len(pubs)
            marks.append((time.perf_counter(), n0))
            if i % 3 == 2:
                st.J = 7 if st.J == 6 else 6
                kinds.append("slider J")
            else:
                rec.apply_window(float(pos))
                kinds.append("window moved")
            if task is None or task.done():
                task = asyncio.ensure_future(st.refresh_async())
            for _ in range(60_000):            # bounded: 10 min
                new = pubs[n0:]
                if (args.progressive == "rapid" and new) or any(not p for _, p in new) \
                        or (task.done() and i == len(positions) - 1):
                    break
                if task.done():                # a failure: nothing more will come
                    if st.error:
                        raise SystemExit(f"the transform failed: {st.error}")
                    task = asyncio.ensure_future(st.refresh_async())
                await asyncio.sleep(0.005)
        await task
        return marks, kinds

    marks, kinds = asyncio.run(drive())
    first, full = [], []
    for j, (t, n0) in enumerate(marks):
        n1 = marks[j + 1][1] if j + 1 < len(marks) else len(pubs)
        mine = pubs[n0:n1]
        first.append(mine[0][0] - t if mine else float("nan"))
        done = [tp for tp, pending in mine if not pending]
        full.append(done[0] - t if done else float("nan"))
    def med(v):
        v = [x for x in v if x == x]           # a change with no publication: nan, left out
        return round(statistics.median(v), 3) if v else None

    return dict(first_views_s=[round(v, 3) for v in first],
                all_views_s=[round(v, 3) for v in full], kinds=kinds,
                median_first_views_s=med(first[1:]), median_all_views_s=med(full[1:]),
                jtfs_transform_s=[round(v, 3) for v in jtfs_s],
                median_jtfs_transform_s=med(jtfs_s[1:]),
                jtfs_superseded=getattr(st, "jtfs_superseded", None),
                jtfs_cancelled=getattr(st, "jtfs_cancelled", None))


def _free():
    """A cost model that lets the benchmark's window through unshortened (the window length
    is the benchmark's parameter, not the default model's choice)."""
    from engine._costs import Cost

    return Cost(0, 0, (), 0.0)


if __name__ == "__main__":
    main()
