"""Features at dataset scale on Dask (`scatviz.features.extract`): on a LocalCluster of 2 worker
processes and 40 FSDD recordings plus a corrupt file, the Zarr store equals the single-process
oracle, survives a worker killed mid-run, resumes an interrupted run, refuses another
configuration, and lists the corrupt file.

One cluster serves the whole module (starting one costs tens of seconds on a loaded machine).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from distributed.diagnostics.plugin import WorkerPlugin

from scatviz import cli
from scatviz.features import extract, extract_features, store
from scatviz.features.sizing import files_per_shard

CONFIG = dict(J=6, Q=8, N=4096)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", memory_limit="3GiB")
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, fsdd_sample_dir) -> Path:
    """40 recordings (4 digits x 10 takes) and ``broken.wav``, which is not audio."""
    folder = tmp_path_factory.mktemp("corpus")
    for p in sorted(fsdd_sample_dir.glob("*.wav"))[:40]:
        shutil.copy(p, folder / p.name)
    (folder / "broken.wav").write_bytes(b"RIFF this is not a wave file" * 4)
    return folder


@pytest.fixture(scope="module")
def oracle(corpus, tmp_path_factory) -> dict[str, np.ndarray]:
    """The single-process features: ``{relative path: (C,) float32}``."""
    out = tmp_path_factory.mktemp("oracle") / "f.npz"
    extract_features(corpus, out, progress=False, **CONFIG)
    with np.load(out) as f:
        assert list(f["failed"]) == ["broken.wav"]
        return dict(zip([str(s) for s in f["files"]], f["features"]))


def assert_equals_oracle(ds, oracle):
    ok = ds.ok.values
    paths = [str(p) for p in ds.path.values]
    assert sorted(p for p, o in zip(paths, ok) if o) == sorted(oracle)
    X = ds.coefficients.values
    ref = np.stack([oracle[p] for p, o in zip(paths, ok) if o])
    err = np.linalg.norm(X[ok] - ref) / np.linalg.norm(ref)
    assert err < 1e-6, err
    assert np.isnan(X[~ok]).all()


def test_store_equals_single_process_and_lists_corrupt_file(client, corpus, oracle, tmp_path):
    ds = extract(corpus, tmp_path / "f.zarr", client=client, labels="fsdd", progress=False,
                 **CONFIG)
    assert_equals_oracle(ds, oracle)
    # the corrupt file: in the output, with its reason, never fatal
    assert list(ds.attrs["failed_dict"]) == ["broken.wav"]
    assert "not a readable audio file" in ds.attrs["failed_dict"]["broken.wav"]
    assert ds.attrs["complete"] and ds.attrs["config_dict"]["J"] == 6
    # coordinates: the meta per channel, the headers and labels per file
    assert ds.coefficients.dims == ("file", "channel")
    for name in ("order", "n1", "n2", "xi_hz"):
        assert ds[name].dims == ("channel",)
    assert ds.order.values[0] == 0 and set(ds.order.values) == {0, 1, 2}
    good = ds.ok.values
    names = [Path(p).name for p in ds.path.values[good]]
    assert ds.digit.values[good].tolist() == [int(n.split("_")[0]) for n in names]
    assert (ds.sample_rate.values[good] == 8000).all()
    np.testing.assert_allclose(ds.duration.values[good] * 8000, ds.frames.values[good])
    # sharded by files: one chunk per shard, each worker's peak memory reported
    run = json.loads(ds.attrs["last_run"])
    assert ds.coefficients.data.chunks[0][0] == run["shard_size"] == ds.attrs["shard_size"]
    assert run["shards_done"] == ds.attrs["n_shards"] > 2
    assert all(v > 50 * 2**20 for v in run["worker_peak_rss"].values())


class KillOnce(WorkerPlugin):
    """A worker plugin that kills its worker (``os._exit``) when a feature shard starts
    executing, once per flag file: the first worker to remove the file dies."""

    name = "kill-once"

    def __init__(self, flag: str):
        self.flag = flag

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "features-shard" in str(key):
            try:
                os.remove(self.flag)
            except FileNotFoundError:
                return
            os._exit(1)


def test_worker_killed_mid_run_loses_nothing(client, corpus, oracle, tmp_path):
    flag = tmp_path / "kill-a-worker"
    flag.touch()
    before = set(client.run(os.getpid).values())
    client.register_plugin(KillOnce(str(flag)))
    try:
        ds = extract(corpus, tmp_path / "f.zarr", client=client, files_per_shard=4,
                     progress=False, **CONFIG)
    finally:
        client.unregister_worker_plugin(KillOnce.name)
    assert not flag.exists(), "no worker was killed: the test proved nothing"
    assert ds.attrs["complete"]
    assert_equals_oracle(ds, oracle)
    client.wait_for_workers(1)
    assert set(client.run(os.getpid).values()) != before     # a worker died


def test_interrupted_run_resumes_and_other_config_is_refused(client, corpus, oracle,
                                                             tmp_path, monkeypatch):
    out = tmp_path / "f.zarr"
    real, calls = store.mark_done, []

    def interrupt_after_three(path, k, marker):
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(path, k, marker)
        calls.append(k)

    monkeypatch.setattr(store, "mark_done", interrupt_after_three)
    with pytest.raises(KeyboardInterrupt):
        extract(corpus, out, client=client, files_per_shard=4, progress=False, **CONFIG)
    monkeypatch.setattr(store, "mark_done", real)
    assert sorted(store.done_shards(out)) == sorted(calls)
    chunk = {k: out / "coefficients" / f"{k}.0" for k in calls}
    stamps = {k: p.stat().st_mtime_ns for k, p in chunk.items()}
    ds = extract(corpus, out, client=client, progress=False, **CONFIG)
    run = json.loads(ds.attrs["last_run"])
    assert run["shards_skipped"] == 3 and run["shards_done"] == ds.attrs["n_shards"] - 3
    assert run["shard_size"] == 4                   # the store's own, not a new plan
    assert {k: p.stat().st_mtime_ns for k, p in chunk.items()} == stamps   # not rewritten
    assert ds.attrs["complete"]
    assert_equals_oracle(ds, oracle)
    with pytest.raises(store.StoreMismatch, match="refusing to mix"):
        extract(corpus, out, client=client, progress=False, **dict(CONFIG, J=5))


def test_cli_runs_on_an_existing_scheduler(client, corpus, tmp_path, capsys):
    out = tmp_path / "f.zarr"
    assert cli.main(["features", str(corpus), "-o", str(out), "--J", "6", "--Q", "8",
                     "--N", "4096", "--pool", "none", "--labels", "fsdd", "--quiet",
                     "--scheduler", client.scheduler.address]) == 0
    text = capsys.readouterr()
    assert "40 of 41 files" in text.out and "broken.wav" in text.err
    ds = store.open_features(out)
    assert ds.coefficients.dims == ("file", "channel", "time") and ds.sizes["time"] > 1
    assert cli.main(["features", str(corpus), "-o", str(out), "--J", "5", "--quiet",
                     "--scheduler", client.scheduler.address]) == 2


def test_shard_size_follows_memory_limit():
    cfg = dict(transform="scattering", J=8, Q=12, N=8192)
    frames = [6000] * 1000
    small = files_per_shard(cfg, frames, 1 * 2**30, n_workers=2)
    big = files_per_shard(cfg, frames, 8 * 2**30, n_workers=2)
    assert 1 <= small < big
    assert files_per_shard(cfg, frames, None, n_workers=2) == 125      # balance: 4 per worker
    with pytest.raises(ValueError, match="more memory"):     # decoded whole: T="global"
        files_per_shard(dict(cfg, T="global"), [10**9], 2**30)
    assert files_per_shard(cfg, [10**9], 2**30) == 1        # streamed in blocks


def test_headers_are_read_on_the_workers(client, corpus):
    from scatviz.features.extraction import gather_headers, read_headers

    files = sorted(corpus.iterdir())
    here = read_headers(files)
    there = gather_headers(client, files, chunk=7)         # 6 tasks over the 2 workers
    for a, b in zip(here, there):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(here[0][[p.name == "broken.wav" for p in files]]).all()
