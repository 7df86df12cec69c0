"""scatviz.report: figures, the self-contained HTML page, the dashboard panel."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine import Scattering1D
from engine.toolkit import validate_filterbank
from scatviz import report as rp


@pytest.fixture(scope="module")
def reports():
    return rp.validate_designs(6, 16, 4096, designs=("kymatio", "tight", "nope"))


def test_validate_designs_side_by_side(reports):
    labels = [label for label, _ in reports]
    assert labels == ["kymatio", "tight", "nope"]
    assert isinstance(reports[2][1], str) and "not available" in reports[2][1]
    kym = reports[0][1]
    assert kym.params["design"] == "kymatio" and not kym.ok
    tight = reports[1][1]
    (flat,) = tight.get("lp_flatness", "psi1")
    assert flat.ok                         # the tight design's LP sum is flat (energy 1)


def test_html_is_self_contained(reports, tmp_path):
    page = rp.report_html(reports, "t", {"J": 6})
    # no external resources: every src is inline data, no <script src>, no <link href>
    srcs = re.findall(r'src="([^"]+)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in page and "http://" not in page and "https://" not in page
    assert "psi1.analyticity" in page and "not available" in page
    # one filter plot and one LP plot per family of each available design
    assert len(srcs) == 2 * 2 * 2
    path = rp.write_report(tmp_path / "r.html", reports)
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>") and path


def test_figures_highlight_offending():
    r = validate_filterbank(Scattering1D(6, 4096, 16), families=["psi1"])
    fig = rp.filter_figure(r, "psi1")
    reds = [ln for ax in fig.axes for ln in ax.get_lines()
            if ln.get_color() == rp.BAD and len(ln.get_xdata())]
    # each offending filter drawn in red on both axes
    assert len(reds) == 2 * len(r.offending("psi1")) > 0
    png = rp.figure_png(rp.lp_figure(r, "psi1"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_validation_panel_has_download():
    pn = pytest.importorskip("panel")
    obj = rp.validation_panel(5, 8, 1024, designs=("kymatio",))
    downloads = [o for o in obj.select(pn.widgets.FileDownload)]
    assert len(downloads) == 1 and downloads[0].filename.endswith(".html")
    data = downloads[0].callback().read()
    assert data.startswith(b"<!DOCTYPE html>")


def test_text_of_all(reports):
    text = rp.reports_text(reports)
    assert "=== kymatio ===" in text and "=== nope ===" in text
    assert np.isfinite(reports[0][1].families["psi1"].lp).all()
