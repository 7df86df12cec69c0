"""Leave Bokeh's MathJax bundle out of the app's pages, unless a page writes TeX.

Panel loads ``bokeh-mathjax.min.js`` (1.8 MB, the largest of a page's scripts) on every
served page that has any Panel HTML model among its document's roots
(``panel.io.resources._panel_use_mathjax``): every page of the app has (its navigation,
its Markdown), and none writes TeX. `install` makes that test look for TeX delimiters in
those models' text (Bokeh's own `contains_tex_string`: ``$$…$$``, ``\\[…\\]``, ``\\(…\\)``),
so a page that does write TeX still gets MathJax. Installed once per process by
`scatviz.views.nav` (every page imports it); measured with ``benchmarks/bench_pages.py``.

>>> install(); install()          # idempotent
>>> uses_mathjax([])
False
"""

from __future__ import annotations

import panel.io.resources as _resources
from bokeh.embed.util import contains_tex_string

__all__ = ["install", "uses_mathjax"]


def uses_mathjax(roots) -> bool:
    """Whether one of ``roots`` is a Panel HTML model (Markdown, HTML) whose text has TeX."""
    from panel.models.markup import HTML

    return any(isinstance(m, HTML) and isinstance(m.text, str) and contains_tex_string(m.text)
               for m in roots)


def install() -> None:
    """Replace Panel's every-HTML-model MathJax test by `uses_mathjax` (once)."""
    if _resources._panel_use_mathjax is not uses_mathjax:
        _resources._panel_use_mathjax = uses_mathjax
