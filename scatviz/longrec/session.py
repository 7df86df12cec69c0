"""A long recording as a session's signal: the state analyses the detail window.

`LongRecording` holds a recording (a file path or an array) without loading it, its
`Overview` (computed on first use, cached), the window's length (`choose_window`, from the
cost model and the session's settings) and the window's position. `apply_window` reads the
window's samples (by seek) and sets them as the `ScatState`'s signal: every view, the audio
player included, then shows and plays the window.

In a served dashboard the recording's array (an upload), its overview and its windows are
counted in the server's memory budget while the session holds them
(`scatviz.server.holdings`: the service's ``holdings``, or the one passed as ``holdings``).

>>> rec = LongRecording(state, "night.flac")        # doctest: +SKIP
>>> rec.apply_window(3600.0)                         # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from scatviz.longrec.overview import Overview, compute_overview, recording_info
from scatviz.longrec.window import MAX_SECONDS, WindowChoice, choose_window, read_window
from scatviz.signals_io import LoadedSignal

__all__ = ["LongRecording", "is_long", "DEFAULT_WINDOW_SAMPLES", "DETAIL_SECONDS_ENV",
           "detail_seconds"]

#: The window requested by default, in samples (the issue's interactive target: 2**17).
DEFAULT_WINDOW_SAMPLES = 2**17
#: Environment variable: the most seconds one detail change may be predicted to take before
#: the window is shortened (default `scatviz.longrec.window.MAX_SECONDS`). A server on a slow
#: machine (or a benchmark that wants the requested window kept) sets it higher.
DETAIL_SECONDS_ENV = "SCATVIZ_DETAIL_SECONDS"


def detail_seconds(env=None) -> float:
    """The limit `LongRecording` passes to `choose_window` as ``max_seconds``: the
    `DETAIL_SECONDS_ENV` variable of ``env`` (default ``os.environ``), or `MAX_SECONDS`."""
    text = (os.environ if env is None else env).get(DETAIL_SECONDS_ENV, "").strip()
    if not text:
        return MAX_SECONDS
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{DETAIL_SECONDS_ENV} must be a positive number of seconds (the "
                         f"longest a detail change may be predicted to take, e.g. 1 or 5); "
                         f"got {text!r}.")
    return v


def _settings(state) -> dict | None:
    """The state's settings (`ScatState.settings`), which the window's cost depends on."""
    return state.settings() if state is not None and hasattr(state, "settings") else None


def is_long(n_samples: int, sample_rate: float, cost: Callable | None = None,
            settings: dict | None = None) -> bool:
    """True when a recording of ``n_samples`` at ``sample_rate`` Hz is longer than the
    window a change can afford (`choose_window` would shorten it): show it as an overview
    plus a detail window."""
    ch = choose_window(sample_rate, n_samples / sample_rate, cost, n_samples=n_samples,
                       settings=settings, max_seconds=detail_seconds())
    return ch.shortened


class LongRecording:
    """A recording too long to analyse whole, feeding ``state`` its detail window.

    Parameters
    ----------
    state : ScatState or None
        The session state whose ``signal``/``sample_rate`` `apply_window` sets.
    source : path or np.ndarray
        The recording (a file soundfile reads, or ``(N,)`` with ``sample_rate``).
    window_s : float, optional
        The requested window (s); default `DEFAULT_WINDOW_SAMPLES` samples.
    cost : callable, optional
        The cost model for `choose_window`: ``engine.estimate_cost`` or one with its signature
        (default ``engine.estimate_cost``).
    holdings : SignalHoldings, optional
        What counts the decoded data held (default: the served process's, if any). An array
        recording over its limit raises `scatviz.server.holdings.HoldRefused` (a ValueError).
    """

    def __init__(self, state, source, sample_rate: float | None = None, *,
                 window_s: float | None = None, cost: Callable | None = None,
                 name: str | None = None, holdings=None, **overview_kwargs):
        from scatviz.server.uploads import _holdings

        self.state, self.source = state, source
        self.holdings = _holdings(holdings)
        if self.holdings is not None and isinstance(source, np.ndarray):
            self.holdings.hold(source, f"recording {name or 'array'}")   # once per array
        self.info = recording_info(source, sample_rate)
        self.name = name or self.info.name
        self.cost = cost
        self._overview_kwargs = overview_kwargs
        self._overview: Overview | None = None
        sr = self.info.sample_rate
        self.choice = self.choose(window_s if window_s is not None
                                  else DEFAULT_WINDOW_SAMPLES / sr)
        self.start = 0              # first sample of the window

    @property
    def sample_rate(self) -> float:
        return self.info.sample_rate

    def overview(self, stop: Callable | None = None) -> Overview:
        """The whole recording's overview (computed once, in bounded memory). ``stop``: see
        `compute_overview` (raises `scatviz.longrec.overview.OverviewStopped`)."""
        if self._overview is None:
            self._overview = compute_overview(
                self.source, None if isinstance(self.source, str) else self.sample_rate,
                name=self.name, stop=stop, **self._overview_kwargs)
            self._hold_small(self._overview.env_min, self._overview.env_max,
                             self._overview.env_times, self._overview.scal_mag)
        return self._overview

    def _hold_small(self, *arrays) -> None:
        """Count arrays derived from the admitted recording (overview, window): never
        refused, their size is bounded by the overview's columns and `choose_window`."""
        if self.holdings is not None:
            for a in arrays:
                self.holdings.hold(a, f"{self.name} (derived)", refuse=False)

    def choose(self, length_s: float) -> WindowChoice:
        """The window length for a request of ``length_s`` seconds (with the state's current
        settings); the last choice is kept in ``choice``."""
        self.choice = choose_window(self.sample_rate, length_s, self.cost,
                                    n_samples=self.info.n_samples,
                                    settings=_settings(self.state),
                                    max_seconds=detail_seconds())
        return self.choice

    @property
    def window(self) -> tuple[float, float]:
        """``(start_s, length_s)`` of the window."""
        return self.start / self.sample_rate, self.choice.length_s

    def read(self, start_s: float):
        """The window's samples from ``start_s`` on: ``(x, start)`` (see `read_window`)."""
        source = self.source
        return read_window(source, start_s, self.choice.length,
                           None if isinstance(source, str) else self.sample_rate)

    def apply_window(self, start_s: float, length_s: float | None = None) -> LoadedSignal:
        """Read the window at ``start_s`` (a new ``length_s`` is chosen again) and make it
        the state's signal (when there is a state). Returns the window as a signal."""
        if length_s is not None and abs(length_s - self.choice.length_s) > 0.5 / self.sample_rate:
            self.choose(length_s)
        x, self.start = self.read(start_s)
        self._hold_small(x)
        t0 = self.start / self.sample_rate
        sig = LoadedSignal(x, self.sample_rate, f"{self.name} @ {t0:.2f} s",
                           info={"recording": self.name, "window_start_s": t0,
                                 "window_length_s": len(x) / self.sample_rate,
                                 "recording_duration_s": self.info.duration,
                                 "channels": self.info.channels})
        if self.state is not None:
            self.state.set_signal(sig)
        return sig
