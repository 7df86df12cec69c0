"""Data sets: the Free Spoken Digit Dataset (FSDD), found locally or downloaded.

The FSDD (Jackson et al., CC BY-SA 4.0) holds 3000 recordings of the digits 0-9 at 8 kHz,
``recordings/{digit}_{speaker}_{index}.wav`` with ``index`` 0-49 per speaker and digit. Its
official split puts ``index`` 0-4 in the test set (300 files) and the rest in training.

>>> from engine.datasets import fetch_fsdd, load_fsdd
>>> root = fetch_fsdd()                                   # doctest: +SKIP
>>> data = load_fsdd(root, N=8192)                        # doctest: +SKIP
>>> data.x.shape, data.test.sum()                         # doctest: +SKIP
((3000, 8192), 300)
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FSDD_URL", "FSDD_SAMPLE_RATE", "fetch_fsdd", "load_fsdd", "FSDD", "fit_length",
           "fsdd_candidates"]

#: The public repository's archive (GitHub), fetched over HTTPS when no local copy exists.
FSDD_URL = ("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/"
            "master.zip")
FSDD_SAMPLE_RATE = 8000
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
_REPO_ROOT = Path(__file__).resolve().parent.parent


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scatviz" / "fsdd"


def fsdd_candidates() -> list[Path]:
    """Where `fetch_fsdd` looks, in order: ``$SCATVIZ_FSDD``, ``$SCATVIZ_SHARED/data/fsdd``,
    ``../shared/data/fsdd`` beside the repository, and the user cache
    (``$XDG_CACHE_HOME/scatviz/fsdd``, default ``~/.cache/scatviz/fsdd``)."""
    out = []
    if os.environ.get("SCATVIZ_FSDD"):
        out.append(Path(os.environ["SCATVIZ_FSDD"]))
    if os.environ.get("SCATVIZ_SHARED"):
        out.append(Path(os.environ["SCATVIZ_SHARED"]) / "data" / "fsdd")
    out.append(_REPO_ROOT.parent / "shared" / "data" / "fsdd")
    out.append(_cache_dir())
    return out


def _recordings(root: Path) -> Path | None:
    """The folder holding the ``.wav`` files under ``root`` (``root/recordings`` or ``root``),
    or None."""
    for cand in (root / "recordings", root):
        if cand.is_dir() and any(_NAME.match(p.name) for p in cand.glob("*.wav")):
            return cand
    return None


def _download(url: str, dest: Path, opener: Callable | None = None) -> Path:
    """Fetch the repository archive and extract its ``recordings/*.wav`` into
    ``dest/recordings`` (atomically: a temporary folder renamed at the end)."""
    dest.mkdir(parents=True, exist_ok=True)
    open_url = opener or (lambda u: urllib.request.urlopen(u, timeout=60))
    tmp = Path(tempfile.mkdtemp(prefix=".fsdd-", dir=dest))
    try:
        archive = tmp / "fsdd.zip"
        with open_url(url) as resp, open(archive, "wb") as out:
            shutil.copyfileobj(resp, out)
        staging = tmp / "recordings"
        staging.mkdir()
        n = 0
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = Path(info.filename).name
                if "recordings/" in info.filename and _NAME.match(name):
                    with zf.open(info) as src, open(staging / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    n += 1
        if n == 0:
            raise RuntimeError(f"The archive at {url} holds no recordings/*.wav files.")
        final = dest / "recordings"
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_fsdd(path: str | os.PathLike | None = None, download: bool = True,
               url: str = FSDD_URL, cache_dir: str | os.PathLike | None = None,
               opener: Callable | None = None) -> Path:
    """The folder of FSDD recordings (``{digit}_{speaker}_{index}.wav``).

    Parameters
    ----------
    path : path, optional
        A local copy (the repository, or its ``recordings`` folder). When given it must hold
        the recordings; nothing else is tried.
    download : bool
        When no local copy is found, download the public archive (``url``) into
        ``cache_dir`` (default the user cache, ``~/.cache/scatviz/fsdd``). About 10 MB.
    url : str
        Archive to download (any URL ``urllib`` opens, ``file://`` included).
    cache_dir : path, optional
        Where downloads go.
    opener : callable, optional
        ``opener(url)`` returning a readable file-like context manager (tests, proxies).

    Returns
    -------
    Path
        The folder that holds the ``.wav`` files.

    Raises
    ------
    FileNotFoundError
        When no copy is found and the download is disabled or fails; the message lists the
        places searched and how to fix it.
    """
    if path is not None:
        rec = _recordings(Path(path))
        if rec is None:
            raise FileNotFoundError(f"No FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) in "
                                    f"{path} or {Path(path) / 'recordings'}.")
        return rec
    looked = fsdd_candidates()
    if cache_dir is not None:
        looked.append(Path(cache_dir))
    for cand in looked:
        rec = _recordings(cand)
        if rec is not None:
            return rec
    where = "\n".join(f"  - {p}" for p in looked)
    fix = ("Fix: set SCATVIZ_FSDD=/path/to/free-spoken-digit-dataset (or its recordings "
           "folder), pass path=..., or allow the download (needs HTTPS access to github.com).")
    if not download:
        raise FileNotFoundError(f"No local copy of the FSDD; looked in:\n{where}\n"
                                f"Downloading is disabled (download=False). {fix}")
    target = Path(cache_dir) if cache_dir is not None else _cache_dir()
    try:
        return _download(url, target, opener)
    except Exception as exc:      # network, HTTP, a bad archive: one clear error
        raise FileNotFoundError(f"No local copy of the FSDD; looked in:\n{where}\nand the "
                                f"download from {url} into {target} failed: {exc}\n{fix}"
                                ) from exc


def fit_length(x: np.ndarray, N: int) -> np.ndarray:
    """Centre ``x`` in ``N`` samples: zero-pad both sides equally (the extra sample on the
    right) when shorter, crop the middle ``N`` samples when longer.

    >>> fit_length(np.ones(3), 6).tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    >>> fit_length(np.arange(6.0), 4).tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    n = len(x)
    if n >= N:
        start = (n - N) // 2
        return np.asarray(x[start:start + N])
    left = (N - n) // 2
    return np.pad(x, (left, N - n - left))


@dataclass
class FSDD:
    """Recordings fitted to one length: ``x`` float32 ``(n, N)``, ``digit``, ``speaker``,
    ``index`` per file, ``test`` (official split: ``index < 5``), ``files``, and the sample
    rate in Hz."""

    x: np.ndarray
    digit: np.ndarray
    speaker: np.ndarray
    index: np.ndarray
    files: list[Path]
    sample_rate: int

    @property
    def test(self) -> np.ndarray:
        return self.index < 5

    @property
    def train(self) -> np.ndarray:
        return ~self.test


def load_fsdd(path: str | os.PathLike | None = None, N: int = 8192, normalise: bool = False,
              limit: int | None = None) -> FSDD:
    """Read the FSDD (found by `fetch_fsdd`) into memory, every recording fitted to ``N``
    samples by `fit_length` (centre zero-padding, centre crop).

    ``normalise=True`` scales each recording to unit peak. ``limit`` reads only the first files
    (sorted by name), for quick looks.
    """
    import soundfile as sf

    root = fetch_fsdd(path)
    files = sorted(p for p in root.glob("*.wav") if _NAME.match(p.name))
    if limit is not None:
        files = files[:limit]
    xs, digits, speakers, idx = [], [], [], []
    sr = FSDD_SAMPLE_RATE
    for p in files:
        d, spk, i = _NAME.match(p.name).groups()
        y, sr_file = sf.read(p, dtype="float32", always_2d=False)
        if y.ndim > 1:
            y = y.mean(axis=1)
        if sr_file != FSDD_SAMPLE_RATE:
            raise ValueError(f"{p} is sampled at {sr_file} Hz; the FSDD is {FSDD_SAMPLE_RATE} "
                             f"Hz. Is this the right folder?")
        y = fit_length(y, N)
        if normalise and np.abs(y).max() > 0:
            y = y / np.abs(y).max()
        xs.append(y.astype(np.float32))
        digits.append(int(d))
        speakers.append(spk)
        idx.append(int(i))
    return FSDD(np.stack(xs) if xs else np.zeros((0, N), np.float32), np.array(digits),
                np.array(speakers), np.array(idx), files, sr)
