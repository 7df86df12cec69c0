"""Files longer than the configured ``N``: transformed whole, block by block, in bounded memory.

A file of at most ``N`` samples is fitted to ``N`` (centre zero-padding) and transformed with
the other short files of its shard as one batch (`scatviz.features.core.transform_batch`).
A file longer than ``N`` is not cropped: it goes through the engine's bounded-memory path,
an `engine.BlockTransform` applied to the file read forward block by block (``soundfile``),
so that a worker holds one block, its overlap and one block's output, whatever the file's
length (an hour at 44.1 kHz costs what a few seconds cost). Its frames are the frames of the
whole-signal transform (equal to them away from the ends; `engine.blocks`).

**How its output is stored** (the layouts of `scatviz.features.store`):

- ``pool="mean"``, ``(file, channel)``: the mean over *all* the frames of the whole file's
  transform (``log1p`` of it with ``log=True``): the same feature as a short file's, taken
  over the whole recording instead of its centre ``N`` samples;
- ``pool="none"``, ``(file, channel, time)``: the fixed-length row holds the ``time``
  frames at the centre of the whole file's transform (the frames of its centre ``N``
  samples, computed with their true neighbours instead of a cropped, reflected copy), and a
  Zarr store also keeps *all* its frames, in a variable-length array ``long/<row>``
  ``(channel, frames)`` beside the fixed layout (`scatviz.features.store.whole_file` reads it
  as an `xarray.DataArray`, time in seconds). The single-process ``.npz`` holds the centre
  window only.
- The ``blocked`` coordinate on ``file`` (bool) says which files went this way.

``T="global"`` cannot be computed in blocks (the engine refuses it): with it, a long file is
fitted to ``N`` (centre crop) as before, and ``blocked`` is False.

**Block size** (`block_transform`): the smallest power of two that is at least ``N`` and at
least four overlaps (the filters' reach, so at least half of every block is kept). A block
therefore costs about what one file of ``N`` samples costs when the filters are short next
to ``N``, and `block_bytes` gives the engine's estimate of it for the shard sizing
(`scatviz.features.sizing`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scatviz.features.core import build_module, module_of, transform_batch

__all__ = ["blockable", "is_long", "block_transform", "window_frames",
           "transform_long"]


def blockable(config: dict) -> bool:
    """Whether files longer than ``N`` go through blocks under ``config`` (not with
    ``T="global"``, see the module docstring)."""
    return config.get("T") != "global"


def is_long(config: dict, frames) -> np.ndarray:
    """Which files (``frames`` from their headers) are transformed whole in blocks."""
    frames = np.asarray(frames, dtype=np.int64)
    return (frames > int(config["N"])) & blockable(config)


@functools.lru_cache(maxsize=4)
def block_transform(key: str):
    """The `engine.BlockTransform` of a configuration (`scatviz.features.core.config_key`),
    built once per process: block size as in the module docstring. Its module is
    `build_module`'s own when the block is ``N``."""
    from engine import BlockTransform
    from engine.blocks import filter_reach

    c = json.loads(key)
    N = int(c["N"])

    def factory(n: int):
        return build_module(key) if n == N else module_of(c, n)

    m = build_module(key)
    reach = sum(filter_reach(m.bank).values())
    if 4 * reach < m.N_padded:           # the N module measures the tails faithfully
        stride = 2 ** int(m.log2_stride)
        overlap = -(-reach // stride) * stride
        block = 1 << (max(N, 4 * overlap) - 1).bit_length()
        return BlockTransform(factory, block=block)
    return BlockTransform(factory)       # the engine measures on a longer module


@functools.lru_cache(maxsize=4)
def window_frames(key: str) -> int:
    """Frames on the ``time`` axis of an unpooled row: those of one ``N``-sample file."""
    c = json.loads(key)
    return int(transform_batch(build_module(key), [np.zeros(c["N"], np.float32)], "none",
                               False).shape[-1])


def transform_long(key: str, path, writer: Callable | None = None) -> np.ndarray:
    """The row of the long file ``path`` under the configuration ``key`` (see the module
    docstring): float32 ``(C,)`` for ``pool="mean"``, ``(C, window_frames)`` for ``"none"``.

    ``writer(total_frames, frame_samples, n_channels)`` (``pool="none"``; optional) is called
    once before the first block and returns ``put(start_frame, frames (C, k) float32)``, which
    receives every block's frames as they come (``log1p`` applied with ``log=True``): only
    one block's output is in memory at a time. Raises ValueError when the file cannot be read
    whole (the engine's message names the file)."""
    import soundfile as sf

    c = json.loads(key)
    bt = block_transform(key)
    try:
        n = int(sf.info(str(path)).frames)
    except Exception as exc:      # libsndfile's errors vary by version
        raise ValueError(f"{Path(path).name}: not a readable audio file ({exc}).") from None
    total = bt.frames(n)
    pooled = c["pool"] == "mean"
    acc = window = put = None
    width = window_frames(key)
    j0 = max(0, (total - width) // 2)
    for b in bt.blocks(str(path)):
        S = b.output.detach().double().numpy()          # (C, k), the whole file's frames
        f0, f1 = b.frames.start, b.frames.stop
        if pooled:
            acc = S.sum(axis=-1) if acc is None else acc + S.sum(axis=-1)
            continue
        if c["log"]:
            S = np.log1p(S)
        if window is None:
            window = np.full((S.shape[0], width), np.nan, dtype=np.float32)
            if writer is not None:
                put = _store_errors(writer)(total, bt.frame_samples(n), S.shape[0])
        if put is not None:
            _store_errors(put)(f0, S.astype(np.float32))
        lo, hi = max(f0, j0), min(f1, j0 + width)
        if lo < hi:
            window[:, lo - j0:hi - j0] = S[:, lo - f0:hi - f0]
    if pooled:
        S = acc / total
        return (np.log1p(S) if c["log"] else S).astype(np.float32)
    return window


def _store_errors(fn: Callable) -> Callable:
    """``fn`` with its errors raised as RuntimeError: a failure to write the output is the
    store's, never taken for an unreadable file (those are ValueError / OSError)."""
    def call(*args):
        try:
            return fn(*args)
        except Exception as exc:
            raise RuntimeError(f"Writing the whole-file frames failed: {exc}") from exc
    return call


def transform_files(key: str, files, names, frames, writer_for: Callable | None = None):
    """The rows of one shard's ``files`` (``names``: their relative paths, ``frames``: their
    lengths from the headers): the long ones (`is_long`) first, one at a time through
    `transform_long` (``writer_for(i)``: the ``writer`` of file ``i``, or None), then the
    others fitted to ``N`` and transformed as one batch. Both feature paths (the Dask
    workers and the single-process ``.npz``) call this, so they agree by construction.

    Returns ``(rows, ok, failed)``: float32 ``(len(files), ...)`` with NaN rows for the
    unreadable files (None when none was readable), bool ``ok``, ``{name: reason}``."""
    from engine.datasets import fit_length
    from scatviz.signals_io import SignalLoadError, read_audio

    c = json.loads(key)
    N = int(c["N"])
    long = is_long(c, frames)
    ok, failed = np.zeros(len(files), bool), {}
    done: dict[int, np.ndarray] = {}
    for i in np.flatnonzero(long):
        try:
            done[i] = transform_long(key, files[i], writer_for(i) if writer_for else None)
            ok[i] = True
        except (ValueError, OSError) as exc:        # recorded, never fatal
            failed[names[i]] = str(exc)
    xs, short = [], []
    for i in np.flatnonzero(~long):
        try:
            y, _, _ = read_audio(files[i])
            if y.size == 0:
                raise SignalLoadError(f"{Path(files[i]).name}: no samples.")
        except (SignalLoadError, OSError) as exc:   # recorded, never fatal
            failed[names[i]] = str(exc)
            continue
        xs.append(fit_length(y, N).astype(np.float32))
        short.append(i)
        ok[i] = True
    if xs:
        S = transform_batch(build_module(key), xs, c["pool"], c["log"])
        done.update(zip(short, S))
    if not done:
        return None, ok, failed
    first = next(iter(done.values()))
    rows = np.full((len(files),) + first.shape, np.nan, dtype=np.float32)
    for i, row in done.items():
        rows[i] = row
    return rows, ok, failed
