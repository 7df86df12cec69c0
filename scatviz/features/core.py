"""What every feature path shares: the configuration, the transform built once per process,
one batch through it, the file list and the labels parsed from file names.

The single-process path (`scatviz.features.single`) and the Dask workers
(`scatviz.features.extract`) both call `transform_batch` on a module from `build_module`, so
their numbers agree by construction.

>>> cfg = make_config("scattering", J=6, Q=8, N=4096)
>>> build_module(config_key(cfg)) is build_module(config_key(cfg))   # built once, reused
True
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from engine import Scattering1D
from engine.jtfs import TimeFrequencyScattering

__all__ = ["TRANSFORMS", "AUDIO_SUFFIXES", "LABEL_PRESETS", "make_config", "config_key",
           "build_module", "module_of", "transform_batch", "list_audio", "parse_labels",
           "channel_coords"]

#: Transforms the feature paths run: name -> engine class.
TRANSFORMS = {"scattering": Scattering1D, "jtfs": TimeFrequencyScattering}

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".au")

#: Named label patterns (regular expressions with named groups, matched on the file name).
LABEL_PRESETS = {
    "fsdd": r"^(?P<digit>\d+)_(?P<speaker>[A-Za-z]+)_(?P<index>\d+)\.wav$",
}


def make_config(transform: str = "scattering", J: int = 8, Q=12, N: int = 8192, T=None,
                J_fr: int = 4, Q_fr: int = 1, F=None, design: str | None = None,
                pool: str = "mean", log: bool = False) -> dict:
    """The checked configuration of a feature run, as a JSON-able dict (the same keys as the
    ``config`` of the single-process ``.npz``). Raises ValueError on a bad value."""
    from scatviz.pipeline import default_design

    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}.")
    if pool not in ("mean", "none"):
        raise ValueError(f"pool must be 'mean' or 'none'; got {pool!r}.")
    if not isinstance(N, int) or N < 16:
        raise ValueError(f"N (samples every file is fitted to) must be an integer >= 16; "
                         f"got {N!r}.")
    return dict(transform=transform, J=J, Q=Q if isinstance(Q, int) else list(Q), N=N, T=T,
                J_fr=J_fr, Q_fr=Q_fr, F=F, design=design or default_design(transform),
                pool=pool, log=log)


def config_key(config: dict) -> str:
    """A canonical JSON string of ``config``: equal configurations, equal keys."""
    return json.dumps(config, sort_keys=True)


@functools.lru_cache(maxsize=4)
def build_module(key: str):
    """The transform module of a configuration (`config_key`), built once per process and
    reused by every later batch (and, on a Dask worker, by every later task)."""
    c = json.loads(key)
    return module_of(c, c["N"])


def module_of(c: dict, n: int):
    """The transform module of the configuration ``c`` built for signals of ``n`` samples
    (``n = c["N"]``: `build_module`'s; other lengths: the blocks of a long file)."""
    Q = c["Q"] if isinstance(c["Q"], int) else tuple(c["Q"])
    if c["transform"] == "scattering":
        return Scattering1D(c["J"], n, Q, T=c["T"], filterbank=c["design"])
    return TimeFrequencyScattering(c["J"], c["J_fr"], Q, n, T=c["T"], Q_fr=c["Q_fr"],
                                   F=c["F"], filterbank=c["design"])


def transform_batch(module, xs: Sequence[np.ndarray], pool: str, log: bool) -> np.ndarray:
    """``xs`` (each ``(N,)`` float32, already fitted) through ``module``: float32
    ``(B, C)`` for ``pool="mean"`` (average over time), ``(B, C, T)`` for ``"none"``;
    ``log1p`` of it with ``log=True``."""
    import torch

    with torch.no_grad():
        S = module(torch.from_numpy(np.stack(xs).astype(np.float32))).double().numpy()
    if pool == "mean":
        S = S.mean(axis=-1)
    if log:
        S = np.log1p(S)
    return S.astype(np.float32)


def list_audio(paths_or_folder, pattern: str = "**/*") -> tuple[Path, list[Path]]:
    """``(root, files)``: the audio files (`AUDIO_SUFFIXES`) under a folder matching the glob
    ``pattern`` (sorted), or the given file paths as they are (root: their common folder)."""
    if isinstance(paths_or_folder, (str, Path)):
        folder = Path(paths_or_folder)
        if not folder.is_dir():
            raise ValueError(f"FOLDER {folder} is not a directory.")
        files = sorted(p for p in folder.glob(pattern)
                       if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise ValueError(f"No audio files ({', '.join(AUDIO_SUFFIXES)}) under {folder} "
                             f"matching {pattern!r}.")
        return folder.resolve(), [p.resolve() for p in files]
    files = [Path(p).resolve() for p in paths_or_folder]
    if not files:
        raise ValueError("No files given: pass a folder or a non-empty list of paths.")
    import os
    root = Path(os.path.commonpath([str(p.parent) for p in files]))
    return root, files


def parse_labels(names: Iterable[str], pattern: str | None) -> dict[str, np.ndarray]:
    """Labels from file names: one array per named group of the regular expression
    ``pattern`` (or a `LABEL_PRESETS` key such as ``"fsdd"``), matched on each base name.
    Groups whose values are all digits become integers; a name that does not match gets
    ``""`` (or -1). ``None``: no labels.

    >>> parse_labels(["3_theo_12.wav"], "fsdd")["digit"].tolist()
    [3]
    """
    if not pattern:
        return {}
    regex = re.compile(LABEL_PRESETS.get(pattern, pattern))
    if not regex.groupindex:
        raise ValueError(f"The label pattern {pattern!r} has no named group: write e.g. "
                         f"'(?P<digit>\\d+)_(?P<speaker>[a-z]+)_(?P<index>\\d+)\\.wav$', or "
                         f"use a preset ({', '.join(LABEL_PRESETS)}).")
    matches = [regex.search(Path(n).name) for n in names]
    out = {}
    for g in regex.groupindex:
        vals = [m.group(g) if m and m.group(g) is not None else "" for m in matches]
        if all(v.isdigit() for v in vals if v) and any(vals):
            out[g] = np.array([int(v) if v else -1 for v in vals], dtype=np.int64)
        else:
            out[g] = np.array(vals, dtype=str)
    return out


#: Meta fields that become channel coordinates, when the transform's meta has them.
_CHANNEL_FIELDS = ("order", "pair", "spin", "n1", "n2", "n1_fr", "j", "xi_hz", "xi1_hz")


def channel_coords(module, sample_rate: float | None) -> dict[str, np.ndarray]:
    """Per-channel coordinates ``(C,)`` from the module's ``meta()``: ``order``, ``n1``,
    ``n2``, ``xi_hz`` (Hz: the last order's wavelet), ``xi1_hz`` (first order's) for
    Scattering1D; ``pair``,
    ``spin``, ``n1``, ``n2``, ``n1_fr``, ``xi_hz``, ``xi1_hz`` for JTFS."""
    m = module.meta(sample_rate=sample_rate) if sample_rate else module.meta()
    C = module.output_size() if not isinstance(module.output_size(), tuple) else None
    out: dict[str, np.ndarray] = {}
    if "pair" not in m:                      # Scattering1D: (C, max_order) arrays
        order = np.asarray(m["order"])
        C = len(order)
        out["order"] = order.astype(np.int64)
        n = np.asarray(m["n"], dtype=float).reshape(C, -1)
        for k in range(n.shape[1]):
            out[f"n{k + 1}"] = np.where(np.isnan(n[:, k]), -1, n[:, k]).astype(np.int64)
        if "xi_hz" in m:
            xi = np.asarray(m["xi_hz"], dtype=float).reshape(C, -1)
            last = np.where(order > 0, order - 1, 0)
            out["xi_hz"] = np.where(order > 0, xi[np.arange(C), last], 0.0)
            out["xi1_hz"] = np.where(order > 0, xi[:, 0], np.nan)
        return out
    for f in _CHANNEL_FIELDS:
        if f in m and np.ndim(m[f]) == 1 and len(m[f]) == len(m["pair"]):
            v = np.asarray(m[f])
            out[f] = v.astype(str) if v.dtype.kind in "US" else v
    assert C is None or all(len(v) == C for v in out.values())
    return out
