"""Features of the whole FSDD (3000 recordings): one process against a Dask LocalCluster of 1
and 2 workers, in files per second and peak memory per worker.

Usage (from the repository root)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_features.py \
        [--folder ../shared/data/fsdd/recordings] [--modes single,dask1,dask2] \
        [--out benchmarks/_out/features.json]

Method: Scattering1D J=8, Q=12, N=8192 (the seed classifier's setting), mean-pooled over time.
Each mode runs in a fresh process that imports scatviz, then:

* ``single``: `scatviz.features.extract_features` into an ``.npz`` (batches of 32; torch
  with its default threads, 2 here). Memory: that process's ``VmHWM``.
* ``daskW``: a `LocalCluster` of W worker processes x 1 thread (Dask sets torch/OpenMP to 1
  thread per worker) and `scatviz.features.extract` into a fresh ``.zarr``. The cluster's
  start-up is timed apart ("startup"); "seconds" runs from the call of ``extract`` to the
  store being complete (header reads, planning, the shards, finalising); "header_seconds"
  runs from submitting the header reads to the workers to having them all (the client
  builds its transform meanwhile). Memory per worker: the largest ``VmHWM`` that its tasks
  report.
* ``torchT``: the transform alone, no files and no Dask: 64 random signals as one batch after
  a warm-up, ``torch.set_num_threads(T)``. It shows what one process gets from T threads
  under the load of the moment.

files/s = 3000 / seconds. The machine is shared and loaded: the report prints the load
average before and after each mode; compare modes of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = dict(J=8, Q=12, N=8192)
ROOT = Path(__file__).resolve().parent.parent


def _vmhwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def run_mode(mode: str, folder: str) -> dict:
    """One mode, in this process (called in a child)."""
    from scatviz.features import extract, extract_features

    if mode.startswith("torch"):
        import numpy as np
        import torch

        from scatviz.features.core import build_module, config_key, make_config, transform_batch

        torch.set_num_threads(int(mode.removeprefix("torch")))
        module = build_module(config_key(make_config(**CONFIG)))
        xs = list(np.random.default_rng(0).standard_normal((64, CONFIG["N"]), np.float32))
        transform_batch(module, xs[:4], "mean", False)
        t0 = time.perf_counter()
        transform_batch(module, xs, "mean", False)
        sec = time.perf_counter() - t0
        return dict(mode=mode, files=64, done=64, seconds=sec, startup=0.0,
                    files_per_s=64 / sec, peak_rss_per_worker=[_vmhwm()], workers=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-features-"))
    n = len(list(Path(folder).glob("*.wav")))
    try:
        if mode == "single":
            t0 = time.perf_counter()
            res = extract_features(folder, tmp / "f.npz", progress=False, **CONFIG)
            sec = time.perf_counter() - t0
            return dict(mode=mode, files=n, done=res["total"], seconds=sec, startup=0.0,
                        files_per_s=n / sec, peak_rss_per_worker=[_vmhwm()], workers=1)
        workers = int(mode.removeprefix("dask"))
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)
        client.wait_for_workers(workers)
        startup = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            ds = extract(folder, tmp / "f.zarr", client=client, progress=False, **CONFIG)
            sec = time.perf_counter() - t0
            run = json.loads(ds.attrs["last_run"])
            done = int(ds.ok.sum())
        finally:
            client.close()
            cluster.close()
        return dict(mode=mode, files=n, done=done, seconds=sec, startup=startup,
                    files_per_s=n / sec, workers=workers, shard_size=run["shard_size"],
                    shards=run["shards_done"], header_seconds=run.get("header_seconds"),
                    peak_rss_per_worker=sorted(run["worker_peak_rss"].values()),
                    driver_peak_rss=_vmhwm())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", default=str(ROOT.parent / "shared" / "data" / "fsdd"
                                            / "recordings"))
    ap.add_argument("--modes", default="single,dask1,dask2")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "_out" / "features.json"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, args.folder)))
        return 0
    results = []
    for mode in args.modes.split(","):
        load0 = os.getloadavg()
        res = subprocess.run([sys.executable, __file__, "--child", mode, "--folder",
                              args.folder], capture_output=True, text=True, timeout=1800,
                             cwd=ROOT)
        if res.returncode:
            print(res.stderr[-3000:], file=sys.stderr)
            return 1
        r = json.loads(res.stdout.strip().splitlines()[-1])
        r["load_before"], r["load_after"] = load0, os.getloadavg()
        results.append(r)
        print(f"{mode:7s} {r['files_per_s']:7.1f} files/s  {r['seconds']:6.1f} s "
              f"(+{r['startup']:.1f} s start-up)  peak/worker "
              f"{', '.join(f'{b / 2**20:.0f}' for b in r['peak_rss_per_worker'])} MiB  "
              f"load {load0[0]:.1f} -> {r['load_after'][0]:.1f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
