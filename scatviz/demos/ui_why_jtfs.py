"""The "Why JTFS" page: a pair of signals, their scalograms, the time-scattering distance
against the JTFS distance, and where their spins differ.

The student picks a pair (`scatviz.demos.why_jtfs.PAIRS`: rising against falling chirp,
aligned against frequency-shifted partials, impulse against sine) or uploads two files. Each
signal is drawn with the dashboard's views (waveform and audio, scalogram, spin inspector: in
seconds and Hz, with hover and zoom); the distances of the two (time scattering with global
averaging against JTFS) are bars, and each signal's spin-up and spin-down energies beside.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Range1d
from bokeh.plotting import figure
from panel.io import hold

from scatviz import signals_io
from scatviz.demos import precompute
from scatviz.demos.ui_base import DemoPage
from scatviz.demos.why_jtfs import PAIR_RATE, PAIRS, compare_pair, pair_signals, same_length
from scatviz.signals_io import LoadedSignal
from scatviz.state import ScatState
from scatviz.theme import CATEGORICAL, SPIN_DOWN, SPIN_UP, style_figure
from scatviz.views.base import ViewContext, fit_range
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView
from scatviz.views.spin import SpinInspectorView

__all__ = ["WhyJTFSPage", "UPLOADED"]

UPLOADED = "two uploaded files"
#: Columns sent per scalogram: the two sit side by side, each under ~650 pixels wide on a
#: 1920-pixel screen, so a 4096-sample pair is sent as 586 columns each (the maximum of 7
#: samples, `decimate_columns`: an impulse stays one bright column), not 4096.
SCALOGRAM_COLUMNS = 640
#: The views' setting: the dashboard's defaults (time-resolved JTFS for the spin inspector).
VIEW_SETTING = dict(J=6, Q1=8, J_fr=3, F=1, with_jtfs=True)
DISTANCES = ("time scattering", "JTFS (spinned pairs)", "JTFS (all)")


class WhyJTFSPage(DemoPage):
    """``/why_jtfs``."""

    slug, title, demo = "why_jtfs", "Why JTFS", "why_jtfs"
    first_cards = 2      # the spin inspectors (below the fold) follow the first picture

    def _build(self) -> None:
        self.w_pair = pn.widgets.Select(label="pair", options=[*PAIRS, UPLOADED],
                                        value=next(iter(PAIRS)))
        self.uploads = [pn.widgets.FileInput(accept=".wav,.flac,.ogg", label=f"file {k}")
                        for k in "AB"]
        self.upload_msg = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._uploaded: list[LoadedSignal | None] = [None, None]
        for i, w in enumerate(self.uploads):
            w.param.watch(lambda e, i=i: self.load_upload(i, e.new, self.uploads[i].filename),
                          "value")
        self.src_dist = ColumnDataSource(data=dict(name=list(DISTANCES), d=[0.0] * 3,
                                                   label=[""] * 3,
                                                   color=[CATEGORICAL[7], SPIN_UP, "#ff9896"]))
        fd = figure(height=260, sizing_mode="stretch_width", x_range=list(DISTANCES),
                    y_range=Range1d(0, 1), y_axis_label="‖S a − S b‖ / ‖S a‖",
                    tools="save,reset", name="distances")
        style_figure(fd, "Relative distance between A and B")
        fd.vbar(x="name", top="d", width=0.6, color="color", source=self.src_dist)
        fd.text(x="name", y="d", text="label", source=self.src_dist, text_align="center",
                text_baseline="bottom", text_font_size="12px", y_offset=-2)
        fd.add_tools(HoverTool(tooltips=[("", "@name"), ("distance", "@d{0.0000}")]))
        self.src_spin = ColumnDataSource(data=dict(x=[], share=[], color=[]))
        fs = figure(height=260, sizing_mode="stretch_width", x_range=FactorRange(),
                    y_range=Range1d(0, 100), y_axis_label="% of the spinned JTFS energy",
                    tools="save,reset", name="spin_shares")
        style_figure(fs, "Spin up ↑ (rising) and down ↓ (falling), per signal")
        fs.vbar(x="x", top="share", width=0.8, color="color", source=self.src_spin)
        fs.add_tools(HoverTool(tooltips=[("", "@x"), ("share", "@share{0.0} %")]))
        self.fig_dist, self.fig_spin = fd, fs
        self.verdict = pn.pane.Markdown("", sizing_mode="stretch_width", name="verdict")
        self.context = ViewContext(duration=1.0)
        # computed by the page (`_refresh_views`): the scalograms first, JTFS after
        self.states = [ScatState(auto=False, **VIEW_SETTING) for _ in range(2)]
        self.labels = [pn.pane.Markdown("", margin=(0, 10)) for _ in range(2)]
        self.signal_views = [SignalView(st, context=self.context, height=130)
                             for st in self.states]
        self.scalograms = [ScalogramView(st, context=self.context, height=230,
                                         max_columns=SCALOGRAM_COLUMNS)
                           for st in self.states]
        self.spin_views = [SpinInspectorView(st, context=self.context) for st in self.states]

    # ---- settings and uploads --------------------------------------------------------------

    def setting(self) -> dict:
        s = precompute.first_setting(self.demo)
        s["pair"] = self.w_pair.value
        if s["pair"] == UPLOADED:
            if None in self._uploaded:
                raise ValueError("Upload two audio files (A and B) first.")
            a, b = self._uploaded
            s["uploads"] = [a.digest, b.digest]
        return s

    def run(self, setting: dict | None):
        try:
            return super().run(setting if setting is not None else self.setting())
        except ValueError as exc:
            self.status = str(exc)
            return None

    def load_upload(self, i: int, data: bytes | None, filename: str | None) -> bool:
        """Use uploaded file ``i`` (0: A, 1: B); on failure say why beside the uploads."""
        if not data:
            return False
        try:
            self._uploaded[i] = signals_io.load_upload(data, filename or f"file {'AB'[i]}")
        except signals_io.SignalLoadError as exc:
            self.upload_msg.object = f"**{exc}**"
            return False
        self.upload_msg.object = " · ".join(f"{'AB'[k]}: {s.name}" for k, s in
                                            enumerate(self._uploaded) if s is not None)
        if None not in self._uploaded:
            self.w_pair.value = UPLOADED
        return True

    def _signals(self, setting: dict):
        """The pair's two signals and their sample rate."""
        if setting["pair"] == UPLOADED:
            a, b = self._uploaded
            if b.sample_rate != a.sample_rate:
                raise ValueError(f"The files have different sample rates ({a.sample_rate:g} "
                                 f"and {b.sample_rate:g} Hz); upload two at one rate.")
            xa, xb = same_length(a.x, b.x)
            return (xa, xb), a.sample_rate, (a.name, b.name)
        return pair_signals(setting["pair"], setting["N"]), PAIR_RATE, PAIRS[setting["pair"]]


    def compute(self, setting: dict, progress) -> dict:
        """The pair's signals and numbers (`compare_pair`): what `show` draws."""
        if setting["pair"] != UPLOADED:
            return precompute.compute(self.demo, setting, progress)
        progress(0, 1, "comparing the uploaded files")
        (a, b), sr, names = self._signals(setting)
        cmp = compare_pair(a, b, sr, setting["J"], setting["Q"], setting["J_fr"])
        progress(1, 1, "done")
        return dict(a=a, b=b, sample_rate=sr, names=names, comparison=cmp)

    # ---- drawing ---------------------------------------------------------------------------

    def show(self, result, setting: dict) -> None:
        cmp = result["comparison"]
        sr = result["sample_rate"]
        for k, (st, x, name) in enumerate(zip(self.states, (result["a"], result["b"]),
                                              result["names"])):
            st.set_signal(LoadedSignal(np.ascontiguousarray(x, np.float32), sr, name))
            self.labels[k].object = f"### {'AB'[k]}: {name}"
        self.context.reset_time_range(len(result["a"]) / sr)
        self._refresh_views()
        d = [float(cmp.distances[k]) for k in DISTANCES]
        self.src_dist.data = dict(self.src_dist.data, d=d, label=[f"{v:.3g}" for v in d])
        fit_range(self.fig_dist.y_range, [[0.0], d, [1.15 * max(d)]])
        xs, shares, colours = [], [], []
        for (up, dn), name in zip(cmp.spins, result["names"]):
            tot = (up + dn) or 1.0
            xs += [(name, "↑ up"), (name, "↓ down")]
            shares += [100 * up / tot, 100 * dn / tot]
            colours += [SPIN_UP, SPIN_DOWN]
        self.fig_spin.x_range.factors = xs
        self.src_spin.data = dict(x=xs, share=shares, color=colours)
        ts, js = cmp.distances["time scattering"], cmp.distances["JTFS (spinned pairs)"]
        ratio = "∞" if ts == 0 else f"{js / ts:.3g}"
        self.verdict.object = (
            f"Time scattering (global averaging) puts A and B **{ts:.3g}** apart; JTFS's "
            f"spinned pairs **{js:.3g}** (×{ratio}). "
            + ("Time scattering cannot tell them apart; JTFS can." if ts < 0.02 < js else ""))

    def _refresh_views(self) -> None:
        """The two signals' views: the scalograms now; the JTFS (spin inspector) after,
        in the server's worker threads when served (the page shows its first picture
        without waiting for two JTFS), at once otherwise."""
        for st in self.states:
            try:
                st.apply(st.compute("base"))
            except (ValueError, TypeError) as exc:
                st.apply(None, str(exc))
        doc = pn.state.curdoc
        for st in self.states:
            if doc is not None:
                pn.state.execute(partial(st.refresh_async, hold=partial(hold, doc)))
            else:
                st.refresh()

    def describe(self, result, setting: dict) -> str:
        return f"{setting['pair']}: J={setting['J']}, Q={setting['Q']}, J_fr={setting['J_fr']}"

    def sidebar(self) -> list:
        return [pn.pane.Markdown(
            "Time scattering with global averaging forgets the order of events in time: a "
            "rising and a falling chirp get *identical* coefficients. JTFS's spins see the "
            "direction of frequency change. Pick a pair, or upload two files, and press run."),
            self.w_pair, pn.pane.Markdown("Or upload two files (A, B):"), *self.uploads,
            self.upload_msg, *self.controls()]

    def main(self) -> list:
        def column(k):
            return self.signal_column(self.signal_views[k], self.scalograms[k], self.labels[k])
        return [
            pn.Card(pn.Row(column(0), column(1), sizing_mode="stretch_width"),
                    title="The pair: waveform, audio, scalogram", sizing_mode="stretch_width"),
            pn.Card(self.verdict, pn.Row(pn.pane.Bokeh(self.fig_dist,
                                                       sizing_mode="stretch_width"),
                                         pn.pane.Bokeh(self.fig_spin,
                                                       sizing_mode="stretch_width"),
                                         sizing_mode="stretch_width"),
                    title="Time scattering against JTFS", sizing_mode="stretch_width"),
            pn.Card(*(pn.Column(pn.pane.Markdown(f"#### {'AB'[k]}", margin=(0, 10)),
                                view, sizing_mode="stretch_width")
                      for k, view in enumerate(self.spin_views)),
                    title="Where the spins differ: spin inspector of A, then of B",
                    sizing_mode="stretch_width"),
        ]
