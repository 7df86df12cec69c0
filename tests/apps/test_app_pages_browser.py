"""The served app in a real headless Chromium: every page opens on a drawn, interactive
picture (Bokeh canvases, no image stills), the navigation joins the pages and keeps the
theme, a digits cell lists its recordings, and the server logs no traceback (marked browser).

The first-picture time of each page (from the request to its status saying what it shows)
is written to the test output, not asserted: timings belong in benchmarks."""

from __future__ import annotations

import re
import time

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from tests.apps.app_server import app_server  # noqa: E402

pytestmark = pytest.mark.browser

#: page -> (text that says its first picture is drawn, least number of Bokeh canvases)
FIRST_PICTURE = {
    "dashboard": (r"#1 · .* computed in", 12),
    "why_jtfs": (r"rising vs falling chirp: J=\d+.*\(stored first picture\)", 7),
    "reconstruction": (r"Adam iterations .*final loss .*\(stored first picture\)", 7),
    "digits": (r"Scattering1D: \d+\.\d% \(stored first picture\)", 3),
}
NAV_TITLES = {"dashboard": "Dashboard", "why_jtfs": "Why JTFS",
              "reconstruction": "Reconstruction", "digits": "Spoken digits"}


def _tracebacks(text: str) -> list[str]:
    """The tracebacks in a server log, less Tornado's report of a message written to a
    page that had just been left (``WebSocketClosedError`` in ``tornado/websocket.py``: a
    test that opens the next page at once can close a socket while an update is on its
    way; no error of the app's)."""
    blocks = text.split("Traceback (most recent call last):")[1:]
    closed = ("WebSocketClosedError", "StreamClosedError")
    return [b[:3000] for b in blocks
            if not ("tornado/websocket.py" in b[:1500] and any(c in b[:1500] for c in closed))]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with app_server(tmp_path_factory.mktemp("app_pages"), precompute=True) as (base, log):
        yield base, log
    found = _tracebacks(log.read_text(errors="replace"))
    assert found == [], found[0]


@pytest.fixture
def report(capsys, record_property):
    """Write a line to the test output (shown without ``-s``; also a JUnit property)."""
    def write(name: str, line: str) -> None:
        record_property(name, line)
        with capsys.disabled():
            print(f"\n{line}")
    return write


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _open(page: Page, url: str, slug: str) -> float:
    """Open ``url`` and wait for ``slug``'s first picture; seconds it took."""
    text, n_canvas = FIRST_PICTURE[slug]
    t0 = time.perf_counter()
    page.goto(url)
    expect(page.get_by_text(re.compile(text)).first).to_be_visible(timeout=90_000)
    page.wait_for_function("n => document.querySelectorAll('*').length > 0 && "
                           "(function count(root) { let c = root.querySelectorAll('canvas')"
                           ".length; for (const el of root.querySelectorAll('*')) "
                           "if (el.shadowRoot) c += count(el.shadowRoot); return c; })"
                           "(document) >= n", arg=n_canvas, timeout=60_000)
    return time.perf_counter() - t0


@pytest.mark.parametrize("slug", list(FIRST_PICTURE))
def test_page_opens_on_interactive_plots(page: Page, served, report, slug):
    base, log = served
    errors = _errors(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    seconds = _open(page, f"{base}/{slug}", slug)
    report("first_picture_s", f"[first picture] /{slug}: {seconds:.2f} s (stored first "
           "pictures; from the request to the drawn canvases, browser load included)")
    # a Bokeh document, its figures drawn on canvases, no matplotlib still among them
    n_plots = page.evaluate("() => { const d = window.Bokeh.documents[0]; "
                            "return [...d.all_models].filter(m => m.type === 'Figure' || "
                            "(m.constructor && m.constructor.__name__ === 'Figure')).length }")
    assert n_plots >= 1
    stills = page.locator("img[src^='data:image/png']")
    assert stills.count() == 0
    # the navigation: every page, this one marked
    nav = page.locator("nav.scatviz-nav")
    for title in NAV_TITLES.values():
        expect(nav.get_by_role("link", name=title, exact=True)).to_be_attached()
    expect(nav.locator("a.current")).to_have_text(NAV_TITLES[slug])
    assert errors == [], errors
    assert _tracebacks(log.read_text(errors="replace")) == []


def test_a_second_visit_opens_on_the_first_picture_too(page: Page, served, report):
    """Each page opened again (a new session, the browser's cache warm) draws its first
    picture, every card included (the dashboard's status says "computed in" only once the
    cards below its scalogram are drawn), without a page error."""
    base, log = served
    errors = _errors(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    for slug in FIRST_PICTURE:
        _open(page, f"{base}/{slug}", slug)
        seconds = _open(page, f"{base}/{slug}", slug)
        report("second_visit_s", f"[second visit] /{slug}: {seconds:.2f} s")
    assert errors == [], errors
    assert _tracebacks(log.read_text(errors="replace")) == []


def _follow(page: Page, title: str, url_pattern: str, slug: str) -> None:
    """Click the header's link ``title``; wait for the page (its navigation marks it)."""
    page.locator("nav.scatviz-nav").get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(url_pattern))
    expect(page.locator("nav.scatviz-nav a.current")).to_have_text(NAV_TITLES[slug],
                                                                   timeout=90_000)


def test_navigation_joins_the_pages_and_keeps_the_theme(page: Page, served):
    """A demo links to the dashboard, the dashboard to every demo; the template's theme
    switch reloads the page in the other theme and the links keep it."""
    base, _ = served
    page.set_viewport_size({"width": 1400, "height": 1000})
    _open(page, f"{base}/why_jtfs", "why_jtfs")
    _follow(page, "Dashboard", r"/dashboard$", "dashboard")
    nav = page.locator("nav.scatviz-nav")
    for slug in ("why_jtfs", "reconstruction", "digits"):
        assert nav.get_by_role("link", name=NAV_TITLES[slug], exact=True).get_attribute(
            "href") == f"./{slug}"
    _follow(page, "Reconstruction", r"/reconstruction$", "reconstruction")
    page.locator("#theme-switch").click()              # the template's one theme switch
    page.wait_for_url(re.compile(r"/reconstruction\?theme=dark$"))
    expect(page.get_by_text(re.compile(FIRST_PICTURE["reconstruction"][0])).first
           ).to_be_visible(timeout=90_000)
    _follow(page, "Spoken digits", r"/digits\?theme=dark$", "digits")
    expect(page.get_by_text(re.compile(FIRST_PICTURE["digits"][0])).first).to_be_visible(
        timeout=90_000)
    assert nav.get_by_role("link", name="Dashboard", exact=True).get_attribute(
        "href") == "./dashboard?theme=dark"
    # Panel's dark theme is on the page (FAST's dark design tokens)
    assert "dark" in page.evaluate("() => document.documentElement.outerHTML")


def test_a_confusion_cell_lists_its_recordings(page: Page, served):
    base, _ = served
    page.set_viewport_size({"width": 1400, "height": 1000})
    _open(page, f"{base}/digits", "digits")
    # a tap on cell (true 3, predicted 3) selects its index in the cells' source
    page.evaluate("() => { const d = window.Bokeh.documents[0]; "
                  "d.get_model_by_name('confusion_cells').selected.indices = [33]; }")
    expect(page.get_by_text(re.compile(r"correctly classified test recordings?: true 3, "
                                       r"predicted 3"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"3_\w+_\d+ · \d+ samples · sample rate 8000 Hz"))
           ).to_be_visible(timeout=30_000)
    expect(page.locator("audio").first).to_be_attached()
