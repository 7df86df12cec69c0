"""Long recordings in real Chromium pages against ``panel serve``: the server's peak RSS with
``--pages`` pages each uploading a long FLAC and changing its detail window at once.

Usage (repository root; needs /usr/bin/chromium)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_long_browser.py \
        [--pages 2] [--minutes 10] [--rate 48000] [--changes 6] [--detail-seconds 60] \
        [--file benchmarks/_out/long.flac] [--json benchmarks/_out/long_browser.json]

Method (issue 16's target "the server's peak RSS stays under 4 GiB throughout, also with two
pages doing this at once"):

1. The recording (`bench_long_recording.write_recording`: a 16-bit FLAC, 40.9 MB for 10 min
   at 48 kHz) is written once; ``panel serve apps/dashboard.py`` is started as
   ``scatviz serve`` starts it (``--setup scatviz/serve_setup.py``, websocket messages up to
   300 MB, 2 workers), with ``SCATVIZ_DETAIL_SECONDS=--detail-seconds`` so that the
   requested 2**17-sample window is kept rather than shortened by the cost estimate (0: the
   served default, which shortens it on this machine).
2. A sampler thread reads every 0.2 s the ``VmRSS`` of the server process and of every
   process below it (its workers) from ``/proc`` and keeps the largest sum; at the end each
   one's ``VmHWM`` (peak) is read as well.
3. ``--pages`` pages open ``/dashboard`` and wait for their first picture; then the file is
   given to every page's upload input one after the other, and each page is timed from
   then to its overview's line ("600.0 s at 48000 Hz") and to its first window's complete
   result ("all views updated"): the upload's transfer over the local websocket is inside
   these times.
4. ``--changes`` detail changes on all pages at once: two of three move the window (a click
   on the overview at a new place), the third releases the J slider (one key step, back on
   the next); each page is timed from its change to a newer result saying "all views
   updated" (polled every 50 ms from Python, +-50 ms), and to its first newer status (the
   first views: "JTFS computing…" when the Scattering1D views are published before JTFS;
   ``first_views_s``). Medians per page are over changes 2.. (the first builds the 2**17
   modules). ``--rapid``: the next change is made once the first views of the last one
   are updated (a visitor moving on before JTFS arrives); all views timed on the last.

The machine's load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_server import alive, free_port, generation, press  # noqa: E402

STATUS = re.compile(r"#(\d+) · .* computed in")


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (bounded walk)."""
    out, todo = [], [pid]
    while todo and len(out) < 64:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """The largest sum of ``VmRSS`` over the process tree of ``pid``, sampled every
    ``every`` s; ``hwm`` keeps each process's last ``VmHWM`` seen (workers replaced keep
    theirs)."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_kib, self.peak_at, self.hwm = 0, None, {}
        self._halt = threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self._halt.is_set():
            pids = tree(self.pid)
            total = sum(status_kib(p, "VmRSS") for p in pids)
            for p in pids:
                self.hwm[p] = max(self.hwm.get(p, 0), status_kib(p, "VmHWM"))
            if total > self.peak_kib:
                self.peak_kib, self.peak_at = total, round(time.monotonic() - t0, 1)
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join(5)


def start_server(detail_seconds: float, workers: int, log: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT),
               SCATVIZ_WORKERS=str(workers))
    if detail_seconds > 0:
        env["SCATVIZ_DETAIL_SECONDS"] = str(detail_seconds)
    out = open(log, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "panel", "serve", "apps/dashboard.py", "--address",
         "127.0.0.1", "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
         "--liveness", "--setup", "scatviz/serve_setup.py", "--num-procs", "1",
         "--websocket-max-message-size", "300000000"], cwd=ROOT, env=env,
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240
    while not alive(base):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"panel serve did not start (log: {log})")
        time.sleep(0.5)
    return base, proc


def wait_text(pages, pattern: re.Pattern, t0: float, timeout: float, after=None) -> list:
    """Seconds from ``t0`` until each page shows ``pattern`` (with ``after``: a status of a
    generation newer than ``after[i]`` saying "all views updated")."""
    out = [None] * len(pages)
    deadline = time.monotonic() + timeout
    while None in out and time.monotonic() < deadline:
        for i, p in enumerate(pages):
            if out[i] is not None:
                continue
            if after is None:
                if p.get_by_text(pattern).count():
                    out[i] = time.perf_counter() - t0
            else:
                g, text = generation(p)
                if g > after[i] and "all views updated" in text and pattern.search(text):
                    out[i] = time.perf_counter() - t0
        time.sleep(0.05)
    if None in out:
        raise RuntimeError(f"pages without {pattern.pattern!r} after {timeout:.0f} s: {out}")
    return out


def wait_change(pages, t0: float, after: list, timeout: float, rapid: bool = False
                ) -> tuple[list, list]:
    """Seconds from ``t0`` until each page's status is of a generation newer than
    ``after[i]`` (its first views: "JTFS computing…" when the Scattering1D views come
    first) and until one says "all views updated" (every view, JTFS included; with
    ``rapid``, not waited for: None unless it came with the first views)."""
    first, full = [None] * len(pages), [None] * len(pages)
    deadline = time.monotonic() + timeout
    while None in (first if rapid else full) and time.monotonic() < deadline:
        for i, p in enumerate(pages):
            if full[i] is not None:
                continue
            g, text = generation(p)
            if g > after[i]:
                now = time.perf_counter() - t0
                first[i] = now if first[i] is None else first[i]
                if "all views updated" in text:
                    full[i] = now
        time.sleep(0.05)
    if None in (first if rapid else full):
        raise RuntimeError(f"pages without all views updated after {timeout:.0f} s: {full}")
    return first, full


def click_overview(page, fraction: float) -> None:
    canvas = page.locator("canvas").first             # the overview is the first view
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.6)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=48_000)
    ap.add_argument("--changes", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--detail-seconds", type=float, default=60.0)
    ap.add_argument("--file", type=Path, default=ROOT / "benchmarks/_out/long.flac")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--rapid", action="store_true",
                    help="make the next change once a page's first views of the last one "
                         "are updated (JTFS still computing), not once all its views are")
    args = ap.parse_args(argv)
    import soundfile as sf
    from bench_long_recording import write_recording
    from playwright.sync_api import sync_playwright

    n = int(args.minutes * 60 * args.rate)
    if not args.file.exists() or sf.info(args.file).frames != n:
        write_recording(args.file, args.minutes, args.rate)
    log = args.file.with_suffix(".serve.log")
    base, proc = start_server(args.detail_seconds, args.workers, log)
    sampler = Sampler(proc.pid)
    sampler.start()
    load0 = os.getloadavg()
    out: dict = dict(pages=args.pages, file=str(args.file),
                     file_mb=round(args.file.stat().st_size / 1e6, 1), rate=args.rate,
                     minutes=args.minutes, workers=args.workers,
                     detail_seconds=args.detail_seconds)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu"])
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            pages = []
            for _ in range(args.pages):
                p = ctx.new_page()
                p.goto(f"{base}/dashboard", timeout=300_000)
                p.get_by_text(STATUS).wait_for(timeout=300_000)
                pages.append(p)
            out["rss_before_upload_mib"] = round(
                sum(status_kib(q, "VmRSS") for q in tree(proc.pid)) / 1024)
            before = [generation(p)[0] for p in pages]
            t0 = time.perf_counter()
            for p in pages:
                p.locator("input[type=file]").set_input_files(str(args.file))
            secs = f"{args.minutes * 60:.1f} s at {args.rate:g} Hz"
            out["overview_s"] = [round(v, 2) for v in
                                 wait_text(pages, re.compile(re.escape(secs)), t0, 600)]
            name = re.compile(re.escape(args.file.name) + r" @ ")
            out["first_window_s"] = [round(v, 2) for v in
                                     wait_text(pages, name, t0, 600, after=before)]
            out["shortened"] = [bool(p.get_by_text(re.compile("Detail window shortened"))
                                     .count()) for p in pages]
            out["window_status"] = [generation(p)[1] for p in pages]
            times = [[] for _ in pages]
            firsts = [[] for _ in pages]
            kinds = []
            for c in range(args.changes):
                before = [generation(p)[0] for p in pages]
                t0 = time.perf_counter()
                if c % 3 == 2:
                    kinds.append("slider J")
                    for p in pages:
                        press(p, "J (", "ArrowRight" if c % 6 == 2 else "ArrowLeft")
                else:
                    kinds.append("window moved")
                    for i, p in enumerate(pages):
                        click_overview(p, 0.1 + ((c * 0.37 + i * 0.21) % 0.8))
                rapid = args.rapid and c < args.changes - 1
                first, got = wait_change(pages, t0, before, 600, rapid=rapid)
                for i, (f, v) in enumerate(zip(first, got)):
                    times[i].append(None if v is None else round(v, 3))
                    firsts[i].append(round(f, 3))
            out["kinds"] = kinds
            out["rapid"] = args.rapid
            out["change_s"] = times
            out["median_change_s"] = [statistics.median([v for v in t[1:] if v is not None]
                                                        or [v for v in t if v is not None])
                                      for t in times]
            out["first_views_s"] = firsts
            out["median_first_views_s"] = [statistics.median(t[1:] or t) for t in firsts]
            browser.close()
    finally:
        sampler.stop()
        out["peak_rss_sum_mib"] = round(sampler.peak_kib / 1024)
        out["peak_rss_at_s"] = sampler.peak_at
        out["vmhwm_mib"] = {str(p): round(k / 1024) for p, k in sampler.hwm.items()}
        out["server_pid"] = proc.pid
        out["loadavg_start"] = [round(v, 2) for v in load0]
        out["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
        out["alive_at_end"] = alive(base)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
