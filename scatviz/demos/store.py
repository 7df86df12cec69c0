"""The demos' first pictures, stored on disk and keyed by the code and the setting.

A demo's first picture (a reconstruction, a trained classifier, a pair's distances) can take
from seconds to minutes to compute; a page opened by a class must show one at once. So each
result is computed once (``python -m scatviz.demos.precompute``, or in the background when the
server starts) and stored as a pickle under `cache_dir`, under a key made of

* the demo's name and its setting (a JSON-able dict), and
* a digest of the source of the code that computes it (`code_digest`: the ``engine`` package
  and the demos' computing modules, `CODE_FILES`; not their pages, whose drawing a stored
  result does not depend on),

so a change of the setting or of the code makes a new key and a stale picture is never shown.
Writes are atomic (a temporary file renamed), so a page reading while the precomputation
writes sees the old file or the new one, never half of one.

>>> key = result_key("why_jtfs", {"N": 4096})                        # doctest: +SKIP
>>> store_result(key, {"d": 1.0}); load_result(key)                  # doctest: +SKIP
{'d': 1.0}
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "code_digest", "result_key", "load_result", "store_result",
           "cached_keys"]

_REPO = Path(__file__).resolve().parent.parent.parent
_DEMOS = Path(__file__).resolve().parent
#: The code whose source is part of every key: the engine, and the demos' computing modules.
CODE_PACKAGES = (_REPO / "engine",)
CODE_FILES = tuple(_DEMOS / f"{m}.py" for m in ("why_jtfs", "reconstruction", "digits",
                                                 "precompute", "common", "store"))


def cache_dir() -> Path:
    """Where results go: ``$SCATVIZ_DEMO_CACHE`` when set; else ``.cache/demos`` in the
    repository (ignored by git; writable on CI and in a clone) when it can be written; else
    ``$XDG_CACHE_HOME/scatviz/demos`` (default ``~/.cache/scatviz/demos``)."""
    env = os.environ.get("SCATVIZ_DEMO_CACHE")
    if env:
        return Path(env)
    local = _REPO / ".cache" / "demos"
    if os.access(local if local.exists() else _REPO, os.W_OK):
        return local
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scatviz" / "demos"


@functools.lru_cache(maxsize=8)
def _digest_of(paths: tuple[str, ...], stamp: tuple) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def code_digest(packages=CODE_PACKAGES, files=CODE_FILES) -> str:
    """SHA-256 (16 hex digits) of the source files of ``packages`` and of ``files`` (paths
    and bytes). Cached by the files' sizes and modification times."""
    files = sorted({str(f) for pkg in packages for f in Path(pkg).rglob("*.py")
                    if "__pycache__" not in f.parts} | {str(f) for f in files})
    stamp = tuple((os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
    return _digest_of(tuple(files), stamp)


def result_key(name: str, setting: dict) -> str:
    """The file name of the result of demo ``name`` with ``setting`` computed by the current
    code: ``{name}-{sha256 of setting and code, 16 hex digits}.pkl``."""
    text = json.dumps(setting, sort_keys=True, default=str)
    h = hashlib.sha256(f"{name}\n{text}\n{code_digest()}".encode()).hexdigest()[:16]
    return f"{name}-{h}.pkl"


def load_result(key: str, directory: Path | None = None) -> Any | None:
    """The stored result under ``key``, or None when there is none (or it cannot be read:
    a file from another version of a library is recomputed, not an error)."""
    path = (directory or cache_dir()) / key
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:            # truncated, or pickled by other class definitions
        return None


def store_result(key: str, value: Any, directory: Path | None = None) -> Path:
    """Store ``value`` under ``key`` (atomically) and return its path."""
    d = directory or cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, d / key)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return d / key


def cached_keys(directory: Path | None = None) -> list[str]:
    """The keys stored now (sorted)."""
    d = directory or cache_dir()
    return sorted(p.name for p in d.glob("*.pkl")) if d.is_dir() else []
