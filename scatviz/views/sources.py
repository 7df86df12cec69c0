"""Where a dashboard's signal comes from: a bundled asset, a generator, or an upload.

`SignalSources` is a viewer over a `ScatState`: each source loads a `LoadedSignal` and hands it
to ``state.set_signal``; a file or a generator that fails shows its message beside the
controls and leaves the state (and the page's last picture) as it was. Uploads follow the
server's policy (`scatviz.server.uploads`: up to 10 minutes at 8-192 kHz, 200 MB); what of a
long one is analysed is the cost policy's (the state's ``notice`` says when it was reduced).

**Off the event loop.** In a served page an upload is decoded, and a long recording's overview
computed, in a thread of `upload_threads` (`SignalSources.start_upload`), not in the Bokeh
callback that received the file: a 10-minute file takes seconds, and in the callback it would
stop every other page of the server for that long. Meanwhile the page says what it is doing
(``upload_status``); the result (or the loader's message) is handed back on the page's
document (``doc.add_next_tick_callback``, the one Bokeh call safe from another thread). A
newer upload supersedes an older one still in flight, and a closed page's upload is dropped
(its decoded signal freed, so `scatviz.server.holdings` stops counting it); the decode already
running finishes first, an overview stops at its next block. Without a served document (a
notebook, a test) `load_upload` does the same work synchronously.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import numpy as np
import panel as pn
import param

from scatviz import signals_io
from scatviz.longrec.overview import OverviewStopped
from scatviz.longrec.session import LongRecording, is_long
from scatviz.server import uploads
from scatviz.signals_io import LoadedSignal, SignalLoadError
from scatviz.state import ScatState
from scatviz.views.query import GEN_LENGTHS, GEN_RATES

__all__ = ["SignalSources", "generators", "upload_threads", "UPLOAD_GATE_ENV"]

#: Test-only (with ``SCATVIZ_TEST_HOOKS=1``): an upload's decoding thread waits until the file
#: this names exists (at most `_GATE_WAIT_S`), so that a test can hold an upload in flight.
UPLOAD_GATE_ENV = "SCATVIZ_TEST_UPLOAD_GATE"
_GATE_WAIT_S = 300.0

_THREADS: ThreadPoolExecutor | None = None
_THREADS_LOCK = threading.Lock()


def upload_threads() -> ThreadPoolExecutor:
    """The process's threads that decode uploads and compute overviews (two: one page's
    upload does not queue another's behind it; the decoded sizes are bounded by the server's
    signal holdings)."""
    global _THREADS
    with _THREADS_LOCK:
        if _THREADS is None:
            _THREADS = ThreadPoolExecutor(2, thread_name_prefix="scatviz-uploads")
        return _THREADS


def _test_gate() -> None:
    """`UPLOAD_GATE_ENV`'s wait (only in a process started with the test hooks enabled)."""
    from scatviz.server.workers import hooks_enabled

    gate = os.environ.get(UPLOAD_GATE_ENV)
    if not (gate and hooks_enabled()):
        return
    deadline = time.monotonic() + _GATE_WAIT_S
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)


def generators() -> dict:
    """The engine's test-signal generators: name -> ``f(N, sample_rate) -> (N,) array``."""
    try:
        from engine.signals import SIGNALS
    except ImportError:  # the toolkit's generators are optional until they land
        return {}
    return SIGNALS


class SignalSources(pn.viewable.Viewer):
    """The signal controls of one session: bundled signal, generator, upload.

    >>> src = SignalSources(ScatState(auto=False))            # doctest: +SKIP
    >>> src.load_upload(open("a.wav", "rb").read(), "a.wav")  # doctest: +SKIP
    True
    """

    state = param.ClassSelector(class_=ScatState, constant=True)

    #: ``on_long(rec)``: called instead of analysing an upload too long for one change
    #: (`scatviz.longrec.session.is_long`), with its `LongRecording` (overview computed);
    #: None: every upload is analysed whole (the cost policy may still reduce it).
    #: ``on_short()``: called before a signal is analysed whole.
    on_long = None
    on_short = None

    def __init__(self, state: ScatState, asset: str | None = None,
                 generator: tuple[str, int, float] | None = None, **params):
        super().__init__(state=state, **params)
        assets = signals_io.list_assets()
        self.asset_select = pn.widgets.Select(label="Bundled signal", options={
            v: k for k, v in assets.items()}, value=asset)
        self.asset_select.param.watch(self._on_asset, "value")

        gens = generators()
        kind = generator[0] if generator else "exponential_chirp"
        self.gen_kind = pn.widgets.Select(label="Generator", options=sorted(gens),
                                          value=kind if kind in gens else None,
                                          disabled=not gens)
        self.gen_N = pn.widgets.Select(label="Length N (samples)", options=GEN_LENGTHS,
                                       value=generator[1] if generator else 8192)
        self.gen_sr = pn.widgets.Select(label="Sample rate (Hz)", options=GEN_RATES,
                                        value=int(generator[2]) if generator else 8000)
        self.gen_button = pn.widgets.Button(label="Generate", button_type="primary",
                                            disabled=not gens)
        self.gen_button.on_click(self.generate)

        self.upload = pn.widgets.FileInput(accept=".wav,.flac,.ogg,audio/*", multiple=False,
                                           label="Upload audio")
        self.upload.param.watch(self._on_upload, "value")
        self.upload_msg = pn.pane.Alert("", alert_type="danger", visible=False,
                                        name="upload_error", sizing_mode="stretch_width")
        #: What an upload in flight is doing ("Decoding…", "Computing the overview…").
        self.upload_status = pn.pane.Alert("", alert_type="info", visible=False,
                                           name="upload_status", sizing_mode="stretch_width")
        self._upload_token = 0          # the latest upload; older ones in flight are dropped
        self._closed = False            # the page was closed: drop what is in flight
        self._watching_close = False
        self.policy = pn.pane.Markdown(f"<small>{uploads.upload_policy()}</small>",
                                       margin=(0, 10), name="upload_policy")
        self._layout = pn.Column(
            pn.pane.Markdown("### Signal"), self.asset_select,
            pn.Card(self.gen_kind, self.gen_N, self.gen_sr, self.gen_button,
                    title="Generator", collapsed=True, sizing_mode="stretch_width"),
            self.upload, self.policy, self.upload_status, self.upload_msg,
            sizing_mode="stretch_width", margin=0)

    def generated(self) -> LoadedSignal:
        """The generator's signal at the selected length and rate (raises its errors)."""
        name, sr = self.gen_kind.value, float(self.gen_sr.value)
        x = np.asarray(generators()[name](int(self.gen_N.value), sr), dtype=np.float32)
        return LoadedSignal(x, sr, f"{name} (generated)", {"source": "engine.signals"})

    def generate(self, event=None) -> None:
        """Use the generator's signal; on failure show why beside the controls."""
        try:
            sig = self.generated()
        except (ValueError, TypeError, KeyError) as exc:
            self.show_error(f"Generator {self.gen_kind.value}: {exc}")
            return
        self.use(sig)

    def load_upload(self, data: bytes, filename: str) -> bool:
        """Use an uploaded file now (decoded here, not in a thread: see `start_upload`); on
        failure show why beside the upload control."""
        try:
            outcome = self._prepare(data, filename)
        except SignalLoadError as exc:
            self.show_error(str(exc))
            return False
        self._finish(self._upload_token, outcome, "")
        return True

    def start_upload(self, data: bytes, filename: str, post) -> Future:
        """Decode ``data`` (and compute a long recording's overview) in `upload_threads`;
        returns at once, the page saying what is being done. ``post(fn)`` runs ``fn`` on the
        page's document (a served page: ``doc.add_next_tick_callback``): the progress and the
        result (or the failure's message) go through it. The future's result is True when the
        outcome was handed to ``post``, False when the upload was dropped (superseded by a
        newer one, or the page closed)."""
        self._upload_token += 1
        token = self._upload_token
        self.upload_msg.visible = False            # the last upload's error, if any
        self._set_status(token, f"Decoding {filename} ({len(data) / 1e6:.1f} MB)…")
        return upload_threads().submit(self._work, token, filename, post,
                                       partial(self._prepare, data, filename))

    def start_open(self, path: str, post) -> Future:
        """Open the recording at ``path`` (the server operator's, `scatviz serve --open
        FILE`) as `start_upload` does an upload: read it and, for a long one, compute its
        overview in `upload_threads`, the page saying so; ``post`` and the future as there.
        A file that cannot be read leaves the page's signal, with the reason beside the
        upload control."""
        self._upload_token += 1
        token = self._upload_token
        name = os.path.basename(str(path))
        self.upload_msg.visible = False
        self._set_status(token, f"Opening {name}…")
        #: The future of the last `start_open` (what `scatviz serve --open` started).
        self.opening = upload_threads().submit(self._work, token, name, post,
                                               partial(self._prepare_path, str(path)))
        return self.opening

    def _prepare_path(self, path: str, progress=None, keep=None):
        """`_prepare` for a file on the server's disk (no size limit but the holdings')."""
        import soundfile as sf

        name = os.path.basename(path)
        try:
            info = sf.info(path)
            if self.on_long is None or not is_long(info.frames, info.samplerate,
                                                   settings=self.state.settings()):
                return "short", signals_io.load_path(path)
            if progress is not None:
                progress(f"Computing the overview of {name} ({info.duration:.1f} s at "
                         f"{info.samplerate:g} Hz)…")
            rec = LongRecording(self.state, path)
            rec.overview(stop=None if keep is None else (lambda: not keep()))
        except (OSError, RuntimeError, ValueError) as exc:
            raise SignalLoadError(f"Could not open {name}: {exc}") from exc
        return "long", rec

    def _current(self, token: int) -> bool:
        return token == self._upload_token and not self._closed

    def _work(self, token: int, filename: str, post, prepare) -> bool:
        """The thread's part of `start_upload` and `start_open`: ``prepare(progress, keep)``
        (`_prepare`, `_prepare_path`), its outcome or failure posted to the page."""
        def on_page(fn, *args) -> bool:
            if not self._current(token):
                return False
            try:
                post(partial(fn, token, *args))
            except Exception:          # the document went away with its session
                return False
            return True

        try:
            _test_gate()
            outcome = prepare(progress=lambda msg: on_page(self._set_status, msg),
                              keep=lambda: self._current(token))
            err = ""
        except OverviewStopped:        # dropped while its overview was being computed
            return False
        except (SignalLoadError, ValueError) as exc:   # the loader's, or the holdings' refusal
            outcome, err = None, str(exc)
        except Exception as exc:       # never into the server: a message on the page
            outcome, err = None, (f"Could not open {filename}: internal error "
                                  f"({type(exc).__name__}: {exc}). The page keeps its signal.")
        if outcome is None and not err:
            return False               # dropped while in flight
        # False: dropped, and the decoded signal is freed with ``outcome``
        return on_page(self._finish_posted, outcome, err)

    def _prepare(self, data: bytes, filename: str, progress=None, keep=None):
        """Decode and, for a long recording, build its `LongRecording` and overview (the slow
        parts, safe in a thread): ``("long", rec)`` or ``("short", sig)``; None when ``keep()``
        turned False after decoding (`OverviewStopped` while computing the overview)."""
        sig = uploads.load_upload(data, filename, max_decoded_bytes=self.state.request_budget())
        if self.on_long is None or not is_long(sig.x.shape[-1], sig.sample_rate,
                                               settings=self.state.settings()):
            return "short", sig
        if keep is not None and not keep():
            return None
        if progress is not None:
            progress(f"Computing the overview of {sig.name} ({len(sig.x) / sig.sample_rate:.1f} "
                     f"s at {sig.sample_rate:g} Hz)…")
        rec = LongRecording(self.state, sig.x, sig.sample_rate, name=sig.name)
        rec.overview(stop=None if keep is None else (lambda: not keep()))
        return "long", rec

    def _finish_posted(self, token: int, outcome, err: str) -> None:
        if self._current(token):
            self._finish(token, outcome, err)

    def _finish(self, token: int, outcome, err: str) -> None:
        """On the page: show the upload (`on_long` or `use`) or the failure's message."""
        self._set_status(token, "")
        if err:
            self.show_error(err)
            return
        self.upload_msg.visible = False
        self.upload_msg.object = ""
        kind, obj = outcome
        if kind == "long":
            self.on_long(obj)           # an overview plus a detail window (the dashboard's)
        else:
            self.use(obj)

    def _set_status(self, token: int, msg: str) -> None:
        if token == self._upload_token:
            self.upload_status.param.update(object=msg, visible=bool(msg))

    def close(self) -> None:
        """The page was closed: an upload in flight is dropped (not shown, its signal freed)."""
        self._closed = True

    def use(self, sig: LoadedSignal) -> None:
        """Analyse ``sig`` whole."""
        if self.on_short is not None:
            self.on_short()
        self.state.set_signal(sig)

    def show_error(self, msg: str) -> None:
        self.upload_msg.object = msg
        self.upload_msg.visible = True

    def _on_asset(self, event) -> None:
        if not event.new:
            return
        try:
            self.use(signals_io.load_asset(event.new))
        except SignalLoadError as exc:
            self.show_error(str(exc))

    def _on_upload(self, event) -> None:
        if event.new is None:
            return
        name = self.upload.filename or "upload"
        doc = pn.state.curdoc
        if doc is None or getattr(doc, "session_context", None) is None:
            self.load_upload(event.new, name)          # a notebook, a test: here and now
            return
        self.watch_close(doc)
        self.start_upload(event.new, name, doc.add_next_tick_callback)

    def watch_close(self, doc) -> None:
        """Drop what is in flight when ``doc``'s session ends (once per page)."""
        if not self._watching_close:
            self._watching_close = True
            doc.on_session_destroyed(lambda ctx: self.close())

    def __panel__(self):
        return self._layout
