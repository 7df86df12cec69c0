"""Every place where scatviz relies on an internal of Panel or BokehJS, in one module.

Each workaround names the internal it relies on, and `tests/scatviz/test_views_workarounds.py`
fails when that internal changes (renamed, no longer consulted where we rely on it), so an
upgrade cannot quietly turn one of them into a no-op:

* `ReleaseSlider`: Panel's ``Reactive._priority_changes`` (sent without the 50 ms debounce)
  and ``Reactive._busy__ignore`` (events not counted in ``pn.state.busy``);
* `install_browser_fixes`: BokehJS's ``core/dom`` ``InlineStyleSheet.prototype._update``;
* `settle_text_panes`: a text pane's first update replacing its model's stylesheets;
* `ServedTemplate`, `OfflineFast`: the FAST templates' ``_get_theme_from_query_args`` (they read
  ``?theme=`` themselves and fail on an unknown name) and the FAST design's
  ``_resources["font"]`` (a web font from an online font service).
"""

from __future__ import annotations

from typing import ClassVar

import panel as pn
from panel.theme import Fast

__all__ = ["OfflineFast", "ReleaseSlider", "SAME_CSS_FIX", "ServedTemplate",
           "install_browser_fixes",
           "settle_text_panes"]


class ReleaseSlider(pn.widgets.IntSlider):
    """An `IntSlider` whose release (``value_throttled``) reaches the server at once.

    Panel delays every browser-to-server property change by ``Reactive._debounce`` (50 ms)
    to merge bursts, except the properties listed in ``_priority_changes``; a release is one
    event, already throttled by the browser, so that delay is pure latency between releasing
    the handle and the transform starting. ``value`` (sent while dragging, and just before
    each release) is listed too: the browser sends ``value`` and then ``value_throttled`` in
    two messages, and a ``value`` left waiting out its delay would hold back the release.

    The server reads the second message only once it has processed the first. Panel counts
    every processed event in ``pn.state.busy`` (for its template's indicator, which the
    dashboard replaces by its own badge), and each count edits every parameter of
    ``pn.state``. Slider events skip that count (``_busy__ignore``)."""

    _priority_changes: ClassVar[list[str]] = ["value", "value_throttled"]
    _busy__ignore: ClassVar[list[str]] = ["value", "value_throttled"]


#: Run in the page once the document is ready (see `install_browser_fixes`).
SAME_CSS_FIX = """
const dom = (typeof Bokeh !== "undefined" && Bokeh.require) ? Bokeh.require("core/dom") : null;
const Sheet = dom ? dom.InlineStyleSheet : null;
if (Sheet && typeof Sheet.prototype._update === "function" && !Sheet.prototype.__scatviz) {
  const update = Sheet.prototype._update;
  Sheet.prototype._update = function (css) {
    if (this.el.textContent !== css) { update.call(this, css); }
  };
  Sheet.prototype.__scatviz = true;
}
"""


def install_browser_fixes(doc) -> None:
    """Make BokehJS skip rewriting a stylesheet with the text it already has.

    On every paint each renderer of a figure (glyphs, axes, grids, title, annotations) writes
    its position into a ``<style>`` element (``core/dom``'s ``InlineStyleSheet._update``), the
    same text as before when nothing moved; Chromium re-parses it and invalidates the
    figure's styles, and the renderer's next colour read (``getComputedStyle``) waits for a
    style recalculation. Skipping an identical text changes nothing else. Installed on
    ``document_ready``; if BokehJS's internals differ (another version), nothing is patched
    (and the test of this module fails)."""
    from bokeh.models import CustomJS

    doc.js_on_event("document_ready", CustomJS(code=SAME_CSS_FIX))


def settle_text_panes(panes, doc) -> None:
    """Give the models of text ``panes`` (Markdown, HTML) in ``doc`` the stylesheets their
    updates will carry, once, after the page has loaded.

    Panel builds such a pane's model with stylesheets of its own, and the first update of
    its text sends the template's shared ones instead: a change of a property that holds
    models, after which Bokeh walks the whole document's model graph again. The first
    slider change after the page loaded paid that for the status line and for the spin
    inspector's verdict. `Dashboard` runs this on the page's load (``pn.state.onload``) for
    the panes that change while the page is used: one walk (``freeze``) and one small
    message. (Run before the document is sent, it left the page blank: BokehJS no longer
    found the template's roots; run on every text pane of the page, it delayed the first
    complete render.)"""
    with doc.models.freeze():
        for pane in panes:
            pane.param.trigger("object")


class ServedTemplate(pn.template.FastListTemplate):
    """`FastListTemplate` that leaves ``?theme=`` to the app and loads no web font.

    * The FAST templates read the URL's ``theme`` argument themselves
      (``_get_theme_from_query_args``) and look it up in Panel's themes: an unknown name
      raised a ``KeyError`` while the page was built, and the page did not render. The app
      validates the argument with the other URL arguments and passes ``theme=`` explicitly.
    * The FAST design lists a web font of an online font service among its resources
      (``Fast._resources["font"]``), and every page asked that service for it: a lab tool
      must work offline and tell no third party who opened it. The template uses
      `OfflineFast`, and the app names system fonts (``font=``, ``font_url=""``)."""

    @staticmethod
    def _get_theme_from_query_args():
        return None

    def __init__(self, **params):
        params.setdefault("design", OfflineFast)
        super().__init__(**params)


class OfflineFast(Fast):
    """Panel's FAST design without its web font (``Fast._resources["font"]``): the template
    uses it, and the Panel server also adds the font of the page's design
    (``config.design``, set from the template's) to every page's stylesheets.

    Named ``Fast`` as Panel finds a design's bundled files by its class name
    (``fast/js/fast_design.js``)."""

    _resources = {k: v for k, v in Fast._resources.items() if k != "font"}


OfflineFast.__name__ = "Fast"
