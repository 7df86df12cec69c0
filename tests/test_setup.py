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


# Runtime dependencies used through another package rather than imported: what shows the use.
_USED_THROUGH = {"imageio-ffmpeg": 'fmt == "mp4"',  # imageio's MP4 writer runs its ffmpeg
                 "scikit-learn": "from sklearn"}  # its import name differs


def test_every_runtime_dependency_is_imported():
    """A dependency declared in pyproject.toml is imported by engine/, scatviz/ or apps/:
    none is installed for nothing (holoviews was, until it was dropped)."""
    import tomllib

    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0] for d in deps]
    source = "\n".join(p.read_text() for folder in ("engine", "scatviz", "apps")
                       for p in (REPO_ROOT / folder).rglob("*.py"))
    unused = [n for n in names
              if (_USED_THROUGH[n] not in source if n in _USED_THROUGH else
                  not re.search(rf"^\s*(import|from)\s+{n}\b", source, re.MULTILINE))]
    assert not unused, f"declared in pyproject.toml but imported nowhere: {unused}"


def test_suite_data_ships_with_the_repository():
    """The Kymatio parity tests and the small FSDD tests need no ../shared (tests/data)."""
    from tests.conftest import REFERENCE_DIR, TEST_DATA

    assert len(list(REFERENCE_DIR.glob("s1d_*.npz"))) >= 6
    assert (REFERENCE_DIR / "kymatio_test_data_1d.npz").is_file()
    wavs = list((TEST_DATA / "fsdd").glob("*.wav"))
    assert len(wavs) == 120
    credits = (TEST_DATA / "README.md").read_text()
    assert "BSD-3-Clause" in credits and "CC BY-SA 4.0" in credits
