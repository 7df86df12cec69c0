"""The detail window of a long recording: its length from a cost model, its samples by seek.

`choose_window` is a pure function: from the sample rate, the requested window (seconds) and
a cost function it returns the longest window (the request itself, or else a power of two of
samples below it) whose predicted cost keeps a change interactive, and a message when it had
to shorten the request. The cost function has the signature of ``engine.estimate_cost``::

    cost(kind, shape, batch=1, **params) -> Cost      # Cost.peak_bytes, Cost.seconds

and is called once per transform a detail change computes (``work``, from `detail_work`: the
dashboard's Scattering1D and JTFS, with their constructor arguments made from the session's
settings). The default is ``engine.estimate_cost``; `per_sample_cost`, a conservative linear
model (see its docstring for where its constants come from), is a cheaper stand-in for tests.

`read_window` reads the window's samples from a file by seek (``soundfile.SoundFile.seek``),
never the whole file, or slices an array.

>>> ch = choose_window(48_000, 60.0, cost=per_sample_cost)
>>> ch.length < 60 * 48_000 and ch.shortened and "shortened" in ch.message
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine._costs import Cost, format_bytes

__all__ = ["WindowChoice", "choose_window", "per_sample_cost", "read_window", "clamp_start",
           "detail_work", "MAX_SECONDS", "MAX_BYTES", "MIN_SAMPLES"]

#: A detail change should answer within this many seconds (the issue's target: a median
#: under 1 s at a 2**17-sample window).
MAX_SECONDS = 1.0
#: Working memory one detail change may use (bytes): a session's share of a server budget.
MAX_BYTES = 1 * 2**30
#: The shortest window offered (samples): the transforms need a few thousand samples.
MIN_SAMPLES = 2**12


def detail_work(settings: dict | None = None) -> list[tuple[str, dict]]:
    """The transforms one detail change computes, as ``(kind, constructor arguments)`` for a
    cost function with ``engine.estimate_cost``'s signature, from a session's settings
    (`ScatState.settings`: ``J, Q1, Q2, T, J_fr, Q_fr, F, design, with_jtfs``; missing ones
    take the state's defaults). As `scatviz.pipeline` builds them: ``T=0`` and ``F=0`` mean
    the engine's default (None).

    >>> [k for k, _ in detail_work({"with_jtfs": False})]
    ['scattering1d']
    """
    st = dict(J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1, with_jtfs=True)
    st.update(settings or {})
    common = dict(J=int(st["J"]), Q=(int(st["Q1"]), int(st["Q2"])), T=int(st["T"]) or None)
    if st.get("design"):
        common["filterbank"] = st["design"]
    work = [("scattering1d", dict(common, max_order=2))]
    if st["with_jtfs"]:
        work.append(("jtfs", dict(common, J_fr=int(st["J_fr"]), Q_fr=int(st["Q_fr"]),
                                  F=int(st["F"]) or None)))
    return work


#: `per_sample_cost`'s constants per kind: (peak bytes per sample, seconds per sample).
#: Measured at the dashboard's default setting (J=6, Q1=8, Q2=1, T=0, J_fr=3, Q_fr=1, F=1,
#: "kymatio") on N = 2**17 with `scatviz.pipeline.compute_transforms`, 2 torch threads, on the
#: shared 2-core machine at a load average of 8 (12:51 UTC, 3 Dec 2026): Scattering1D with the
#: scalogram 0.53 s and 260 MB of peak RSS (first call, modules built), JTFS 3.1 s and 610 MB
#: more; rounded up. Times under that load are about three times an idle machine's: the model
#: errs towards short windows. Conservative for the default setting and smaller ones only.
PER_SAMPLE: dict[str, tuple[float, float]] = {
    "scattering1d": (2000.0, 4.0e-6),
    "jtfs": (4700.0, 24.0e-6),
}


def per_sample_cost(kind: str, shape, batch: int = 1, **params) -> Cost:
    """A conservative linear cost model: ``peak_bytes`` and ``seconds`` proportional to
    ``batch * N`` (``shape`` an int or ``(N,)``), with `PER_SAMPLE`'s constants for ``kind``
    (an unknown kind costs as the dearest known one). ``params`` are accepted and ignored:
    the constants hold for the dashboard's default setting and less; a larger ``J`` or ``Q``
    costs more than this model says (the engine's ``estimate_cost`` knows).

    >>> per_sample_cost("jtfs", (2**17,)).seconds > 0
    True
    """
    N = int(shape if np.isscalar(shape) else shape[-1])
    b, s = PER_SAMPLE.get(kind, max(PER_SAMPLE.values()))
    n = int(batch) * N
    return Cost(peak_bytes=int(b * n), output_bytes=0, output_shape=(batch, N),
                seconds=s * n)


@dataclass(frozen=True)
class WindowChoice:
    """The detail window's length.

    ``length`` samples (``length_s`` seconds at ``sample_rate``), ``requested`` the request in
    samples (after clamping to the recording), ``seconds``/``peak_bytes`` the predicted cost
    of one change at ``length``, ``message`` why it was shortened ("" when not)."""

    length: int
    requested: int
    sample_rate: float
    seconds: float
    peak_bytes: int
    message: str = ""

    @property
    def length_s(self) -> float:
        return self.length / self.sample_rate

    @property
    def shortened(self) -> bool:
        return self.length < self.requested


def _total(cost: Callable, N: int, work: Sequence[tuple[str, dict]]) -> tuple[float, int]:
    """Seconds and peak bytes of one change at ``N`` samples: the transforms run one after
    the other, so their seconds add; their peaks are added too (each result stays in the
    cache while the next computes), which over-counts a little. A length the transforms
    cannot take (the cost function's ValueError, e.g. ``2**J > N``) costs infinitely."""
    secs, peak = 0.0, 0
    for kind, params in work:
        try:
            c = cost(kind, N, 1, **params)
        except ValueError:
            return math.inf, 0
        secs += float(c.seconds)
        peak += int(c.peak_bytes)
    return secs, peak


def choose_window(sample_rate: float, requested_s: float, cost: Callable | None = None, *,
                  n_samples: int | None = None, settings: dict | None = None,
                  work: Sequence[tuple[str, dict]] | None = None,
                  max_seconds: float = MAX_SECONDS,
                  max_bytes: int = MAX_BYTES, min_samples: int = MIN_SAMPLES) -> WindowChoice:
    """The detail window's length for a request of ``requested_s`` seconds at
    ``sample_rate`` Hz.

    The request (clamped to ``[min_samples, n_samples]``; ``n_samples`` the recording's
    length) is kept when one change at that length is predicted to take at most
    ``max_seconds`` and ``max_bytes``; otherwise the longest power of two of samples below it
    that fits, and a message saying so; if none down to ``min_samples`` fits,
    ``min_samples``, with a message. ``cost``: ``cost(kind, N, batch, **params) -> Cost``
    (``engine.estimate_cost``'s signature, and its default; `per_sample_cost` is a
    cheaper, cruder stand-in for tests), called for each
    ``(kind, params)`` of ``work`` (default: `detail_work` of ``settings``, the session's
    settings).

    >>> choose_window(8000, 2.0).length          # 16000 samples: cheap, kept
    16000
    """
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive (Hz); got {sample_rate!r}.")
    if not (isinstance(requested_s, (int, float)) and math.isfinite(requested_s)
            and requested_s > 0):
        raise ValueError(f"The requested window must be a positive number of seconds; got "
                         f"{requested_s!r}.")
    if cost is None:
        from engine import estimate_cost as cost
    work = detail_work(settings) if work is None else list(work)
    req = max(int(round(requested_s * sample_rate)), min_samples)
    if n_samples is not None:
        req = min(req, int(n_samples))
    lowest = min(min_samples, req)

    def fits(N):
        secs, peak = _total(cost, N, work)
        return secs <= max_seconds and peak <= max_bytes, secs, peak

    ok, secs, peak = fits(req)
    if ok:
        return WindowChoice(req, req, float(sample_rate), secs, peak)
    req_cost = (secs, peak)
    N = 1 << (req - 1).bit_length() - 1 if req > 1 else 1     # largest power of two < req
    while N >= lowest:
        ok, secs, peak = fits(N)
        if ok:
            break
        N //= 2
    else:
        N = lowest
        secs, peak = _total(cost, N, work)
    why = (f"one change on {req / sample_rate:.2f} s ({req} samples) would take about "
           f"{req_cost[0]:.1f} s and {format_bytes(req_cost[1])}; the limits are "
           f"{max_seconds:g} s and {format_bytes(max_bytes)}")
    if math.isinf(req_cost[0]):
        why = (f"the transforms cannot take {req} samples at these settings (the cost "
               f"function refused that length)")
    if ok:
        msg = (f"Detail window shortened to {N / sample_rate:.2f} s ({N} samples) so that a "
               f"change stays interactive: {why}.")
    elif math.isinf(secs):
        raise ValueError(f"No detail window from {lowest} to {req} samples can be computed at "
                         f"these settings (the cost function refused every length); lower J "
                         f"so that 2**J fits in the window.")
    else:
        msg = (f"Detail window shortened to the shortest offered, {N / sample_rate:.2f} s "
               f"({N} samples), and a change may still be slow (about {secs:.1f} s, "
               f"{format_bytes(peak)}): {why}. Lower J or Q to make changes faster.")
    return WindowChoice(N, req, float(sample_rate), secs, peak, msg)


def clamp_start(start_s: float, length: int, n_samples: int, sample_rate: float) -> int:
    """The first sample of a window of ``length`` samples starting near ``start_s`` seconds,
    moved inside ``[0, n_samples - length]``."""
    if not math.isfinite(start_s):
        start_s = 0.0
    start = int(round(start_s * sample_rate))
    return max(0, min(start, int(n_samples) - int(length)))


def read_window(source, start_s: float, length: int, sample_rate: float | None = None
                ) -> tuple[np.ndarray, int]:
    """The samples of a window: ``(x, start)``, ``x`` ``(length,)`` float32 mono (the mean of
    the channels) from sample ``start`` on (``start_s`` seconds, moved inside the recording).

    ``source``: a path (read by seek: only the window's frames are decoded into memory) or an
    array ``(N,)`` with ``sample_rate`` (Hz). A window longer than the recording is the whole
    recording.

    >>> x, start = read_window(np.arange(10, dtype="float32"), 0.9, 4, sample_rate=10)
    >>> x.tolist(), start
    ([6.0, 7.0, 8.0, 9.0], 6)
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive number of samples; got {length!r}.")
    if isinstance(source, (str, os.PathLike)):
        import soundfile as sf

        path = os.fspath(source)
        try:
            f = sf.SoundFile(path)
        except Exception as exc:
            raise ValueError(f"Cannot read {path!r} as audio ({exc}).") from exc
        with f:
            n = int(f.frames)
            length = min(int(length), n)
            start = clamp_start(start_s, length, n, f.samplerate)
            f.seek(start)
            data = f.read(length, dtype="float32", always_2d=True)
        if len(data) != length:
            raise ValueError(f"{path!r} ended after {start + len(data)} of its {n} samples; "
                             f"the file may be truncated.")
        x = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
        return np.ascontiguousarray(x, dtype=np.float32), start
    if sample_rate is None or not sample_rate > 0:
        raise ValueError("An array source needs its sample_rate (Hz > 0).")
    arr = np.asarray(source)
    if arr.ndim != 1:
        raise ValueError(f"An array source must have shape (N,); got {arr.shape}.")
    length = min(int(length), arr.size)
    start = clamp_start(start_s, length, arr.size, sample_rate)
    return np.array(arr[start:start + length], dtype=np.float32), start
