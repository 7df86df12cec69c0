"""The views of second order, the joint wavelets, the filter-bank heatmaps and the energy per
n1 in a real headless Chromium (marked browser): one page load, which opens their collapsed
cards (their figures are sent then, with their data) and picks n1 on the scalogram with the
mouse."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from scatviz.state import jtfs_available  # noqa: E402

pytestmark = pytest.mark.browser

#: Card title -> a figure of its view (Bokeh model name) whose image gets data when opened.
CARDS = {"Second-order scattering": "s2_image",
         "JTFS joint wavelets": "joint_wavelets_image",
         "Filter bank heatmaps": "fbh_psi2_image",
         "JTFS energy per first-order frequency": None}

_DOC = "window.Bokeh.documents[window.Bokeh.documents.length - 1]"

_IMAGE_SIZE = f"""name => {{
    const r = {_DOC}.get_model_by_name(name);
    if (!r) {{ return -1; }}
    const img = r.data_source.data['image'][0];
    return img ? img.length : -1; }}"""

#: Where, in page coordinates, the centre of row ``r`` (from the bottom) of the scalogram is.
_ROW_POINT = f"""r => {{
    const fig = {_DOC}.get_model_by_name('scalogram');
    const view = window.Bokeh.index.find_one(fig);
    const box = view.canvas_view.el.getBoundingClientRect();
    const x = view.frame.x_scale.compute(fig.x_range.start
                                         + 0.5 * (fig.x_range.end - fig.x_range.start));
    const y = view.frame.y_scale.compute(r + 0.5);
    return [box.left + x, box.top + y]; }}"""


@pytest.fixture(scope="module")
def dashboard_url(panel_server):
    return panel_server("apps/dashboard.py") + "/dashboard"


def test_new_cards_open_draw_and_follow_the_scalogram(page: Page, dashboard_url):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(dashboard_url)
    expect(page.get_by_text(re.compile(r"#1 · .* computed in"))).to_be_visible(timeout=60_000)
    # closed cards: their figures are not on the page (nothing computed, nothing sent)
    for image in filter(None, CARDS.values()):
        assert page.evaluate(_IMAGE_SIZE, image) == -1, image
    for title, image in CARDS.items():
        if image is None or (not jtfs_available() and "JTFS" in title):
            continue
        page.get_by_text(title, exact=True).first.click()
        page.wait_for_function(f"n => ({_IMAGE_SIZE})(n) > 1", arg=image, timeout=30_000)
    page.get_by_text("JTFS energy per first-order frequency", exact=True).first.click()
    if jtfs_available():
        page.wait_for_function(
            f"() => {{ const m = {_DOC}.get_model_by_name('energy_profile');"    # sent on open
            " return m && m.renderers"
            ".some(r => r.data_source.data['xs'] && r.data_source.data['xs'].length > 3); }",
            timeout=30_000)
    # a click on a row of the scalogram chooses that wavelet for the second-order view
    title = f"() => {_DOC}.get_model_by_name('s2_scattergram').title.text"
    for row in (5, 20):
        page.get_by_text("Scalogram", exact=True).first.scroll_into_view_if_needed()
        x, y = page.evaluate(_ROW_POINT, row)
        page.mouse.click(x, y)
        n = page.evaluate(f"() => {_DOC}.get_model_by_name('scalogram').y_range.end")
        n1 = int(n) - 1 - row
        page.wait_for_function(f"n1 => ({title})().includes('n1=' + n1 + ':')", arg=n1,
                               timeout=15_000)
    # hovering another row picks it too
    x, y = page.evaluate(_ROW_POINT, 12)
    page.mouse.move(x, y)
    page.wait_for_function(f"n1 => ({title})().includes('n1=' + n1 + ':')",
                           arg=int(n) - 1 - 12, timeout=15_000)
