"""A served page loads Bokeh's MathJax bundle only when its text has TeX."""

from __future__ import annotations

import panel as pn
from bokeh.document import Document
from bokeh.resources import Resources
from panel.io.resources import bundle_resources

from scatviz.views import page_scripts


def _scripts(*panes) -> list[str]:
    doc = Document()
    for p in panes:
        p.server_doc(doc)
    return [str(u) for u in bundle_resources(doc.roots, Resources(mode="server")).js_files]


def test_mathjax_only_for_a_page_with_tex():
    page_scripts.install()
    plain = _scripts(pn.pane.Markdown("## A scalogram, in seconds and Hz"),
                     pn.pane.HTML("<nav>links</nav>"))
    assert plain and not any("bokeh-mathjax" in s for s in plain)
    assert any("bokeh.min.js" in s or "bokeh.js" in s for s in plain)
    tex = _scripts(pn.pane.Markdown("The loss $$\\|S x - S y\\|$$"))
    assert any("bokeh-mathjax" in s for s in tex)


def test_every_page_installs_it():
    import panel.io.resources as res

    import scatviz.views.nav  # noqa: F401  (installs it)

    assert res._panel_use_mathjax is page_scripts.uses_mathjax
