"""Signal: the waveform on a time axis in seconds, with audio playback.

The audio player's playhead (``pn.pane.Audio.time``, sent by the browser while it plays) is
written to ``state.playhead``; the waveform, the scalogram and the spin inspector draw it.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Range1d, Span
from bokeh.plotting import figure

from scatviz.theme import CATEGORICAL, style_figure
from scatviz.views.base import BaseView, fit_range

__all__ = ["SignalView", "waveform_envelope"]

#: Above this many samples the waveform is drawn as a min/max envelope of this many columns.
MAX_POINTS = 4000


def waveform_envelope(x: np.ndarray, sample_rate: float, max_points: int = MAX_POINTS
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and values to draw ``x``: every sample when short, else a zig-zag through the
    minimum and maximum of ``max_points // 2`` buckets (what a screen can show)."""
    x = np.asarray(x, dtype=np.float32)
    N = len(x)
    if N <= max_points:
        return np.arange(N) / sample_rate, x
    buckets = max_points // 2
    size = int(np.ceil(N / buckets))
    pad = (-N) % size
    xp = np.concatenate([x, np.full(pad, x[-1], dtype=np.float32)]).reshape(-1, size)
    lo, hi = xp.min(axis=1), xp.max(axis=1)
    t = np.minimum((np.arange(len(lo)) * size + size / 2), N - 1) / sample_rate
    return np.repeat(t, 2), np.stack([lo, hi], axis=1).ravel()


class SignalView(BaseView):
    """The waveform (time in seconds) and an audio player whose playhead the time-frequency
    views draw.

    >>> view = SignalView.from_signal(x, 8000)                  # doctest: +SKIP
    """

    title = "Signal"
    height = param.Integer(default=180)

    def _build(self) -> None:
        self.source = ColumnDataSource(data=dict(t=[], x=[]))
        fig = figure(height=self.height, sizing_mode="stretch_width", x_range=self._x_range,
                     y_range=Range1d(-1, 1), x_axis_label="time (s)", y_axis_label="amplitude",
                     tools="xpan,xwheel_zoom,box_zoom,reset,save", active_scroll="xwheel_zoom",
                     name="waveform")
        style_figure(fig, "Signal")
        fig.line("t", "x", source=self.source, line_color=CATEGORICAL[0], line_width=1)
        self.playhead = Span(location=0, dimension="height", line_color="#00e5ff",
                             line_width=2, line_alpha=0.9)
        fig.add_layout(self.playhead)
        self.figure = fig
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.audio = pn.pane.Audio(None, sample_rate=8000, name="audio", throttle=100,
                                   sizing_mode="stretch_width", height=50)
        self.info = pn.pane.Markdown("", margin=(0, 10), name="signal_info")
        self.audio.param.watch(self._on_audio_time, "time")
        self.state.param.watch(self._on_playhead, "playhead")
        self._audio_key = None
        self._name = None

    def _panels(self) -> list:
        return [self.pane, pn.Row(self.audio, self.info, sizing_mode="stretch_width")]

    def _update(self, res) -> None:
        key = res.key[0]                  # the signal's digest (samples and rate)
        if key == self._audio_key and res.name == self._name:
            return                        # a new setting, same signal: nothing to redraw
        self._name = res.name
        t, y = waveform_envelope(res.x, res.sample_rate)
        self.source.data = dict(t=t.astype(np.float32), x=y)
        fit_range(self.figure.y_range, [y])
        if key != self._audio_key:
            self._audio_key = key
            self.context.reset_time_range(self.state.duration)
            self.audio.param.update(object=_audio_int16(res.x), sample_rate=int(res.sample_rate))
        N = len(res.x)
        self.info.object = (f"**{res.name}** · {N} samples · sample rate "
                            f"**{res.sample_rate:g} Hz** · {N / res.sample_rate:.3f} s")
        self.figure.title.text = f"Signal: {res.name}"

    def waveform_data(self) -> dict:
        """What is drawn: ``t`` (s) and ``x``."""
        return dict(t=np.asarray(self.source.data["t"]), x=np.asarray(self.source.data["x"]))

    def _on_audio_time(self, event) -> None:
        t = float(event.new or 0.0)
        if abs(t - self.state.playhead) > 1e-4:
            self.state.playhead = max(0.0, t)

    def _on_playhead(self, event) -> None:
        self.playhead.location = float(event.new)


def _audio_int16(x: np.ndarray) -> np.ndarray:
    """Peak-normalised 16-bit PCM for the browser's player."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    scale = 32767 * 0.95 / peak if peak > 0 else 0.0
    return (np.asarray(x, dtype=np.float64) * scale).astype(np.int16)
