"""Screenshots of every page of the app for the README (docs/app_<page>.png), taken with
Debian's headless Chromium against `scatviz serve`'s command.

Usage: .venv/bin/python scripts/app_screenshots.py [--quick]
Store the first pictures first (``python -m scatviz.demos.precompute``); ``--quick`` uses the
quick profile (and a temporary cache) instead.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: page -> (URL path and query, text that says the first picture is drawn, height px)
SHOTS = {
    "dashboard": ("dashboard", r"#1 · .* computed in", 1100),
    "why_jtfs": ("why_jtfs", r"\(stored first picture\)", 2350),
    "reconstruction": ("reconstruction", r"\(stored first picture\)", 1150),
    "digits": ("digits", r"\(stored first picture\)", 1020),
    "digits_dark": ("digits?theme=dark", r"\(stored first picture\)", 1020),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the quick profile")
    p.add_argument("--only", action="append", choices=list(SHOTS))
    p.add_argument("--out", default=str(ROOT / "docs"))
    args = p.parse_args()
    from playwright.sync_api import expect, sync_playwright

    from scatviz.cli import serve_command

    env = dict(os.environ, SCATVIZ_PRECOMPUTE="0", OMP_WAIT_POLICY="PASSIVE",
               PYTHONPATH=str(ROOT))
    if args.quick:
        env.update(SCATVIZ_DEMO_PROFILE="quick",
                   SCATVIZ_DEMO_CACHE=tempfile.mkdtemp(prefix="scatviz-shots-"))
        subprocess.run([sys.executable, "-m", "scatviz.demos.precompute"], env=env,
                       check=True, cwd=ROOT)
    port = 5791
    proc = subprocess.Popen(serve_command(port=port), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard", timeout=60)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            for name in args.only or SHOTS:
                path, ready, height = SHOTS[name]
                page.set_viewport_size({"width": 1500, "height": height})
                page.goto(f"http://127.0.0.1:{port}/{path}")
                expect(page.get_by_text(re.compile(ready)).first).to_be_visible(
                    timeout=180_000)
                page.wait_for_timeout(2500)            # the canvases' last paint
                out = Path(args.out) / f"app_{name}.png"
                page.screenshot(path=str(out), full_page=True)
                print(f"wrote {out}")
            browser.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
