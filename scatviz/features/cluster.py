"""The Dask client a feature run uses: an existing cluster's scheduler, or a
`dask.distributed.LocalCluster` sized to this machine.

>>> with connect(n_workers=2) as client:                     # doctest: +SKIP
...     print(client.dashboard_link)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["connect", "machine_workers", "worker_resources"]


def machine_workers() -> int:
    """Workers for this machine: one single-threaded process per usable core (torch's
    intra-op threads stay at 1 in Dask workers, so processes are how cores are used)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def connect(scheduler: str | None = None, n_workers: int | None = None,
            threads_per_worker: int = 1, memory_limit: str | int = "auto",
            dashboard_address: str | None = ":8787") -> Iterator:
    """A `distributed.Client`, closed (with its cluster, when it started one) on exit.

    ``scheduler``: the address of a running scheduler (``tcp://host:8786``; started by hand
    with ``dask scheduler`` / ``dask worker``, or by any deployment: Kubernetes,
    dask-jobqueue on SLURM); nothing else changes. ``None``: a `LocalCluster` of
    ``n_workers`` processes (default `machine_workers`) with ``threads_per_worker`` threads
    and ``memory_limit`` each ("auto": the machine's memory shared evenly), its dashboard at
    ``dashboard_address`` (None: no dashboard).
    """
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=n_workers or machine_workers(),
                           threads_per_worker=threads_per_worker, processes=True,
                           memory_limit=memory_limit, dashboard_address=dashboard_address)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def worker_resources(client) -> tuple[int, int | None, int]:
    """``(workers, smallest memory limit in bytes or None, most threads)`` of the client's
    cluster, waiting for at least one worker."""
    client.wait_for_workers(1, timeout=300)
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    threads = [w.get("nthreads") or 1 for w in workers]
    return len(limits), (min(limits) or None) if limits else None, max(threads)
