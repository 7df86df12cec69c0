"""Screenshots of the app for the README, taken with Debian's headless Chromium against
`scatviz serve`'s command: every page (docs/app_<page>.png) and the dashboard's views
(docs/screenshots/*.png: the page in light and dark, one card each; docs/screenshot_*.png: the
collapsed cards of the new views, opened, and the JTFS 2D figure).

Usage: .venv/bin/python scripts/app_screenshots.py [--quick] [--only NAME ...]
Store the first pictures first (``python -m scatviz.demos.precompute``); ``--quick`` uses the
quick profile (and a temporary cache) instead. The dashboard's views compute on the page
(no store).
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

#: The dashboard's shots: name -> (URL query, file under docs/, what: "page" (the viewport),
#: a card's title (that card; a collapsed one is opened first), or "figure:NAME" (one Bokeh
#: figure, by its model name)).
DASHBOARD_SHOTS = {
    "dashboard_light": ("", "screenshots/dashboard_light.png", "page"),
    "filterbank": ("", "screenshots/filterbank.png", "Filter bank"),
    "energies": ("", "screenshots/energies.png", "Coefficient energies"),
    "jtfs2d": ("", "screenshots/jtfs2d.png", "JTFS 2D"),
    "jtfs_animation": ("", "screenshots/jtfs_animation.png", "JTFS 4D animation"),
    "spin_inspector": ("", "screenshots/spin_inspector.png", "Spin inspector"),
    "jtfs_grid": ("", "screenshot_jtfs_grid.png", "figure:jtfs2d"),
    "scattering2": ("", "screenshot_scattering2.png", "Second-order scattering"),
    "joint_wavelets": ("", "screenshot_joint_wavelets.png", "JTFS joint wavelets"),
    "dashboard_dark": ("?asset=vibrato&theme=dark", "screenshots/dashboard_dark.png", "page"),
}
#: The dashboard's viewport (the page shots; a card is as wide as the main column).
DASHBOARD_VIEWPORT = {"width": 1400, "height": 900}

_DOC = "window.Bokeh.documents[window.Bokeh.documents.length - 1]"
#: Marks the element of Bokeh figure ``name`` (id ``shot-target``) for a locator.
_MARK_FIGURE = f"""name => {{
    const fig = {_DOC}.get_model_by_name(name);
    const view = fig && window.Bokeh.index.find_one(fig);
    if (!view) {{ return false; }}
    document.querySelectorAll('#shot-target').forEach(e => e.removeAttribute('id'));
    view.el.id = 'shot-target';
    return true; }}"""
#: Whether the card titled ``t`` is a collapsed `scatviz.views.cards.lazy_card`; whether its
#: view has joined the page.
_COLLAPSED = f"""t => {{ const m = {_DOC}.get_model_by_name('card_' + t);
    return Boolean(m && m.collapsed); }}"""
_FILLED = f"""t => {{ const m = {_DOC}.get_model_by_name('lazy_' + t);
    return Boolean(m && m.children.length > 0); }}"""


def _dashboard_shots(page, base: str, names: list[str], out: Path) -> None:
    """The dashboard's shots ``names`` (`DASHBOARD_SHOTS`), one page load per URL query."""
    from playwright.sync_api import expect

    page.set_viewport_size(DASHBOARD_VIEWPORT)
    loaded = None
    for name in names:
        query, file, what = DASHBOARD_SHOTS[name]
        if query != loaded:
            page.goto(f"{base}/dashboard{query}")
            # every view drawn, JTFS included (the status line says so last)
            expect(page.get_by_text(re.compile(r"#\d+ · .* all views updated")).first
                   ).to_be_visible(timeout=300_000)
            page.wait_for_timeout(2500)            # the canvases' last paint
            loaded = query
        target = out / file
        target.parent.mkdir(parents=True, exist_ok=True)
        if what == "page":
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(500)
            page.screenshot(path=str(target))
        elif what.startswith("figure:"):
            assert page.evaluate(_MARK_FIGURE, what.split(":", 1)[1]), f"no figure {what}"
            shot = page.locator("#shot-target")
            shot.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            shot.screenshot(path=str(target))
        else:
            card = page.locator(".scatviz-view").filter(
                has=page.get_by_text(what, exact=True)).first
            card.scroll_into_view_if_needed()
            if page.evaluate(_COLLAPSED, what):     # a lazy card: open it, wait for its view
                card.get_by_text(what, exact=True).first.click()
                page.wait_for_function(_FILLED, arg=what, timeout=120_000)
                page.wait_for_timeout(6000)        # its view computed, sent and painted
            card.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            card.screenshot(path=str(target))
        print(f"wrote {target}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the quick profile")
    p.add_argument("--only", action="append", choices=[*SHOTS, *DASHBOARD_SHOTS])
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
            for name in [n for n in args.only or SHOTS if n in SHOTS]:
                path, ready, height = SHOTS[name]
                page.set_viewport_size({"width": 1500, "height": height})
                page.goto(f"http://127.0.0.1:{port}/{path}")
                expect(page.get_by_text(re.compile(ready)).first).to_be_visible(
                    timeout=180_000)
                page.wait_for_timeout(2500)            # the canvases' last paint
                out = Path(args.out) / f"app_{name}.png"
                page.screenshot(path=str(out), full_page=True)
                print(f"wrote {out}")
            names = [n for n in args.only or DASHBOARD_SHOTS if n in DASHBOARD_SHOTS]
            if names:
                _dashboard_shots(page, f"http://127.0.0.1:{port}", names, Path(args.out))
            browser.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
