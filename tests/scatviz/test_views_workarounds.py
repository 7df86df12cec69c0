"""`scatviz.views._workarounds`: each test fails when the Panel or BokehJS internal that a
workaround relies on changes (renamed, moved, no longer consulted), so that an upgrade cannot
quietly make one of them do nothing. (`settle_text_panes` is covered by
``test_first_change_after_the_page_is_built_does_not_rewalk_the_document`` in
test_views_dashboard.py, which also fails when Panel no longer needs it.)"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import bokeh
import panel as pn
import pytest
from panel.reactive import Reactive

from scatviz.views._workarounds import (
    SAME_CSS_FIX,
    OfflineFast,
    ReleaseSlider,
    ServedTemplate,
)

BOKEH_JS = Path(bokeh.__file__).parent / "server" / "static" / "js"


def test_release_slider_relies_on_reactive_priority_changes_and_busy_ignore():
    """Panel consults ``_priority_changes`` where it schedules a browser change (sent at
    once instead of after ``_debounce``) and ``_busy__ignore`` where it counts busy events."""
    assert isinstance(Reactive._priority_changes, list) and isinstance(Reactive._debounce, int)
    assert isinstance(Reactive._busy__ignore, list)
    server_change = inspect.getsource(Reactive._server_change)
    assert "in self._priority_changes" in server_change
    assert "self._debounce" in server_change
    assert "self._busy__ignore" in inspect.getsource(Reactive._process_events)
    assert set(ReleaseSlider._priority_changes) == {"value", "value_throttled"}
    assert set(ReleaseSlider._busy__ignore) == {"value", "value_throttled"}


def test_release_slider_events_skip_the_busy_counter(monkeypatch):
    counted = []
    monkeypatch.setattr(pn.state, "_add_busy_event", counted.append)
    w = ReleaseSlider(start=1, end=9, value=3)
    w._process_events({"value": 4})
    assert w.value == 4 and counted == []
    plain = pn.widgets.IntSlider(start=1, end=9, value=3)
    plain._process_events({"value": 4})
    assert len(counted) == 1                         # what the workaround avoids


def _dom_module(js: str) -> str:
    start = js.index("/* core/dom.js */")
    nxt = re.compile(r"/\* [\w/.-]+\.js \*/").search(js, start + 10)
    return js[start:nxt.start() if nxt else len(js)]


def test_inline_stylesheet_patch_matches_the_installed_bokehjs():
    """The fix wraps ``core/dom``'s ``InlineStyleSheet.prototype._update``, through which
    every write of a stylesheet's text goes (``replace`` included)."""
    dom = _dom_module((BOKEH_JS / "bokeh.js").read_text())
    cls = dom[dom.index("class InlineStyleSheet "):]
    cls = cls[:cls.index("exports.InlineStyleSheet")]
    assert re.search(r"_update\(css\)\s*{\s*this\.el\.textContent = css;", cls)
    assert re.search(r"replace\(css, styles\)\s*{\s*this\._update\(", cls)
    assert "this.el = " in cls
    # the minified bundle (the one the server sends) has the module and the method
    minified = (BOKEH_JS / "bokeh.min.js").read_text()
    assert '"core/dom"' in minified and "InlineStyleSheet" in minified
    assert "_update(" in minified
    for name in ('Bokeh.require("core/dom")', "InlineStyleSheet", "prototype._update",
                 "this.el.textContent"):
        assert name in SAME_CSS_FIX


def test_fast_templates_still_read_the_theme_from_the_url(monkeypatch):
    """The FAST templates look ``?theme=`` up themselves (an unknown name raises);
    `ServedTemplate` leaves it to the app."""
    from panel.template.fast.base import FastBaseTemplate

    assert "_get_theme_from_query_args()" in inspect.getsource(FastBaseTemplate.__init__)
    monkeypatch.setattr(type(pn.state), "session_args",
                        property(lambda self: {"theme": [b"bogus"]}))
    with pytest.raises(KeyError):
        pn.template.FastListTemplate()
    tmpl = ServedTemplate(theme="dark")
    assert tmpl.theme.__name__ == "DarkTheme"


def test_fast_design_still_names_a_web_font_and_offline_fast_does_not():
    """Panel's FAST design lists an online font among its resources, and the server adds
    the font of the page's design (``config.design``) to every page; `OfflineFast` lists
    none and still finds its bundled files (Panel finds them by the class name)."""
    from panel.io import resources
    from panel.theme import Fast

    assert any("//" in url for url in Fast._resources["font"].values())
    assert "_resources.get('font'" in inspect.getsource(resources.Resources)
    assert "config.design = type(self._design)" in inspect.getsource(
        pn.template.base.BasicTemplate)
    assert "font" not in OfflineFast._resources
    res = OfflineFast().resolve_resources(cdn=False)
    urls = [u for kind in ("js", "js_modules", "css") for u in res[kind].values()]
    assert urls and not any("://" in u or u.startswith("//") for u in urls)
    assert any(u.endswith("bundled/fast/js/fast_design.js") for u in urls)
    assert isinstance(ServedTemplate().design(), OfflineFast)
