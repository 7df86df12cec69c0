"""The reconstruction page: Kymatio's example signal recovered from its Scattering1D and its
JTFS coefficients, drawn with the dashboard's views.

One live loss curve (both transforms on one log axis, growing while the job runs); then the
original and each reconstruction side by side, each with its waveform, audio player and
scalogram (`SignalView`, `ScalogramView`: seconds and Hz, hover, zoom; the three share one
time axis, so zooming one zooms all). The logic is `scatviz.demos.reconstruction`.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from scatviz.demos import precompute
from scatviz.demos.reconstruction import TRANSFORMS
from scatviz.demos.ui_base import DemoPage
from scatviz.signals_io import LoadedSignal
from scatviz.state import ScatState
from scatviz.theme import CATEGORICAL, style_figure
from scatviz.views.base import ViewContext
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView

__all__ = ["ReconstructionPage"]

#: Columns sent per scalogram: three sit side by side, each about 400 pixels wide on a
#: 1920-pixel screen, so Kymatio's 1024-sample signal is sent as 342 columns (the maximum of
#: three samples each, `decimate_columns`), not 1024 (~311 kB each before).
SCALOGRAM_COLUMNS = 400
#: The scalograms' setting (the dashboard's defaults, without JTFS).
VIEW_SETTING = dict(J=6, Q1=8, with_jtfs=False)
COLOURS = {"Scattering1D": CATEGORICAL[0], "JTFS": CATEGORICAL[3]}


class ReconstructionPage(DemoPage):
    """``/reconstruction``; ``ReconstructionPage(compute_first=False)`` in a test."""

    slug, title, demo = "reconstruction", "Reconstruction", "reconstruction"

    def _build(self) -> None:
        self.w_iterations = pn.widgets.IntSlider(label="Adam iterations", start=10, end=400,
                                                 step=10, value=200)
        self.w_lr = pn.widgets.FloatInput(label="learning rate", value=0.1, step=0.05,
                                          start=1e-3, end=10.0)
        self.w_transforms = pn.widgets.CheckButtonGroup(label="reconstruct from",
                                                        options=list(TRANSFORMS),
                                                        value=list(TRANSFORMS),
                                                        button_type="primary",
                                                        button_style="outline")
        self.loss_sources = {t: ColumnDataSource(data=dict(k=[], loss=[])) for t in TRANSFORMS}
        fig = figure(height=260, sizing_mode="stretch_width", y_axis_type="log",
                     x_axis_label="Adam iteration", y_axis_label="‖S x − S y‖",
                     tools="pan,wheel_zoom,box_zoom,reset,save", name="loss_curve")
        style_figure(fig, "Loss while reconstructing (live)")
        for t, src in self.loss_sources.items():
            fig.line("k", "loss", source=src, line_color=COLOURS[t], line_width=2,
                     legend_label=t)
        fig.add_tools(HoverTool(tooltips=[("iteration", "@k"), ("loss", "@loss{0.0000}")]))
        fig.legend.location = "top_right"
        self.loss_figure = fig
        self.context = ViewContext(duration=1.0)
        self.states, self.views = {}, {}
        for name in ("original", *TRANSFORMS):
            st = ScatState(**VIEW_SETTING)
            self.states[name] = st
            self.views[name] = (SignalView(st, context=self.context, height=150),
                                ScalogramView(st, context=self.context, height=240,
                                              max_columns=SCALOGRAM_COLUMNS))
        self.titles = {name: pn.pane.Markdown(f"### {name}", margin=(0, 10))
                       for name in self.states}

    def setting(self) -> dict:
        chosen = [t for t in TRANSFORMS if t in self.w_transforms.value] or ["Scattering1D"]
        return dict(transforms=chosen, n_iterations=int(self.w_iterations.value),
                    lr=float(self.w_lr.value), N=precompute.first_setting(self.demo)["N"])

    def show_partial(self, histories: dict) -> None:
        for t, src in self.loss_sources.items():
            h = histories.get(t, [])
            if len(h) != len(src.data["k"]):
                src.data = dict(k=np.arange(len(h)), loss=np.asarray(h, np.float64))

    def show(self, result: dict, setting: dict) -> None:
        sr, x = result["sample_rate"], result["x"]
        self.show_partial({t: r.history for t, r in result["results"].items()})
        signals = {"original": x, **{t: r.y for t, r in result["results"].items()}}
        for name, st in self.states.items():
            if name not in signals:
                self.titles[name].object = f"### {name}\n\n*not run in this setting*"
                continue
            st.set_signal(LoadedSignal(np.ascontiguousarray(signals[name], np.float32), sr,
                                       name if name == "original" else f"from {name}"))
            if name != "original":
                r = result["results"][name]
                self.titles[name].object = (f"### from {name}\n\nfinal loss "
                                            f"**{r.final_loss:.4g}** after {len(r.history)} "
                                            "iterations")
            else:
                self.titles[name].object = ("### original\n\nKymatio's example (blips), "
                                            f"N = {len(x)}")
        self.context.reset_time_range(len(x) / sr)

    def describe(self, result: dict, setting: dict) -> str:
        parts = [f"{t}: final loss {r.final_loss:.4g}" for t, r in result["results"].items()]
        return (f"{setting['n_iterations']} Adam iterations (learning rate {setting['lr']:g}); "
                + ", ".join(parts))

    def sidebar(self) -> list:
        return [pn.pane.Markdown(
            "Gradient descent (Adam) from noise on ‖S x − S y‖ recovers a signal from its "
            "coefficients: Kymatio's example signal, `Scattering1D(J=6, Q=16)` and "
            "`TimeFrequencyScattering(J=6, J_fr=3, Q=16)`. The first picture is stored; the "
            "button runs your setting."),
            self.w_iterations, self.w_lr, self.w_transforms, *self.controls()]

    def main(self) -> list:
        def column(name):
            sig, scal = self.views[name]
            return self.signal_column(sig, scal, self.titles[name])
        return [
            pn.Card(pn.pane.Bokeh(self.loss_figure, sizing_mode="stretch_width"),
                    title="Loss", sizing_mode="stretch_width"),
            pn.Card(pn.Row(*(column(n) for n in self.states), sizing_mode="stretch_width"),
                    title="Original and reconstructions: waveform, audio, scalogram",
                    sizing_mode="stretch_width"),
        ]
