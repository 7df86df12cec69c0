"""The Zarr layout of a feature store, written shard by shard, resumable.

A store is a Zarr (format 2) group that opens as an `xarray.Dataset` (`open_features`):

- ``coefficients`` float32 ``(file, channel)`` (pooled) or ``(file, channel, time)``, chunked
  by shard along ``file``: one shard writes exactly one chunk, so shards never share a chunk
  and never rewrite one another; rows of unreadable files are NaN;
- ``ok`` bool ``(file)``: the file was read and transformed;
- coordinates on ``file``: ``path`` (relative to ``attrs["root"]``), ``sample_rate`` (Hz),
  ``frames`` and ``duration`` (s, from the file header), ``blocked`` (the file, longer than
  ``N``, was transformed whole in blocks: `scatviz.features.long`), and one per label group;
  on ``channel``: the transform's meta (`scatviz.features.core.channel_coords`);
- ``long/<row>`` float32 ``(channel, frames)``, unpooled stores only: every frame of a
  blocked file, however long (its row of ``coefficients`` holds the frames at its centre);
  attributes ``first_sample``, ``stride``; read with `whole_file`;
- attributes: ``config`` (JSON), ``root``, ``files_sha`` (the file list), ``shard_size``,
  ``n_shards``, ``labels_pattern``, ``long_files`` (`LONG_FILES`), and, once finished,
  ``failed`` (JSON ``{path: reason}``) and ``complete``.

Each finished shard leaves a marker ``_shards/<k>.json`` (its failures, its worker's peak
memory), written atomically after its chunk. Resuming skips the shards that have a marker; a
shard killed between its chunk and its marker is redone (same values). A store made with
another configuration or another file list is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["create_or_check", "done_shards", "write_shard", "mark_done", "finalize",
           "open_features", "long_writer", "whole_file", "StoreMismatch", "LAYOUT",
           "LONG_FILES"]

LAYOUT = "scatviz.features/1"
#: How files longer than ``N`` are stored (``attrs["long_files"]``): whole, in blocks
#: (`scatviz.features.long`). Stores from before it cropped them to ``N``.
LONG_FILES = "blocks"
_MARKERS = "_shards"


class StoreMismatch(ValueError):
    """An existing store was made with another configuration or file list."""


def files_sha(paths) -> str:
    """A short hash of the ordered file list (relative paths)."""
    return hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:16]


def _open_attrs(path: Path) -> dict | None:
    import zarr

    try:
        return dict(zarr.open_group(str(path), mode="r", zarr_format=2).attrs)
    except Exception:         # not a store (yet)
        return None


def create_or_check(path, *, config: dict, root, paths, sample_rate, frames, labels: dict,
                    labels_pattern: str | None, channels: dict, n_time: int | None,
                    shard_size: int, blocked=None, overwrite: bool = False) -> int:
    """Create the store at ``path`` (metadata and coordinates; no coefficients yet) or check
    that the one there matches. Returns the shard size in force (an existing store's own).
    Raises `StoreMismatch` when the store there was made with another configuration or
    another file list (unless ``overwrite``)."""
    import shutil

    path = Path(path)
    cfg = json.dumps(config, sort_keys=True)
    sha = files_sha(paths)
    old = _open_attrs(path) if path.exists() else None
    if old is not None and not overwrite:
        if old.get("layout") != LAYOUT:
            raise StoreMismatch(f"{path} is not a scatviz feature store ({old.get('layout')}); "
                                f"choose another output or pass overwrite=True (--overwrite).")
        if old.get("config") != cfg or old.get("labels_pattern") != labels_pattern:
            raise StoreMismatch(
                f"{path} was made with {old.get('config')} (labels {old.get('labels_pattern')})"
                f", not {cfg} (labels {labels_pattern}): refusing to mix them. Pass "
                f"overwrite=True (--overwrite) to start again, or choose another output.")
        if old.get("files_sha") != sha:
            raise StoreMismatch(
                f"{path} was made from another list of files ({old.get('n_files')} files, "
                f"hash {old.get('files_sha')}; now {len(paths)}, {sha}). Pass overwrite=True "
                f"(--overwrite) to start again, or write the new files to another output.")
        if old.get("long_files") != LONG_FILES and np.any(blocked):
            raise StoreMismatch(
                f"{path} was written by an older scatviz, which cropped files longer than "
                f"N to their centre; these files are now transformed whole, in blocks. "
                f"Pass overwrite=True (--overwrite) to start again, or choose another output.")
        return int(old["shard_size"])
    blocked = np.zeros(len(paths), bool) if blocked is None else np.asarray(blocked, bool)
    if path.exists():
        if old is None and any(path.iterdir()) and not overwrite:
            raise StoreMismatch(f"{path} exists and is not a feature store; choose another "
                                f"output or pass overwrite=True (--overwrite).")
        shutil.rmtree(path)
    _create(path, cfg, str(root), paths, sample_rate, frames, labels, labels_pattern,
            channels, n_time, shard_size, sha, blocked)
    return shard_size


def _create(path, cfg, root, paths, sample_rate, frames, labels, labels_pattern, channels,
            n_time, shard_size, sha, blocked):
    import dask.array as da
    import xarray as xr

    n, C = len(paths), len(next(iter(channels.values())))
    dims = ("file", "channel") + (("time",) if n_time else ())
    shape = (n, C) + ((n_time,) if n_time else ())
    chunks = (shard_size, C) + ((n_time,) if n_time else ())
    sr = np.asarray(sample_rate, dtype=float)
    fr = np.asarray(frames, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        duration = np.where(sr > 0, fr / np.where(sr > 0, sr, 1), np.nan)
    coords = {"path": ("file", np.asarray(paths, dtype=str)), "sample_rate": ("file", sr),
              "frames": ("file", fr), "duration": ("file", duration),
              "blocked": ("file", blocked)}
    coords.update({k: ("file", v) for k, v in labels.items()})
    coords.update({k: ("channel", v) for k, v in channels.items()})
    ds = xr.Dataset(
        {"coefficients": (dims, da.full(shape, np.nan, dtype=np.float32, chunks=chunks)),
         "ok": (("file",), da.zeros((n,), dtype=bool, chunks=shard_size))},
        coords=coords,
        attrs=dict(layout=LAYOUT, config=cfg, root=root, files_sha=sha, n_files=n,
                   shard_size=int(shard_size), n_shards=-(-n // shard_size),
                   labels_pattern=labels_pattern, long_files=LONG_FILES, complete=False))
    ds.to_zarr(str(path), mode="w", compute=False, consolidated=True, zarr_format=2)
    if n_time:                  # the whole-file frames of blocked files go here
        import zarr

        zarr.open_group(str(path), mode="r+", zarr_format=2).create_group("long")
    (path / _MARKERS).mkdir()


def done_shards(path) -> dict[int, dict]:
    """The markers of the finished shards: ``{k: marker}``."""
    folder = Path(path) / _MARKERS
    out = {}
    for p in folder.glob("*.json") if folder.is_dir() else ():
        try:
            out[int(p.stem)] = json.loads(p.read_text())
        except (ValueError, OSError):   # a torn marker cannot exist (atomic), but be safe
            continue
    return out


def write_shard(path, start: int, coefficients: np.ndarray | None, ok: np.ndarray) -> None:
    """Write one shard's rows ``[start, start + len(ok))`` (its own chunk) into the store;
    ``coefficients=None`` (no file readable) leaves them NaN."""
    import zarr

    g = zarr.open_group(str(path), mode="r+", zarr_format=2)
    stop = start + len(ok)
    if coefficients is not None:
        g["coefficients"][start:stop] = coefficients
    g["ok"][start:stop] = ok


def mark_done(path, k: int, marker: dict) -> None:
    """Record shard ``k`` as finished (atomic: a marker is whole or absent)."""
    folder = Path(path) / _MARKERS
    tmp = folder / f".{k}.json.tmp"
    tmp.write_text(json.dumps(marker))
    os.replace(tmp, folder / f"{k}.json")


def finalize(path, run: dict | None = None) -> dict:
    """Gather the markers' failures into ``attrs["failed"]``, set ``complete`` when every
    shard is done, record ``run`` (this run's figures) in ``attrs["last_run"]``, and
    consolidate the metadata. Returns the failures ``{path: reason}``."""
    import zarr

    g = zarr.open_group(str(path), mode="r+", zarr_format=2)
    markers = done_shards(path)
    failed = {}
    for k in sorted(markers):
        failed.update(markers[k].get("failed", {}))
    g.attrs.update(failed=json.dumps(failed),
                   complete=len(markers) >= int(g.attrs["n_shards"]),
                   **({"last_run": json.dumps(run)} if run is not None else {}))
    with warnings.catch_warnings():     # the markers' folder is not a Zarr node: by design
        warnings.filterwarnings("ignore", message=".*not recognized as a component")
        zarr.consolidate_metadata(str(path), zarr_format=2)
    return failed


def open_features(path):
    """The store at ``path`` as an `xarray.Dataset` (lazy, Dask-backed); ``attrs["config"]``
    and ``attrs["failed"]`` decoded from JSON into ``attrs["config_dict"]`` and
    ``attrs["failed_dict"]``.

    >>> ds = open_features("features.zarr")                     # doctest: +SKIP
    >>> X = np.log(ds.coefficients.where(ds.ok, drop=True) + 1e-6)   # doctest: +SKIP
    """
    import xarray as xr

    if _open_attrs(Path(path)) is None:
        raise ValueError(f"{path} is not a feature store (no Zarr group there); make one "
                         f"with `scatviz features FOLDER -o {path}`.")
    ds = xr.open_zarr(str(path), consolidated=True, zarr_format=2)
    ds.attrs["config_dict"] = json.loads(ds.attrs["config"])
    ds.attrs["failed_dict"] = json.loads(ds.attrs.get("failed", "{}"))
    return ds


def long_writer(path, row: int):
    """The ``writer`` of `scatviz.features.long.transform_long` for the file at ``row``:
    creates ``long/<row>`` ``(channel, frames)`` (replacing one a killed shard left) and
    writes each block's frames into it as they come."""
    def writer(total: int, frame_samples: np.ndarray, n_channels: int):
        import zarr

        g = zarr.open_group(str(path), mode="r+", zarr_format=2, use_consolidated=False)
        width = max(1, min(int(total), 2**20 // (4 * n_channels)))    # ~1 MiB chunks
        arr = g["long"].create_array(
            str(row), shape=(n_channels, int(total)), chunks=(n_channels, width),
            dtype="float32", fill_value=np.nan, overwrite=True)
        step = int(frame_samples[1] - frame_samples[0]) if len(frame_samples) > 1 else 1
        arr.attrs.update(first_sample=int(frame_samples[0]), stride=step)

        def put(start: int, frames: np.ndarray) -> None:
            arr[:, start:start + frames.shape[1]] = frames
        return put
    return writer


def whole_file(path, file):
    """Every frame of a blocked file (``blocked``; unpooled stores) as an
    `xarray.DataArray` ``(channel, time)``, time in seconds at the frames' centres, with the
    store's channel coordinates. ``file``: its row (int) or its ``path`` as stored. Raises
    ValueError for a file that was not blocked or a pooled store."""
    import xarray as xr
    import zarr

    ds = open_features(path)
    paths = [str(p) for p in ds.path.values]
    row = file if isinstance(file, (int, np.integer)) else (
        paths.index(str(file)) if str(file) in paths else None)
    if row is None or not 0 <= row < len(paths):
        raise ValueError(f"No file {file!r} in {path}: give a row (0..{len(paths) - 1}) or a "
                         f"stored path such as {paths[0]!r}.")
    if "blocked" not in ds or not bool(ds.blocked.values[row]) or "time" not in ds.dims:
        raise ValueError(f"{paths[row]} has no whole-file frames in {path}: only files longer "
                         f"than N in an unpooled store (pool='none') keep them; its row of "
                         f"coefficients is all there is.")
    arr = zarr.open_array(str(Path(path) / "long" / str(row)), mode="r", zarr_format=2)
    sr = float(ds.sample_rate.values[row])
    t = (arr.attrs["first_sample"] + arr.attrs["stride"] * np.arange(arr.shape[1])) / sr
    chan = {k: ("channel", v.values) for k, v in ds.coords.items() if v.dims == ("channel",)}
    return xr.DataArray(arr[...], dims=("channel", "time"), coords=dict(chan, time=t),
                        name=paths[row])
