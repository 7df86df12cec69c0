"""The dataset explorer in a real headless Chromium against `panel serve apps/explorer.py`
(marked browser): the page renders the embedding plot and the classifier's accuracy, and a
store outside the stores folder is refused."""

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
