"""The dashboard's model (no browser): sources, controls, errors beside the controls."""

from __future__ import annotations

import io
import re

import numpy as np
import panel as pn
import pytest
import soundfile as sf

from scatviz.views.dashboard import Dashboard


def test_dashboard_builds_every_view_on_a_bundled_signal():
    d = Dashboard(live=False)
    assert set(d.views) == {"signal", "scalogram", "filterbank", "energies", "jtfs2d",
                            "jtfs_animation", "spin", *d.extra_views}
    assert d.state.result is not None and d.generation >= 1
    assert "computed in" in d.status
    assert d.template() is not None


def test_dashboard_controls_and_engine_errors_beside_them():
    d = Dashboard(live=False)
    gen = d.generation
    d.state.J = 7
    assert d.generation == gen + 1 and "J=7" in d.status
    d.state.J = 14                                # too large for 8192 samples
    assert d.error_msg.visible and "J=14" in d.error_msg.object
    d.state.J = 6
    assert not d.error_msg.visible


def test_dashboard_upload_good_and_bad():
    d = Dashboard(live=False)
    buf = io.BytesIO()
    sf.write(buf, np.zeros((4000, 2), np.float32) + 0.1, 16000, format="WAV")
    assert d.load_upload(buf.getvalue(), "two.wav")
    assert d.state.sample_rate == 16000 and len(d.state.signal) == 4000
    assert "16000 Hz" in d.signal_view.info.object
    before = d.state.result
    assert not d.load_upload(b"not audio at all" * 50, "fake.wav")
    assert d.upload_msg.visible and "not a readable audio file" in d.upload_msg.object
    assert d.state.result is before               # the page keeps its last valid picture


def test_dashboard_generator_and_presets():
    d = Dashboard(live=False)
    d.gen_kind.value = "linear_chirp"
    d.gen_N.value = 4096
    d.gen_sr.value = 16000
    d._on_generate()
    assert len(d.state.signal) == 4096 and d.state.sample_rate == 16000
    d.w_preset.value = "Long averaging"
    assert d.state.J == 9


def _held_events(doc, change):
    """The Bokeh document events one change produces (what one update message carries)."""
    doc.hold("combine")
    try:
        change()
        return list(doc.callbacks._held_events)
    finally:
        doc.callbacks._held_events = []
        doc.unhold()


def test_a_setting_change_sends_only_new_data_in_few_frames():
    """A new setting replaces the views' data in one batch of events whose arrays are
    float32, with the images as binary buffers and the short columns and curves inside the
    message's JSON (each buffer is a websocket frame pair the browser handles as a task of
    its own), and does not resend what did not change: the waveform and the audio of the
    same signal."""
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent
    from bokeh.protocol import Protocol

    d = Dashboard(live=False)
    doc = Document()
    d.template().server_doc(doc)
    wave = d.signal_view.source
    audio = d.signal_view.audio.object
    events = _held_events(doc, lambda: setattr(d.state, "Q1", d.state.Q1 + 1))
    changed = {ev.model for ev in events if isinstance(ev, ColumnDataChangedEvent)}
    assert wave not in changed and d.signal_view.audio.object is audio
    assert d.scalogram_view.source in changed and d.jtfs2d_view.source in changed
    for ev in events:
        if not isinstance(ev, ColumnDataChangedEvent):
            continue
        for name, col in ev.model.data.items():
            arrays = col if isinstance(col, list) else [col]
            for a in arrays:
                if isinstance(a, np.ndarray) and a.size > 16:
                    assert a.dtype != np.float64, (ev.model, name)
    msg = Protocol().create("PATCH-DOC", events)
    assert len(msg.buffers) <= 12                       # was ~130 with one per curve
    images = [ev.model.data["image"][0] for ev in events if isinstance(ev,
              ColumnDataChangedEvent) and "image" in ev.model.data]
    assert sum(im.size for im in images) * 4 <= sum(len(b.to_bytes()) for b in msg.buffers)
    # a JTFS-only change keeps the scalogram and the filter bank's wavelets
    events = _held_events(doc, lambda: setattr(d.state, "J_fr", d.state.J_fr - 1))
    changed = {ev.model for ev in events if isinstance(ev, ColumnDataChangedEvent)}
    assert d.scalogram_view.source not in changed and wave not in changed
    assert d.filterbank_view.src_psi1 not in changed
    assert d.jtfs2d_view.source in changed


def test_both_mosaics_share_one_set_of_hover_labels():
    """The JTFS 2D view and the animation draw the same layout: its row and column labels
    live in one pair of sources, sent once per new layout (not once per figure)."""
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent

    d = Dashboard(live=False)
    two, anim = d.views["jtfs2d"], d.views["jtfs_animation"]
    assert two.labels[0] is anim.labels[0] and two.labels[1] is anim.labels[1]
    doc = Document()
    d.template().server_doc(doc)
    events = _held_events(doc, lambda: setattr(d.state, "Q1", d.state.Q1 + 3))
    sent = [ev.model for ev in events if isinstance(ev, ColumnDataChangedEvent)]
    assert sent.count(two.labels[0]) == 1
    assert two.labels[0].data["rows"] == two.mosaic_data()["layout"].rows


def test_first_change_after_the_page_is_built_does_not_rewalk_the_document(monkeypatch):
    """`settle_text_panes` (run by `Dashboard.servable` on the page's document): the first
    setting change updates the status line and the spin verdict without a new set of
    stylesheets, i.e. without Bokeh walking every model of the document again (~40 ms each;
    without it the first change after loading the page walked it twice)."""
    import bokeh.document.models as bm
    from bokeh.document import Document

    from scatviz.views.dashboard import settle_text_panes

    walks = []
    recompute = bm.DocumentModelManager.recompute
    monkeypatch.setattr(bm.DocumentModelManager, "recompute",
                        lambda self: walks.append(1) or recompute(self))

    def first_change(settle: bool) -> int:
        d = Dashboard(live=False)
        doc = Document()
        tmpl = d.template()
        tmpl.server_doc(doc)
        if settle:
            settle_text_panes([d.status_pane, d.spin_view.verdict], doc)
        walks.clear()
        d.state.Q1 = d.state.Q1 + 1
        assert "all views updated" in d.status_pane.object
        return len(walks)

    assert first_change(settle=False) >= 1          # what the settling removes
    assert first_change(settle=True) == 0


def test_tick_labels_that_follow_the_data_keep_their_width():
    """BokehJS lays a figure out again (14-44 ms in the page) when its widest tick label
    changes width. Labels that follow the setting keep theirs: the frequential labels have
    two decimals at every Q1 ("0.70 c/oct", not "0.7" after "0.74"), and the energy axes,
    the region's bars and the mosaics' colour bars print numbers in a fixed format."""
    from bokeh.models import ColorBar, PrintfTickFormatter

    d = Dashboard(live=False)
    two = d.views["jtfs2d"]
    widths = set()
    for q in range(8, 19):
        d.state.Q1 = q
        labels = list(two.figure.yaxis[0].major_label_overrides.values())
        assert all(re.fullmatch(r"[↑↓] \d\.\d\d c/oct|φ_f", lab) for lab in labels), labels
        widths.add(max(len(lab) for lab in labels))
    assert len(widths) == 1
    energy = d.views["energies"]
    fixed = [f.yaxis[0].formatter for f in (energy.fig_order, energy.fig_pair, energy.fig_spin)]
    fixed.append(d.views["spin"].fig_bars.yaxis[0].formatter)
    fixed += [r.formatter for v in ("jtfs2d", "jtfs_animation")
              for r in d.views[v].figure.right if isinstance(r, ColorBar)]
    assert len(fixed) == 6 and all(isinstance(f, PrintfTickFormatter) for f in fixed)


def test_no_image_is_colour_mapped_in_the_browser():
    """Every image of the dashboard is RGBA, coloured by the server, with its values in a
    ``value`` column for the hover (BokehJS maps an ``image`` pixel by pixel in the page,
    again at each change of its mapper's range); a new dB range sends the scalogram's pixels
    alone."""
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent
    from bokeh.models import GlyphRenderer, Image, ImageRGBA

    d = Dashboard(live=False)
    doc = Document()
    d.template().server_doc(doc)
    assert not list(doc.select({"type": Image}))
    images = [r for r in doc.select({"type": GlyphRenderer}) if isinstance(r.glyph, ImageRGBA)]
    assert len(images) >= 6            # (and the collapsed cards' images)
    for r in images:
        img, val = r.data_source.data["image"][0], r.data_source.data["value"][0]
        assert img.dtype == np.uint32 and val.dtype == np.float32
        assert img.shape == val.shape
    events = _held_events(doc, lambda: setattr(d.state, "db_range", 30))
    data = [ev for ev in events if isinstance(ev, ColumnDataChangedEvent)]
    assert [(ev.model, ev.cols) for ev in data] == [(d.scalogram_view.source, ["image"])]


def test_every_axis_that_follows_the_data_is_fitted_by_the_server():
    """No figure of the dashboard has a `DataRange1d` (the browser fits those after drawing:
    a second paint and a message back per figure and update); the explicit ranges contain
    every drawn value, with a margin, and follow a new setting."""
    from bokeh.document import Document
    from bokeh.models import DataRange1d, GlyphRenderer
    from bokeh.plotting import figure

    d = Dashboard(live=False)
    doc = Document()
    d.template().server_doc(doc)

    def check():
        figs = [m for m in doc.models if isinstance(m, figure)]
        assert len(figs) >= 12
        for fig in figs:
            assert not isinstance(fig.x_range, DataRange1d), fig.name
            assert not isinstance(fig.y_range, DataRange1d), fig.name
        for fig in (d.signal_view.figure, d.filterbank_view.figs_freq[True],
                    d.filterbank_view.fig_fr, d.energy_view.fig_order, d.energy_view.fig_pair,
                    d.energy_view.fig_spin, d.spin_view.fig_bars):
            drawn = [_y_values(r) for r in fig.renderers if isinstance(r, GlyphRenderer)]
            drawn = np.concatenate([v[np.isfinite(v)] for v in drawn])
            assert drawn.size, fig.name
            assert fig.y_range.start < drawn.min() and drawn.max() < fig.y_range.end, fig.name
        return d.filterbank_view.fig_fr.x_range.end, d.energy_view.fig_pair.y_range.end

    before = check()
    d.state.param.update(Q1=d.state.Q1 + 4, J_fr=d.state.J_fr + 1)
    assert check() != before


def _y_values(renderer) -> np.ndarray:
    """Every y value a glyph renderer draws (its y, ys, top and bottom columns)."""
    glyph, data = renderer.glyph, renderer.data_source.data
    out = [np.zeros(0)]
    for prop in ("y", "ys", "top", "bottom"):
        spec = getattr(glyph, prop, None)                # a column name, or a field spec
        field = spec if isinstance(spec, str) else getattr(spec, "field", None)
        for col in ([data[field]] if field in data else []):
            parts = col if len(col) and np.ndim(col[0]) else [col]
            out += [np.ravel(np.asarray(p, np.float64)) for p in parts]
    return np.concatenate(out)


def test_fit_range_pads_like_bokeh():
    from bokeh.models import Range1d

    from scatviz.views.base import fit_range

    r = Range1d(0, 1)
    fit_range(r, [np.array([0.0, 10.0]), [np.nan, 5.0]])
    assert (r.start, r.end) == pytest.approx((-0.5, 10.5))
    fit_range(r, [[1e-4, 1e2]], log=True)               # six decades, 0.3 of a decade each side
    assert (r.start, r.end) == pytest.approx((10 ** -4.3, 10 ** 2.3))
    assert (r.reset_start, r.reset_end) == (r.start, r.end)
    fit_range(r, [[np.nan]])                            # nothing to fit: unchanged
    assert r.end == pytest.approx(10 ** 2.3)


def test_busy_badge_follows_the_computation_and_nothing_spins():
    """A still badge above the status line while a transform computes; no animated spinner
    on the page (its repaints took CPU from the computation on two cores)."""
    d = Dashboard(live=False)
    # shown and hidden by CSS visibility: the badge keeps its box (no page layout)
    assert "computing" in d.busy.object and "visibility: hidden" in d.busy.object
    d.state.busy = True
    assert "visibility: visible" in d.busy.object and d.busy.visible
    d.state.busy = False
    assert "visibility: hidden" in d.busy.object and d.busy.visible
    assert d.template().busy_indicator is None
    assert not any(isinstance(w, pn.indicators.LoadingSpinner) for w in d.sidebar())


def test_slider_release_is_not_debounced():
    """Panel holds browser changes 50 ms to merge bursts; a slider release is one event and
    goes to the server at once."""
    d = Dashboard(live=False)
    for w in (d.w_J, d.w_Q1, d.w_Q2, d.w_Jfr, d.w_Qfr):
        assert "value_throttled" in type(w)._priority_changes


def test_slider_events_skip_panels_busy_counter(monkeypatch):
    """A slider's events reach the state without Panel's busy bookkeeping (each count edits
    every parameter of ``pn.state``, 3-7 ms per event on the server before the release's
    own message is read); the dashboard shows its own badge while a transform computes."""
    d = Dashboard(live=False)
    counted = []
    monkeypatch.setattr(pn.state, "_add_busy_event", counted.append)
    d.w_Q1._process_events({"value": d.state.Q1 + 1})
    d.w_Q1._process_events({"value_throttled": d.state.Q1 + 1})
    assert d.state.Q1 == d.w_Q1.value == d.w_Q1.value_throttled
    assert counted == []
