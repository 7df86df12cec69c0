"""`RecordingOverview` in a real Chromium against `panel serve`: a click and a drag on the
overview move the detail window on the server (marked browser)."""

from __future__ import annotations

import re
import textwrap

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

APP = textwrap.dedent('''
    import numpy as np
    import panel as pn

    from scatviz.longrec.overview import compute_overview
    from scatviz.views.overview import RecordingOverview

    rng = np.random.default_rng(0)
    x = (0.2 * rng.standard_normal(8000 * 60)).astype(np.float32)
    view = RecordingOverview(overview=compute_overview(x, 8000, columns=512), window=(10.0, 4.0))
    label = pn.pane.Markdown("window 10.00 4.00", name="window_label")
    view.param.watch(lambda e: setattr(label, "object", "window %.2f %.2f" % e.new), "window")
    pn.Column(label, view, width=900).servable()
''')


@pytest.fixture(scope="module")
def overview_url(panel_server, tmp_path_factory):
    app = tmp_path_factory.mktemp("longrec_app") / "overview_app.py"
    app.write_text(APP)
    return panel_server(app) + "/overview_app"


def _window(page: Page) -> tuple[float, float]:
    text = page.get_by_text(re.compile(r"^window [\d.]+ [\d.]+$")).inner_text()
    start, length = (float(v) for v in text.split()[1:])
    return start, length


def test_click_and_drag_on_the_overview_move_the_window(page: Page, overview_url):
    page.set_viewport_size({"width": 1000, "height": 800})
    page.goto(overview_url)
    expect(page.get_by_text("window 10.00 4.00")).to_be_visible(timeout=60_000)
    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible()
    page.wait_for_timeout(500)
    box = canvas.bounding_box()
    y = box["y"] + box["height"] * 0.6
    # a click right of the window: the window centres there, same length
    page.mouse.click(box["x"] + box["width"] * 0.75, y)
    expect(page.get_by_text(re.compile(r"^window (?!10\.00)"))).to_be_visible(timeout=20_000)
    start, length = _window(page)
    assert length == pytest.approx(4.0) and start > 20.0
    # drag the box to the left: it moves, its length kept
    rng_x = box["x"] + box["width"] * 0.75
    page.mouse.move(rng_x, y)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(rng_x - k * box["width"] * 0.06, y)
    page.mouse.up()
    page.wait_for_timeout(1000)
    new_start, new_length = _window(page)
    assert new_start < start - 5.0 and new_length == pytest.approx(4.0, abs=0.05)


DASHBOARD_APP = textwrap.dedent('''
    import numpy as np

    from engine._costs import Cost
    from scatviz.views.dashboard import Dashboard

    rng = np.random.default_rng(0)
    t = np.arange(8000 * 60) / 8000
    x = (0.3 * np.sin(2 * np.pi * (300 + 20 * t) * t) + 0.05 * rng.standard_normal(t.size))
    d = Dashboard()
    # 0.1 ms per sample and transform: a window of 4096 samples (cheap to compute)
    d.open_recording(x.astype(np.float32), 8000,
                     cost=lambda kind, shape, batch=1, **p: Cost(0, 0, (), 1e-4 * shape))
    d.servable()
''')


def test_dashboard_analyses_the_window_chosen_on_the_overview(page: Page, panel_server,
                                                              tmp_path_factory):
    app = tmp_path_factory.mktemp("longrec_dash") / "long_dashboard.py"
    app.write_text(DASHBOARD_APP)
    url = panel_server(app) + "/long_dashboard"
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    status = page.get_by_text(re.compile(r"#\d+ · signal @ 0\.00 s"))
    expect(status).to_be_visible(timeout=90_000)
    canvas = page.locator("canvas").first               # the overview is the first view
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.6)
    moved = page.get_by_text(re.compile(r"#\d+ · signal @ (?!0\.00 s)[\d.]+ s .*all views"))
    expect(moved).to_be_visible(timeout=90_000)
    start = float(re.search(r"@ ([\d.]+) s", moved.inner_text()).group(1))
    assert 25.0 < start < 60.0
    expect(page.get_by_text(re.compile(r"Detail window shortened to 0\.51 s"))).to_be_visible()
