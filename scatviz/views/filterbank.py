"""Filter bank: the wavelets and the low-pass in frequency (Hz, linear or log axis) with their
Littlewood-Paley sum, the same filters in time as a heatmap, and JTFS's frequential wavelets
with both spins.

Every array comes from the engine (the `FilterBank` of the transform, JTFS's frequential
filters); the Littlewood-Paley sum from `engine.toolkit.lp_sum`.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure

from scatviz.joint import take_part
from scatviz.state import JTFS_UNAVAILABLE
from scatviz.theme import DIVERGING, LOWPASS, LP_SUM, SPIN_DOWN, SPIN_UP, line_colors, style_figure
from scatviz.views.base import BaseView, fit_range, set_fixed_ticks, set_range, static_legend, wire
from scatviz.views.image import ServerImage

__all__ = ["FilterBankView", "lp_sum_half", "time_heatmap"]

#: Columns of the time-domain heatmap.
MAX_TIME_COLUMNS = 512


def lp_sum_half(psi: np.ndarray, phi: np.ndarray, analytic: bool | None = None
                ) -> np.ndarray | None:
    """Littlewood-Paley sum of a full-grid family ``(K, N)`` and low-pass ``(N,)`` (the
    toolkit's `lp_sum`), on the non-negative half ``(N // 2 + 1,)``. ``analytic``: whether
    every wavelet is centred at a positive frequency (the toolkit's ``fold``; None: the
    toolkit finds out from the responses' peaks)."""
    from engine.toolkit import lp_sum
    A = lp_sum(psi, phi, fold=analytic)
    return np.asarray(A[: psi.shape[-1] // 2 + 1], dtype=np.float64)


#: Points per drawn frequency response.
MAX_FREQ_POINTS = 800


def display_grid(freqs: np.ndarray, curves: np.ndarray, log: bool,
                 n: int = MAX_FREQ_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Resample responses ``(K, F)`` on ``freqs`` ``(F,)`` (ascending, > 0) to at most ``n``
    points for drawing: the maximum over each bucket (so that no peak is lost), buckets equal
    in Hz or, with ``log``, in log-frequency. Returns ``(f (M,), curves (K, M))``."""
    freqs = np.asarray(freqs, dtype=np.float64)
    curves = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    if len(freqs) <= n:
        return freqs, curves
    if log:
        edges = np.geomspace(freqs[0], freqs[-1], n + 1)
    else:
        edges = np.linspace(freqs[0], freqs[-1], n + 1)
    starts = np.unique(np.searchsorted(freqs, edges[:-1], side="left"))
    starts = starts[starts < len(freqs)]
    peaks = np.maximum.reduceat(curves, starts, axis=1)
    ends = np.append(starts[1:], len(freqs))
    centre = freqs[(starts + ends - 1) // 2]
    return centre, peaks


def trim_curve(x: np.ndarray, y: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of a curve that can be seen: from one point before the first value above
    ``floor`` to one point after the last (float32). On a linear axis whose top is about 1, a
    floor of 1e-3 is a third of a pixel in a 300 px figure: the drawn picture is the same,
    with a fraction of the points (each wavelet lives on a small part of the axis)."""
    above = np.flatnonzero(y > floor)
    if above.size == 0:
        k = int(np.argmax(y))
        lo, hi = k, k + 1
    else:
        lo, hi = max(above[0] - 1, 0), min(above[-1] + 2, len(y))
    return x[lo:hi].astype(np.float32), y[lo:hi].astype(np.float32)


#: Curves are drawn where they exceed this fraction of the tallest curve (`trim_curve`).
TRIM_FLOOR = 1e-3


def _samples(spec: np.ndarray, step: int) -> np.ndarray:
    """Exact samples ``h[m * step]`` (m = 0 .. N/step - 1, periodic) of ``h = ifft(spec)``
    along the last axis, from an inverse FFT of ``N / step`` points: the spectrum folded
    (aliased) onto ``N / step`` bins, which is what sampling every ``step``-th point does.
    ``step`` must divide ``N``."""
    K, N = spec.shape
    folded = spec.reshape(K, step, N // step).sum(axis=1)
    return np.fft.ifft(folded, axis=-1) / step


def time_heatmap(psi_full: np.ndarray, sample_rate: float, max_cols: int = MAX_TIME_COLUMNS,
                 part: str = "re") -> tuple[np.ndarray, float, float]:
    """Impulse responses of a family given in frequency ``(K, N)``: the real part (``part``
    "re"; "im" the imaginary part, "abs" the modulus), centred,
    each row scaled to its own peak, cropped to where the widest filter lives, sampled every
    ``step`` samples (a power of two: at most ``max_cols`` columns, at least half as many).

    Only the drawn samples are computed (no full-length FFT per filter), after a first coarse
    pass that finds the crop: folding the spectrum onto ``N / step`` bins gives the samples at
    multiples of ``step`` exactly, and keeping every ``(N / step) / L``-th of those bins
    periodises them with a period of at least 8 times the crop's half-width (equal to the
    full inverse FFT to about 1e-3 of each row's peak, under half a colour step).

    Returns ``(image (K, M), t_start s, t_width s)``; rows in the family's order.
    """
    spec = np.atleast_2d(np.asarray(psi_full))
    K, N = spec.shape
    pow2 = N & (N - 1) == 0
    # coarse pass (exact samples every D points, 1024 of them) for the crop: where any
    # filter's envelope exceeds 1e-3 of its peak, found to within D samples (the crop adds D)
    D = max(1, N // 1024) if pow2 else 1
    hc = _samples(spec, D) if D > 1 else np.fft.ifft(spec, axis=-1)
    env = np.abs(hc)
    peak = env.max(axis=1, keepdims=True)
    peak[peak == 0] = 1
    alive = (env / peak).max(axis=0) > 1e-3
    M = env.shape[1]
    # offsets from t = 0 (periodic): index m is at m * D, or (m - M) * D past the middle
    offs = np.where(np.arange(M) < M // 2, np.arange(M), np.arange(M) - M) * D
    reach = int(np.abs(offs[alive]).max()) + D if alive.any() else N // 2
    half = min(max(reach, 8), N // 2)
    step = 1
    while 2 * (half // step) + 1 > max_cols and (not pow2 or N % (2 * step) == 0):
        step *= 2
    n = half // step                                   # columns each side of t = 0
    if pow2:
        # samples every `step` (folded spectrum), then every L-th of those frequencies: h
        # periodised with period L * step >= 8 half, whose other periods add only the tails
        # beyond 3 half (under 1e-3 of each peak there, far under one colour step)
        folded = spec.reshape(K, step, N // step).sum(axis=1) / step if step > 1 else spec
        Ls = folded.shape[1]
        L = min(Ls, 1 << (8 * (n + 1) - 1).bit_length())
        h = np.fft.ifft(folded[:, :: Ls // L], axis=-1)
        h = h[:, np.arange(-n, n + 1) % h.shape[1]]
    else:                                              # any length: the full inverse FFT
        h = np.fft.ifft(spec, axis=-1)[:, (np.arange(-n, n + 1) * step) % N]
    peak = np.abs(h).max(axis=1, keepdims=True)
    peak[peak == 0] = 1
    img = take_part(h / peak, part)
    return img, -n * step / sample_rate, (2 * n + 1) * step / sample_rate


_FREQ_MODELS: WeakKeyDictionary = WeakKeyDictionary()
_TIME_MODELS: WeakKeyDictionary = WeakKeyDictionary()


def _freq_model(bank, log: bool, full: dict | None = None) -> dict:
    """What a frequency figure draws for a `FilterBankArrays` (cached per bank and axis
    type: the cached results of `compute_transforms` hold the bank, so a setting seen
    before redraws without recomputing): ``f`` Hz, ``phi``, ``lp`` on it, ``psi1``/``psi2``
    as ``(xs, ys)`` lists of trimmed float32 curves, labels, the x range and ``y_extent``
    (lowest and highest value drawn)."""
    per_bank = _FREQ_MODELS.setdefault(bank, {})
    if log in per_bank:
        return per_bank[log]
    f = bank.freqs                    # ascending from 0 Hz
    lo = int(np.searchsorted(f, 0.0, side="right"))      # the log axis cannot show 0 Hz
    fk = f[lo:]
    full = bank.full if full is None else full
    K = len(f)
    # the engine's centre frequencies say whether the family is analytic (what lp_sum would
    # otherwise find from the responses' peaks, another pass over the whole bank)
    lp = lp_sum_half(full["psi1"], full["phi"], analytic=bool(np.all(bank.xi1_hz > 0)))
    parts = [full["psi1"][:, lo:K], full["psi2"][:, lo:K], full["phi"][None, lo:K]] + \
        ([lp[None, lo:]] if lp is not None else [])
    rows = np.empty((sum(len(p) for p in parts), K - lo))
    i = 0
    for part in parts:                # |.| straight into one array (no stacked copies)
        np.abs(part, out=rows[i:i + len(part)])
        i += len(part)
    n1, n2 = len(full["psi1"]), len(full["psi2"])
    fx, ys = display_grid(fk, rows, log)
    floor = TRIM_FLOOR * float(ys[:n1 + n2].max()) if n1 + n2 else 0.0

    def curves(block):
        pairs = [trim_curve(fx, y, floor) for y in block]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    psi1, psi2 = curves(ys[:n1]), curves(ys[n1:n1 + n2])
    drawn = [*psi1[1], *psi2[1], ys[n1 + n2:].ravel().astype(np.float32)]   # curves, phi, lp
    model = dict(f=fx.astype(np.float32), phi=ys[n1 + n2].astype(np.float32),
                 lp=ys[n1 + n2 + 1].astype(np.float32) if lp is not None else None,
                 psi1=psi1, psi2=psi2,
                 y_extent=(min(float(d.min()) for d in drawn), max(float(d.max()) for d in drawn)),
                 labels1=[f"ψ1 n1={i}: {x:.1f} Hz" for i, x in enumerate(bank.xi1_hz)],
                 labels2=[f"ψ2 n2={i}: {x:.1f} Hz" for i, x in enumerate(bank.xi2_hz)],
                 x_start=max(fk[0], 1.0) if log else 0.0, x_end=float(f[-1]))
    per_bank[log] = model
    return model


def _time_model(bank, full: dict | None = None) -> tuple:
    """The time-domain heatmap of a bank (cached per bank): image (rows low to high
    frequency), start and width in seconds, y ticks."""
    if bank in _TIME_MODELS:
        return _TIME_MODELS[bank]
    from scatviz.views.scalogram import frequency_ticks

    full = bank.full if full is None else full
    img, t0, tw = time_heatmap(full["psi1"], bank.sample_rate)
    img = np.ascontiguousarray(img[::-1])         # low frequencies at the bottom
    out = (img, t0, tw, frequency_ticks(bank.xi1_hz[::-1], max_ticks=8))
    _TIME_MODELS[bank] = out
    return out


class FilterBankView(BaseView):
    """The filter bank of the current setting.

    * Frequency domain (Hz, ``log_freq`` for a log axis): the first-order wavelets (colours,
      high to low), the second-order ones (dashed), the low-pass (grey) and the
      Littlewood-Paley sum of the first-order family with the low-pass (thick).
    * Time domain: the first-order wavelets' real parts as a heatmap, one row per wavelet
      (labelled by centre frequency), each scaled to its peak.
    * JTFS frequential wavelets, spin up and spin down, over the log-frequency axis (n1).
    """

    title = "Filter bank"
    log_freq = param.Boolean(default=True, doc="Logarithmic frequency axis.")

    def _build(self) -> None:
        self.sources = {}
        self.figs_freq = {}
        for log in (False, True):
            src = dict(psi1=ColumnDataSource(data=dict(xs=[], ys=[], color=[], label=[])),
                       psi2=ColumnDataSource(data=dict(xs=[], ys=[], label=[])),
                       phi=ColumnDataSource(data=dict(f=[], y=[])),
                       lp=ColumnDataSource(data=dict(f=[], y=[])))
            self.sources[log] = src
            fig = figure(height=300, sizing_mode="stretch_width", x_range=Range1d(1, 2),
                         y_range=Range1d(0, 1),
                         x_axis_type="log" if log else "linear",
                         x_axis_label="frequency (Hz)", y_axis_label="|ψ̂(f)|",
                         tools="pan,wheel_zoom,box_zoom,reset,save", name=f"fb_freq_{log}")
            style_figure(fig, "Wavelets in frequency: ψ1 (colour), ψ2 (dashed), φ (grey), "
                              "Littlewood-Paley sum")
            r1 = fig.multi_line("xs", "ys", source=src["psi1"], line_color="color",
                                line_width=1.5)
            fig.multi_line("xs", "ys", source=src["psi2"], line_color="#888888",
                           line_dash="dashed", line_width=1)
            phi_style = dict(line_color=LOWPASS, line_width=2)
            lp_style = dict(line_color=LP_SUM, line_width=3)
            fig.line("f", "y", source=src["phi"], **phi_style)
            fig.line("f", "y", source=src["lp"], **lp_style)
            static_legend(fig, [("φ (low-pass)", phi_style), ("LP sum", lp_style)],
                          background_fill_alpha=0.5)
            fig.add_tools(HoverTool(renderers=[r1], tooltips=[("wavelet", "@label")]))
            fig.visible = log == self.log_freq
            self.figs_freq[log] = fig
        # kept for tests and notebooks: the sources of the visible (log) figure
        self.src_psi1, self.src_psi2 = self.sources[True]["psi1"], self.sources[True]["psi2"]
        self.src_phi, self.src_lp = self.sources[True]["phi"], self.sources[True]["lp"]
        self._bank = None              # the bank drawn, and per axis type the bank drawn there
        self._drawn: dict = {}
        self._fr_key = None

        ft = figure(height=300, sizing_mode="stretch_width", x_axis_label="time (s)",
                    x_range=Range1d(-1, 1), y_range=Range1d(0, 1),
                    y_axis_label="centre frequency (Hz)", tools="pan,wheel_zoom,reset,save",
                    name="fb_time")
        style_figure(ft, "Wavelets in time: Re ψ1(t), each row scaled to its peak")
        self.time_image = ServerImage(ft, DIVERGING, low=-1, high=1)
        self.src_time = self.time_image.source
        ft.add_tools(HoverTool(tooltips=[("t", "$x{0.0000} s"), ("Re ψ", "@value{0.00}")]))
        self.fig_time = ft

        self.src_fr_up = ColumnDataSource(data=dict(xs=[], ys=[], label=[]))
        self.src_fr_dn = ColumnDataSource(data=dict(xs=[], ys=[], label=[]))
        ff = figure(height=260, sizing_mode="stretch_width", x_range=Range1d(0, 1),
                    y_range=Range1d(0, 1),
                    x_axis_label="frequential frequency (cycles per n1 bin)",
                    y_axis_label="|ψ̂_fr|", tools="pan,wheel_zoom,reset,save", name="fb_fr")
        style_figure(ff, "JTFS frequential wavelets: spin up (red) and spin down (blue)")
        up_style = dict(line_color=SPIN_UP, line_width=1.5)
        dn_style = dict(line_color=SPIN_DOWN, line_width=1.5)
        rup = ff.multi_line("xs", "ys", source=self.src_fr_up, **up_style)
        rdn = ff.multi_line("xs", "ys", source=self.src_fr_dn, **dn_style)
        ff.add_tools(HoverTool(renderers=[rup, rdn], tooltips=[("wavelet", "@label")]))
        static_legend(ff, [("spin up (ψ_fr↑)", up_style), ("spin down (ψ_fr↓)", dn_style)])
        self.fig_fr = ff
        self.fr_message = pn.pane.Alert(JTFS_UNAVAILABLE, alert_type="info", visible=False,
                                        sizing_mode="stretch_width", name="fb_fr_message")

        self.log_toggle = pn.widgets.Checkbox.from_param(self.param.log_freq,
                                                         label="log frequency axis")
        self.param.watch(self._on_log, "log_freq")
        self.panes = [pn.pane.Bokeh(self.figs_freq[False], sizing_mode="stretch_width"),
                      pn.pane.Bokeh(self.figs_freq[True], sizing_mode="stretch_width")]
        self.panes[0].visible = not self.log_freq
        self.panes[1].visible = self.log_freq
        self.pane_time = pn.pane.Bokeh(ft, sizing_mode="stretch_width")
        self.pane_fr = pn.pane.Bokeh(ff, sizing_mode="stretch_width")

    def _panels(self) -> list:
        return [self.log_toggle, *self.panes,
                pn.Row(self.pane_time, pn.Column(self.fr_message, self.pane_fr,
                                                 sizing_mode="stretch_width"),
                       sizing_mode="stretch_width")]

    def _on_log(self, event) -> None:
        self.panes[0].visible = not event.new
        self.panes[1].visible = event.new
        self.figs_freq[False].visible = not event.new
        self.figs_freq[True].visible = event.new
        if self._bank is not None:
            self._draw_freq(self._bank, event.new)   # the hidden figure is filled when shown

    def freq_data(self, log: bool | None = None) -> dict:
        """What a frequency figure draws (the visible one by default): ``freqs`` Hz and
        ``phi``, ``lp`` (LP sum, or empty) on them; ``psi1``/``psi2`` lists of arrays on
        their own frequencies ``psi1_f``/``psi2_f`` Hz (each wavelet where it is visible,
        `trim_curve`)."""
        src = self.sources[self.log_freq if log is None else log]
        def arr(v):                         # columns may be lists (`wire`): float32 values
            return np.asarray(v, dtype=np.float32)

        return dict(freqs=arr(src["phi"].data["f"]),
                    psi1=[arr(y) for y in src["psi1"].data["ys"]],
                    psi1_f=[arr(x) for x in src["psi1"].data["xs"]],
                    psi2=[arr(y) for y in src["psi2"].data["ys"]],
                    psi2_f=[arr(x) for x in src["psi2"].data["xs"]],
                    phi=arr(src["phi"].data["y"]), lp=arr(src["lp"].data["y"]))

    def _update(self, res) -> None:
        bank = res.bank
        if bank is not self._bank:                 # a JTFS-only change keeps the bank
            self._bank = bank
            full = bank.full                       # the full-grid arrays, built once here
            self._draw_freq(bank, self.log_freq, full)
            self._draw_time(bank, full)
        self._update_fr(res)

    def _draw_freq(self, bank, log: bool, full: dict | None = None) -> None:
        """Fill the frequency figure of one axis type (``log``) from the bank's curves."""
        if self._drawn.get(log) is bank:
            return
        src, m = self.sources[log], _freq_model(bank, log, full)
        self._drawn[log] = bank
        n1 = len(m["psi1"][0])
        src["psi1"].data = wire(dict(xs=m["psi1"][0], ys=m["psi1"][1], color=line_colors(n1),
                                     label=m["labels1"]))
        src["psi2"].data = wire(dict(xs=m["psi2"][0], ys=m["psi2"][1], label=m["labels2"]))
        src["phi"].data = wire(dict(f=m["f"], y=m["phi"]))
        src["lp"].data = wire(dict(f=m["f"], y=m["lp"])) if m["lp"] is not None else \
            dict(f=[], y=[])
        set_range(self.figs_freq[log].x_range, m["x_start"], m["x_end"])
        fit_range(self.figs_freq[log].y_range, [m["y_extent"]])

    def _draw_time(self, bank, full: dict | None = None) -> None:
        img, t0, tw, ticks = _time_model(bank, full)
        n = img.shape[0]
        self.time_image.draw(img, x=t0, dw=tw, dh=float(n))
        set_range(self.fig_time.x_range, t0, t0 + tw)
        set_range(self.fig_time.y_range, 0, n)
        set_fixed_ticks(self.fig_time.yaxis, ticks)

    def _update_fr(self, res) -> None:
        if res.jtfs_pending:
            return
        jt = res.jtfs
        fr_key = (jt.fr_filters if jt is not None else None, res.jtfs_error)
        if self._fr_key is not None and all(a is b for a, b in zip(fr_key, self._fr_key)):
            return                                 # same frequential filters as drawn
        self._fr_key = fr_key
        if jt is None or not jt.fr_filters:
            self.fr_message.object = res.jtfs_error or JTFS_UNAVAILABLE
            self.fr_message.visible = True
            self.src_fr_up.data = dict(xs=[], ys=[], label=[])
            self.src_fr_dn.data = dict(xs=[], ys=[], label=[])
            return
        self.fr_message.visible = False
        fr = jt.fr_filters
        q = np.asarray(fr["freqs"], np.float64)
        ys_up = [np.abs(u) for u in fr["up"]]
        ys_dn = [np.abs(d) for d in fr["dn"]]
        # each wavelet only where it can be seen, as the first-order ones (`trim_curve`)
        floor = TRIM_FLOOR * max((float(y.max()) for y in ys_up + ys_dn), default=0.0)
        for src, ys, spin in ((self.src_fr_up, ys_up, "up"), (self.src_fr_dn, ys_dn, "down")):
            curves = [trim_curve(q, y, floor) for y in ys]
            src.data = wire(dict(xs=[c[0] for c in curves], ys=[c[1] for c in curves],
                                 label=[f"spin {spin} n1_fr={i}" for i in range(len(ys))]))
        fit_range(self.fig_fr.x_range, [q])
        fit_range(self.fig_fr.y_range, ys_up + ys_dn)
