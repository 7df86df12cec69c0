"""Recordings longer than memory: the transform of a stream of sample blocks.

`scatter_stream` transforms a recording that arrives as an iterator of sample blocks (from a
socket, a decoder, `soundfile.blocks`) and yields the output block by block, and
`scatter_file` does it for an audio file read with ``soundfile.blocks``. Both hold one
transform block, its overlap and one block's output at a time (`engine.blocks.BlockTransform`
does the blocks): memory is bounded by the block length, not by the recording's. The frames
are the whole-signal transform's frames (`BlockTransform.frames`), equal to them away from the
ends and at the ends too where the whole transform's padding covers the filters' reach.

The stream's total length must be known (an audio file's header says it): the whole
transform's frame grid and its reflection at the recording's end depend on it.

>>> import numpy as np
>>> from engine import Scattering1D
>>> x = np.random.randn(40_000)
>>> chunks = (x[i:i + 4096] for i in range(0, len(x), 4096))
>>> out = [b.output for b in scatter_stream(chunks, len(x), Scattering1D, J=6, Q=8,
...                                          block=2**13)]
>>> torch.cat(out, -1).shape[-1] == Scattering1D(J=6, Q=8, shape=40_000)(x).shape[-1]
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from engine.blocks import Block, BlockTransform, _concat

__all__ = ["scatter_stream", "scatter_file", "IterSource"]


class IterSource:
    """A recording of ``length`` samples read forward from an iterator of blocks (1-D
    arrays, or ``(frames, channels)`` mixed to mono), for `BlockTransform.blocks`. It keeps
    only the samples from the oldest one still requested: ``max_buffered`` records the most
    it held."""

    grad = False

    def __init__(self, blocks: Iterable, length: int, dtype: torch.dtype):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"length must be the recording's number of samples, a positive "
                             f"integer; got {length!r}.")
        self.length, self.dtype = int(length), dtype
        self.np_dtype = np.float64 if dtype == torch.float64 else np.float32
        self._it = iter(blocks)
        self.lo, self.buf = 0, np.zeros(0, dtype=self.np_dtype)
        self.max_buffered = 0

    def _next(self) -> np.ndarray:
        try:
            block = np.asarray(next(self._it))
        except StopIteration:
            raise ValueError(f"The stream ended after {self.lo + len(self.buf)} of its "
                             f"{self.length} samples: pass the recording's true length.") from None
        if block.ndim == 2:
            block = block.mean(axis=1)
        if block.ndim != 1 or block.dtype.kind not in "fiu":
            raise TypeError(f"Stream blocks must be real 1-D arrays (or (frames, channels)); "
                            f"got shape {block.shape}, dtype {block.dtype}.")
        return block.astype(self.np_dtype, copy=False)

    def read(self, lo: int, hi: int) -> torch.Tensor:
        if lo < self.lo:
            raise RuntimeError(f"samples {lo}.. were already dropped from the stream's "
                               f"buffer (it starts at {self.lo}); blocks must move forward.")
        hi = min(hi, self.length)
        pieces = [self.buf[lo - self.lo:]] if lo - self.lo < len(self.buf) else []
        end = self.lo + len(self.buf)
        skip = max(0, lo - end)               # samples before lo still to be read
        while end < hi:
            block = self._next()
            if skip:
                drop = min(skip, len(block))
                block, skip, end = block[drop:], skip - drop, end + drop
            pieces.append(block)
            end += len(block)
        self.buf = np.concatenate(pieces) if pieces else np.zeros(0, self.np_dtype)
        self.lo = end - len(self.buf)
        self.max_buffered = max(self.max_buffered, len(self.buf))
        return torch.from_numpy(np.ascontiguousarray(self.buf[:hi - lo]))

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


def scatter_stream(blocks: Iterable, length: int, transform, /, *, block: int | None = None,
                   **kwargs) -> Iterator[Block]:
    """Transform a recording of ``length`` samples arriving as ``blocks`` (an iterable of
    1-D sample arrays of any sizes, or ``(frames, channels)`` arrays, mixed to mono).

    ``transform``, ``block`` and ``kwargs`` are `engine.blocks.BlockTransform`'s (a transform
    class and its arguments, e.g. ``Scattering1D, J=8, Q=12``, or a factory ``n -> module``).
    Yields one `engine.blocks.Block` per transform block, in order: its ``output`` holds the
    whole-signal transform's frames ``frames`` (the module's format, time last), at samples
    ``samples``.
    """
    bt = transform if isinstance(transform, BlockTransform) else BlockTransform(
        transform, block=block, **kwargs)
    yield from bt.blocks(IterSource(blocks, length, bt.dtype))


def scatter_file(path: str | os.PathLike, transform, /, *, block: int | None = None,
                 read_size: int = 2**16, collect: bool = False, **kwargs):
    """Transform an audio file block by block, reading it with ``soundfile.blocks`` (mixed
    to mono, ``read_size`` frames per read): see `scatter_stream`. Returns the iterator of
    `engine.blocks.Block`, or with ``collect=True`` the whole output (the blocks' frames
    concatenated on the last axis: only it grows with the recording).

    >>> for b in scatter_file("night.flac", Scattering1D, J=8, Q=12):   # doctest: +SKIP
    ...     np.save(f"S_{b.index:05d}.npy", b.output.numpy())
    """
    import soundfile as sf

    try:
        info = sf.info(os.fspath(path))
    except Exception as e:      # libsndfile's errors vary by version: name the file
        raise ValueError(f"Cannot read {os.fspath(path)!r} as audio ({e}). Pass a file "
                         f"soundfile reads (WAV, FLAC, OGG, ...).") from e
    bt = transform if isinstance(transform, BlockTransform) else BlockTransform(
        transform, block=block, **kwargs)
    dtype = "float64" if bt.dtype == torch.float64 else "float32"
    reader = sf.blocks(os.fspath(path), blocksize=int(read_size), dtype=dtype, always_2d=True)
    out = scatter_stream(reader, info.frames, bt)
    return _concat([b.output for b in out]) if collect else out
