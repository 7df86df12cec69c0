"""Time to the first picture of every page of the served app, in a real headless Chromium.

For each page (``/dashboard``, ``/why_jtfs``, ``/reconstruction``, ``/digits``) and each run,
a *fresh* server is started (``scatviz serve``'s own ``panel serve`` command line, the
demos' first pictures stored beforehand, as a server start leaves them). Once it answers
``/liveness`` the page is opened in a new browser context (the server's first visit,
nothing in the browser's cache), closed, and opened again in the same context (a second
visit: a new session of the same server, scripts and styles in the browser's cache, as when
a student comes back to the page). Each visit is timed in the page itself, from the
navigation's start to the first picture drawn: the page's status line says what it shows,
at least the page's number of Bokeh canvases exist, then two animation frames (painted).
Also reported: when the HTML arrived (the server built the session), when the Bokeh
document was built in the browser, when every card was drawn (pages that send the cards
below the first picture after it), the size of the HTML and of the websocket messages
received before the first picture, and the server's start (launch to ``/liveness``).

The medians over ``--runs`` runs are printed, and written with the command and the machine's
load to ``--out`` (default ``benchmarks/_out/pages.md``).

Usage (repository root; needs /usr/bin/chromium and playwright, never `playwright install`)::

    .venv/bin/python benchmarks/bench_pages.py [--runs 3] [--pages dashboard,digits]
        [--profile quick] [--settle 0] [--out benchmarks/_out/pages.md]

``--settle S`` waits S seconds after ``/liveness`` before the first visit (0: at once, the
worst case: what the server still starts competes with the first visitor).

``--block PART`` (repeatable) answers every request whose URL contains PART with an empty
script instead of the file, in the browser: what a page's script costs it (e.g.
``--block bokeh-mathjax``), provided the page still draws without it (page errors are
printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: page -> (regular expression of its status line once its first picture is drawn, least
#: number of Bokeh canvases); as `tests/apps/test_app_pages_browser.py`.
FIRST_PICTURE = {
    "dashboard": (r"#1 · .* (computed in|first picture)", 4),
    "why_jtfs": (r"rising vs falling chirp: J=\d+.*\(stored first picture\)", 7),
    "reconstruction": (r"Adam iterations .*final loss .*\(stored first picture\)", 7),
    "digits": (r"Scattering1D: \d+\.\d% \(stored first picture\)", 3),
}

#: page -> (status, canvases) once every card is drawn, where the page sends the cards
#: below its first picture after it (`scatviz.views.nav.defer_below`); the others: as above.
COMPLETE = {
    "dashboard": (r"#1 · .* computed in", 12),
    "why_jtfs": (FIRST_PICTURE["why_jtfs"][0], 24),
}

# In the page: poll (every 25 ms) the whole text (shadow roots included) and the canvases
# until the status matches and enough canvases exist, then two animation frames; the time
# since the navigation started (ms), or -1 after the deadline.
WAIT_JS = """
async ([pattern, nCanvas, deadlineMs]) => {
  const re = new RegExp(pattern);
  function walk(root, acc) {
    acc.canvas += root.querySelectorAll('canvas').length;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { acc.text.push(el.shadowRoot.textContent); walk(el.shadowRoot, acc); }
    }
    return acc;
  }
  const frame = () => new Promise(r => requestAnimationFrame(r));
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const t = {doc: -1, canvas: -1};
  while (performance.now() < deadlineMs) {
    if (t.doc < 0 && window.Bokeh && window.Bokeh.documents.length > 0) { t.doc = performance.now(); }
    if (document.body) {
      const acc = walk(document, {canvas: 0, text: [document.body.textContent]});
      if (t.canvas < 0 && acc.canvas > 0) { t.canvas = performance.now(); }
      if (acc.canvas >= nCanvas && re.test(acc.text.join('\\n'))) {
        await frame(); await frame();
        const nav = performance.getEntriesByType('navigation')[0];
        return {picture: performance.now(), html: nav ? nav.responseEnd : -1, ...t};
      }
    }
    await sleep(25);
  }
  return {picture: -1};
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(cache: Path, profile: str, extra: dict | None = None) -> dict:
    env = dict(os.environ, SCATVIZ_DEMO_PROFILE=profile, SCATVIZ_DEMO_CACHE=str(cache),
               SCATVIZ_PRECOMPUTE="0", OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def precompute(cache: Path, profile: str) -> None:
    """Store the profile's first pictures in ``cache`` (not timed)."""
    res = subprocess.run([sys.executable, "-m", "scatviz.demos.precompute"], cwd=ROOT,
                         env=_env(cache, profile), capture_output=True, text=True,
                         timeout=1800)
    if res.returncode != 0:
        raise RuntimeError("precompute failed:\n" + res.stdout[-3000:] + res.stderr[-3000:])


class Server:
    """``scatviz serve``'s ``panel serve`` command on a free port (a process group)."""

    def __init__(self, env: dict, log: Path):
        from scatviz.cli import serve_command

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = serve_command(port=self.port, extra=["--liveness"])
        self.log = log
        t0 = time.perf_counter()
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/liveness", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server not live after 180 s: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        self.start_s = time.perf_counter() - t0

    def stop(self) -> None:
        import signal

        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if self.proc.poll() is not None:
                return
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
                return
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


def visit(ctx, url: str, slug: str, timeout_s: float = 120.0) -> dict:
    """Open ``url`` in a new page of browser context ``ctx``; seconds to the first picture
    (and to the HTML, the document, the first canvas), bytes of HTML and of the websocket
    frames received before it."""
    pattern, n_canvas = FIRST_PICTURE[slug]
    page = ctx.new_page()
    received = {"html": 0, "ws": 0, "frames": 0}
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_ws(ws):
        def frame(payload):
            received["ws"] += len(payload)
            received["frames"] += 1
        ws.on("framereceived", frame)
    page.on("websocket", on_ws)
    try:
        resp = page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        t = page.evaluate(WAIT_JS, [pattern, n_canvas, timeout_s * 1000])
        ws_bytes = received["ws"]                  # before the first picture
        done = t
        if slug in COMPLETE and t["picture"] >= 0:
            done = page.evaluate(WAIT_JS, [*COMPLETE[slug], timeout_s * 1000])
        try:
            received["html"] = len(resp.body())
        except Exception:                   # noqa: BLE001 (the body may be gone)
            received["html"] = -1
    finally:
        page.close()
    if t["picture"] < 0:
        raise RuntimeError(f"/{slug}: no first picture within {timeout_s:.0f} s")
    return dict(s=t["picture"] / 1000, complete=done["picture"] / 1000,
                html=received["html"], ws=ws_bytes, errors=errors,
                phases={k: t[k] / 1000 for k in ("html", "doc", "canvas")})


def _block(ctx, parts: list[str]) -> None:
    """Answer requests whose URL contains one of ``parts`` with an empty script."""
    if not parts:
        return

    def handle(route):
        if any(p in route.request.url for p in parts):
            route.fulfill(status=200, content_type="application/javascript", body="")
        else:
            route.continue_()
    ctx.route("**/*", handle)


def run(pages: list[str], runs: int, profile: str, settle: float, env_extra: dict,
        workdir: Path, block: list[str] | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    cache = workdir / "cache"
    precompute(cache, profile)
    out = {slug: {"first": [], "second": [], "start": [], "html": [], "ws": [], "t_html": [],
                  "t_doc": [], "complete": []}
           for slug in pages}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        # a throw-away page so that the browser's own start is not in the first visit
        warm = browser.new_context()
        warm.new_page().goto("about:blank")
        warm.close()
        for r in range(runs):
            for slug in pages:
                log = workdir / f"serve-{slug}-{r}.log"
                server = Server(_env(cache, profile, env_extra), log)
                try:
                    if settle:
                        time.sleep(settle)
                    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                    _block(ctx, block or [])
                    try:
                        first = visit(ctx, f"{server.base}/{slug}", slug)
                        second = visit(ctx, f"{server.base}/{slug}", slug)
                    finally:
                        ctx.close()
                    # read before the stop (a worker still starting may complain of it)
                    text = log.read_text(errors="replace")
                finally:
                    server.stop()
                if "Traceback" in text:
                    raise RuntimeError(f"/{slug}: traceback in the server's log:\n{text[-3000:]}")
                d = out[slug]
                d["first"].append(first["s"])
                d["second"].append(second["s"])
                d["complete"].append(first["complete"])
                d["start"].append(server.start_s)
                d["html"].append(first["html"])
                d["ws"].append(first["ws"])
                d["t_html"].append(first["phases"]["html"])
                d["t_doc"].append(first["phases"]["doc"])
                print(f"run {r + 1}/{runs} /{slug}: first {first['s']:.2f} s, second "
                      f"{second['s']:.2f} s (server start {server.start_s:.1f} s, HTML "
                      f"{first['html'] / 1e3:.0f} kB, websocket {first['ws'] / 1e3:.0f} kB; first visit: "
                      f"HTML at {first['phases']['html']:.2f} s, document at "
                      f"{first['phases']['doc']:.2f} s, first canvas at "
                      f"{first['phases']['canvas']:.2f} s, every card drawn at {first['complete']:.2f} s)"
                      f"{'; page errors: ' + str(first['errors']) if first['errors'] else ''}",
                      flush=True)
        browser.close()
    return out


def report(out: dict, args, load_before, load_after) -> str:
    med = statistics.median
    lines = [f"Command: `{' '.join(shlex.quote(a) for a in sys.argv)}`",
             f"Machine: {platform.node()}, {os.cpu_count()} CPUs, shared with other sessions; "
             f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f}.",
             f"Profile {args.profile!r}, stored first pictures, {args.runs} run(s) per page, "
             f"a fresh server per page and run, first visit {args.settle:g} s after "
             "`/liveness`." + (f" Scripts answered empty: {args.block}." if args.block
                                else ""), "",
             "| page | first visit (median) | second visit (median) | first visits | "
             "first visit: HTML received, document built, every card drawn | server start | "
             "HTML | websocket before the picture |",
             "|---|---|---|---|---|---|---|---|"]
    for slug, d in out.items():
        lines.append(f"| /{slug} | {med(d['first']):.2f} s | {med(d['second']):.2f} s | "
                     f"{', '.join(f'{v:.2f}' for v in d['first'])} | "
                     f"{med(d['t_html']):.2f} s, {med(d['t_doc']):.2f} s, "
                     f"{med(d['complete']):.2f} s | "
                     f"{med(d['start']):.1f} s | {med(d['html']) / 1e3:.0f} kB | "
                     f"{med(d['ws']) / 1e3:.0f} kB |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pages", default=",".join(FIRST_PICTURE))
    ap.add_argument("--profile", default="quick", choices=("quick", "full"))
    ap.add_argument("--settle", type=float, default=0.0)
    ap.add_argument("--env", action="append", default=[],
                    help="NAME=VALUE for the server's environment (repeatable)")
    ap.add_argument("--block", action="append", default=[],
                    help="URL part: such requests get an empty script (repeatable)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "_out" / "pages.md"))
    args = ap.parse_args(argv)
    pages = [p for p in args.pages.split(",") if p]
    bad = [p for p in pages if p not in FIRST_PICTURE]
    if bad:
        ap.error(f"unknown page(s) {bad}; the pages are {list(FIRST_PICTURE)}")
    extra = dict(kv.split("=", 1) for kv in args.env)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_pages_") as tmp:
        out = run(pages, args.runs, args.profile, args.settle, extra, Path(tmp), args.block)
    text = report(out, args, load_before, os.getloadavg())
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
