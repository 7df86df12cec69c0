"""The layers of DESIGN.md: computing never imports viewing, and any registered filter-bank
design is accepted by the state, the pipeline and the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine import filterbank as fb

#: What the CLI, the demos and a worker compute with.
COMPUTE_MODULES = ["scatviz.results", "scatviz.analysis", "scatviz.pipeline", "scatviz.state",
                   "scatviz.cli", "scatviz.features", "scatviz.render", "scatviz.signals_io",
                   "scatviz.demos.common", "scatviz.demos.why_jtfs", "scatviz.demos.digits",
                   "scatviz.demos.reconstruction"]
WEB_STACK = ("panel", "bokeh", "holoviews")


@pytest.mark.parametrize("module", COMPUTE_MODULES)
def test_computing_imports_no_web_stack(module):
    """Importing a compute module (and computing a JTFS with the pipeline) loads neither
    Panel, Bokeh nor HoloViews."""
    code = (
        f"import sys, numpy as np; import {module}\n"
        "from scatviz.pipeline import compute_transforms\n"
        "tr = compute_transforms(np.sin(np.arange(2048) * .3).astype('float32'), 8000, J=5, "
        "Q1=4, Q2=1, T=0, J_fr=2, Q_fr=1, F=1, design='kymatio')\n"
        "assert tr.jtfs is not None, tr.jtfs_error\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_STACK!r}))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", f"{module} imports the web stack: {res.stdout}"


@pytest.fixture
def extra_design(monkeypatch):
    """A third design registered for one test: the kymatio design under another name."""
    name = "kymatio_again"
    monkeypatch.setitem(fb._DESIGNS, name, fb._DESIGNS["kymatio"])
    return name


def test_state_and_pipeline_accept_any_registered_design(extra_design):
    from scatviz.state import TRANSFORM_CACHE, ScatState

    TRANSFORM_CACHE.clear()
    st = ScatState.from_signal(np.sin(np.arange(4096) * 0.2).astype("float32"), 8000, J=5,
                               Q1=4, with_jtfs=False)
    assert extra_design in st.param.design.objects
    ref = st.result.scalogram.mag
    st.design = extra_design
    assert st.error == "" and st.result.key[7] == extra_design
    np.testing.assert_array_equal(st.result.scalogram.mag, ref)
    TRANSFORM_CACHE.clear()


def test_cli_accepts_any_registered_design(extra_design, tmp_path):
    from scatviz import cli

    out = tmp_path / "s.png"
    assert cli.main(["render", "sine", "--view", "scalogram", "--J", "5", "--Q", "4", "--N",
                     "2048", "--design", extra_design, "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    text, reports = cli.run_validate(5, 4, 1024, fmt="text")
    assert extra_design in dict(reports)


def test_render_draws_the_dashboards_scalogram():
    """`scatviz render --view scalogram` draws the array of the dashboard's scalogram."""
    from engine.signals import exponential_chirp
    from scatviz import cli
    from scatviz.pipeline import compute_transforms

    x = exponential_chirp(4096, 40, 3200, sample_rate=8000)
    fig = cli._draw("scalogram", x, 8000, "chirp", 6, (8, 1), None, 3, 1, None, "kymatio")
    tr = compute_transforms(x, 8000, J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1,
                            design="kymatio", with_jtfs=False)
    drawn = np.asarray(fig.axes[0].images[0].get_array())
    want = 20 * np.log10(tr.scalogram.mag + 1e-30)
    np.testing.assert_array_equal(drawn, want[::-1])
