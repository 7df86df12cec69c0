"""The dashboard: signal sources, controls and every view on one page, for ``panel serve``.

`apps/dashboard.py` only calls ``Dashboard().servable()``; everything here is reachable from
tests without a browser (``Dashboard().state``, ``.views``, ``.load_upload(bytes, name)``...).

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
import time
from functools import partial
from typing import ClassVar

import numpy as np
import panel as pn
import param
from panel.io import hold

from engine import available_designs
from scatviz import signals_io
from scatviz.signals_io import LoadedSignal, SignalLoadError
from scatviz.state import PRESETS, ScatState
from scatviz.views.energies import EnergyView
from scatviz.views.filterbank import FilterBankView
from scatviz.views.jtfs2d import JTFS2DView
from scatviz.views.jtfs_animation import JTFSAnimationView
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView
from scatviz.views.spin import SpinInspectorView

__all__ = ["Dashboard", "DEFAULT_ASSET", "ReleaseSlider", "install_browser_fixes",
           "settle_text_panes"]

#: ``SCATVIZ_DEBUG=1``: print each publication's latency to stderr (the benchmark uses it).
_DEBUG = bool(os.environ.get("SCATVIZ_DEBUG"))

DEFAULT_ASSET = "chirp_exp"

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
T_OPTIONS = {"2^J (default)": 0, **{str(2**k): 2**k for k in range(2, 16)}}
F_OPTIONS = {"1 (none)": 1, **{str(2**k): 2**k for k in range(1, 7)}, "2^J_fr (engine default)": 0}
GEN_RATES = [8000, 16000, 22050, 44100]
GEN_LENGTHS = [2048, 4096, 8192, 16384, 32768, 65536]


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
    its position into a ``<style>`` element, the same text as before when nothing moved;
    Chromium re-parses it and invalidates the figure's styles, and the renderer's next
    colour read (``getComputedStyle``) waits for a style recalculation: ~17 of ~47 ms of
    painting the dashboard's twelve figures per update (measured in the page). Skipping an
    identical text changes nothing else. Installed on ``document_ready``; if BokehJS's
    internals differ (another version), nothing is patched."""
    from bokeh.models import CustomJS

    doc.js_on_event("document_ready", CustomJS(code=SAME_CSS_FIX))


def settle_text_panes(panes, doc) -> None:
    """Give the models of text ``panes`` (Markdown, HTML) in ``doc`` the stylesheets their
    updates will carry, once, after the page has loaded.

    Panel builds such a pane's model with stylesheets of its own, and the first update of
    its text sends the template's shared ones instead: a change of a property that holds
    models, after which Bokeh walks the whole document's model graph again (~40 ms here).
    The first slider change after the page loaded paid that for the status line and for
    the spin inspector's verdict: ~80 ms more than the next ones. `Dashboard.servable`
    runs this on the page's load (``pn.state.onload``) for the panes that change while the
    page is used: one walk (``freeze``) and one small message. (Run before the document is
    sent, it left the page blank: BokehJS no longer found the template's roots; run on
    every text pane of the page, it delayed the first complete render by 1-4 s.)"""
    with doc.models.freeze():
        for pane in panes:
            pane.param.trigger("object")


class ReleaseSlider(pn.widgets.IntSlider):
    """An `IntSlider` whose release (``value_throttled``) reaches the server at once.

    Panel delays every browser-to-server property change by 50 ms (``_debounce``) to merge
    bursts; a release is one event, already throttled by the browser, so that delay is pure
    latency between releasing the handle and the transform starting. ``value`` (sent while
    dragging, and just before each release) is listed too: the browser sends ``value`` and
    then ``value_throttled`` in two messages 0.5 ms apart, and a ``value`` left waiting out
    its delay would hold back the release that joins it.

    The server reads the second message only once it has processed the first. Panel counts
    every processed event in ``pn.state.busy`` (for its template's indicator, which this app
    replaces by its own badge), and each count edits every parameter of ``pn.state``: 3-7 ms
    per event, measured with server time stamps. Slider events skip that count
    (``_busy__ignore``), and the transform starts ~6 ms sooner after a release."""

    _priority_changes: ClassVar[list[str]] = ["value", "value_throttled"]
    _busy__ignore: ClassVar[list[str]] = ["value", "value_throttled"]


def _generators() -> dict:
    try:
        from engine.signals import SIGNALS
    except ImportError:  # the toolkit's generators are optional until they land
        return {}
    return SIGNALS


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

            panel = validation_panel(J=state.J, Q=(state.Q1, state.Q2),
                                     shape=len(state.signal), designs=available_designs())
            body.objects = [panel]
        except Exception as exc:   # shown, never raised into the server
            body.objects = [pn.pane.Alert(f"Report failed: {exc}", alert_type="danger")]

    button.on_click(build)
    return pn.Column(button, body, sizing_mode="stretch_width")


class Dashboard(param.Parameterized):
    """One session of the dashboard.

    >>> dash = Dashboard()                     # doctest: +SKIP
    >>> dash.state.J = 7; dash.state.refresh() # doctest: +SKIP
    """

    status = param.String(default="")
    generation = param.Integer(default=0, doc="Number of published results (for tests).")

    def __init__(self, asset: str = DEFAULT_ASSET, live: bool = True,
                 generator: tuple[str, int, float] | None = None,
                 settings: dict | None = None, **params):
        super().__init__(**params)
        self.live = live
        self.state = ScatState(auto=False)
        if settings:
            self.state.param.update(**settings)
        sig = None
        if generator is not None and generator[0] in _generators():
            name, N, sr = generator
            x = np.asarray(_generators()[name](int(N), float(sr)), dtype=np.float32)
            sig = LoadedSignal(x, float(sr), f"{name} (generated)", {"source": "engine.signals"})
        self._asset = None
        if sig is None:
            self._asset = (asset if asset in signals_io.list_assets()
                           else next(iter(signals_io.list_assets())))
            sig = signals_io.load_asset(self._asset)
        self.state.set_signal(sig)
        self.state.refresh()
        self._t_change = None
        #: Seconds from a parameter change to each published result (server side), for
        #: the benchmark: ``(stage, seconds)`` with stage "base" or "all".
        self.latencies: list[tuple[str, float]] = []
        self._build_views()
        self._build_controls()
        self.state.param.watch(self._on_input, list(ScatState._inputs))
        self.state.param.watch(self._on_result, "result")
        self._on_result()

    # ---- views -----------------------------------------------------------------------------

    def _build_views(self) -> None:
        st = self.state
        self.signal_view = SignalView(st)
        self.scalogram_view = ScalogramView(st)
        self.filterbank_view = FilterBankView(st)
        self.energy_view = EnergyView(st)
        self.jtfs2d_view = JTFS2DView(st)
        self.jtfs_anim_view = JTFSAnimationView(st)
        self.spin_view = SpinInspectorView(st)
        self.views = {"signal": self.signal_view, "scalogram": self.scalogram_view,
                      "filterbank": self.filterbank_view, "energies": self.energy_view,
                      "jtfs2d": self.jtfs2d_view, "jtfs_animation": self.jtfs_anim_view,
                      "spin": self.spin_view}
        self.report = _report_panel(st)

    # ---- controls --------------------------------------------------------------------------

    def _build_controls(self) -> None:
        st = self.state
        assets = signals_io.list_assets()
        self.asset_select = pn.widgets.Select(label="Bundled signal", options={
            v: k for k, v in assets.items()}, value=self._asset)
        self.asset_select.param.watch(self._on_asset, "value")

        gens = _generators()
        self.gen_kind = pn.widgets.Select(label="Generator", options=sorted(gens),
                                          value="exponential_chirp" if "exponential_chirp"
                                          in gens else None, disabled=not gens)
        self.gen_N = pn.widgets.Select(label="Length N (samples)", options=GEN_LENGTHS,
                                       value=8192)
        self.gen_sr = pn.widgets.Select(label="Sample rate (Hz)", options=GEN_RATES, value=8000)
        self.gen_button = pn.widgets.Button(label="Generate", button_type="primary",
                                            disabled=not gens)
        self.gen_button.on_click(self._on_generate)

        self.upload = pn.widgets.FileInput(accept=".wav,.flac,.ogg,audio/*", multiple=False,
                                           label="Upload audio")
        self.upload.param.watch(self._on_upload, "value")
        self.upload_msg = pn.pane.Alert("", alert_type="danger", visible=False,
                                        name="upload_error", sizing_mode="stretch_width")
        self.policy = pn.pane.Markdown(f"<small>{signals_io.upload_policy()}</small>",
                                       margin=(0, 10), name="upload_policy")

        def slider(name, pname, start, end):
            w = ReleaseSlider(label=name, start=start, end=end, value=getattr(st, pname),
                                     step=1, sizing_mode="stretch_width")
            w.param.watch(lambda e: setattr(st, pname, e.new), "value_throttled")
            st.param.watch(lambda e: setattr(w, "value", e.new), pname)
            return w

        self.w_J = slider("J (octaves)", "J", 1, 14)
        self.w_Q1 = slider("Q1 (wavelets/octave, order 1)", "Q1", 1, 24)
        self.w_Q2 = slider("Q2 (order 2)", "Q2", 1, 4)
        self.w_T = pn.widgets.DiscreteSlider(label="T (averaging, samples)", options=T_OPTIONS,
                                             value=0, sizing_mode="stretch_width")
        self.w_T.param.watch(lambda e: setattr(st, "T", e.new), "value_throttled")
        self.w_Jfr = slider("J_fr (JTFS octaves)", "J_fr", 1, 7)
        self.w_Qfr = slider("Q_fr (JTFS wavelets/octave)", "Q_fr", 1, 4)
        self.w_F = pn.widgets.DiscreteSlider(label="F (JTFS freq. averaging)", options=F_OPTIONS,
                                             value=st.F, sizing_mode="stretch_width")
        self.w_F.param.watch(lambda e: setattr(st, "F", e.new), "value_throttled")
        self.w_design = pn.widgets.Select(label="Filter bank design", options=list(
            st.param.design.objects), value=st.design)
        self.w_design.param.watch(lambda e: setattr(st, "design", e.new), "value")
        self.w_db = pn.widgets.FloatSlider(label="dB range", start=10, end=140, step=5,
                                           value=st.db_range, sizing_mode="stretch_width")
        self.w_db.param.watch(lambda e: setattr(st, "db_range", e.new), "value_throttled")
        self.w_preset = pn.widgets.Select(label="Teaching preset", options=list(PRESETS))
        self.w_preset.param.watch(self._on_preset, "value")

        self.error_msg = pn.pane.Alert("", alert_type="danger", visible=False,
                                       name="engine_error", sizing_mode="stretch_width")
        st.param.watch(self._on_error, "error")
        self.busy = pn.pane.HTML(BUSY_BADGE.format("hidden"), name="busy", margin=(5, 10))
        st.param.watch(lambda e: setattr(self.busy, "object", BUSY_BADGE.format(
            "visible" if e.new else "hidden")), "busy")
        self.status_pane = pn.pane.Markdown("", name="status", margin=(0, 10))

    def sidebar(self):
        return [
            pn.pane.Markdown("### Signal"),
            self.asset_select,
            pn.Card(self.gen_kind, self.gen_N, self.gen_sr, self.gen_button,
                    title="Generator", collapsed=True, sizing_mode="stretch_width"),
            self.upload, self.policy, self.upload_msg,
            pn.pane.Markdown("### Transform"),
            self.w_preset,
            self.w_J, self.w_Q1, self.w_Q2, self.w_T,
            self.w_Jfr, self.w_Qfr, self.w_F,
            self.w_design, self.w_db,
            self.error_msg,
            pn.Column(self.busy, self.status_pane, sizing_mode="stretch_width"),
        ]

    # ---- events ----------------------------------------------------------------------------

    def _on_error(self, event) -> None:
        self.error_msg.object = event.new
        self.error_msg.visible = bool(event.new)

    def set_signal(self, sig: LoadedSignal) -> None:
        self.state.set_signal(sig)

    def _on_asset(self, event) -> None:
        if not event.new:
            return
        try:
            self.set_signal(signals_io.load_asset(event.new))
        except SignalLoadError as exc:
            self._show_upload_error(str(exc))

    def _on_generate(self, event=None) -> None:
        gens = _generators()
        name = self.gen_kind.value
        try:
            x = np.asarray(gens[name](int(self.gen_N.value), float(self.gen_sr.value)),
                           dtype=np.float32)
        except (ValueError, TypeError, KeyError) as exc:
            self._show_upload_error(f"Generator {name}: {exc}")
            return
        self.set_signal(LoadedSignal(x, float(self.gen_sr.value), f"{name} (generated)",
                                     {"source": "engine.signals"}))

    def load_upload(self, data: bytes, filename: str) -> bool:
        """Use an uploaded file; on failure show why beside the upload control."""
        try:
            sig = signals_io.load_upload(data, filename)
        except SignalLoadError as exc:
            self._show_upload_error(str(exc))
            return False
        self.upload_msg.visible = False
        self.upload_msg.object = ""
        self.set_signal(sig)
        return True

    def _show_upload_error(self, msg: str) -> None:
        self.upload_msg.object = msg
        self.upload_msg.visible = True

    def _on_upload(self, event) -> None:
        if event.new is None:
            return
        self.load_upload(event.new, self.upload.filename or "upload")

    def _on_preset(self, event) -> None:
        self.state.param.update(**PRESETS[event.new])

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
    def from_query(cls, args: dict | None = None) -> Dashboard:
        """A dashboard configured by URL query arguments (``pn.state.session_args``):
        ``?asset=vibrato``, ``?gen=exponential_chirp&N=65536&sr=22050``, and any of
        ``J, Q1, Q2, T, J_fr, Q_fr, F, design``. Unknown or invalid values are ignored."""
        args = args or {}

        def get(key):
            v = args.get(key)
            if isinstance(v, list):
                v = v[0] if v else None
            return v.decode() if isinstance(v, bytes) else v

        settings = {}
        for key in ("J", "Q1", "Q2", "T", "J_fr", "Q_fr", "F"):
            v = get(key)
            if v is not None and str(v).isdigit():
                settings[key] = int(v)
        if get("design") in available_designs():
            settings["design"] = get("design")
        gen = None
        if get("gen"):
            try:
                gen = (get("gen"), int(get("N") or 8192), float(get("sr") or 8000))
            except ValueError:
                gen = None
        try:
            return cls(asset=get("asset") or DEFAULT_ASSET, generator=gen, settings=settings)
        except (ValueError, TypeError):
            return cls()

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
        ]
        if self.report is not None:
            cards.append(pn.Card(self.report, title="Filter bank validation report",
                                 sizing_mode="stretch_width", collapsed=True))
        return cards

    def template(self):
        return pn.template.FastListTemplate(
            title="scatviz: wavelet scattering & JTFS", sidebar=self.sidebar(),
            main=self.main(), sidebar_width=340, accent="#d6604d",
            header_background="#2b2d42", busy_indicator=None)   # see BUSY_BADGE

    def servable(self):
        tmpl = self.template().servable()
        if pn.state.curdoc is not None:
            live_text = [self.status_pane, self.busy, self.spin_view.verdict,
                         self.jtfs2d_view.time_label, self.jtfs_anim_view.time_label]
            pn.state.onload(partial(settle_text_panes, live_text, pn.state.curdoc))
            install_browser_fixes(pn.state.curdoc)
        return tmpl
