"""How many files go in one shard, so that a worker stays inside its memory limit.

One shard is one task: a worker transforms its files longer than ``N`` one at a time, whole,
block by block (`scatviz.features.long`: one block's transform and reader buffers, whatever
the file's length), then reads the others one by one (the decoded file, then its
``N``-sample fit), stacks the fits and transforms them as one batch. Its peak is bounded by

    long block bytes (if the shard may hold a long file)
      +  max over its short files (decode bytes)  +  files x (fitted input + transform)

(the long file's working set is counted as still held when the batch runs: the allocator
may keep it). A long file is never decoded whole, so its length does not enter.

The decode bytes come from each file's header (``soundfile.info``: frames x channels,
float32, twice for the mono mix-down). The transform's working set per file is
`transform_bytes_per_file`: the engine's own cost estimate (``engine.estimate_cost``); a
long file's is `block_bytes` at the block size of `scatviz.features.long.block_transform`.

>>> cfg = {"transform": "scattering", "J": 8, "Q": 12, "N": 8192}
>>> files_per_shard(cfg, frames=[4000] * 100, memory_limit=4 * 2**30, n_workers=2)
13
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["transform_bytes_per_file", "decode_bytes", "files_per_shard", "long_bytes",
           "block_bytes", "MAX_FILES_PER_SHARD", "MEMORY_FRACTION"]

#: Upper bound on files per shard: larger shards balance worse and lose more on a fault.
MAX_FILES_PER_SHARD = 256

#: Fraction of a worker's memory limit that one task's transform may use (the rest: the
#: interpreter, torch, the cached transform, Dask's own buffers, other threads' tasks).
MEMORY_FRACTION = 0.25


def transform_bytes_per_file(config: dict) -> int:
    """Working memory (bytes) that one file of ``config["N"]`` samples adds to a batch of the
    configured transform: its input and the engine's predicted working set for it
    (``engine.estimate_cost(kind, N, batch=1, **params).peak_bytes``, the transform's
    intermediates and its output; see `engine.cost`), computed without building anything.
    Batches are costed per file: the engine's peak grows linearly with the batch once its
    fixed overheads are paid, so this slightly over-counts a shard.
    """
    from engine import estimate_cost

    N = int(config["N"])
    Q = config.get("Q", 12)
    Q = Q if isinstance(Q, int) else tuple(Q)
    params = dict(J=int(config.get("J", 8)), Q=Q, T=config.get("T"))
    if config.get("design"):
        params["filterbank"] = config["design"]
    if config.get("transform") == "jtfs":
        kind = "jtfs"
        params.update(J_fr=int(config.get("J_fr", 4)), Q_fr=int(config.get("Q_fr", 1)),
                      F=config.get("F"))
    else:
        kind = "scattering1d"
    return int(estimate_cost(kind, N, 1, **params).peak_bytes) + 4 * N


def decode_bytes(frames: int, channels: int = 1) -> int:
    """Bytes to decode one file of ``frames`` x ``channels`` (float32, plus its mono mix)."""
    return int(frames) * (int(channels) + 1) * 4


def files_per_shard(config: dict, frames: Sequence[int], memory_limit: int | None,
                    n_workers: int = 1, channels: Sequence[int] | None = None,
                    threads_per_worker: int = 1, min_shards_per_worker: int = 4) -> int:
    """Files per shard for ``len(frames)`` files (``frames``: each file's length from its
    header) on ``n_workers`` workers of ``memory_limit`` bytes each (None: no limit).

    The largest count whose peak (see the module docstring) fits in `MEMORY_FRACTION` of the
    limit per thread, capped so that every worker gets at least ``min_shards_per_worker``
    shards (load balance, little lost on a fault) and at `MAX_FILES_PER_SHARD`. At least 1;
    raises ValueError when even one file cannot fit.
    """
    n = len(frames)
    if n == 0:
        return 1
    from scatviz.features.long import is_long

    channels = [1] * n if channels is None else list(channels)
    long = is_long(config, frames)
    per_file = transform_bytes_per_file(config)
    biggest = max((decode_bytes(f, c) for f, c, b in zip(frames, channels, long) if not b),
                  default=0)
    held = long_bytes(config, max(c for c, b in zip(channels, long) if b)) if long.any() else 0
    cap = MAX_FILES_PER_SHARD
    if memory_limit:
        budget = memory_limit * MEMORY_FRACTION / max(1, threads_per_worker)
        fit = int((budget - biggest - held) // per_file)
        if fit < 1:
            what = (f"a file longer than N needs about {held / 2**20:.0f} MiB (one block of "
                    f"the bounded-memory path) and " if held else "")
            raise ValueError(
                f"One file needs about {(biggest + per_file) / 2**20:.0f} MiB (decode + "
                f"transform), {what}a worker's budget is {budget / 2**20:.0f} MiB "
                f"({MEMORY_FRACTION:.0%} of its {memory_limit / 2**20:.0f} MiB limit per "
                f"thread). Give workers more memory (--memory-limit), fewer threads, or a "
                f"smaller N.")
        cap = min(cap, fit)
    balance = math.ceil(n / (max(1, n_workers) * min_shards_per_worker))
    return max(1, min(cap, balance))


def long_bytes(config: dict, channels: int = 1) -> int:
    """Working memory of one file longer than ``N`` on a worker, whatever its length: one
    block of the configuration's `scatviz.features.long.block_transform` (built here once
    per process to learn its block size), costed by `block_bytes`."""
    from scatviz.features.core import config_key, make_config
    from scatviz.features.long import block_transform

    full = make_config(**config)          # a partial dict (as in the tests) made whole
    return block_bytes(config, block_transform(config_key(full)).block, channels)


def block_bytes(config: dict, block: int, channels: int = 1) -> int:
    """Working memory (bytes) of one long file on a worker: the engine's estimate of one
    block's transform (`transform_bytes_per_file` at ``block`` samples) plus the file
    reader's buffers (the block read as ``channels`` float32 columns and its mono mix, the
    block's int64 sample indices)."""
    return transform_bytes_per_file(dict(config, N=int(block))) + int(block) * (
        4 * (int(channels) + 1) + 3 * 8)
