"""Files longer than the transform's N go through the engine's bounded-memory path
(`scatviz.features.long`): a recording made of 30 FSDD files end to end is transformed whole,
block by block, and its frames equal the whole-signal transform's away from the ends; pooled,
it is the mean over the whole file; a minutes-long file costs a worker one block's memory; the
shard sizing counts a long file by its block, not its length.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine import Scattering1D
from scatviz.features import extract, extract_features, store
from scatviz.features.core import config_key
from scatviz.features.long import block_transform
from scatviz.features.sizing import decode_bytes, files_per_shard, long_bytes

CONFIG = dict(J=6, Q=8, N=8192)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, fsdd_sample_dir) -> Path:
    """``long.wav``: 30 FSDD recordings end to end (about 12 s at 8 kHz, some 12 N), and
    three recordings shorter than N, copied as they are."""
    d = tmp_path_factory.mktemp("long")
    paths = sorted(fsdd_sample_dir.glob("*.wav"))
    sf.write(d / "long.wav", np.concatenate([sf.read(p, dtype="float32")[0]
                                             for p in paths[:30]]), 8000, subtype="FLOAT")
    short = [p for p in paths[30:] if sf.info(p).frames <= CONFIG["N"]][:3]
    for p in short:
        (d / p.name).write_bytes(p.read_bytes())
    return d


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                           dashboard_address=None)
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def whole_signal(path, design):
    """The reference: one Scattering1D built for the whole file, on the whole file."""
    x = sf.read(path, dtype="float32")[0]
    S = Scattering1D(CONFIG["J"], len(x), CONFIG["Q"], filterbank=design)
    return S(torch.from_numpy(x)).double().numpy()


def rel(a, b):
    return np.linalg.norm(np.asarray(a, float) - b) / np.linalg.norm(b)


def test_long_file_is_transformed_whole_into_the_store(client, folder, tmp_path):
    out = tmp_path / "f.zarr"
    ds = extract(folder, out, client=client, pool="none", progress=False, **CONFIG)
    paths = [str(p) for p in ds.path.values]
    i = paths.index("long.wav")
    assert ds.blocked.values.tolist() == [p == "long.wav" for p in paths]
    assert ds.ok.values.all() and ds.attrs["long_files"] == store.LONG_FILES
    cfg = ds.attrs["config_dict"]
    ref = whole_signal(folder / "long.wav", cfg["design"])
    whole = store.whole_file(out, "long.wav")
    assert whole.dims == ("channel", "time") and whole.shape == ref.shape
    bt = block_transform(config_key(cfg))
    edge = 2 * bt.overlap // bt.stride              # frames whose filters reach an end
    assert rel(whole.values[:, edge:-edge], ref[:, edge:-edge]) < 1e-6
    np.testing.assert_allclose(np.diff(whole.time.values), bt.stride / 8000)
    assert list(whole.order.values) == list(ds.order.values)
    # the fixed-length row: the whole file's frames at its centre
    row = ds.coefficients.values[i]
    j0 = (ref.shape[1] - row.shape[1]) // 2
    assert rel(row, ref[:, j0:j0 + row.shape[1]]) < 1e-6
    # the single-process .npz holds the same rows (short files fitted, the long one blocked)
    npz = tmp_path / "f.npz"
    extract_features(folder, npz, pool="none", progress=False, **CONFIG)
    with np.load(npz) as f:
        single = dict(zip([str(s) for s in f["files"]], f["features"]))
    assert rel(ds.coefficients.values, np.stack([single[p] for p in paths])) < 1e-6
    with pytest.raises(ValueError, match="no whole-file frames"):
        store.whole_file(out, paths[(i + 1) % len(paths)])


def test_store_from_before_blocks_is_not_resumed_with_long_files(client, folder, tmp_path):
    import zarr

    out = tmp_path / "f.zarr"
    extract(folder, out, client=client, progress=False, **CONFIG)
    g = zarr.open_group(str(out), mode="r+", zarr_format=2)
    del g.attrs["long_files"]                # as an older scatviz wrote it
    zarr.consolidate_metadata(str(out), zarr_format=2)
    with pytest.raises(store.StoreMismatch, match="cropped files longer than N"):
        extract(folder, out, client=client, progress=False, **CONFIG)


def test_pooled_long_file_is_the_mean_over_the_whole_file(folder, tmp_path):
    npz = tmp_path / "f.npz"
    extract_features(folder, npz, pool="mean", progress=False, **CONFIG)
    with np.load(npz) as f:
        feats = dict(zip([str(s) for s in f["files"]], f["features"]))
        design = json.loads(str(f["config"]))["design"]
    ref = whole_signal(folder / "long.wav", design)
    assert feats["long.wav"].shape == (ref.shape[0],)
    assert rel(feats["long.wav"], ref.mean(axis=-1)) < 1e-6


PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np, soundfile as sf
    from scatviz.features.core import config_key, make_config
    from scatviz.features.extraction import peak_rss
    from scatviz.features.long import block_transform, transform_long
    folder, n, pool = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(0)
    with sf.SoundFile(folder + "/minutes.wav", "w", 8000, 1, subtype="PCM_16") as f:
        for a in range(0, n, 2**20):
            f.write((0.1 * rng.standard_normal(min(2**20, n - a))).astype(np.float32))
    sf.write(folder + "/warm.wav", (0.1 * rng.standard_normal(3 * 2**14)), 8000)
    key = config_key(make_config("scattering", J=6, Q=8, N=2**14, pool=pool))
    bt = block_transform(key)
    transform_long(key, folder + "/warm.wav")        # every buffer of one block allocated
    before = peak_rss()
    row = transform_long(key, folder + "/minutes.wav")
    print(json.dumps(dict(growth=peak_rss() - before, blocks=bt.n_blocks(n),
                          finite=bool(np.isfinite(row).all()))))
""")


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["mean", "none"])
def test_minutes_long_file_costs_one_block_of_memory(tmp_path, pool):
    n = 9 * 60 * 8000                        # nine minutes at 8 kHz: 4.3 M samples
    res = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), str(n), pool],
                         capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["finite"] and got["blocks"] > 100
    # decoding it whole would take decode_bytes(n) (33 MiB) alone; the whole-signal
    # transform, gigabytes; the blocks add less than half the decode to the peak
    assert got["growth"] < decode_bytes(n) / 2, got


def test_shard_sizing_counts_a_long_file_by_its_block():
    cfg = dict(transform="scattering", J=8, Q=12, N=8192)
    hour = 3600 * 44100                      # an hour at 44.1 kHz: 1.3 GB decoded whole
    held = long_bytes(cfg)
    assert held < decode_bytes(hour) / 10
    limit = 2 * 2**30
    short = files_per_shard(cfg, [6000] * 1000, limit, n_workers=1, min_shards_per_worker=1)
    mixed = files_per_shard(cfg, [6000] * 999 + [hour], limit, n_workers=1,
                            min_shards_per_worker=1)
    assert 1 <= mixed < short                 # the block is paid for, the hour is not
    # a worker too small for one block is told so
    with pytest.raises(ValueError, match="longer than N"):
        files_per_shard(cfg, [hour], held)
    # T="global" cannot be blocked: the long file is decoded whole, and does not fit
    with pytest.raises(ValueError, match="more memory"):
        files_per_shard(dict(cfg, T="global"), [hour], limit)


@pytest.mark.slow
def test_jtfs_long_file_equals_the_whole_signal_transform(tmp_path):
    from scatviz.features.core import make_config, module_of
    from scatviz.features.long import transform_long

    n = 150_000                                # over two JTFS blocks of 2**16
    x = (np.random.default_rng(0).standard_normal(n) * np.sin(np.arange(n) / 2000))
    sf.write(tmp_path / "long.wav", x.astype(np.float32), 8000, subtype="FLOAT")
    cfg = make_config("jtfs", J=6, J_fr=3, Q=8, N=4096, pool="none")
    key = config_key(cfg)
    blocks = []
    transform_long(key, tmp_path / "long.wav",
                   lambda total, samples, C: (lambda start, S: blocks.append(S)))
    whole = np.concatenate(blocks, axis=-1)
    ref = module_of(cfg, n)(torch.from_numpy(x.astype(np.float32))).double().numpy()
    bt = block_transform(key)
    edge = 2 * bt.overlap // bt.stride
    assert len(blocks) >= 3 and whole.shape == ref.shape
    assert rel(whole[:, edge:-edge], ref[:, edge:-edge]) < 1e-6
