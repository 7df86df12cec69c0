"""A thread-safe LRU cache bounded in bytes (and optionally in entries), shared by every session
of a process.

Results of long signals are large (a 30 s recording's scalogram alone is hundreds of MB), so a
cache that counts entries holds anything from a few kB to many GB. `LRUCache` counts the bytes
of what it holds (`nbytes`: numpy arrays and torch tensors inside dataclasses, dicts, lists and
tuples) and evicts the least recently used entries beyond ``max_bytes``; a value larger than
the whole bound is not stored at all.

>>> import numpy as np
>>> c = LRUCache(max_bytes=1000)
>>> c.put("a", np.zeros(100)); c.put("b", np.zeros(100))     # 800 bytes each
>>> c.get("a") is None and c.get("b") is not None and c.nbytes == 800
True
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["LRUCache", "nbytes"]


def nbytes(value: Any, _seen: set | None = None) -> int:
    """Approximate memory held by ``value`` in bytes: the buffers of numpy arrays and torch
    tensors found in it (recursively through dataclasses, dicts, lists, tuples and objects'
    ``__dict__``), each counted once, plus ``sys.getsizeof`` of other leaves.

    >>> import numpy as np
    >>> nbytes({"a": np.zeros(10, "float32"), "b": [np.zeros(2)]}) >= 56
    True
    """
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    nb = getattr(value, "nbytes", None)
    if isinstance(nb, int) and hasattr(value, "dtype"):          # numpy array
        base = getattr(value, "base", None)
        return 0 if base is not None and id(base) in seen else nb
    if hasattr(value, "element_size") and hasattr(value, "numel"):   # torch tensor
        return int(value.element_size() * value.numel())
    if isinstance(value, dict):
        return sum(nbytes(k, seen) + nbytes(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(nbytes(v, seen) for v in value) + sys.getsizeof(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return sum(nbytes(v, seen) for v in vars(value).values())
    return sys.getsizeof(value)


class LRUCache:
    """Keep the most recently used values within ``max_bytes`` (and ``maxsize`` entries when
    given); `get` counts hits and misses.

    ``max_bytes``: the bound in bytes (`nbytes` of the values; None: no byte bound);
    ``maxsize``: an optional bound in entries (None: none). At least one is required.

    >>> c = LRUCache(maxsize=1)
    >>> c.put("a", 1); c.put("b", 2)
    >>> c.get("a") is None and c.get("b") == 2
    True
    """

    def __init__(self, maxsize: int | None = None, max_bytes: int | None = None):
        if maxsize is None and max_bytes is None:
            raise ValueError("LRUCache needs a bound: give max_bytes (bytes) and/or maxsize "
                             "(entries).")
        if maxsize is not None and (not isinstance(maxsize, int) or maxsize < 1):
            raise ValueError(f"maxsize must be a positive integer or None; got {maxsize!r}.")
        if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 1):
            raise ValueError(f"max_bytes must be a positive integer or None; got "
                             f"{max_bytes!r}.")
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._data: OrderedDict = OrderedDict()      # key -> (value, bytes)
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.refused = 0

    def get(self, key: Hashable) -> Any:
        """The value under ``key`` (now the most recent), or None."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key][0]
            self.misses += 1
            return None

    def put(self, key: Hashable, value: Any, size: int | None = None) -> bool:
        """Store ``value`` (``size`` bytes; measured with `nbytes` when None); the least
        recently used entries go beyond the bounds. A value larger than ``max_bytes`` is not
        stored (False)."""
        size = nbytes(value) if size is None else int(size)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            if self.max_bytes is not None and size > self.max_bytes:
                self.refused += 1
                return False
            self._data[key] = (value, size)
            self.nbytes += size
            self._evict_locked()
            return True

    def resize(self, max_bytes: int | None = None, maxsize: int | None = None) -> None:
        """Change the bounds (evicting what no longer fits)."""
        with self._lock:
            self.max_bytes, self.maxsize = max_bytes, maxsize
            self._evict_locked()

    def _evict_locked(self) -> None:
        while self._data and (
                (self.maxsize is not None and len(self._data) > self.maxsize)
                or (self.max_bytes is not None and self.nbytes > self.max_bytes)):
            _, (_, s) = self._data.popitem(last=False)
            self.nbytes -= s

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.nbytes = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)
