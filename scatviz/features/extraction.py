"""Features of a corpus on Dask: `extract` shards the files, each worker transforms its shards
with a transform it builds once, and writes them into a Zarr store (`scatviz.features.store`)
that opens as an `xarray.Dataset`.

>>> ds = extract("recordings/", "fsdd.zarr", labels="fsdd", J=8, Q=12, N=8192)  # doctest: +SKIP
>>> ds.coefficients.dims                                                          # doctest: +SKIP
('file', 'channel')
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from scatviz.features import store
from scatviz.features.cluster import connect, worker_resources
from scatviz.features.core import (
    build_module,
    channel_coords,
    config_key,
    list_audio,
    make_config,
    parse_labels,
)
from scatviz.features.headers import read_headers
from scatviz.features.long import is_long, window_frames
from scatviz.features.sizing import files_per_shard as size_shards

__all__ = ["extract", "read_headers", "submit_headers", "gather_headers", "run_shard",
           "peak_rss"]


def peak_rss() -> int:
    """This process's peak resident memory in bytes (``VmHWM``; Linux), 0 elsewhere. Unlike
    ``ru_maxrss`` it is not inherited from the parent by spawned processes."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_shard(path: str, k: int, start: int, files: list[str], names: list[str],
              key: str, frames: list[int] | None = None) -> dict:
    """One shard, on a worker: ``files`` (absolute paths; ``names``: their relative paths;
    ``frames``: their lengths from the headers) through the worker's cached transforms
    (`scatviz.features.long.transform_files`: files of at most ``N`` samples fitted and
    batched, longer ones whole, block by block, their frames into ``long/<row>`` when
    unpooled), written as rows ``[start, start + len)``. Unreadable files are NaN rows with
    ``ok=False``. Returns the shard's marker: ``k``, ``failed`` ``{name: reason}``,
    ``seconds``, ``peak_rss`` (bytes) and ``pid``."""
    import os

    from scatviz.features.long import transform_files

    t0 = time.perf_counter()
    if frames is None:
        frames = read_headers(files)[1]
    unpooled = json.loads(key)["pool"] == "none"
    out, ok, failed = transform_files(
        key, files, names, frames,
        writer_for=(lambda i: store.long_writer(path, start + i)) if unpooled else None)
    store.write_shard(path, start, out, ok)   # out None: nothing readable, rows stay NaN
    return dict(k=k, failed=failed, seconds=time.perf_counter() - t0, peak_rss=peak_rss(),
                pid=os.getpid(), files=len(files))


def extract(paths_or_folder, output=None, transform="scattering", *, client=None,
            scheduler: str | None = None, n_workers: int | None = None,
            memory_limit="auto", pattern: str = "**/*", labels: str | None = None,
            files_per_shard: int | None = None, overwrite: bool = False,
            progress: bool = True, dashboard_address: str | None = ":8787", **params):
    """Features of many audio files on Dask, into a Zarr store; returns it as an
    `xarray.Dataset` (see `scatviz.features.store` for the layout).

    paths_or_folder : folder (its files matching the glob ``pattern``) or list of paths.
    output : the ``.zarr`` folder; ``None``: a temporary one, loaded into memory.
    transform : ``"scattering"`` or ``"jtfs"`` with ``params`` (``J``, ``Q``, ``N``, ``T``,
        ``J_fr``, ``Q_fr``, ``F``, ``design``, ``pool``, ``log``: as
        `scatviz.features.single.extract_features`), or a dict of `make_config`.
    client : a `distributed.Client` to run on (kept open). Else ``scheduler`` (an address),
        else a `LocalCluster` of ``n_workers`` x 1 thread, ``memory_limit`` each, started
        and closed here.
    labels : a regular expression with named groups matched on file names, or a preset
        (``"fsdd"``: ``digit``, ``speaker``, ``index``); each group is a ``file`` coordinate.
    files_per_shard : shard size; default `scatviz.features.sizing.files_per_shard` from
        the file headers and the workers' memory limit. An existing store keeps its own.

    Files longer than ``N`` are transformed whole, block by block, in bounded memory
    (`scatviz.features.long`: pooled over the whole file; unpooled, the row holds its centre
    frames and ``long/<row>`` all of them, read with `scatviz.features.store.whole_file`);
    the ``blocked`` coordinate marks them, and the shard sizing costs them by one block.

    Re-running resumes: finished shards are skipped; a store of another configuration or
    file list raises `store.StoreMismatch` (unless ``overwrite``). Unreadable files are
    ``ok=False`` rows, listed with their reason in ``attrs["failed_dict"]``.
    """
    config = dict(transform) if isinstance(transform, dict) else make_config(transform,
                                                                             **params)
    make_config(**config)         # checks a given dict too
    root, files = list_audio(paths_or_folder, pattern)
    names = [str(p.relative_to(root)) for p in files]
    if output is None:
        with tempfile.TemporaryDirectory(prefix="scatviz-features-") as tmp:
            return extract(files, Path(tmp) / "features.zarr", config, client=client,
                           scheduler=scheduler, n_workers=n_workers,
                           memory_limit=memory_limit, labels=labels,
                           files_per_shard=files_per_shard, progress=progress,
                           dashboard_address=dashboard_address).load()
    output = Path(output)
    if client is None:
        with connect(scheduler, n_workers, memory_limit=memory_limit,
                     dashboard_address=dashboard_address) as own:
            return _run(own, output, config, root, files, names, labels, files_per_shard,
                        overwrite, progress)
    return _run(client, output, config, root, files, names, labels, files_per_shard,
                overwrite, progress)


#: Files per header-reading task (`gather_headers`).
HEADER_CHUNK = 500


def submit_headers(client, files, chunk: int = HEADER_CHUNK):
    """Start `read_headers` of ``files`` on the cluster's workers, ``chunk`` files per task,
    all at once, and return ``wait() -> (sample_rate, frames, channels)``. The client opens
    none of the files, and the reads spread over every worker (on a cluster of many machines
    sharing a file system, over all of them); the tasks import no torch
    (`scatviz.features.headers`). Same result as ``read_headers(files)``."""
    parts = [[str(p) for p in files[a:a + chunk]] for a in range(0, len(files), chunk)]
    if len(parts) <= 1:
        got = read_headers(files)
        return lambda: got
    token = uuid.uuid4().hex[:8]
    futures = client.map(read_headers, parts, pure=False,
                         key=[f"features-headers-{token}-{i}" for i in range(len(parts))])

    def wait():
        try:
            got = client.gather(futures)
        finally:
            client.cancel(futures)
        return tuple(np.concatenate([g[i] for g in got]) for i in range(3))
    return wait


def gather_headers(client, files, chunk: int = HEADER_CHUNK):
    """`submit_headers` and wait for them."""
    return submit_headers(client, files, chunk)()


def _run(client, output, config, root, files, names, labels, shard_size, overwrite,
         progress):
    from distributed import as_completed
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    key = config_key(config)
    workers, limit, threads = worker_resources(client)
    th = time.perf_counter()
    headers = submit_headers(client, files)    # the workers read them while we build
    module = build_module(key)
    sr, frames, channels = headers()
    header_seconds = time.perf_counter() - th
    if shard_size is None:
        shard_size = size_shards(config, frames, limit, workers, channels=channels,
                                 threads_per_worker=threads)
    rate = float(np.nanmedian(sr)) if np.isfinite(sr).any() else None
    shard_size = store.create_or_check(
        output, config=config, root=root, paths=names, sample_rate=sr, frames=frames,
        labels=parse_labels(names, labels), labels_pattern=labels,
        channels=channel_coords(module, rate),
        n_time=window_frames(key) if config["pool"] == "none" else None,
        shard_size=shard_size, blocked=is_long(config, frames), overwrite=overwrite)
    n_shards = -(-len(files) // shard_size)
    done = store.done_shards(output)
    todo = [k for k in range(n_shards) if k not in done]
    if progress and getattr(client, "dashboard_link", None):
        print(f"scatviz features: Dask dashboard at {client.dashboard_link}", file=sys.stderr)
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(run_shard, str(output), k, k * shard_size,
                             [str(p) for p in files[k * shard_size:(k + 1) * shard_size]],
                             names[k * shard_size:(k + 1) * shard_size], key,
                             [int(f) for f in frames[k * shard_size:(k + 1) * shard_size]],
                             key=f"features-shard-{token}-{k}", pure=False)
               for k in todo]
    bar = tqdm(total=n_shards, initial=n_shards - len(todo), disable=not progress,
               unit="shard", desc=f"{config['transform']} features ({shard_size} files/shard)")
    peaks: dict[str, int] = {}
    try:
        for fut in as_completed(futures):
            marker = fut.result()
            store.mark_done(output, marker["k"], marker)
            peaks[str(marker["pid"])] = max(peaks.get(str(marker["pid"]), 0),
                                            marker["peak_rss"])
            bar.update(1)
    finally:
        bar.close()
        client.cancel(futures)      # interrupted: nothing keeps running for this run
    run = dict(shards_done=len(todo), shards_skipped=n_shards - len(todo),
               seconds=time.perf_counter() - t0, header_seconds=header_seconds,
               workers=workers, shard_size=shard_size,
               worker_peak_rss=peaks)
    store.finalize(output, run)
    return store.open_features(output)
