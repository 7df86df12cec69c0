"""Decoded signals that the sessions hold, counted in the server's memory budget.

An upload decoded to float32 (up to 10 minutes at 192 kHz: 440 MiB), a long recording's
array, its overview and its detail windows stay in the server process for as long as a
session holds them. `SignalHoldings` counts them: `SignalHoldings.hold` registers an array
(refused with a `HoldRefused`, a ValueError that says what is held and what is allowed, when
it would pass the limit), and the array is released by itself when it is freed (a
``weakref.finalize`` on the array that owns the memory: a session that drops its signal,
closes its page or replaces the recording releases it, as does any copy going away last).
`SignalHoldings.check` refuses a size before anything is allocated (an upload's decoded size,
known from its header).

What is held is taken from what the transforms in flight may use (``on_change`` receives the
bytes held; the service lowers its queue's memory by that much), so that the budget counts the
signals, the work in flight and the cache together.

>>> import numpy as np
>>> h = SignalHoldings(capacity=1 << 20)
>>> x = np.zeros(1000, np.float32)
>>> h.hold(x, "x") and h.held_bytes
4000
>>> del x; h.held_bytes
0
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import numpy as np

from engine._costs import format_bytes

__all__ = ["SignalHoldings", "HoldRefused", "owner_of"]


class HoldRefused(ValueError):
    """The server holds too many decoded signals to take this one (the message says how much
    is held, what this one needs and the limit)."""


def owner_of(x: np.ndarray) -> np.ndarray:
    """The array that owns ``x``'s memory (``x`` itself, or the root of its ``.base`` chain)."""
    root = x
    while isinstance(getattr(root, "base", None), np.ndarray):
        root = root.base
    return root


class SignalHoldings:
    """Bytes of decoded signals held by sessions, with a limit (``capacity`` bytes).

    ``on_change(held_bytes)`` is called after every hold and release (from the thread that
    freed the array, possibly the garbage collector's: it must only record the number)."""

    def __init__(self, capacity: int, on_change: Callable[[int], None] | None = None):
        self.capacity = int(capacity)
        self.on_change = on_change
        self._lock = threading.RLock()
        self._held: dict[int, tuple[int, str]] = {}     # id(owner) -> (bytes, label)
        self.held_bytes = 0
        self.peak_bytes = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._held)

    def labels(self) -> list[str]:
        with self._lock:
            return [label for _, label in self._held.values()]

    def _refusal(self, nbytes: int, what: str) -> str:
        return (f"{what}: the server cannot hold this signal now: decoded it takes "
                f"{format_bytes(nbytes)}, the pages of this server hold "
                f"{format_bytes(self.held_bytes)} of signals already, and together they may "
                f"hold {format_bytes(self.capacity)}. Try again when other pages have closed, "
                f"or use a shorter or lower-rate file.")

    def check(self, nbytes: int, what: str = "signal") -> None:
        """Raise `HoldRefused` when ``nbytes`` more would pass the limit (nothing is held)."""
        with self._lock:
            if self.held_bytes + int(nbytes) > self.capacity:
                self.refused += 1
                raise HoldRefused(self._refusal(int(nbytes), what))

    def hold(self, x: np.ndarray, what: str = "signal", *, refuse: bool = True) -> int:
        """Count ``x``'s memory (its owner's, once however many times it is held) until it is
        freed; returns the bytes now held. ``refuse``: raise `HoldRefused` when over the limit
        (False: count it all the same, for small arrays derived from a held one)."""
        root = owner_of(np.asarray(x))
        key, nbytes = id(root), int(root.nbytes)
        with self._lock:
            if key in self._held:
                return self.held_bytes
            if refuse and self.held_bytes + nbytes > self.capacity:
                self.refused += 1
                raise HoldRefused(self._refusal(nbytes, what))
            self._held[key] = (nbytes, what)
            self.held_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.held_bytes)
            held = self.held_bytes
        weakref.finalize(root, self._release, key)
        self._changed(held)
        return held

    def _release(self, key: int) -> None:
        with self._lock:
            nbytes, _ = self._held.pop(key, (0, ""))
            self.held_bytes -= nbytes
            held = self.held_bytes
        if nbytes:
            self._changed(held)

    def _changed(self, held: int) -> None:
        if self.on_change is not None:
            self.on_change(held)

    def describe(self) -> str:
        return (f"{format_bytes(self.held_bytes)} of signals held by pages ({len(self)} "
                f"arrays; at most {format_bytes(self.capacity)})")
