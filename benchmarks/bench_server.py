"""The served dashboard under load: the worker processes' added latency, eight pages changing
settings at once, and the server's RSS over 200 changes of one session.

* ``worker``: 20 distinct settings at N=8192 (8 kHz, JTFS on) through the server's
  `TransformService` (two spawned workers): the round trip of each request against the
  transform's own time in its worker (``timings["worker"]``); the difference is what the
  process isolation adds (pickling the signal and the ~4 MB of results, IPC, scheduling).
* ``pages``: ``panel serve`` and eight Chromium pages; each round presses a Q1 key on all
  eight at once and times each page from its key press to its status line saying "all views
  updated" for a newer result (polled every 50 ms from Python: +-50 ms).
* ``rss``: one page, 200 Q1 changes (six values, back and forth), the resident memory of the
  server process and of its workers after every 20.

Usage (repository root; needs /usr/bin/chromium for ``pages`` and ``rss``)::

    .venv/bin/python benchmarks/bench_server.py [--parts worker,pages,rss] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STATUS = re.compile(r"#(\d+) · .* computed in")


def pct(values, q):
    return float(np.percentile(np.asarray(values), q))


def summary(name, values, unit="s", scale=1.0):
    v = [x * scale for x in values]
    return (f"{name}: n={len(v)} median {statistics.median(v):.3f} {unit}, "
            f"p95 {pct(v, 95):.3f} {unit}, max {max(v):.3f} {unit}")


def bench_worker(n: int = 20) -> list[str]:
    from scatviz.server.budget import ServerBudget
    from scatviz.server.service import TransformService
    from scatviz.state import ScatState

    svc = TransformService(ServerBudget(total=4 << 30, per_request=2 << 30, cache=512 << 20,
                                        workers=2))
    try:
        svc.pool.warm()
        st = ScatState(auto=False)
        st.service = svc
        x = np.random.default_rng(0).standard_normal(8192).astype(np.float32)
        st.param.update(signal=x, sample_rate=8000.0)
        trip, work = [], []
        for i in range(n + 2):                       # 2 warm-ups (module and bank caches)
            st.Q1 = 4 + i
            plan = st.plan()
            t0 = time.perf_counter()
            res = st._submit("all", plan).future.result(timeout=300)
            dt = time.perf_counter() - t0
            if i >= 2:
                trip.append(dt)
                work.append(res.timings["worker"])
        added = [a - b for a, b in zip(trip, work)]
        return [summary("round trip", trip), summary("compute in the worker", work),
                summary("added by the worker", added, "ms", 1e3)]
    finally:
        svc.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(base):
    try:
        with urllib.request.urlopen(f"{base}/liveness", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def rss(pid: int) -> tuple[int, int]:
    """(the server's RSS, its children's RSS) in bytes."""
    def one(p):
        s = Path(f"/proc/{p}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", s).group(1)) * 1024
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(c) for c in (task / "children").read_text().split()]
    return one(pid), sum(one(k) for k in kids)


def start_server():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "panel", "serve", "apps/dashboard.py", "--address",
         "127.0.0.1", "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
         "--liveness", "--setup", "scatviz/serve_setup.py"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while not alive(base):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("panel serve did not start")
        time.sleep(0.5)
    return base, proc


def generation(page) -> tuple[int, str]:
    text = page.get_by_text(STATUS).inner_text()
    return int(STATUS.search(text).group(1)), text


def press(page, label="Q1 (", key="ArrowRight"):
    titles = page.locator(".bk-slider-title")
    for i in range(min(titles.count(), 30)):
        if titles.nth(i).inner_text().startswith(label):
            h = page.locator(".noUi-handle").nth(i)
            h.focus()
            h.press(key)
            return
    raise AssertionError(label)


def wait_answers(pages, before, t0, timeout=240.0):
    """Seconds from ``t0`` to each page's newer complete result (polled every 50 ms)."""
    out = [None] * len(pages)
    deadline = time.monotonic() + timeout
    while None in out and time.monotonic() < deadline:
        for i, p in enumerate(pages):
            if out[i] is None:
                g, text = generation(p)
                if g > before[i] and "all views updated" in text:
                    out[i] = time.perf_counter() - t0
        time.sleep(0.05)
    if None in out:
        raise RuntimeError(f"unanswered pages after {timeout} s: {out}")
    return out


def bench_browser(parts, rounds: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    lines = []
    base, proc = start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu"])
            ctx = browser.new_context(viewport={"width": 1300, "height": 900})

            def open_page():
                p = ctx.new_page()
                p.goto(f"{base}/dashboard", timeout=300_000)
                p.get_by_text(STATUS).wait_for(timeout=300_000)
                return p
            if "pages" in parts:
                pages = [open_page() for _ in range(8)]
                times = []
                for r in range(rounds):
                    before = [generation(p)[0] for p in pages]
                    t0 = time.perf_counter()
                    for i, p in enumerate(pages):
                        press(p, key="ArrowRight" if (r + i) % 2 else "ArrowLeft")
                    times += wait_answers(pages, before, t0)
                lines.append(summary(f"eight pages at once, {rounds} rounds, per change",
                                     times))
                for p in pages:
                    p.close()
            if "rss" in parts:
                page = open_page()
                keys = ["ArrowRight"] * 5 + ["ArrowLeft"] * 5
                for i in range(10):                  # warm-up: the six settings computed
                    before = [generation(page)[0]]
                    press(page, key=keys[i % 10])
                    wait_answers([page], before, time.perf_counter(), 120)
                r0 = rss(proc.pid)
                samples = [r0]
                t_start = time.monotonic()
                for i in range(200):
                    before = [generation(page)[0]]
                    press(page, key=keys[i % 10])
                    wait_answers([page], before, time.perf_counter(), 120)
                    if (i + 1) % 20 == 0:
                        samples.append(rss(proc.pid))
                    if time.monotonic() - t_start > 900:
                        lines.append(f"rss: stopped after {i + 1} changes (900 s)")
                        break
                mib = 2**20
                lines.append("rss (server MiB / workers MiB) every 20 changes: " + ", ".join(
                    f"{a / mib:.0f}/{b / mib:.0f}" for a, b in samples))
                lines.append(f"rss growth over the changes: server "
                             f"{(samples[-1][0] - r0[0]) / mib:+.0f} MiB, workers "
                             f"{(samples[-1][1] - r0[1]) / mib:+.0f} MiB")
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="worker,pages,rss")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    parts = args.parts.split(",")
    lines = [f"load average before: {os.getloadavg()}"]
    if "worker" in parts:
        lines += bench_worker()
    if "pages" in parts or "rss" in parts:
        lines += bench_browser(parts, args.rounds)
    lines.append(f"load average after: {os.getloadavg()}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
