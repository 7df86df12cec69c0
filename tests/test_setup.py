"""The project infrastructure: the packages import, torch stays pinned, the browser stack works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_packages_import():
    import engine
    import scatviz

    assert Path(engine.__file__).resolve().parent == REPO_ROOT / "engine"
    assert Path(scatviz.__file__).resolve().parent == REPO_ROOT / "scatviz"


def test_constraints_pin_cpu_torch():
    # An unpinned torch pulls several GB of CUDA wheels; the CPU wheel 2.13.0 is pre-seeded.
    pins = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins
    assert not any(re.match(r"(pip|setuptools)\s*[=<>~!]", line) for line in pins)


def test_chromium_launch_kwargs(chromium_launch_kwargs):
    assert chromium_launch_kwargs["executable_path"] == "/usr/bin/chromium"
    assert "--headless" in chromium_launch_kwargs["args"]


@pytest.mark.browser
def test_panel_server_and_browser(panel_server, page, tmp_path):
    """panel_server + pytest-playwright's page drive a real app in Debian's Chromium."""
    app = tmp_path / "smoke_app.py"
    app.write_text(
        "import panel as pn\n"
        "pn.Column(pn.pane.Markdown('scatviz smoke ok'), pn.widgets.Button(name='Go')).servable()\n"
    )
    base = panel_server(app)
    page.goto(f"{base}/smoke_app")
    page.get_by_text("scatviz smoke ok").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Go").is_visible()
