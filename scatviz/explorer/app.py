"""The dataset explorer page: a feature store's files in a 2D embedding coloured by label,
the seed classifier's accuracy beside it, and, for the clicked point, its recording in the
dashboard's own views (waveform with audio player, scalogram) on a `ScatState`.

>>> Explorer.from_store("fsdd.zarr").servable()           # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, TapTool
from bokeh.palettes import Category10_10, Category20_20
from bokeh.plotting import figure
from bokeh.transform import factor_cmap

from scatviz.explorer.data import EMBEDDINGS, ExplorerData, list_stores, resolve_store
from scatviz.signals_io import LoadedSignal
from scatviz.state import ScatState
from scatviz.theme import style_figure
from scatviz.views.scalogram import ScalogramView
from scatviz.views.signal import SignalView

__all__ = ["Explorer", "stores_folder"]


def stores_folder(argv: list[str] | None = None) -> Path:
    """The folder whose stores the explorer may open: ``--stores DIR`` among the app's
    arguments (``panel serve apps/explorer.py --args --stores DIR``), else
    ``$SCATVIZ_STORES``, else the working directory."""
    argv = sys.argv if argv is None else argv
    if "--stores" in argv[:-1]:
        return Path(argv[argv.index("--stores") + 1]).resolve()
    return Path(os.environ.get("SCATVIZ_STORES") or os.getcwd()).resolve()


class Explorer(pn.viewable.Viewer):
    """One store's files as points; click one to see and hear it.

    ``data``: the store's `ExplorerData`; ``embedding``: the method (`EMBEDDINGS`);
    ``selected``: the clicked file's index (-1: none). ``source`` holds the points
    (``x``, ``y``, ``label``, ``name``, ``predicted``, ``split``).
    """

    embedding = param.Selector(default="pca", objects=list(EMBEDDINGS),
                               doc="2D embedding of the features.")
    selected = param.Integer(default=-1, bounds=(-1, None), doc="Clicked file (-1: none).")

    def __init__(self, data: ExplorerData, **params):
        super().__init__(**params)
        self.data = data
        self.state = ScatState(J=6, Q1=8, with_jtfs=False)
        label = data.colour_label
        values = (np.asarray(data.labels[label]).astype(str) if label
                  else np.full(len(data.names), "file"))
        self.factors = sorted(set(values), key=lambda v: (len(v), v))
        clf = data.classifier()
        pred = (clf["classes"][clf["predicted"]].astype(str) if clf
                else np.full(len(values), ""))
        split = (np.where(clf["test"], "test", "train") if clf else np.full(len(values), ""))
        self.source = ColumnDataSource(dict(x=np.zeros(len(values)), y=np.zeros(len(values)),
                                            label=values, name=list(data.names),
                                            predicted=pred, split=split))
        self.figure = self._make_figure(label)
        self.source.selected.on_change("indices", self._on_tap)
        self.accuracy = pn.pane.Markdown(self._accuracy_text(clf), name="accuracy",
                                         sizing_mode="stretch_width")
        self.status = pn.pane.Markdown("Click a point to open its recording.",
                                       name="explorer_status")
        self.signal_view = SignalView(self.state)
        self.scalogram_view = ScalogramView(self.state)
        self.method = pn.widgets.RadioButtonGroup.from_param(
            self.param.embedding, options={v: k for k, v in EMBEDDINGS.items()},
            name="embedding_method")
        self._draw_embedding()
        self.param.watch(lambda e: self._draw_embedding(), "embedding")
        self.param.watch(self._on_selected, "selected")

    @classmethod
    def from_store(cls, store, **params) -> Explorer:
        """An explorer of the store at ``store`` (trusted path: the app's own argument)."""
        return cls(ExplorerData.open(store), **params)

    @classmethod
    def from_query(cls, args: dict | None, base: str | Path | None = None):
        """The page for ``?store=NAME`` (a store under ``base``, default `stores_folder`),
        or a message listing the stores there. A visitor can open only those."""
        base = Path(base) if base is not None else stores_folder()
        raw = (args or {}).get("store", [b""])[0]
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        stores = list_stores(base)
        if not name and len(stores) == 1:
            name = stores[0]
        try:
            return cls.from_store(resolve_store(name, base))
        except ValueError as exc:
            links = "\n".join(f"- [{s}](?store={s})" for s in stores) or "(none)"
            return pn.Column(pn.pane.Alert(f"{exc}", alert_type="warning"),
                             pn.pane.Markdown(f"Feature stores in the stores folder:\n\n"
                                              f"{links}"), name="explorer_error")

    # ---- embedding ---------------------------------------------------------------------------

    def _make_figure(self, label):
        fig = figure(height=520, sizing_mode="stretch_width", tools="pan,wheel_zoom,reset,save",
                     active_scroll="wheel_zoom", name="embedding",
                     x_axis_label="component 1", y_axis_label="component 2")
        style_figure(fig, f"Files, coloured by {label or 'file'}")
        palette = Category10_10 if len(self.factors) <= 10 else Category20_20
        colours = [palette[i % len(palette)] for i in range(len(self.factors))]
        fig.scatter("x", "y", source=self.source, size=7, alpha=0.8, legend_field="label",
                    color=factor_cmap("label", colours, self.factors),
                    nonselection_alpha=0.25, selection_line_color="black",
                    name="points")
        fig.legend.title = label or ""
        fig.legend.click_policy = "hide"
        fig.add_tools(HoverTool(tooltips=[("file", "@name"), (label or "label", "@label"),
                                          ("predicted", "@predicted"), ("set", "@split")]),
                      TapTool())
        return fig

    def _draw_embedding(self) -> None:
        xy = self.data.embedding(self.embedding)
        self.source.data.update(x=xy[:, 0], y=xy[:, 1])
        self.figure.title.text = (f"{EMBEDDINGS[self.embedding]} of the log-scattering "
                                  f"features, coloured by {self.data.colour_label or 'file'}")

    def embedding_xy(self) -> np.ndarray:
        """The points as drawn, ``(n, 2)``."""
        return np.column_stack([self.source.data["x"], self.source.data["y"]])

    @staticmethod
    def _accuracy_text(clf) -> str:
        if clf is None:
            return ("**Classifier:** needs a label and the FSDD split (an `index` label: "
                    "`--labels fsdd`).")
        return (f"**Classifier accuracy: {clf['accuracy']:.1%}** on {clf['n_test']} test files"
                f" ({clf['n_train']} train)\n\nThe seed's classifier: multinomial logistic "
                f"regression on standardised log-scattering features (`{clf['label']}`); "
                f"official FSDD split, takes 0-4 are the test set.")

    # ---- click -> recording ------------------------------------------------------------------

    def _on_tap(self, attr, old, new) -> None:
        if new:
            self.selected = int(new[0])

    def _on_selected(self, event) -> None:
        if event.new < 0:
            return
        try:
            x, sr, name = self.data.recording(event.new)
        except (OSError, ValueError, IndexError) as exc:   # moved or unreadable: say so
            self.status.object = f"Cannot open point {event.new}: {exc}"
            return
        self.state.set_signal(LoadedSignal(x, sr, name, {"source": str(self.data.paths[
            event.new])}))
        lab = self.source.data["label"][event.new]
        self.status.object = f"**{name}** ({self.data.colour_label or 'label'} {lab})"

    def select(self, i: int) -> None:
        """Open file ``i`` (what a click on its point does)."""
        self.source.selected.indices = [int(i)]
        self.selected = int(i)

    # ---- layout ------------------------------------------------------------------------------

    def __panel__(self):
        left = pn.Column(self.method, pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
        right = pn.Column(self.accuracy, self.status, self.signal_view, self.scalogram_view,
                          sizing_mode="stretch_width")
        return pn.Row(left, right, sizing_mode="stretch_width", name="explorer")
