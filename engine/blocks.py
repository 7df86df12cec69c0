"""Transforms of recordings too long for memory, computed block by block.

`BlockTransform` wraps one transform module (`Scattering1D`, `TimeFrequencyScattering` or any
module with the same public attributes) built once for a block of ``block`` samples, and
applies it to overlapping blocks of a long signal read from an array or, a block at a time,
from an audio file (``soundfile``). Each block's output keeps only the frames of its centre;
side by side, the kept frames are the frames of the whole-signal transform.

**Frames.** The whole-signal transform of ``N`` samples at stride ``S = 2**log2_stride``
pads ``(N_padded - N) // 2`` samples on the left, ``N_padded`` a power of two, so its frame
``i`` is at sample ``p0 + i S`` with ``p0 = ceil(N / 2) mod S``, for every such position in
``[0, N)``: ``ceil((N - p0) / S)`` frames. Block ``k`` keeps frames ``[k m, (k + 1) m)``,
``m = hop / S``; its module reads samples ``[p0 + k hop - overlap - o, ... + block)``, ``o`` the
first frame's position in the module (``(-pad_left) mod S``), so that the module's frames fall
on the whole transform's frames.

**Overlap.** An output frame depends on the input through the cascade of a first-order
wavelet, a second-order wavelet and the low-pass: a frame at ``t`` reads samples within
``reach = r(phi) + max r(psi1) + max r(psi2)`` of ``t``, where ``r(h)`` is the smallest
half-width outside which the impulse response ``h`` holds at most ``criterion`` of its energy
(measured on the module's own bank; for white noise the part of ``h * x`` that the tails
carry is ``sqrt(criterion)`` of it). The overlap is ``reach`` rounded up to a multiple of
``S``; each block keeps ``hop = S floor((block - 2 overlap) / S)`` samples' worth of frames, so
``block >= 2 overlap + S``. Where the kept frames lie, the block sees the same samples as the
whole transform, up to the filters' tails beyond ``reach``.

**Ends.** Beyond the recording's ends a block reads the padding the whole transform uses:
a reflection (``x[-t] = x[t]``, Scattering1D, JTFS with ``pad_mode="reflect"``) or zeros (JTFS
``pad_mode="zero"``). The first and last frames then match the whole transform too, as long as
the whole transform's own padding covers ``reach`` (its circular FFT then does not wrap into
them).

**Memory.** One module of ``block`` samples, one block of input (plus ``overlap`` for the file
reader) and one block's output in flight: bounded by ``block``, not by the recording. `blocks`
yields each block's kept frames (to write them to disk as they come); calling the transform
concatenates them, so only the output grows with the recording.

>>> from engine import Scattering1D
>>> bt = BlockTransform(Scattering1D, J=6, Q=8, block=2**13)
>>> x = np.random.randn(50_000).astype(np.float32)
>>> bt(x).shape == Scattering1D(J=6, Q=8, shape=50_000)(x).shape
True
>>> for b in bt.blocks("night.flac"):                 # doctest: +SKIP
...     np.save(f"S_{b.index:05d}.npy", b.output.numpy())   # frames b.frames of the night
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["BlockTransform", "Block", "filter_reach", "CRITERION"]

#: Default tail criterion of `filter_reach`: the fraction of a filter's energy left outside
#: its reach.
CRITERION = 1e-10


def filter_reach(bank, criterion: float = CRITERION) -> dict[str, int]:
    """Reach in samples of the bank's filters: ``{"phi": r, "psi1": r, "psi2": r}``, each
    the largest over its family of ``r(h)``, the smallest half-width with
    ``sum_{|t| > r} |h[t]|^2 <= criterion * sum_t |h[t]|^2`` for the impulse response ``h`` of the
    filter's full-resolution frequency response (``bank.phi``, ``bank.psi1``, ``bank.psi2``,
    each with ``.response`` ``(N,)``)."""
    out = {}
    for name in ("phi", "psi1", "psi2"):
        family = getattr(bank, name)
        family = (family,) if hasattr(family, "response") else tuple(family)
        out[name] = max((_reach(f.response, criterion) for f in family), default=0)
    return out


def _reach(response: np.ndarray, criterion: float) -> int:
    h = np.abs(np.fft.ifft(np.asarray(response, dtype=np.float64))) ** 2
    N = len(h)
    dist = np.minimum(np.arange(N), N - np.arange(N))
    mass = np.bincount(dist, weights=h)
    tail = np.append(np.cumsum(mass[::-1])[::-1][1:], 0.0)   # mass beyond each half-width
    return int(np.flatnonzero(tail <= criterion * mass.sum())[0])


@dataclass(frozen=True)
class Block:
    """One block's kept output: ``output`` in the module's format with ``frames.stop -
    frames.start`` frames on its last (time) axis; they are the whole-signal transform's frames
    ``frames``, at samples ``samples`` (``(frames,)`` int64)."""

    index: int
    frames: slice
    samples: np.ndarray
    output: object


class BlockTransform:
    """A transform applied block by block to long signals or audio files.

    Parameters
    ----------
    transform : type or callable
        A transform class (``Scattering1D``, ``TimeFrequencyScattering``), built as
        ``transform(shape=block, **kwargs)``; or a factory ``n -> module`` (then no
        ``kwargs``), e.g. ``lambda n: Scattering1D(J=12, shape=n, Q=12).double()``.
    block : int or None
        Samples per transformed block, overlap included: the module's ``shape``. Memory grows
        with it; each block keeps ``hop = block - 2 overlap`` samples' worth of frames (rounded
        down to the stride), so larger blocks waste less. At least ``2 overlap + stride``
        (the error says the minimum). ``None``: the smallest power of two ``>= 4 overlap``
        and ``>= 2**16`` (at least half of each block is kept; the filters are measured on
        a first module, then the module is built at that size).
    criterion : float
        Fraction of each filter's energy left outside the overlap (see `filter_reach`).
    device, dtype : optional
        Moves the module (``module.to(device, dtype)``).
    **kwargs
        The transform's constructor arguments other than ``shape``.

    Attributes
    ----------
    module : nn.Module
        The one module, of ``shape=block``, used for every block.
    stride, overlap, hop, reach : int
        Output step, overlap on each side, kept samples per block, filters' reach (samples).

    Inputs: a numpy array or torch tensor ``(..., N)``, or a path to an audio file (mixed to
    mono, read in the module's dtype). Output: the module's format (tensor, list or dict) with
    ``frames(N)`` frames on the last axis, equal to ``module_of_shape_N(x)`` up to the
    filters' tails (see the module docstring). Gradients flow for torch tensor inputs.
    """

    def __init__(self, transform: type | Callable[[int], nn.Module], /, *,
                 block: int | None = None, criterion: float = CRITERION, device=None, dtype=None,
                 **kwargs) -> None:
        if kwargs.get("T") == "global":
            raise ValueError("T='global' averages over the whole recording, which blocks "
                             "cannot compute. Use a local T (None or an integer) and average "
                             "the block transform's frames over time (its mean over frames "
                             "matches the global average up to the recording's ends).")
        if block is not None and (isinstance(block, bool) or not isinstance(block, int)
                                  or block < 1):
            raise ValueError(f"block must be None or a positive integer (samples); got "
                             f"{block!r}.")
        if not 0 < criterion < 1:
            raise ValueError(f"criterion must be in (0, 1); got {criterion!r}.")
        if isinstance(transform, type):
            if "shape" in kwargs:
                raise ValueError("Do not pass shape: BlockTransform builds the module with "
                                 "shape=block.")
            cls = transform
            self._make = lambda n: cls(shape=n, **kwargs)
        elif callable(transform):
            if kwargs:
                raise TypeError(f"With a factory, pass the transform's arguments to the "
                                f"factory, not to BlockTransform; got {sorted(kwargs)}.")
            self._make = transform
        else:
            raise TypeError(f"transform must be a transform class or a factory n -> module; "
                            f"got {type(transform).__name__}.")
        self._to = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        self.criterion = float(criterion)
        if block is None:
            module, reach = self._measure(2**16)
            overlap = self._round(reach, module)
            block = max(2**16, 1 << (4 * overlap - 1).bit_length())
            if block != module.shape[0]:
                module = self._build(block)
        else:
            module = self._build(block)
        self.block, self.module = block, module
        self.stride = 2 ** int(module.log2_stride)
        self.reach = sum(filter_reach(module.bank, criterion).values())
        self.overlap = self._round(self.reach, module)
        if block < 2 * self.overlap + self.stride:
            raise ValueError(self._too_short(block))
        self.hop = (block - 2 * self.overlap) // self.stride * self.stride
        self.pad_mode = getattr(self.module, "pad_mode", "reflect")
        first = (-int(self.module.pad_left)) % self.stride
        self._offset = first                       # the module's first frame, in samples
        self._module_frames = -(-(block - first) // self.stride)
        ref = next(iter(self.module.buffers()), None)
        self.dtype = ref.dtype if ref is not None else torch.get_default_dtype()
        self.device = ref.device if ref is not None else torch.device("cpu")

    def _build(self, n: int) -> nn.Module:
        module = self._make(n)
        if not isinstance(module, nn.Module):
            raise TypeError(f"The factory must return an nn.Module; got "
                            f"{type(module).__name__}.")
        for attr in ("log2_stride", "pad_left", "bank"):
            if not hasattr(module, attr):
                raise TypeError(f"{type(module).__name__} has no attribute {attr!r}; "
                                f"BlockTransform needs a transform like Scattering1D or "
                                f"TimeFrequencyScattering.")
        if getattr(module, "average", None) == "global":
            raise ValueError("The module averages globally (T='global'), which blocks cannot "
                             "compute; use a local T and average the frames over time.")
        return module.to(**self._to) if self._to else module

    @staticmethod
    def _round(reach: int, module: nn.Module) -> int:
        """``reach`` rounded up to a multiple of the module's stride."""
        stride = 2 ** int(module.log2_stride)
        return -(-reach // stride) * stride

    def _measure(self, n: int) -> tuple[nn.Module, int]:
        """A module of ``shape >= n`` whose padded length holds four times the filters'
        reach (so that the measured tails are not the periodised ones), and that reach."""
        while True:
            module = self._build(n)
            reach = sum(filter_reach(module.bank, self.criterion).values())
            if 4 * reach < module.N_padded or n >= 2**26:
                return module, reach
            n *= 4

    def _too_short(self, block: int) -> str:
        """The error for a block too short, with the minimum measured on a module long
        enough to hold the filters' tails."""
        if 4 * self.reach < self.module.N_padded:
            reach = self.reach
        else:
            reach = self._measure(4 * block)[1]
        overlap = self._round(reach, self.module)
        minimum = 2 * overlap + self.stride
        return (f"block={block} is too short for these filters: each block needs an overlap "
                f"of {overlap} samples on each side (the reach of phi + psi1 + psi2 at "
                f"criterion={self.criterion:g}) plus one stride ({self.stride}), so block "
                f"must be at least {minimum}; blocks of {max(4 * overlap, minimum)} or more "
                f"waste less work on the overlap.")

    # ---- frames ---------------------------------------------------------------------------

    def _first(self, n: int) -> int:
        return (-(-n // 2)) % self.stride

    def frames(self, n: int) -> int:
        """Number of output frames for a recording of ``n`` samples."""
        p0 = self._first(n)
        return max(0, -(-(n - p0) // self.stride))

    def frame_samples(self, n: int) -> np.ndarray:
        """The sample at which each output frame of an ``n``-sample recording is centred."""
        return self._first(n) + self.stride * np.arange(self.frames(n), dtype=np.int64)

    def n_blocks(self, n: int) -> int:
        """Number of blocks for a recording of ``n`` samples."""
        return -(-self.frames(n) // (self.hop // self.stride))

    # ---- compute --------------------------------------------------------------------------

    def blocks(self, source) -> Iterator[Block]:
        """Transform ``source`` (array ``(..., N)``, tensor or audio file path) block by
        block, yielding one `Block` per block, in order."""
        src = _open(source, self.dtype)
        try:
            n, m = src.length, self.hop // self.stride
            total, p0 = self.frames(n), self._first(n)
            keep0 = self.overlap // self.stride
            grad = src.grad
            for k in range(self.n_blocks(n)):
                f0, f1 = k * m, min((k + 1) * m, total)
                start = p0 + k * self.hop - self.overlap - self._offset
                x = self._segment(src, start)
                with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
                    out = self.module(x)
                    if k == 0:
                        self._check_frames(out)
                    out = _map(out, lambda t, a=keep0, b=keep0 + f1 - f0: t[..., a:b].contiguous())
                yield Block(k, slice(f0, f1), p0 + self.stride * np.arange(f0, f1), out)
        finally:
            src.close()

    def __call__(self, source):
        """The whole recording's output, the kept frames of every block concatenated on the
        last axis (see the class docstring)."""
        outs = [b.output for b in self.blocks(source)]
        return _concat(outs)

    forward = __call__

    def _segment(self, src, start: int) -> torch.Tensor:
        """Samples ``[start, start + block)`` of the recording, extended beyond its ends by
        the whole transform's padding, as ``(..., block)`` on the module's device."""
        n = src.length
        idx = np.arange(start, start + self.block)
        inside = (idx >= 0) & (idx < n)
        if self.pad_mode == "reflect" and n > 1:
            period = 2 * n - 2
            idx = idx % period
            idx = np.where(idx >= n, period - idx, idx)
            inside = None
        else:
            idx = np.clip(idx, 0, n - 1)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        chunk = src.read(lo, hi)                                  # (..., hi - lo) tensor
        x = chunk[..., torch.from_numpy(idx - lo).to(chunk.device)]
        if inside is not None and not inside.all():
            x = x * torch.from_numpy(inside).to(device=x.device, dtype=x.dtype)
        return x.to(device=self.device)

    def _check_frames(self, out) -> None:
        lengths = set()
        _map(out, lambda t: lengths.add(t.shape[-1]) or t)
        if lengths != {self._module_frames}:
            raise ValueError(f"The module's outputs have {sorted(lengths)} frames on their "
                             f"last axis where blocks need {self._module_frames} at stride "
                             f"{self.stride}: outputs at several time resolutions (T=0) or "
                             f"averaged over all time cannot be computed in blocks. Use a "
                             f"local T > 0.")

    def __repr__(self) -> str:
        return (f"BlockTransform({type(self.module).__name__}, block={self.block}, "
                f"overlap={self.overlap}, hop={self.hop}, stride={self.stride})")


# --------------------------------------------------------------------------------------------
# Outputs: tensors, lists and dicts of tensors
# --------------------------------------------------------------------------------------------

def _map(out, fn):
    """``out`` with ``fn`` applied to every tensor in it (nested dicts, lists, tuples)."""
    if torch.is_tensor(out):
        return fn(out)
    if isinstance(out, dict):
        return {k: _map(v, fn) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(_map(v, fn) for v in out)
    return out


def _concat(outs: list):
    """Concatenate same-structured outputs on the last axis of their tensors."""
    first = outs[0]
    if torch.is_tensor(first):
        return torch.cat(outs, dim=-1)
    if isinstance(first, dict):
        return {k: _concat([o[k] for o in outs]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concat([o[i] for o in outs]) for i in range(len(first)))
    return first


# --------------------------------------------------------------------------------------------
# Sources: arrays, tensors and audio files
# --------------------------------------------------------------------------------------------

def _open(source, dtype: torch.dtype):
    if all(hasattr(source, a) for a in ("length", "read", "close")):   # a reader object
        return source                          # (engine.stream.IterSource)
    if isinstance(source, (str, os.PathLike)):
        return _FileSource(os.fspath(source), dtype)
    if isinstance(source, np.ndarray) or torch.is_tensor(source):
        return _ArraySource(source, dtype)
    raise TypeError(f"source must be a numpy array, a torch tensor or a path to an audio "
                    f"file; got {type(source).__name__}.")


class _ArraySource:
    """A signal ``(..., N)`` in memory."""

    def __init__(self, x, dtype: torch.dtype):
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in "fiu":
                raise TypeError(f"source must hold real numbers; got dtype {x.dtype}.")
            x = torch.from_numpy(np.ascontiguousarray(x))
        if x.ndim < 1 or x.shape[-1] < 1:
            raise ValueError(f"source must have shape (..., N) with N >= 1; got "
                             f"{tuple(x.shape)}.")
        self.x, self.dtype = x, dtype
        self.length = int(x.shape[-1])
        self.grad = bool(x.requires_grad)

    def read(self, lo: int, hi: int) -> torch.Tensor:
        chunk = self.x[..., lo:hi]
        return chunk if chunk.dtype == self.dtype else chunk.to(self.dtype)

    def close(self) -> None:
        pass


class _FileSource:
    """An audio file read forward in blocks, mixed to mono; keeps only the samples the next
    block may need (the overlap)."""

    grad = False

    def __init__(self, path: str, dtype: torch.dtype):
        import soundfile as sf

        try:
            self.file = sf.SoundFile(path)
        except Exception as e:      # libsndfile's errors vary by version: name the file
            raise ValueError(f"Cannot read {path!r} as audio ({e}). Pass a file soundfile "
                             f"reads (WAV, FLAC, OGG, ...) or the signal as an array.") from e
        self.path, self.length = path, int(self.file.frames)
        if self.length < 1:
            self.file.close()
            raise ValueError(f"{path!r} holds no samples.")
        self.np_dtype = "float64" if dtype == torch.float64 else "float32"
        self.dtype = dtype
        self.lo, self.buf = 0, np.zeros(0, dtype=self.np_dtype)

    def _frames(self, count: int) -> np.ndarray:
        data = self.file.read(count, dtype=self.np_dtype, always_2d=True)
        if len(data) != count:
            raise ValueError(f"{self.path!r} ended after {self.file.tell()} of its "
                             f"{self.length} samples; the file may be truncated.")
        return data.mean(axis=1, dtype=self.np_dtype)

    def read(self, lo: int, hi: int) -> torch.Tensor:
        end = self.lo + len(self.buf)
        if lo < self.lo or lo > end:                 # not contiguous: seek
            self.file.seek(lo)
            self.lo, self.buf = lo, self._frames(hi - lo)
        elif hi > end:
            if self.file.tell() != end:
                self.file.seek(end)
            self.buf = np.concatenate([self.buf[lo - self.lo:], self._frames(hi - end)])
            self.lo = lo
        out = self.buf[lo - self.lo:hi - self.lo]
        return torch.from_numpy(np.ascontiguousarray(out))

    def close(self) -> None:
        self.file.close()
