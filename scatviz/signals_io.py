"""Loading signals for the views: bundled assets and user uploads.

Every loader returns a `LoadedSignal`: a 1-D float32 numpy array, its sample rate in Hz and a
name. Uploads are validated with soundfile inside a guard, so that a bad file gives a message
(`SignalLoadError`, a `ValueError`) and never an exception that reaches the server.

Policy for uploads (also stated in the dashboard):

* formats: whatever libsndfile reads (WAV, FLAC, OGG/Vorbis, ...);
* at most `MAX_UPLOAD_BYTES` (20 MB) and `MAX_SECONDS` (30 s) of audio; longer files are refused
  with a message (crop them first) rather than silently cut;
* stereo and multi-channel audio are mixed down to mono (mean of the channels);
* the file's own sample rate is kept (no resampling) and shown; rates outside
  `[MIN_RATE, MAX_RATE]` are refused.

>>> sig = load_asset("chirp_exp")          # doctest: +SKIP
>>> sig.x.dtype, sig.sample_rate          # doctest: +SKIP
(dtype('float32'), 8000)
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "LoadedSignal", "SignalLoadError", "ASSETS_DIR", "list_assets", "load_asset", "load_upload",
    "load_path", "MAX_UPLOAD_BYTES", "MAX_SECONDS", "MIN_SAMPLES", "upload_policy",
    "UploadPolicy", "UPLOAD_POLICY", "decode_upload",
]

#: Folder of the bundled sample signals (``assets/`` at the repository root).
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
MAX_UPLOAD_BYTES = 20 * 2**20
MAX_SECONDS = 30.0
#: The transforms need a few hundred samples at least (2**J <= N with J >= 1, and JTFS needs more).
MIN_SAMPLES = 256
MIN_RATE, MAX_RATE = 1000, 192000


class SignalLoadError(ValueError):
    """A file or asset could not be used as a signal; the message says why and what to do."""


@dataclass(frozen=True, eq=False)
class LoadedSignal:
    """A mono signal ready for the transforms.

    Attributes
    ----------
    x : np.ndarray
        Shape ``(N,)``, float32, amplitude (the file's scale; PCM mapped to [-1, 1]).
    sample_rate : float
        Hz.
    name : str
        Shown in the UI.
    info : dict
        Provenance: original channel count, format, credit.
    """

    x: np.ndarray
    sample_rate: float
    name: str
    info: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.x) / self.sample_rate

    @property
    def digest(self) -> str:
        """Content hash (the cache key of every transform of this signal)."""
        return signal_digest(self.x, self.sample_rate)


def signal_digest(x: np.ndarray, sample_rate: float) -> str:
    """Hash of a signal's samples and rate, 16 hex digits."""
    h = hashlib.blake2b(digest_size=8)
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(repr(float(sample_rate)).encode())
    return h.hexdigest()


def upload_policy() -> str:
    """The upload rules, in one line for the UI."""
    return (f"WAV, FLAC or OGG; at most {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_SECONDS:g} s; "
            f"stereo is mixed down to mono; the file's sample rate is kept (no resampling).")


def _to_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def _check(x: np.ndarray, sample_rate: float, name: str) -> None:
    if not (MIN_RATE <= sample_rate <= MAX_RATE):
        raise SignalLoadError(f"{name}: sample rate {sample_rate:g} Hz is outside the supported "
                              f"{MIN_RATE}-{MAX_RATE} Hz.")
    if len(x) < MIN_SAMPLES:
        raise SignalLoadError(f"{name}: only {len(x)} samples; at least {MIN_SAMPLES} are needed "
                              f"for the transforms.")
    if len(x) > MAX_SECONDS * sample_rate:
        raise SignalLoadError(f"{name}: {len(x) / sample_rate:.1f} s is longer than the "
                              f"{MAX_SECONDS:g} s limit; crop the file first.")
    if not np.isfinite(x).all():
        raise SignalLoadError(f"{name}: the audio contains NaN or infinite samples.")


@dataclass(frozen=True)
class UploadPolicy:
    """What an upload may be: at most ``max_bytes`` of file and ``max_seconds`` of audio, at
    ``min_rate``-``max_rate`` Hz, in one of libsndfile's ``formats`` (None: any it reads),
    decoded ``block`` frames at a time (the mix-down's working memory is ``block`` x channels
    x 4 bytes, never a full multi-channel copy)."""

    max_bytes: int = MAX_UPLOAD_BYTES
    max_seconds: float = MAX_SECONDS
    min_rate: int = MIN_RATE
    max_rate: int = MAX_RATE
    formats: tuple[str, ...] | None = None
    block: int = 1 << 18

    def duration_limit(self) -> str:
        """The duration limit in words: "30 s", "10 minute"."""
        if self.max_seconds >= 120:
            return f"{self.max_seconds / 60:g} minute"
        return f"{self.max_seconds:g} s"


def decode_upload(data: bytes, filename: str, policy: UploadPolicy, admit=None
                  ) -> LoadedSignal:
    """Decode an uploaded file (bytes) into a mono float32 signal under ``policy``: its size,
    format, rate and duration are checked from the header, then ``admit(decoded_bytes,
    name)`` (if given) may refuse it by raising `SignalLoadError` before anything is
    allocated, then the audio is decoded block by block and checked (enough samples, all
    finite). Raises `SignalLoadError` (a ValueError) with a message that says what was wrong
    and what is allowed."""
    import soundfile as sf

    name = Path(filename).name
    if data is None or len(data) == 0:
        raise SignalLoadError(f"{name}: the file is empty.")
    if len(data) > policy.max_bytes:
        raise SignalLoadError(f"{name}: {len(data) / 2**20:.1f} MB is over the "
                              f"{policy.max_bytes // 2**20} MB limit.")
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception as exc:  # libsndfile's errors: RuntimeError/LibsndfileError/TypeError
        raise SignalLoadError(f"{name}: not a readable audio file ({type(exc).__name__}: "
                              f"{exc}). Upload WAV, FLAC or OGG.") from None
    with f:
        sr, channels, frames, fmt = f.samplerate, f.channels, f.frames, f.format
        if policy.formats is not None and fmt not in policy.formats:
            raise SignalLoadError(f"{name}: {fmt} files are not accepted; upload WAV, FLAC "
                                  f"or OGG.")
        if not (policy.min_rate <= sr <= policy.max_rate):
            raise SignalLoadError(f"{name}: sample rate {sr} Hz is outside the supported "
                                  f"{policy.min_rate}-{policy.max_rate} Hz.")
        if frames > policy.max_seconds * sr:
            seconds = frames / sr
            length = (f"{seconds / 60:.1f} minutes" if policy.max_seconds >= 120
                      else f"{seconds:.1f} s")
            raise SignalLoadError(f"{name}: {length} is longer than the "
                                  f"{policy.duration_limit()} limit; crop the file first.")
        if frames < MIN_SAMPLES:
            raise SignalLoadError(f"{name}: only {frames} samples; at least {MIN_SAMPLES} are "
                                  f"needed for the transforms.")
        if admit is not None:
            admit(frames * 4, name)
        x = np.empty(frames, np.float32)
        n = 0
        try:
            for block in f.blocks(blocksize=policy.block, dtype="float32", always_2d=True):
                m = min(len(block), frames - n)
                x[n:n + m] = block[:m].mean(axis=1) if channels > 1 else block[:m, 0]
                n += m
                if n >= frames:
                    break
        except Exception as exc:
            raise SignalLoadError(f"{name}: the audio could not be decoded past sample {n} "
                                  f"({type(exc).__name__}: {exc}).") from None
    if n < MIN_SAMPLES:
        raise SignalLoadError(f"{name}: only {n} samples could be read; at least "
                              f"{MIN_SAMPLES} are needed.")
    x = x[:n]
    if not np.isfinite(x).all():
        raise SignalLoadError(f"{name}: the audio contains NaN or infinite samples.")
    return LoadedSignal(x, float(sr), name,
                        {"channels": channels, "format": fmt, "source": "upload"})


#: The policy of `load_upload` (the module's limits; any format libsndfile reads).
UPLOAD_POLICY = UploadPolicy()


def load_upload(data: bytes, filename: str = "upload") -> LoadedSignal:
    """Decode an uploaded audio file (bytes) into a mono float32 signal under
    `UPLOAD_POLICY` (see `decode_upload`; the served dashboard's larger policy is
    `scatviz.server.uploads.load_upload`).

    Raises `SignalLoadError` with a readable message on anything unusable: too large, not
    audio, unreadable by libsndfile, too short or too long, odd sample rate.

    >>> data = open("assets/digit_7_jackson.wav", "rb").read()   # doctest: +SKIP
    >>> sig = load_upload(data, "d.wav")                          # doctest: +SKIP
    """
    return decode_upload(data, filename, UPLOAD_POLICY)


def read_audio(path: str | Path) -> tuple[np.ndarray, float, int]:
    """Decode an audio file from disk: ``(x (N,) float32 mono mix-down, sample rate Hz,
    channels of the file)``, with no policy checks (see `load_path` for those). Raises
    `SignalLoadError` when libsndfile cannot read it."""
    import soundfile as sf

    path = Path(path)
    try:
        raw, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise SignalLoadError(f"{path.name}: not a readable audio file ({exc}).") from None
    return _to_mono(raw), float(sr), int(raw.shape[1])


def load_path(path: str | Path) -> LoadedSignal:
    """Load an audio file from disk (same rules as uploads, minus the size limit)."""
    path = Path(path)
    x, sr, channels = read_audio(path)
    _check(x, sr, path.name)
    return LoadedSignal(x, sr, path.stem, {"channels": channels, "source": str(path)})


def _manifest() -> dict:
    path = ASSETS_DIR / "assets.json"
    if path.exists():
        return json.loads(path.read_text())
    return {}


def list_assets() -> dict[str, str]:
    """Bundled signals: ``{key: label}``, in the order the dashboard shows them."""
    man = _manifest()
    out = {key: entry.get("label", key) for key, entry in man.items()
           if (ASSETS_DIR / entry["file"]).exists()}
    return out


def load_asset(key: str) -> LoadedSignal:
    """Load a bundled signal by its key (see `list_assets`)."""
    man = _manifest()
    if key not in man:
        raise SignalLoadError(f"No bundled signal {key!r}; choose one of {sorted(man)}.")
    entry = man[key]
    sig = load_path(ASSETS_DIR / entry["file"])
    return LoadedSignal(sig.x, sig.sample_rate, entry.get("label", key),
                        {**sig.info, **{k: v for k, v in entry.items() if k != "file"}})


def load_spec(spec: str, N: int | None = None, sample_rate: float = 8000.0) -> LoadedSignal:
    """A signal named on a command line: an audio file path (`load_path`, with its checks), a
    bundled asset key (`load_asset`) or a generator of `engine.signals.SIGNALS` (``N`` samples,
    8192 by default, at ``sample_rate`` Hz). With ``N``, files and assets are fitted to ``N``
    samples (centre zero-padding or centre crop, `engine.datasets.fit_length`). The name is
    the file's stem, or ``spec``.

    >>> load_spec("sine", N=1024).x.shape
    (1024,)
    """
    from engine.datasets import fit_length
    from engine.signals import SIGNALS, make_signal

    if Path(spec).exists():
        sig = load_path(spec)
        name = sig.name
    elif spec in SIGNALS:
        x = make_signal(spec, N or 8192, sample_rate)
        return LoadedSignal(np.asarray(x, np.float32), float(sample_rate), spec,
                            {"source": "generator"})
    elif spec in list_assets():
        sig = load_asset(spec)
        name = spec
    else:
        raise SignalLoadError(
            f"SIGNAL {spec!r} is neither a file, a generator ({', '.join(sorted(SIGNALS))}) "
            f"nor an asset ({', '.join(sorted(list_assets())) or 'none'}).")
    x = sig.x if N is None else fit_length(sig.x, N)
    return LoadedSignal(np.ascontiguousarray(x, dtype=np.float32), sig.sample_rate, name,
                        sig.info)
