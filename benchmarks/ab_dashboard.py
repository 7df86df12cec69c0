"""Interleaved A/B of the dashboard's latency: two checkouts served side by side, the same
change made on one then the other.

The hosts' speed drifts by up to 2x within minutes, more than most changes worth measuring;
two runs of `bench_dashboard.py` one after the other compare two phases of the host as much
as two versions of the code. Here both servers run at once (one per checkout), one headless
Chromium has a page on each, and every slider change is made on both pages back to back,
alternating which goes first: each pair sees the same phase of the host. Reported: each
side's median and 95th percentile, and the median of the paired differences B - A.

Calibrate with an A/A run (the same checkout twice) before reading a difference: on these
hosts a 20-pair A/A has shown medians of paired differences of up to ~15 ms.

Usage (from the repository root; B defaults to this checkout)::

    git worktree add /tmp/base <rev>
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/ab_dashboard.py /tmp/base [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from bench_dashboard import (
    CHANGES,
    CHROMIUM_ARGS,
    ROOT,
    free_port,
    press_and_wait,
    start_server,
    status_host,
    stepped,
    stop_server,
    wait_all,
)

#: Per round, the changes (slider, key) from J=6, Q1=8: each round's settings are new to
#: both servers (their transform caches live as long as the process).
PLANS = [
    CHANGES,
    [("Q1", "ArrowLeft")] * 5 + [("J (octaves)", "ArrowRight")] + [("Q1", "ArrowRight")] * 14,
]


def _open(browser, port: int):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/dashboard")
    host = status_host(page)
    wait_all(page, host, 6, 8)
    page.get_by_text(re.compile(r"· frame \d+/\d+")).wait_for(timeout=120_000)
    return page, host


def run(a: Path, b: Path, rounds: int) -> dict:
    """Latencies (s) per side ("A", "B") and kind ("new", "cached"), in pairs."""
    from playwright.sync_api import sync_playwright

    out = {side: {"new": [], "cached": []} for side in "AB"}
    servers = []
    try:
        for root in (a, b):
            port = free_port()
            servers.append((start_server(port, root)[0], port))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for plan in PLANS[:rounds]:
                pages = [_open(browser, port) for _, port in servers]
                J, Q1 = 6, 8
                for n, (label, key) in enumerate(plan):
                    J, Q1 = stepped(J, Q1, label, key)
                    for k in ((0, 1) if n % 2 == 0 else (1, 0)):
                        page, host = pages[k]
                        out["AB"[k]]["new"].append(
                            press_and_wait(page, host, label, key, J, Q1))
                for n in range(12):                    # toggles between two cached settings
                    key, q = ("ArrowRight", Q1 + 1) if n % 2 == 0 else ("ArrowLeft", Q1)
                    for k in ((0, 1) if n % 2 == 0 else (1, 0)):
                        page, host = pages[k]
                        seconds = press_and_wait(page, host, "Q1", key, J, q)
                        if n >= 2:                     # the first two compute Q1 + 1
                            out["AB"[k]]["cached"].append(seconds)
                for page, _ in pages:
                    page.close()
            browser.close()
    finally:
        for proc, _ in servers:
            stop_server(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="checkout A (e.g. a git worktree of the base)")
    ap.add_argument("b", type=Path, nargs="?", default=ROOT, help="checkout B (this one)")
    ap.add_argument("--rounds", type=int, default=1, choices=range(1, len(PLANS) + 1),
                    help="rounds of 20 new settings and 10 cached toggles")
    args = ap.parse_args()
    out = run(args.a.resolve(), args.b.resolve(), args.rounds)
    print(f"A = {args.a}, B = {args.b}; N=8192 at 8 kHz, paired changes")
    for kind in ("new", "cached"):
        a, b = np.asarray(out["A"][kind]), np.asarray(out["B"][kind])
        print(f"{kind:6s} n={len(a):2d}  A median {np.median(a):.3f} s, p95 "
              f"{np.percentile(a, 95):.3f} | B median {np.median(b):.3f} s, p95 "
              f"{np.percentile(b, 95):.3f} | median of B - A {1e3 * np.median(b - a):+.1f} ms,"
              f" B faster in {np.mean(b < a):.0%} of pairs")


if __name__ == "__main__":
    main()
