"""`Sparse`: a real frequency response kept on its support only.

A band-pass of a long filter bank is non-negligible on a small fraction of the FFT grid.
Keeping each filter as its significant bins (sorted indices and float64 values) makes a bank
cost memory proportional to its total support instead of ``n_filters x N``; the full-length
response is built on request (`Sparse.dense`) and not kept.

Values below ``STORE_THRESHOLD`` of a filter's peak are dropped (read as exact zeros). That is
far below the fold plans' threshold (`engine._fold.BLOCK_THRESHOLD`, 1e-12), so every bin a
plan keeps has its full float64 value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Sparse", "STORE_THRESHOLD", "unique_inverse", "unique_sorted"]

#: Fraction of a filter's peak below which a value is not stored (exactly 0 in `Sparse.dense`).
STORE_THRESHOLD = 1e-20


def unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` for integers, by a sort (numpy's hashing
    ``unique`` was 20x slower here)."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    first = np.empty(len(s), dtype=bool)
    first[:1] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    inv = np.empty(len(a), dtype=np.int64)
    inv[order] = np.cumsum(first) - 1
    return s[first], inv


def unique_sorted(a: np.ndarray) -> np.ndarray:
    """The sorted unique values of an integer array (see `unique_inverse`)."""
    s = np.sort(a)
    keep = np.empty(len(s), dtype=bool)
    keep[:1] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _index_dtype(N: int):
    """int32 indices where they fit (12 bytes per stored bin instead of 16)."""
    return np.int32 if N < 2**31 else np.int64


@dataclass(frozen=True, eq=False)
class Sparse:
    """A real response of length ``N`` on the FFT grid, zero outside ``idx``.

    Attributes
    ----------
    N : int
        Grid length.
    idx : np.ndarray
        Sorted, unique bin indices in ``[0, N)`` (int32, or int64 for ``N >= 2**31``).
    val : np.ndarray
        float64 values at ``idx``.
    """

    N: int
    idx: np.ndarray
    val: np.ndarray

    @classmethod
    def from_dense(cls, h_f: np.ndarray, threshold: float = STORE_THRESHOLD) -> Sparse:
        """The bins of ``h_f`` ``(N,)`` whose magnitude exceeds ``threshold`` times the peak
        (all its nonzero bins with ``threshold=0``)."""
        h_f = np.asarray(h_f, dtype=np.float64)
        peak = float(np.abs(h_f).max()) if h_f.size else 0.0
        idx = np.flatnonzero(np.abs(h_f) > threshold * peak) if peak > 0 else \
            np.zeros(0, dtype=np.int64)
        return cls(len(h_f), idx.astype(_index_dtype(len(h_f))), h_f[idx].copy())

    @classmethod
    def trimmed(cls, N: int, idx: np.ndarray, val: np.ndarray,
                threshold: float = STORE_THRESHOLD) -> Sparse:
        """From sorted unique ``idx`` and their values, dropping values at most
        ``threshold`` times the peak."""
        peak = float(np.abs(val).max()) if val.size else 0.0
        keep = np.abs(val) > threshold * peak
        return cls(N, np.asarray(idx, dtype=_index_dtype(N))[keep], np.asarray(val)[keep])

    @property
    def nbytes(self) -> int:
        """Bytes held (indices and values)."""
        return self.idx.nbytes + self.val.nbytes

    @property
    def peak(self) -> float:
        """``max |h|``."""
        return float(np.abs(self.val).max()) if self.val.size else 0.0

    def dense(self) -> np.ndarray:
        """The full response ``(N,)``, float64 (a new array)."""
        out = np.zeros(self.N)
        out[self.idx] = self.val
        return out

    def periodise(self, level: int) -> Sparse:
        """The response at resolution ``N / 2**level``: the sum of its ``2**level`` periods,
        added in period order (the same float64 sums as ``dense().reshape(2**level,
        -1).sum(axis=0)``)."""
        if level == 0:
            return self
        M = self.N >> level
        if M << level != self.N:
            raise ValueError(f"Cannot periodise a response of length {self.N} to "
                             f"{self.N} / 2**{level}: the length must be divisible.")
        cols, inv = unique_inverse(self.idx % M)
        val = np.zeros(len(cols))
        np.add.at(val, inv, self.val)          # in index order: period 0 first, then 1, ...
        return Sparse(M, cols.astype(_index_dtype(M)), val)
