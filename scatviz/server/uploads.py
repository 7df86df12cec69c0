"""The served dashboard's upload policy: recordings of up to 10 minutes at 8-192 kHz, WAV, FLAC
or OGG, up to 200 MB, decoded in blocks (no full multi-channel copy) after their decoded size
was checked against the request budget.

The decoded signal is counted in the server's memory budget while a page holds it
(`scatviz.server.holdings`, the service's ``holdings``): an upload that would take the pages'
signals past their limit is refused before it is decoded.

What is *analysed* of a long recording is the cost policy's business
(`scatviz.server.costing.plan_request`): the whole file is accepted and held once, as float32
mono, and the transforms run on the longest prefix whose cost fits, with a note.

>>> upload_policy().startswith("WAV, FLAC or OGG")
True
"""

from __future__ import annotations

from engine._costs import format_bytes
from scatviz.signals_io import LoadedSignal, SignalLoadError, UploadPolicy, decode_upload

__all__ = ["MAX_UPLOAD_BYTES", "MAX_SECONDS", "MIN_RATE", "MAX_RATE", "load_upload",
           "upload_policy", "FORMATS", "POLICY"]

MAX_UPLOAD_BYTES = 200 * 2**20
MAX_SECONDS = 600.0
MIN_RATE, MAX_RATE = 8000, 192000
#: libsndfile's format names that the server accepts.
FORMATS = ("WAV", "WAVEX", "FLAC", "OGG")
#: Frames decoded at a time (the mix-down's working memory: BLOCK x channels x 4 bytes).
BLOCK = 1 << 18
#: The served dashboard's upload policy (`scatviz.signals_io.decode_upload` applies it).
POLICY = UploadPolicy(MAX_UPLOAD_BYTES, MAX_SECONDS, MIN_RATE, MAX_RATE, FORMATS, BLOCK)


def upload_policy() -> str:
    """The upload rules, in one line for the page."""
    return (f"WAV, FLAC or OGG; at most {MAX_UPLOAD_BYTES // 2**20} MB and "
            f"{MAX_SECONDS / 60:g} minutes at {MIN_RATE // 1000}-{MAX_RATE // 1000} kHz; stereo "
            f"is mixed down to mono; the file's sample rate is kept. A long recording is "
            f"shown whole in an overview, and analysed in a detail window you move on it.")


def _holdings(holdings):
    """``holdings``, or the served process's (`scatviz.server.service.current_service`), or
    None (no server: nothing is counted)."""
    if holdings is not None:
        return holdings
    from scatviz.server.service import current_service

    svc = current_service()
    return None if svc is None else svc.holdings


def load_upload(data: bytes, filename: str = "upload", *,
                max_decoded_bytes: int | None = None, holdings=None) -> LoadedSignal:
    """Decode an uploaded file (bytes) into a mono float32 signal, after checking its size,
    format, rate and duration from its header; ``max_decoded_bytes``: refuse a file whose
    decoded mono signal would be larger (the request budget). ``holdings``: the
    `scatviz.server.holdings.SignalHoldings` that counts the decoded signal while it is held
    (default: the served process's, if any), refusing it when over its limit. Raises
    `SignalLoadError` (a ValueError) with a message that says what is allowed."""
    from scatviz.server.holdings import HoldRefused

    holdings = _holdings(holdings)

    def admit(decoded: int, name: str) -> None:
        if max_decoded_bytes is not None and decoded > max_decoded_bytes:
            raise SignalLoadError(f"{name}: decoded, it would take {format_bytes(decoded)}; "
                                  f"this server allows {format_bytes(max_decoded_bytes)} per "
                                  f"request. Upload a shorter or lower-rate file.")
        if holdings is not None:
            try:
                holdings.check(decoded, name)               # before anything is allocated
            except HoldRefused as exc:
                raise SignalLoadError(str(exc)) from None

    sig = decode_upload(data, filename, POLICY, admit)
    x, name = sig.x, sig.name
    if holdings is not None:
        try:
            holdings.hold(x, name)
        except HoldRefused as exc:                           # another page took it meanwhile
            raise SignalLoadError(str(exc)) from None
    return sig
