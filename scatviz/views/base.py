"""What every view shares: the state it watches, one persistent pane, data-only updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import numpy as np
import panel as pn
import param
from bokeh.models import FixedTicker, Legend, LegendItem, Range1d

from scatviz.state import JTFS_UNAVAILABLE, ScatState

__all__ = ["BaseView", "ViewContext", "ViewSettings", "display_values", "fit_range",
           "shared_time_range", "set_fixed_ticks", "set_range", "static_legend", "wire"]


#: A numpy column is sent inside the message's JSON up to this many values; a list of 1-D
#: arrays (a `MultiLine`'s ``xs``/``ys``) up to ``WIRE_RAGGED_MAX`` values in all.
WIRE_INLINE_MAX = 1024
WIRE_RAGGED_MAX = 16384
#: Significant digits of the floats sent inside the message's JSON.
WIRE_DIGITS = 6


def display_values(a: np.ndarray, digits: int = WIRE_DIGITS) -> list:
    """A float array as a list of Python floats rounded to ``digits`` significant digits
    each (integers and non-finite values unchanged).

    A float32 value becomes a double whose shortest repr has up to 17 digits
    (``0.10000000149011612``): the filter bank's ~10,000 curve values made ~200 kB of
    JSON per update. Rounded to 6 digits (1e-6 of each value, far under a pixel and under
    the hovers' precision) they print as ``0.1``: half the bytes for the browser to receive
    and parse, and half the server's ``json.dumps`` (2.1 against 4.1 ms per 10,000 values).
    Each value is divided by a power of ten that doubles hold exactly, so the result is the
    double nearest the rounded decimal, which prints short."""
    if a.dtype.kind not in "f":
        return a.tolist()
    x = a.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mag = np.floor(np.log10(np.abs(x)))
        ok = np.isfinite(x) & (np.abs(mag) <= 290)      # (0, inf, nan, extremes: as they are)
        k = np.where(ok, digits - 1 - mag, 0).astype(np.int64)
        scale = 10.0 ** np.abs(k)
        r = np.where(k >= 0, np.round(x * scale) / scale, np.round(x / scale) * scale)
    return np.where(ok, r, x).tolist()


def wire(columns: dict) -> dict:
    """``ColumnDataSource`` data ready to send: short 1-D numpy columns, and lists of 1-D
    arrays (a `MultiLine`'s ``xs``/``ys``), as plain lists (floats to `WIRE_DIGITS`
    significant digits, `display_values`); images and long columns stay numpy arrays
    (binary).

    Bokeh sends every numpy array of a message as a binary websocket frame of its own (after
    a header frame) and the browser handles each frame as a task of its own: a filter bank of
    ~70 short curves arrived over ~40 ms after the message itself, where the same values in
    the message's JSON cost a few ms to encode and parse (`benchmarks/bench_dashboard.py`).
    Encoding a list costs ~0.5 us a value on the server, hence the limits."""
    def flat(a) -> bool:
        return isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "fiub"

    out = {}
    for name, col in columns.items():
        if flat(col) and col.size <= WIRE_INLINE_MAX:
            col = display_values(col)
        elif isinstance(col, (list, tuple)) and col and all(flat(c) for c in col) and \
                sum(c.size for c in col) <= WIRE_RAGGED_MAX:
            # one rounding pass over every curve (~150 short curves: per-curve numpy calls
            # cost ~20 us each), then cut back into the curves
            values = display_values(np.concatenate(col))
            ends = np.cumsum([c.size for c in col]).tolist()
            col = [values[a:b] for a, b in zip([0, *ends[:-1]], ends)]
        out[name] = col
    return out


def set_fixed_ticks(axes, ticks: dict) -> None:
    """Ticks at fixed positions with labels, reusing the axis' `FixedTicker`: assigning a new
    model to a figure in a live document re-walks the whole document, changing a property
    does not."""
    for axis in axes:
        if isinstance(axis.ticker, FixedTicker):
            axis.ticker.ticks = list(ticks)
        else:
            axis.ticker = FixedTicker(ticks=list(ticks))
        axis.major_label_overrides = {k: v for k, v in ticks.items()}


def set_range(rng: Range1d, start: float, end: float) -> None:
    """Show ``[start, end]`` on an explicit `Range1d` (and reset to it). Views whose extent
    follows the setting use `Range1d`, not Bokeh's default `DataRange1d`: the browser's
    DataRange1d keeps the start/end it was created with and re-imposes them whenever data
    change, so a new setting's extent sent later would be ignored (and it would recompute
    bounds from the data on every update)."""
    start, end = float(start), float(end)
    if (rng.start, rng.end, rng.reset_start, rng.reset_end) != (start, end, start, end):
        rng.update(start=start, end=end, reset_start=start, reset_end=end)


#: Margin `fit_range` adds to the data's extent: a tenth of it, half on each side (what
#: Bokeh's `DataRange1d` adds by default).
RANGE_PADDING = 0.1


def fit_range(rng: Range1d, values, log: bool = False) -> None:
    """Show the extent of ``values`` (arrays, or numbers) on an explicit `Range1d`, padded
    like Bokeh's `DataRange1d` (``RANGE_PADDING``; in log10 for a ``log`` axis, where only
    positive values count). Nothing changes when there is nothing finite to fit.

    Axes whose extent follows the data are fitted here rather than by a `DataRange1d`: the
    browser fits a DataRange1d only after drawing the new data, so each such figure painted
    twice per update and sent its new start and end back to the server (five figures of the
    dashboard: five more paints and five more messages per change)."""
    parts = [np.ravel(np.asarray(v, dtype=np.float64)) for v in values]
    v = np.concatenate(parts) if parts else np.zeros(0)
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if v.size == 0:
        return
    lo, hi = float(v.min()), float(v.max())
    if log:
        lo, hi = np.log10(lo), np.log10(hi)
    if hi > lo:
        pad = RANGE_PADDING / 2 * (hi - lo)
    else:                                   # one value: a span around it
        pad = 0.5 if log else max(abs(lo), 1.0) / 2
    lo, hi = lo - pad, hi + pad
    if log:
        lo, hi = 10.0 ** lo, 10.0 ** hi
    set_range(rng, lo, hi)


def static_legend(fig, entries: list[tuple[str, dict]], location: str = "top_left",
                  **props) -> Legend:
    """A legend inside ``fig`` whose items are drawn by proxies: one empty line renderer per
    ``(label, line style)`` entry, never updated.

    BokehJS rebuilds a legend's DOM whenever anything reachable from its items changes, the
    data of the renderers it names included; that new DOM invalidates the page's styles, and
    every figure painted after it then waits for a style recalculation when it reads its
    colours (measured: the paint of twelve figures per update went from ~80 to ~50 ms without
    it). A legend on proxies is built once."""
    # one NaN point (never drawn, ignored by auto-ranging): BokehJS draws no legend swatch
    # for a renderer without rows
    items = [LegendItem(label=label, renderers=[fig.line(x=[np.nan], y=[np.nan], **style)])
             for label, style in entries]
    legend = Legend(items=items, location=location, **props)
    fig.add_layout(legend)
    return legend


class ViewSettings(param.Parameterized):
    """What the views of one page choose together, beside the transform's settings: the
    first-order wavelet picked on the scalogram (by click or hover) and the note names on
    the frequency axes."""

    n1 = param.Integer(default=None, allow_None=True, bounds=(0, None),
                       doc="First-order wavelet chosen on the scalogram, in the engine's "
                           "order (0 = highest frequency); None: the views choose.")
    pitch = param.Boolean(default=False, doc="Note names (A4 = 440 Hz) on the first-order "
                                             "frequency axes.")


class ViewContext:
    """What the views of one page share beside the session state: the time axis (zooming
    one view zooms all), the page's `ViewSettings` (``settings``: the chosen ``n1``, the
    ``pitch`` toggle) and any Bokeh object several views draw from (`shared`).

    The session state holds parameters and results only; Bokeh objects belong to a page.
    A dashboard makes one context per page and passes it to its views. A view built without
    one uses ``ViewContext.for_state(state)``: one context per state, so that views sharing
    a state in a notebook share their time axis too.

    >>> ctx = ViewContext(duration=1.5)
    >>> ctx.time_range.end
    1.5
    """

    _by_state: ClassVar[WeakKeyDictionary] = WeakKeyDictionary()

    def __init__(self, duration: float = 1.0):
        end = float(duration) or 1.0
        self.time_range = Range1d(0.0, end, bounds=(0.0, end), name="time_range")
        self.settings = ViewSettings()
        self._shared: dict[str, Any] = {}

    @classmethod
    def for_state(cls, state: ScatState) -> ViewContext:
        """The context of the views of ``state`` built without one (made on first use)."""
        ctx = cls._by_state.get(state)
        if ctx is None:
            ctx = cls._by_state[state] = cls(state.duration)
        return ctx

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """The object shared under ``key`` by this context's views: ``make()`` the first
        time."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def reset_time_range(self, duration: float) -> None:
        """Show ``[0, duration]`` seconds on the shared time axis (after a new signal)."""
        rng = self.time_range
        end = float(duration) or 1.0
        if rng.end != end or rng.start != 0.0:
            rng.update(bounds=None)
            rng.update(start=0.0, end=end, bounds=(0.0, end))


def shared_time_range(state: ScatState) -> Range1d:
    """The time axis (seconds) of the views of ``state`` that share its default context
    (`ViewContext.for_state`): zooming one zooms all."""
    return ViewContext.for_state(state).time_range


class BaseView(pn.viewable.Viewer):
    """A view of a `ScatState`.

    Subclasses build their Bokeh figures and sources once in ``_build()`` and replace the
    sources' data in ``_update(result)``; ``__panel__`` returns the same layout every time.
    ``message`` holds what the view cannot show (e.g. "JTFS engine not available").
    A view built with ``active=False`` (the dashboard's collapsed cards) draws nothing and
    computes nothing until it is made active; then it draws the current result once.

    Views of one page share a `ViewContext` (``context=``; by default the state's own).
    Use alone in a notebook: ``ScalogramView.from_signal(x, sample_rate)``.
    """

    state = param.ClassSelector(class_=ScatState, constant=True)
    message = param.String(default="", doc="Why the view shows nothing, if it does not.")
    active = param.Boolean(default=True, doc="Draw results as they come (False: wait, e.g. "
                                             "in a collapsed card).")
    title = "View"
    #: Number of results drawn (`_update` calls), for tests.
    n_updates = 0

    def __init__(self, state: ScatState | None = None, x_range: Range1d | None = None,
                 context: ViewContext | None = None, **params):
        if state is None:
            state = ScatState()
        super().__init__(state=state, **params)
        #: The page's shared objects (`ViewContext`): the time axis, shared sources.
        self.context = context if context is not None else ViewContext.for_state(state)
        self._x_range = x_range if x_range is not None else self.context.time_range
        self._message_pane = pn.pane.Alert("", alert_type="warning", visible=False,
                                           sizing_mode="stretch_width", margin=(0, 5))
        self._build()
        self._layout = self._make_layout()
        self.state.param.watch(self._on_result, "result")
        self.param.watch(self._on_message, "message")
        self.param.watch(self._on_active, "active")
        self._stale = True
        if self.state.result is not None and self.active:
            self._safe_update(self.state.result)

    @classmethod
    def from_signal(cls, x: np.ndarray, sample_rate: float, **params):
        """A view on its own state: ``ScalogramView.from_signal(x, 8000, J=6, Q1=8)``."""
        view_keys = set(cls.param) - set(BaseView.param) | {"name"}
        view_params = {k: v for k, v in params.items() if k in view_keys and k != "name"}
        state_params = {k: v for k, v in params.items() if k not in view_params}
        return cls(ScatState.from_signal(x, sample_rate, **state_params), **view_params)

    # ---- to override -----------------------------------------------------------------------

    def _build(self) -> None:
        raise NotImplementedError

    def _panels(self) -> list:
        raise NotImplementedError

    def _update(self, res) -> None:
        raise NotImplementedError

    # ---- plumbing --------------------------------------------------------------------------

    def _make_layout(self):
        return pn.Column(self._message_pane, *self._panels(), sizing_mode="stretch_width",
                         name=self.title)

    def _on_result(self, event) -> None:
        if event.new is None:
            return
        if not self.active:
            self._stale = True            # drawn when made active
            return
        self._safe_update(event.new)

    def _on_active(self, event) -> None:
        if event.new and self._stale and self.state.result is not None:
            self._safe_update(self.state.result)

    def _safe_update(self, res) -> None:
        self._stale = False
        self.n_updates += 1
        try:
            self._update(res)
        except Exception as exc:   # a view must never take the page down
            self.message = f"{self.title}: could not draw ({type(exc).__name__}: {exc})"
            self.param.warning(self.message)
        else:
            if self.message and not self._keep_message():
                self.message = ""

    def _keep_message(self) -> bool:
        return False

    def _on_message(self, event) -> None:
        self._message_pane.object = event.new
        self._message_pane.visible = bool(event.new)

    def __panel__(self):
        return self._layout


class JTFSView(BaseView):
    """A view of the JTFS result. While JTFS computes it keeps its last picture; without a
    result it shows the engine's message (kept until a result comes) and clears its plots.
    Subclasses draw in `_update_jtfs` and clear in `_clear`."""

    _jt = None

    def _update(self, res) -> None:
        if res.jtfs_pending:          # JTFS still computing: keep the last picture
            return
        if res.jtfs is not None and res.jtfs is self._jt:
            return                    # the JTFS drawn (e.g. a T or dB change): nothing to send
        self._jt = res.jtfs
        if self._jt is None:
            self.message = res.jtfs_error or JTFS_UNAVAILABLE
            self._clear(res)
            return
        self.message = ""
        self._update_jtfs(res, self._jt)

    def _keep_message(self) -> bool:
        return self._jt is None

    def _clear(self, res) -> None:
        raise NotImplementedError

    def _update_jtfs(self, res, jt) -> None:
        raise NotImplementedError
