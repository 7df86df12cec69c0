"""Where a dashboard's signal comes from: a bundled asset, a generator, or an upload.

`SignalSources` is a viewer over a `ScatState`: each source loads a `LoadedSignal` and hands it
to ``state.set_signal``; a file or a generator that fails shows its message beside the
controls and leaves the state (and the page's last picture) as it was. Uploads follow the
server's policy (`scatviz.server.uploads`: up to 10 minutes at 8-192 kHz, 200 MB); what of a
long one is analysed is the cost policy's (the state's ``notice`` says when it was reduced).
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from scatviz import signals_io
from scatviz.longrec.session import is_long
from scatviz.server import uploads
from scatviz.signals_io import LoadedSignal, SignalLoadError
from scatviz.state import ScatState
from scatviz.views.query import GEN_LENGTHS, GEN_RATES

__all__ = ["SignalSources", "generators"]


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

    #: ``on_long(sig)``: called instead of analysing an upload too long for one change
    #: (`scatviz.longrec.session.is_long`); None: every upload is analysed whole (the cost
    #: policy may still reduce it). ``on_short()``: called before a signal is analysed whole.
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
        self.policy = pn.pane.Markdown(f"<small>{uploads.upload_policy()}</small>",
                                       margin=(0, 10), name="upload_policy")
        self._layout = pn.Column(
            pn.pane.Markdown("### Signal"), self.asset_select,
            pn.Card(self.gen_kind, self.gen_N, self.gen_sr, self.gen_button,
                    title="Generator", collapsed=True, sizing_mode="stretch_width"),
            self.upload, self.policy, self.upload_msg, sizing_mode="stretch_width", margin=0)

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
        """Use an uploaded file; on failure show why beside the upload control."""
        try:
            sig = uploads.load_upload(data, filename,
                                      max_decoded_bytes=self.state.request_budget())
        except SignalLoadError as exc:
            self.show_error(str(exc))
            return False
        self.upload_msg.visible = False
        self.upload_msg.object = ""
        if self.on_long is not None and is_long(sig.x.shape[-1], sig.sample_rate,
                                                settings=self.state.settings()):
            self.on_long(sig)       # an overview plus a detail window (the dashboard's)
        else:
            self.use(sig)
        return True

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
        if event.new is not None:
            self.load_upload(event.new, self.upload.filename or "upload")

    def __panel__(self):
        return self._layout
