"""The dashboard: signal sources, controls and every view on one page, for ``panel serve``.

`apps/dashboard.py` only calls ``Dashboard.from_query(pn.state.session_args).servable()``;
everything here is reachable from tests without a browser (``Dashboard().state``, ``.views``,
``.controls``, ``.load_upload(bytes, name)``...). A `Dashboard` is a ``pn.viewable.Viewer``
made of viewers: `SignalSources` and `Controls` (bound both ways to the session's `ScatState`)
and the views, which share one `ViewContext` (time axis, shared sources) per page. The Panel and
BokehJS workarounds it installs live in `scatviz.views._workarounds`.

Live behaviour:

* one `ScatState` per session; every view reads its shared ``result``, computed once per
  distinct setting (process-wide cache keyed by the signal hash and the parameters);
* sliders act on release (``value_throttled``); the transform runs in a worker thread, a
  busy badge shows when it takes longer than `scatviz.state.BUSY_AFTER` (and goes in the
  update's own message), and if the controls moved meanwhile the latest setting wins;
* all views' data are replaced inside one ``hold()``: one message to the browser per update;
* an invalid combination or a bad file shows the engine's (or loader's) message beside the
  control; the page keeps the last valid picture and keeps working.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections import ChainMap
from functools import partial
from pathlib import Path

import panel as pn
import param
import soundfile as sf
from panel.io import hold

from scatviz import signals_io
from scatviz.signals_io import LoadedSignal
from scatviz.state import ScatState
from scatviz.views._workarounds import (
    ReleaseSlider,
    ServedTemplate,
    install_browser_fixes,
    settle_text_panes,
)
from scatviz.views.base import ViewContext
from scatviz.views.cards import extra_views, lazy_card, pitch_toggle
from scatviz.views.controls import Controls
from scatviz.views.energies import EnergyView
from scatviz.views.filterbank import FilterBankView
from scatviz.views.jtfs2d import JTFS2DView
from scatviz.views.jtfs_animation import JTFSAnimationView
from scatviz.views.nav import AppPage, defer_below, frozen_document, warming
from scatviz.views.overview import RecordingOverview
from scatviz.views.query import THEMES, parse_query
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView
from scatviz.views.sources import SignalSources, generators
from scatviz.views.spin import SpinInspectorView

#: Set by `scatviz serve --open FILE`: the recording new dashboard pages open.
OPEN_FILE_ENV = "SCATVIZ_OPEN_FILE"

__all__ = ["Dashboard", "DEFAULT_ASSET", "ReleaseSlider", "install_browser_fixes",
           "settle_text_panes"]      # (the last three re-exported from _workarounds)

#: ``SCATVIZ_DEBUG=1``: print each publication's latency to stderr (the benchmark uses it).
_DEBUG = bool(os.environ.get("SCATVIZ_DEBUG"))

DEFAULT_ASSET = "chirp_exp"
#: Served, the main items sent with the page (the recording slot, the signal, the
#: scalogram: the first picture); the other cards follow once it is drawn
#: (`scatviz.views.nav.defer_below`).
FIRST_CARDS = 3

#: Shown above the status line while a transform computes. A still badge rather than an
#: animated spinner (Panel's LoadingSpinner, also the template's default busy indicator): its
#: rotating, masked gradient is repainted on the browser's main thread every frame, and on
#: two cores that took 20-50 ms from each computation on the server beside it (measured with
#: `benchmarks/bench_dashboard.py` and the server's SCATVIZ_DEBUG log).
#: It keeps its box when idle (hidden, not removed): showing or removing an element made
#: Bokeh lay the whole page out again, every figure included, twice per change.
BUSY_BADGE = ('<span style="font-size: 0.85em; padding: 2px 8px; border-radius: 8px; '
              'background: #d6604d; color: white; white-space: nowrap; '
              'visibility: {}">computing…</span>')


#: The page's fonts: the system's own (no web font is fetched).
SYSTEM_FONTS = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
                '"Noto Sans", "Liberation Sans", sans-serif')

_gc_start = [0.0]


def _log_full_collections(phase: str, info: dict) -> None:
    """``SCATVIZ_DEBUG=1``: the duration of each full garbage collection, on stderr."""
    if phase == "start":
        _gc_start[0] = time.perf_counter()
    elif info["generation"] == 2:
        print(f"[scatviz] full garbage collection {time.perf_counter() - _gc_start[0]:.3f} s",
              file=sys.stderr, flush=True)


if _DEBUG:
    gc.callbacks.append(_log_full_collections)


def _served() -> bool:
    """True inside a session of ``panel serve`` (not in a notebook or a test)."""
    doc = pn.state.curdoc
    return doc is not None and getattr(doc, "session_context", None) is not None


def _start_workers(service) -> None:
    """Start the service's workers early (``--warm``). A failure here (the server stopped
    while they started) is left to the server's own start of them (`scatviz/serve_setup.py`)
    and to their first use, which report it: this is only a head start."""
    try:
        service.pool.warm()
    except Exception:       # noqa: BLE001
        pass


def _report_panel(state: ScatState):
    """A card body that builds the toolkit's filter bank validation report
    (`scatviz.report.validation_panel`) for the current setting on demand; None when the
    report module is not installed."""
    try:
        from scatviz.report import validation_panel
    except ImportError:
        return None
    button = pn.widgets.Button(label="Validate the current filter bank", button_type="primary")
    body = pn.Column(sizing_mode="stretch_width")

    def build(event=None):
        body.objects = [pn.indicators.LoadingSpinner(value=True, size=30)]
        try:
            from engine import available_designs

            # the analysed length (the cost policy's prefix of a long upload), not the file's
            shape = len(state.result.x) if state.result is not None else len(state.signal)
            panel = validation_panel(J=state.J, Q=(state.Q1, state.Q2),
                                     shape=shape, designs=available_designs())
            body.objects = [panel]
        except Exception as exc:   # shown, never raised into the server
            body.objects = [pn.pane.Alert(f"Report failed: {exc}", alert_type="danger")]

    button.on_click(build)
    return pn.Column(button, body, sizing_mode="stretch_width")


class Dashboard(AppPage):
    """One session of the dashboard: ``Dashboard().servable()`` serves its page,
    ``pn.panel(Dashboard())`` (its ``__panel__``) shows the same controls and views in a
    notebook.

    >>> dash = Dashboard(live=False)             # doctest: +SKIP
    >>> dash.state.J = 7                         # doctest: +SKIP
    >>> dash.controls.widgets["J"].value         # doctest: +SKIP
    7
    """

    slug, title = "dashboard", "Dashboard"    # its page of the app (`scatviz.pages`)
    status = param.String(default="")
    generation = param.Integer(default=0, doc="Number of published results (for tests).")
    theme = param.Selector(default=THEMES[0], objects=list(THEMES), doc="Panel's theme.")
    notes = param.List(default=[], item_type=str,
                       doc="Why URL arguments were replaced or ignored (shown on the page).")

    def __init__(self, asset: str = DEFAULT_ASSET, live: bool = True,
                 generator: tuple[str, int, float] | None = None,
                 settings: dict | None = None, service=None, hook: str | None = None,
                 **params):
        super().__init__(**params)
        self.live = live
        #: A long recording's overview (`open_recording`), shown above the views.
        self.recording_view: RecordingOverview | None = None
        self._recording_slot = pn.Column(sizing_mode="stretch_width", visible=False,
                                         name="recording")
        self.state = ScatState(auto=False)
        # served: transforms are costed, queued and run in the server's worker processes
        # (`scatviz.server.service`); ``hook``: test-only, from the first change on
        self.state.service = service
        if settings:
            self.state.param.update(**settings)
        sig = None
        if generator is not None and generator[0] in generators():
            self._asset = None
            self.sources = SignalSources(self.state, generator=generator)
            sig = self.sources.generated()
        else:
            self._asset = (asset if asset in signals_io.list_assets()
                           else next(iter(signals_io.list_assets())))
            self.sources = SignalSources(self.state, asset=self._asset)
            sig = signals_io.load_asset(self._asset)
        self.sources.on_long = self._open_long
        self.sources.on_short = self._close_recording
        self.state.set_signal(sig)
        self.state.refresh()
        self.state.hook = hook
        self._t_change = None
        #: Seconds from a parameter change to each published result (server side), for
        #: the benchmark: ``(stage, seconds)`` with stage "base" or "all".
        self.latencies: list[tuple[str, float]] = []
        self.context = ViewContext.for_state(self.state)
        self._build_views()
        self._build_controls()
        self.state.param.watch(self._on_input, list(ScatState._inputs))
        self.state.param.watch(self._on_result, "result")
        self._on_result()
        self._layout = None

    # ---- views -----------------------------------------------------------------------------

    def _build_views(self) -> None:
        st, ctx = self.state, self.context
        self.signal_view = SignalView(st, context=ctx)
        self.scalogram_view = ScalogramView(st, context=ctx)
        self.filterbank_view = FilterBankView(st, context=ctx)
        self.energy_view = EnergyView(st, context=ctx)
        self.jtfs2d_view = JTFS2DView(st, context=ctx)
        self.jtfs_anim_view = JTFSAnimationView(st, context=ctx)
        self.spin_view = SpinInspectorView(st, context=ctx)
        self.views = {"signal": self.signal_view, "scalogram": self.scalogram_view,
                      "filterbank": self.filterbank_view, "energies": self.energy_view,
                      "jtfs2d": self.jtfs2d_view, "jtfs_animation": self.jtfs_anim_view,
                      "spin": self.spin_view}
        #: The views of the collapsed cards (`scatviz.views.cards.LazyViews`): nothing
        #: built or computed until their card is opened (or the view is asked for here).
        self.extra_views = extra_views(st, ctx)
        self.views = ChainMap(self.views, self.extra_views)
        self.report = _report_panel(st)

    # ---- controls --------------------------------------------------------------------------

    def _build_controls(self) -> None:
        st = self.state
        self.controls = Controls(st)
        w = self.controls.widgets
        # the widgets by their former names (tests, benchmarks)
        self.w_J, self.w_Q1, self.w_Q2, self.w_T = w["J"], w["Q1"], w["Q2"], w["T"]
        self.w_Jfr, self.w_Qfr, self.w_F = w["J_fr"], w["Q_fr"], w["F"]
        self.w_design, self.w_db, self.w_preset = w["design"], w["db_range"], self.controls.preset
        src = self.sources
        self.asset_select, self.upload, self.upload_msg = (src.asset_select, src.upload,
                                                           src.upload_msg)
        self.gen_kind, self.gen_N, self.gen_sr = src.gen_kind, src.gen_N, src.gen_sr
        self.policy = src.policy

        self.url_notes = pn.pane.Alert("\n".join(f"- {n}" for n in self.notes),
                                       alert_type="warning", visible=bool(self.notes),
                                       name="url_notes", sizing_mode="stretch_width")
        self.error_msg = pn.pane.Alert(st.error, alert_type="danger", visible=bool(st.error),
                                       name="engine_error", sizing_mode="stretch_width")
        st.param.watch(self._on_error, "error")
        self.busy = pn.pane.HTML(BUSY_BADGE.format("hidden"), name="busy", margin=(5, 10))
        st.param.watch(lambda e: setattr(self.busy, "object", BUSY_BADGE.format(
            "visible" if e.new else "hidden")), "busy")
        self.status_pane = pn.pane.Markdown("", name="status", margin=(0, 10))
        # the cost policy's reduction, and the queue's "waiting" (`scatviz.server`)
        self.notice_msg = pn.pane.Alert(st.notice, alert_type="warning",
                                        visible=bool(st.notice), name="cost_notice",
                                        sizing_mode="stretch_width")
        st.param.watch(lambda e: self.notice_msg.param.update(
            object=e.new, visible=bool(e.new)), "notice")
        self.waiting_msg = pn.pane.Markdown(st.waiting, name="waiting", margin=(0, 10))
        st.param.watch(lambda e: setattr(self.waiting_msg, "object", e.new), "waiting")

    def sidebar(self):
        return [
            self.url_notes,
            self.sources,
            pn.pane.Markdown("### Transform"),
            self.controls,
            self.error_msg,
            self.notice_msg,
            pn.Column(self.busy, self.waiting_msg, self.status_pane,
                      sizing_mode="stretch_width"),
        ]

    # ---- events ----------------------------------------------------------------------------

    def _on_error(self, event) -> None:
        self.error_msg.object = event.new
        self.error_msg.visible = bool(event.new)

    def set_signal(self, sig: LoadedSignal) -> None:
        self.state.set_signal(sig)

    def _on_generate(self, event=None) -> None:
        self.sources.generate(event)

    def open_recording(self, source, sample_rate: float | None = None, cost=None
                       ) -> RecordingOverview:
        """Analyse a long recording (a path soundfile reads, or an array ``(N,)`` with its
        ``sample_rate``): its overview above the views, and the detail window (length from
        ``cost``, `scatviz.longrec.window.choose_window`) as the analysed and played signal;
        moving the window on the overview changes the signal (`RecordingOverview.for_recording`).
        """
        from scatviz.longrec.session import LongRecording

        return self._show_recording(RecordingOverview.for_recording(
            LongRecording(self.state, source, sample_rate, cost=cost)))

    def _show_recording(self, view: RecordingOverview) -> RecordingOverview:
        self.recording_view = view
        self._recording_slot.objects = [pn.Card(view, title="Recording overview",
                                                sizing_mode="stretch_width",
                                                css_classes=["scatviz-view"])]
        self._recording_slot.visible = True
        return view

    def _open_long(self, rec) -> None:
        """An upload too long for one change (its `LongRecording`, overview computed off the
        event loop by `SignalSources`): its overview and a detail window."""
        self._show_recording(RecordingOverview.for_recording(rec))

    def _close_recording(self) -> None:
        """A signal analysed whole replaces the long recording: hide its overview."""
        self.recording_view = None
        self._recording_slot.visible = False
        self._recording_slot.objects = []

    def load_upload(self, data: bytes, filename: str) -> bool:
        """Use an uploaded file; on failure show why beside the upload control."""
        return self.sources.load_upload(data, filename)

    def _on_input(self, *events) -> None:
        self._t_change = time.perf_counter()
        if not self.live:
            self.state.refresh()
            return
        pn.state.execute(self._refresh)

    async def _refresh(self) -> None:
        if getattr(self, "_running", False):
            return                                    # the running loop picks the latest
        self._running = True
        try:
            await self.state.refresh_async(hold=partial(hold, pn.state.curdoc))
        finally:
            self._running = False

    @classmethod
    def from_query(cls, args: dict | None = None, **params) -> Dashboard:
        """A dashboard configured by URL query arguments (``pn.state.session_args``):
        ``?asset=vibrato``, ``?gen=exponential_chirp&N=65536&sr=22050``, ``?theme=dark`` and
        any of ``J, Q1, Q2, T, J_fr, Q_fr, F, design``. Each value is validated like the
        widget's (`scatviz.views.query.parse_query`): one a widget cannot take is replaced
        by the nearest one it can, or the default, with a note on the page."""
        q = parse_query(args, generators())
        if "service" not in params and _served():
            from scatviz.server.service import get_service

            params["service"] = get_service()
            if warming():       # `--warm`: the workers import torch while the pages warm up
                threading.Thread(target=_start_workers, args=(params["service"],),
                                 daemon=True, name="scatviz-warm-workers-early").start()
        try:
            d = cls(asset=q.asset or DEFAULT_ASSET, generator=q.generator,
                    settings=q.settings, theme=q.theme, notes=q.notes, hook=q.hook,
                    **params)
        except (ValueError, TypeError) as exc:
            note = f"URL arguments not used ({type(exc).__name__}: {exc})."
            return cls(theme=q.theme, notes=[*q.notes, note], **params)
        opened = os.environ.get(OPEN_FILE_ENV)
        if opened and q.asset is None and q.generator is None:
            d.open_file(opened)
        return d

    def open_file(self, path: str) -> None:
        """Analyse the recording at ``path`` (the server operator's, `scatviz serve --open`):
        as an overview plus a detail window when one change cannot afford it whole. A file
        that cannot be read leaves the bundled signal, with the reason beside the upload.
        In a served page it is read, and its overview computed, off the event loop
        (`SignalSources.start_open`): the page loads with the bundled signal meanwhile."""
        from scatviz.longrec.session import is_long

        doc = pn.state.curdoc
        if doc is not None and getattr(doc, "session_context", None) is not None:
            self.sources.watch_close(doc)
            self.sources.start_open(path, doc.add_next_tick_callback)
            return
        try:
            info = sf.info(path)
            if is_long(info.frames, info.samplerate, settings=self.state.settings()):
                self.open_recording(path)
            else:
                self.sources.use(signals_io.load_path(path))
        except (OSError, RuntimeError, ValueError) as exc:
            self.sources.show_error(f"Could not open {Path(path).name}: {exc}")

    def _on_result(self, *events) -> None:
        res = self.state.result
        if res is None:
            return
        self.generation += 1
        sc = res.scalogram.mag.shape
        if self._t_change is not None:
            self.latencies.append(("base" if res.jtfs_pending else "all",
                                   time.perf_counter() - self._t_change))
            if _DEBUG:
                print(f"[scatviz] published {self.latencies[-1][0]} "
                      f"{self.latencies[-1][1]:.3f} s after the change; compute "
                      f"{ {k: round(v, 3) for k, v in res.timings.items()} }",
                      file=sys.stderr, flush=True)
        done = "JTFS computing…" if res.jtfs_pending else "all views updated"
        if res.seconds < 0.005:               # every part came from the shared cache
            took = f"from the cache, computed in {sum(res.timings.values()) * 1e3:.0f} ms"
        else:
            took = f"computed in {res.seconds * 1e3:.0f} ms"
        self.status = (f"#{self.generation} · {res.name} · J={res.key[1]} Q1={res.key[2][0]} · "
                       f"scalogram {sc[0]}×{sc[1]} · {took} · {done}")
        self.status_pane.object = self.status

    # ---- layout ----------------------------------------------------------------------------

    def main(self):
        def card(view, title):
            return pn.Card(view, title=title, sizing_mode="stretch_width",
                           css_classes=["scatviz-view"])
        cards = [
            card(self.signal_view, "Signal"),
            card(self.scalogram_view, "Scalogram"),
            card(self.filterbank_view, "Filter bank"),
            card(self.energy_view, "Coefficient energies"),
            card(self.jtfs2d_view, "JTFS 2D"),
            card(self.jtfs_anim_view, "JTFS 4D animation"),
            card(self.spin_view, "Spin inspector"),
            pitch_toggle(self.context),
            *(lazy_card(self.extra_views.getter(n), self.extra_views.title(n))
              for n in self.extra_views),
        ]
        if self.report is not None:
            cards.append(pn.Card(self.report, title="Filter bank validation report",
                                 sizing_mode="stretch_width", collapsed=True))
        return [self._recording_slot, *cards]

    def template(self):
        """The served page: a FAST list template with the controls in its sidebar; system
        fonts (no web font: the page requests nothing from the internet)."""
        main = self.main()
        if _served():    # the signal and its scalogram first, the other cards once drawn
            main = defer_below(main, FIRST_CARDS, on_filled=self._all_cards_sent)
            if self.status:
                self.status_pane.object = (f"#{self.generation} · {self.state.signal_name} · "
                                           "first picture; drawing the other views…")
        return ServedTemplate(
            title="scatviz: wavelet scattering & JTFS", sidebar=self.sidebar(),
            main=main, sidebar_width=340, accent="#d6604d", theme=self.theme,
            font=SYSTEM_FONTS, font_url="",
            header_background="#2b2d42", busy_indicator=None,   # see BUSY_BADGE
            header=[self.nav()])                 # links to the app's other pages

    def _all_cards_sent(self) -> None:
        self.status_pane.object = self.status

    def __panel__(self):
        """The controls beside the views, for a notebook (the server serves `template`)."""
        if self._layout is None:
            self._layout = pn.Row(pn.Column(*self.sidebar(), width=340),
                                  pn.Column(*self.main(), sizing_mode="stretch_width"),
                                  sizing_mode="stretch_width")
        return self._layout

    def servable(self, title: str | None = None, **kwargs):
        """Serve the page (`template`) in the current document, with the workarounds
        (`settle_text_panes` on load, `install_browser_fixes`)."""
        with frozen_document():             # one walk of the model graph, not one per root
            tmpl = self.template().servable(title, **kwargs)
        if pn.state.curdoc is not None:
            live_text = [self.status_pane, self.busy, self.spin_view.verdict,
                         self.jtfs2d_view.time_label, self.jtfs_anim_view.time_label]
            pn.state.onload(partial(settle_text_panes, live_text, pn.state.curdoc))
            install_browser_fixes(pn.state.curdoc)
            if self.state.service is not None:   # a closed page's queued work is dropped
                service, session = self.state.service, self.state.session
                pn.state.on_session_destroyed(lambda ctx: service.cancel_session(session))
        return tmpl
