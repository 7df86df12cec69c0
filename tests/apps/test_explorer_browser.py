"""The dataset explorer in a real headless Chromium against `panel serve apps/explorer.py`
(marked browser): the page renders the embedding plot and the classifier's accuracy, a store
outside the stores folder is refused, and a mouse click on a point of the embedding (its
screen position from the plot's scales) opens that recording in the dashboard's views."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def explorer_url(panel_server, tmp_path_factory, fsdd_sample_dir):
    from distributed import Client, LocalCluster

    from scatviz.features import extract

    stores = tmp_path_factory.mktemp("stores")
    files = sorted(fsdd_sample_dir.glob("*.wav"))[:40]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        extract(files, stores / "digits.zarr", client=client, labels="fsdd", pool="none",
                progress=False, J=5, Q=6, N=2048)
    return panel_server("apps/explorer.py", "--args", "--stores", str(stores)) + "/explorer"


def test_page_renders_the_embedding(page: Page, explorer_url):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(explorer_url + "?store=digits.zarr")
    expect(page.get_by_text(re.compile(r"Classifier accuracy: \d+\.\d%"))).to_be_visible(
        timeout=60_000)
    expect(page.get_by_text("Click a point to open its recording.")).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible(timeout=30_000)
    # the embedding, the waveform and the scalogram: three Bokeh figures
    assert page.locator(".bk-Canvas, canvas").count() >= 3
    page.goto(explorer_url + "?store=../../etc")
    expect(page.get_by_text(re.compile("outside the stores folder"))).to_be_visible(
        timeout=60_000)


_DOC = "window.Bokeh.documents[window.Bokeh.documents.length - 1]"

#: The embedding's most isolated point (farthest, on screen, from its nearest neighbour, so
#: that a click there hits it alone; none under the legend, whose click hides the points):
#: its index, name and page coordinates.
_LONELY_POINT = f"""() => {{
    const fig = {_DOC}.get_model_by_name('embedding');
    const points = {_DOC}.get_model_by_name('points');
    const view = window.Bokeh.index.find_one(fig);
    const box = view.canvas_view.el.getBoundingClientRect();
    const d = points.data_source.data;
    const px = Array.from(d['x'], x => view.frame.x_scale.compute(x));
    const py = Array.from(d['y'], y => view.frame.y_scale.compute(y));
    const legend = fig.center.find(m => m.type === 'Legend');
    const lb = window.Bokeh.index.find_one(legend).bbox;
    let best = -1, far = -1;
    for (let i = 0; i < px.length; i++) {{
        let near = Infinity;
        for (let j = 0; j < px.length; j++) {{
            if (j !== i) {{ near = Math.min(near, Math.hypot(px[i] - px[j], py[i] - py[j])); }}
        }}
        const inside = px[i] > 10 && py[i] > 10 && px[i] < view.frame.bbox.right - 10
                       && py[i] < view.frame.bbox.bottom - 10
                       && !(px[i] > lb.x0 - 10 && px[i] < lb.x1 + 10 && py[i] > lb.y0 - 10
                            && py[i] < lb.y1 + 10);
        if (inside && near > far) {{ far = near; best = i; }}
    }}
    return {{i: best, name: d['name'][best], label: String(d['label'][best]), gap: far,
             x: box.left + px[best], y: box.top + py[best]}}; }}"""

_WAVEFORM = f"""() => {{
    const fig = {_DOC}.get_model_by_name('waveform');
    return {{title: fig.title.text, end: fig.x_range.end}}; }}"""


def test_clicking_a_point_opens_its_recording(page: Page, explorer_url, fsdd_sample_dir):
    import soundfile as sf

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(explorer_url + "?store=digits.zarr")
    expect(page.get_by_text("Click a point to open its recording.")).to_be_visible(
        timeout=60_000)
    page.wait_for_function(f"() => {_DOC} && {_DOC}.get_model_by_name('points') && "
                           f"window.Bokeh.index.find_one({_DOC}.get_model_by_name('embedding'))",
                           timeout=30_000)
    before = page.evaluate(_WAVEFORM)
    point = page.evaluate(_LONELY_POINT)
    assert point["i"] >= 0 and point["gap"] > 4, point     # a 7-px point alone under the cursor
    assert point["name"] not in before["title"]
    page.mouse.click(point["x"], point["y"])               # the browser's click: the tap tool
    # the dashboard's views show that recording: its name and label, its waveform's length
    expect(page.get_by_text(f"{point['name']} (digit {point['label']})")).to_be_visible(
        timeout=30_000)
    page.wait_for_function(f"n => ({_WAVEFORM})().title.includes(n)", arg=point["name"],
                           timeout=30_000)
    info = sf.info(str(fsdd_sample_dir / point["name"]))
    end = page.evaluate(_WAVEFORM)["end"]
    assert end == pytest.approx(info.frames / info.samplerate, rel=0.05), (end, info)
    # ... and its scalogram, over the same time
    page.wait_for_function(f"t => Math.abs({_DOC}.get_model_by_name('scalogram').x_range.end"
                           f" - t) < 0.05 * t", arg=info.frames / info.samplerate,
                           timeout=30_000)
    assert page.evaluate(f"() => {_DOC}.get_model_by_name('points')"
                         ".data_source.selected.indices") == [point["i"]]
