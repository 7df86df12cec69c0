"""How many files go in one shard, so that a worker stays inside its memory limit.

One shard is one task: a worker reads its files one by one (the decoded file, then its
``N``-sample fit), stacks the fits and transforms them as one batch. Its peak is therefore

    max over its files (decode bytes)  +  files x (fitted input + transform working set)

The decode bytes come from each file's header (``soundfile.info``: frames x channels,
float32, twice for the mono mix-down). The transform's working set per file is
`transform_bytes_per_file`, the one place that models the engine's cost: switch it to the
engine's cost estimate (``engine.estimate_cost(...).peak_bytes``) where that exists.

>>> cfg = {"transform": "scattering", "J": 8, "Q": 12, "N": 8192}
>>> files_per_shard(cfg, frames=[4000] * 100, memory_limit=4 * 2**30, n_workers=2)
13
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["transform_bytes_per_file", "decode_bytes", "files_per_shard", "MAX_FILES_PER_SHARD",
           "MEMORY_FRACTION"]

#: Upper bound on files per shard: larger shards balance worse and lose more on a fault.
MAX_FILES_PER_SHARD = 256

#: Fraction of a worker's memory limit that one task's transform may use (the rest: the
#: interpreter, torch, the cached transform, Dask's own buffers, other threads' tasks).
MEMORY_FRACTION = 0.25


def transform_bytes_per_file(config: dict) -> int:
    """Working memory (bytes) that one file of ``config["N"]`` samples adds to a batch of the
    configured transform: the input, the transform's intermediates and its output.

    A deliberate over-estimate that needs no engine model: the first-order wavelet modulus of
    every first-order filter at full rate, complex64, on the padded length (next power of two
    of ``2 N``), doubled for JTFS (its frequential pass). It ignores the engine's bounded
    working memory, so it is far too high: 15.7 MB a file at J=8, Q=12, N=8192, where a worker
    transforming 256 such files at once peaked at 463 MiB in all, imports included
    (benchmarks/RESULTS.md, "Features at dataset scale"). This is the function to switch to
    ``engine.estimate_cost(kind, (N,), batch=1, **params).peak_bytes``.
    """
    N = int(config["N"])
    J = int(config.get("J", 8))
    Q = config.get("Q", 12)
    Q1 = Q if isinstance(Q, int) else int(Q[0])
    n_pad = 1 << (2 * N - 1).bit_length()
    n_psi1 = Q1 * (J + 2)                       # about Q1 per octave over J octaves, plus CQT tail
    per = n_pad * 8 * n_psi1 + 4 * N
    return int(per * (2 if config.get("transform") == "jtfs" else 1))


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
    channels = [1] * n if channels is None else list(channels)
    per_file = transform_bytes_per_file(config)
    biggest = max(decode_bytes(f, c) for f, c in zip(frames, channels))
    cap = MAX_FILES_PER_SHARD
    if memory_limit:
        budget = memory_limit * MEMORY_FRACTION / max(1, threads_per_worker)
        fit = int((budget - biggest) // per_file)
        if fit < 1:
            raise ValueError(
                f"One file needs about {(biggest + per_file) / 2**20:.0f} MiB (decode + "
                f"transform) but a worker's budget is {budget / 2**20:.0f} MiB "
                f"({MEMORY_FRACTION:.0%} of its {memory_limit / 2**20:.0f} MiB limit per "
                f"thread). Give workers more memory (--memory-limit), fewer threads, or a "
                f"smaller N.")
        cap = min(cap, fit)
    balance = math.ceil(n / (max(1, n_workers) * min_shards_per_worker))
    return max(1, min(cap, balance))
