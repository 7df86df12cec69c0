"""The page shell every page of the app shares: one template, one theme, one navigation.

`AppPage` is the base of every served page (the dashboard and the teaching demos): a
``pn.viewable.Viewer`` with a ``slug`` (its URL ``/slug``, from `scatviz.pages`), a
``title``, a ``theme`` read from the URL (``?theme=dark``) and a `template` (the dashboard's
`ServedTemplate`: FAST list template, system fonts, the same accent and header) whose header
holds the navigation, a link to every page of the app. The one theme switch is the
template's own (the sun/moon switch: it reloads the page with ``?theme=dark`` or
``?theme=default``); the links carry the page's theme (``why_jtfs?theme=dark``), so the
theme follows the student from page to page. Subclasses give ``sidebar()`` and ``main()``.

>>> nav_links("why_jtfs", "dark")[0]                                 # doctest: +SKIP
('Dashboard', './dashboard?theme=dark', False)
"""

from __future__ import annotations

import contextlib
import html
from typing import ClassVar

import panel as pn
import param
from panel.io import hold

from scatviz.pages import PAGES, served_pages
from scatviz.views._workarounds import ServedTemplate, install_browser_fixes

__all__ = ["AppPage", "THEMES", "ACCENT", "HEADER_BACKGROUND", "PAGE_FONTS", "nav_links",
           "nav_header", "theme_from_query", "frozen_document", "warming",
           "defer_below"]

#: Panel's themes; the first is the default (as `scatviz.views.query.THEMES`).
THEMES = ("default", "dark")
ACCENT = "#d6604d"
HEADER_BACKGROUND = "#2b2d42"
#: The page's fonts: the system's own (no web font is fetched).
PAGE_FONTS = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
              '"Noto Sans", "Liberation Sans", sans-serif')

_NAV_CSS = """
.scatviz-nav { display: flex; gap: 4px; align-items: center; flex-wrap: wrap;
               font-family: inherit; font-size: 15px; }
.scatviz-nav a { color: #f4f4f6; text-decoration: none; padding: 4px 10px;
                 border-radius: 6px; white-space: nowrap; }
.scatviz-nav a:hover { background: rgba(255, 255, 255, 0.15); }
.scatviz-nav a.current { background: #d6604d; color: white; }
"""


def theme_from_query(args: dict | None) -> tuple[str, list[str]]:
    """``(theme, notes)`` from URL arguments (``pn.state.session_args``): ``?theme=dark``; an
    unknown theme gives the default and a note saying so."""
    raw = (args or {}).get("theme")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    if raw is None or raw == "":
        return THEMES[0], []
    if raw in THEMES:
        return raw, []
    return THEMES[0], [f"URL argument theme={raw!r} is not a theme (use one of "
                       f"{', '.join(THEMES)}): using {THEMES[0]!r}."]


def nav_links(current: str, theme: str) -> list[tuple[str, str, bool]]:
    """``(title, href, is current page)`` of every served page, the theme kept; hrefs are
    relative (``./digits?theme=dark``) so they work under any URL prefix."""
    try:
        pages = served_pages()
    except FileNotFoundError:           # outside a clone (a notebook): the fixed pages
        pages = [p for p in PAGES if not p.optional]
    suffix = "" if theme == THEMES[0] else f"?theme={theme}"
    return [(p.title, f"./{p.slug}{suffix}", p.slug == current) for p in pages]


def nav_header(current: str, theme: str) -> pn.pane.HTML:
    """The header's navigation: a link per page, the current one highlighted."""
    links = [f'<a href="{html.escape(href)}" class="{"current" if cur else ""}" '
             f'{"aria-current=page" if cur else ""}>{html.escape(title)}</a>'
             for title, href, cur in nav_links(current, theme)]
    return pn.pane.HTML('<nav class="scatviz-nav">' + "".join(links) + "</nav>",
                        stylesheets=[_NAV_CSS], name="nav", margin=(0, 10),
                        sizing_mode="stretch_width")


def warming() -> bool:
    """True while ``panel serve --warm`` (`scatviz.cli.serve_command`) builds a page once
    before the server listens: a session with no server behind it, whose document is thrown
    away (a page starts no job for it)."""
    ctx = getattr(pn.state.curdoc, "session_context", None)
    return ctx is not None and getattr(ctx, "server_context", True) is None


@contextlib.contextmanager
def frozen_document(doc=None):
    """Defer the Bokeh document's model-graph recomputation to the end of the block.

    Panel adds a template's roots to the document one by one (the header, each sidebar
    item, each card), and Bokeh walks the whole model graph again after every root, every
    ``js_on_change`` and every theme hook: for the dashboard's ~1300 models that was 4-5 s
    of the page's construction on the loaded 2-core machine, against 1-1.7 s frozen (one
    walk at the end; `benchmarks/bench_pages.py`). Themes are applied as the models attach,
    so the document is the same. Without a document (a notebook, a test): nothing."""
    doc = doc if doc is not None else pn.state.curdoc
    if doc is None:
        yield
        return
    with doc.models.freeze():
        yield


def defer_below(items: list, keep: int, on_filled=None) -> list:
    """``items`` (a page's cards, top to bottom) with those after the first ``keep`` replaced
    by empty placeholders, filled once the browser has drawn the page (``pn.state.onload``):
    the first document the browser builds holds the first picture only, and the cards below
    it follow in one message. ``on_filled()`` is called after the fill. Without a served
    document (a notebook, a test), or with nothing to defer: ``items`` unchanged."""
    doc = pn.state.curdoc
    if doc is None or getattr(doc, "session_context", None) is None or len(items) <= keep:
        return list(items)
    later = list(items[keep:])
    slots = [pn.Column(sizing_mode="stretch_width", name=f"deferred_{i}", margin=0)
             for i in range(len(later))]

    def fill() -> None:
        with frozen_document(doc), hold(doc):
            for slot, item in zip(slots, later):
                slot.objects = [item]
        if on_filled is not None:
            on_filled()

    pn.state.onload(fill)
    return [*items[:keep], *slots]


class AppPage(pn.viewable.Viewer):
    """One page of the app (see the module's docstring). Subclasses set ``slug`` and
    ``title`` and give ``main()`` (and ``sidebar()``); ``Page.from_query(args).servable()``
    serves it from an ``apps/<slug>.py`` file.

    >>> class Hello(AppPage):                                        # doctest: +SKIP
    ...     slug, title = "hello", "Hello"
    ...     def main(self): return [pn.pane.Markdown("hi")]
    """

    slug: ClassVar[str] = ""
    title: ClassVar[str] = ""
    sidebar_width: ClassVar[int] = 320
    #: Served, the main cards after the first ``first_cards`` are sent once the first
    #: picture is drawn (`defer_below`); None: all at once.
    first_cards: ClassVar[int | None] = None

    theme = param.Selector(default=THEMES[0], objects=list(THEMES), doc="Panel's theme.")
    notes = param.List(default=[], item_type=str,
                       doc="Why URL arguments were replaced or ignored (shown on the page).")

    @classmethod
    def from_query(cls, args: dict | None = None, **params) -> AppPage:
        """The page with the theme of the URL (``?theme=dark``; a bad one noted)."""
        theme, notes = theme_from_query(args)
        return cls(theme=theme, notes=notes, **params)

    def sidebar(self) -> list:
        return []

    def main(self) -> list:
        raise NotImplementedError

    def nav(self) -> pn.pane.HTML:
        return nav_header(self.slug, self.theme)

    def url_notes(self) -> pn.pane.Alert:
        return pn.pane.Alert("\n".join(f"- {n}" for n in self.notes), alert_type="warning",
                             visible=bool(self.notes), name="url_notes",
                             sizing_mode="stretch_width")

    def template(self) -> ServedTemplate:
        """The served page: the app's template with the navigation in its header."""
        side = self.sidebar()
        main = self.main()
        if self.first_cards is not None:
            main = defer_below(main, self.first_cards)
        return ServedTemplate(
            title=f"scatviz · {self.title}", header=[self.nav()],
            sidebar=[self.url_notes(), *side], main=main,
            sidebar_width=self.sidebar_width, accent=ACCENT, theme=self.theme,
            font=PAGE_FONTS, font_url="", header_background=HEADER_BACKGROUND,
            busy_indicator=None)

    def servable(self, title: str | None = None, **kwargs):
        """Serve the page (`template`) in the current document, with the browser fixes;
        then `on_served` (periodic callbacks and the like need the document). The document's
        model graph is computed once (`frozen_document`), not once per root."""
        with frozen_document():
            tmpl = self.template().servable(title or f"scatviz · {self.title}", **kwargs)
        if pn.state.curdoc is not None:
            install_browser_fixes(pn.state.curdoc)
            self.on_served()
        return tmpl

    def on_served(self) -> None:
        """Called once the page is in a served document (override)."""

    def __panel__(self):
        return pn.Column(*self.sidebar(), *self.main(), sizing_mode="stretch_width")
