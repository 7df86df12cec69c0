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
>>> sig.x.dtype, sig.sample_rate
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


def load_upload(data: bytes, filename: str = "upload") -> LoadedSignal:
    """Decode an uploaded audio file (bytes) into a mono float32 signal.

    Raises `SignalLoadError` with a readable message on anything unusable: too large, not
    audio, unreadable by libsndfile, too short or too long, odd sample rate.

    >>> data = open("assets/digit_7_jackson.wav", "rb").read()   # doctest: +SKIP
    >>> sig = load_upload(data, "d.wav")                          # doctest: +SKIP
    """
    import soundfile as sf

    if data is None or len(data) == 0:
        raise SignalLoadError(f"{filename}: the file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise SignalLoadError(f"{filename}: {len(data) / 2**20:.1f} MB is over the "
                              f"{MAX_UPLOAD_BYTES // 2**20} MB limit.")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sr, channels, frames, fmt = f.samplerate, f.channels, f.frames, f.format
            if frames > MAX_SECONDS * sr:
                raise SignalLoadError(f"{filename}: {frames / sr:.1f} s is longer than the "
                                      f"{MAX_SECONDS:g} s limit; crop the file first.")
            raw = f.read(dtype="float32", always_2d=True)
    except SignalLoadError:
        raise
    except Exception as exc:  # libsndfile's errors are RuntimeError/LibsndfileError/TypeError
        raise SignalLoadError(f"{filename}: not a readable audio file "
                              f"({type(exc).__name__}: {exc}). Upload WAV, FLAC or OGG.") from None
    x = _to_mono(raw)
    _check(x, sr, filename)
    return LoadedSignal(x, float(sr), Path(filename).name,
                        {"channels": channels, "format": fmt, "source": "upload"})


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
