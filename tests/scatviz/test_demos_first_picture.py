"""What makes a served page's first picture quick, without a browser: the server builds every
page once before it listens (``--warm``, and no job started for that throw-away session),
the template's roots join the document in one walk of its model graph, and the cards below
the first picture are sent once it is drawn (timings: `benchmarks/bench_pages.py`)."""

from __future__ import annotations

import types

import panel as pn
from bokeh.document import Document
from bokeh.document.models import DocumentModelManager
from bokeh.plotting import figure
from panel.io.state import set_curdoc

from scatviz.views.nav import defer_below, frozen_document, warming

_SERVER = object()


def _served_doc(server_context=_SERVER) -> Document:
    """A document as a served session has it (a session context; ``server_context=None``:
    the session ``panel serve --warm`` builds before the server listens)."""
    doc = Document()
    ctx = types.SimpleNamespace(server_context=server_context, id="test-session",
                                request=types.SimpleNamespace(arguments={}, cookies={},
                                                              headers={}))
    doc._session_context = lambda: ctx
    return doc


def test_serve_command_warms_every_page_before_listening():
    from scatviz.cli import serve_command

    assert "--warm" in serve_command(port=5123)


def test_warming_is_only_the_warm_up_session():
    assert not warming()                                   # no document
    with set_curdoc(_served_doc()):
        assert not warming()                               # a visitor's session
    with set_curdoc(_served_doc(server_context=None)):
        assert warming()


def test_frozen_document_adds_many_roots_in_one_walk(monkeypatch):
    walks = []
    real = DocumentModelManager.recompute
    monkeypatch.setattr(DocumentModelManager, "recompute",
                        lambda self: (walks.append(1), real(self))[1])
    figs = [figure(name=f"f{i}") for i in range(5)]
    doc = Document()
    with frozen_document(doc):
        for f in figs:
            doc.add_root(f)
    assert len(walks) == 1
    # every model is in the document, themed as it attached
    assert all(doc.get_model_by_name(f"f{i}") is figs[i] for i in range(5))
    assert all(m.document is doc for f in figs for m in f.references())
    unfrozen = Document()
    walks.clear()
    for f in [figure() for _ in range(3)]:
        unfrozen.add_root(f)
    assert len(walks) == 3                                 # what the freeze saves


def test_defer_below_sends_the_first_cards_then_the_rest_on_load():
    cards = [pn.pane.Markdown(f"card {i}") for i in range(4)]
    assert defer_below(cards, 2) == cards                  # not served: unchanged
    doc = _served_doc()
    filled = []
    with set_curdoc(doc):
        out = defer_below(cards, 2, on_filled=lambda: filled.append(True))
        assert out[:2] == cards[:2] and len(out) == 4
        assert all(isinstance(c, pn.Column) and not c.objects for c in out[2:])
        assert filled == []
        pn.state._on_load(doc)                             # the browser has drawn the page
    assert [c.objects[0] for c in out[2:]] == cards[2:] and filled == [True]
    with set_curdoc(_served_doc()):
        assert defer_below(cards, 4) == cards              # nothing to defer


def test_a_demo_page_starts_no_job_in_the_warm_up_session(monkeypatch, tmp_path):
    monkeypatch.setenv("SCATVIZ_DEMO_PROFILE", "quick")
    monkeypatch.setenv("SCATVIZ_DEMO_CACHE", str(tmp_path / "cache"))   # nothing stored
    from scatviz.demos.ui_reconstruction import ReconstructionPage

    with set_curdoc(_served_doc(server_context=None)):
        page = ReconstructionPage()
    assert page.job is None and page.shown == 0
    with set_curdoc(_served_doc()):                        # a visitor's: computes it
        page = ReconstructionPage()
    job = page.job
    try:
        assert job is not None
    finally:
        page.stop()
        job.wait(timeout=120)
