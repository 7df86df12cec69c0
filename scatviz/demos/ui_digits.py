"""The spoken-digits page: accuracy, an interactive confusion matrix, and the recordings of
a cell to listen to and see.

A click on a cell of the confusion matrix (true digit, predicted digit) lists the test
recordings in it (the misclassified ones off the diagonal); choosing one plays it and draws
its waveform and scalogram with the dashboard's views. The page opens on the cell with the
most errors. The logic is `scatviz.demos.digits`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper, Range1d, TapTool
from bokeh.plotting import figure

from scatviz import signals_io
from scatviz.demos import precompute
from scatviz.demos.ui_base import DemoPage
from scatviz.state import ScatState
from scatviz.theme import style_figure
from scatviz.views.base import ViewContext
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView

__all__ = ["DigitsPage", "worst_cell", "confusion_columns"]

FEATURES = {"scattering": "Scattering1D", "jtfs": "JTFS"}
BLUES = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5",
         "#08519c", "#08306b"]


def worst_cell(M: np.ndarray) -> tuple[int, int]:
    """The off-diagonal cell (true, predicted) with the most recordings; the first diagonal
    cell when there is no error."""
    off = M.astype(float).copy()
    np.fill_diagonal(off, -1)
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    return (int(i), int(j)) if off[i, j] > 0 else (0, 0)


def confusion_columns(M: np.ndarray) -> dict:
    """The cells of ``M`` (rows: true, columns: predicted) as columns for a heat map:
    ``true, predicted, count, share`` (of the row, %), ``label`` (the count, or "")."""
    K = M.shape[0]
    t, p = np.divmod(np.arange(K * K), K)
    counts = M.ravel()
    rows = M.sum(1).repeat(K)
    return dict(true=t.astype(float), predicted=p.astype(float), count=counts.astype(int),
                share=np.where(rows > 0, 100.0 * counts / np.maximum(rows, 1), 0.0),
                label=[str(c) if c else "" for c in counts],
                text_color=["white" if c > M.max() / 2 else "black" for c in counts])


class DigitsPage(DemoPage):
    """``/digits``."""

    slug, title, demo = "digits", "Spoken digits", "digits"

    def _build(self) -> None:
        self.result = None
        self.w_features = pn.widgets.CheckButtonGroup(label="features", options=FEATURES,
                                                      value=["scattering"],
                                                      button_type="primary",
                                                      button_style="outline")
        self.w_show = pn.widgets.RadioButtonGroup(label="matrix of", options=FEATURES,
                                                  value="scattering", button_type="primary",
                                                  button_style="outline")
        self.w_show.param.watch(lambda e: self._draw_matrix(), "value")
        self.accuracy = pn.pane.Markdown("", sizing_mode="stretch_width", name="accuracy")
        self.src = ColumnDataSource(data=confusion_columns(np.zeros((10, 10), int)),
                                    name="confusion_cells")
        self.mapper = LinearColorMapper(palette=BLUES, low=0, high=1)
        fig = figure(height=430, width=470, x_range=Range1d(-0.5, 9.5),
                     y_range=Range1d(9.5, -0.5), x_axis_label="predicted digit",
                     y_axis_label="true digit", tools="tap,save,reset", name="confusion")
        style_figure(fig, "Confusion matrix (click a cell)")
        cells = fig.rect(x="predicted", y="true", width=0.95, height=0.95, source=self.src,
                         fill_color={"field": "count", "transform": self.mapper},
                         line_color=None, nonselection_fill_alpha=1.0,
                         selection_line_color="#d6604d", selection_line_width=3)
        fig.text(x="predicted", y="true", text="label", source=self.src, text_align="center",
                 text_baseline="middle", text_font_size="11px", text_color="text_color",
                 nonselection_text_alpha=1.0)
        fig.add_tools(HoverTool(renderers=[cells], tooltips=[
            ("true", "@true{0}"), ("predicted", "@predicted{0}"), ("recordings", "@count"),
            ("share of the row", "@share{0.0} %")]))
        fig.select_one(TapTool).renderers = [cells]
        fig.xaxis.ticker = fig.yaxis.ticker = list(range(10))
        self.confusion_figure = fig
        self.src.selected.on_change("indices", self._on_tap)
        self.cell_title = pn.pane.Markdown("", sizing_mode="stretch_width", name="cell_title")
        self.w_recording = pn.widgets.Select(label="recording", options=[],
                                             sizing_mode="stretch_width")
        self.w_recording.param.watch(lambda e: self.play(e.new), "value")
        self.state = ScatState(J=6, Q1=8, with_jtfs=False)
        self.context = ViewContext(duration=1.0)
        self.signal_view = SignalView(self.state, context=self.context, height=150)
        self.scalogram_view = ScalogramView(self.state, context=self.context, height=260)
        self.cell = (0, 0)

    def setting(self) -> dict:
        s = precompute.first_setting(self.demo)
        s["transforms"] = [k for k in FEATURES if k in self.w_features.value] or ["scattering"]
        return s

    def show(self, result, setting: dict) -> None:
        self.result = result
        names = list(result.accuracy)
        self.w_show.options = {FEATURES[n]: n for n in names}
        if self.w_show.value not in names:
            self.w_show.value = names[0]
        lines = [f"- **{FEATURES[n]}** features: **{result.accuracy[n]:.1%}** test accuracy "
                 f"({round(result.accuracy[n] * result.n_test)}/{result.n_test}), "
                 f"{result.n_features[n]} features, computed in {result.seconds[n]:.0f} s"
                 for n in names]
        self.accuracy.object = (f"{result.n_train} training and {result.n_test} test "
                                f"recordings (8 kHz; J={setting['J']}, Q={setting['Q']}, "
                                f"N={setting['N']})\n\n" + "\n".join(lines))
        self._draw_matrix()

    def _draw_matrix(self) -> None:
        if self.result is None:
            return
        M = self.result.confusion[self.w_show.value]
        self.mapper.high = max(int(M.max()), 1)
        self.src.data = confusion_columns(M)
        self.select_cell(*worst_cell(M))

    def _on_tap(self, attr, old, new) -> None:
        if new:
            self.select_cell(*divmod(int(new[0]), 10), from_tap=True)

    def select_cell(self, true: int, predicted: int, from_tap: bool = False) -> list[str]:
        """List the test recordings of digit ``true`` classified as ``predicted`` and play
        the first; their paths."""
        self.cell = (true, predicted)
        if not from_tap:
            self.src.selected.indices = [true * 10 + predicted]
        if self.result is None:
            return []
        files = self.result.recordings(true, predicted, self.w_show.value)
        kind = "correctly classified" if true == predicted else "misclassified"
        self.cell_title.object = (f"**{len(files)}** {kind} test recording"
                                  f"{'' if len(files) == 1 else 's'}: true **{true}**, "
                                  f"predicted **{predicted}**")
        options = {Path(f).name: f for f in files}
        self.w_recording.options = options
        if files:
            self.w_recording.value = files[0]
            self.play(files[0])
        return files

    def play(self, path: str | None) -> None:
        """Load one recording into the player and the scalogram."""
        if not path:
            return
        try:
            sig = signals_io.load_path(path)
        except (OSError, ValueError) as exc:
            self.cell_title.object += f"\n\n*{Path(path).name} cannot be read: {exc}*"
            return
        self.state.set_signal(sig)

    def describe(self, result, setting: dict) -> str:
        return " · ".join(f"{FEATURES[n]}: {a:.1%}" for n, a in result.accuracy.items())

    def sidebar(self) -> list:
        return [pn.pane.Markdown(
            "The Free Spoken Digit Dataset (3000 recordings at 8 kHz; official split: takes "
            "0-4 test). Features: log-scattering, 4 segment means and the std over time; a "
            "linear classifier. The first picture is stored; the button trains with your "
            "features (minutes)."), self.w_features, *self.controls()]

    def main(self) -> list:
        return [
            pn.Card(self.accuracy, title="Accuracy", sizing_mode="stretch_width"),
            pn.Card(pn.Row(pn.Column(self.w_show, pn.pane.Bokeh(self.confusion_figure)),
                           self.signal_column(self.signal_view, self.scalogram_view,
                                              self.cell_title, self.w_recording),
                           sizing_mode="stretch_width"),
                    title="Confusion matrix and the recordings of a cell",
                    sizing_mode="stretch_width"),
        ]
