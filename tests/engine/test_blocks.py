"""`engine.blocks.BlockTransform`: block-by-block transforms equal the whole-signal one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine import Scattering1D, TimeFrequencyScattering
from engine.blocks import BlockTransform, filter_reach
from engine.jtfs import PAIRS

REPO = Path(__file__).resolve().parents[2]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


S1D = dict(J=6, Q=8)
JTFS = dict(J=6, Q=8, J_fr=3, F=4, out_type="pairs")


# ---- equality with the whole-signal transform ------------------------------------------------

@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-6)])
@pytest.mark.parametrize("N", [2**15, 2**15 + 37])
def test_scattering1d_blocks_equal_whole_per_order(dtype, tol, N):
    """Blocks of 2**12 of a 2**15-sample signal (odd and even lengths: the frames' alignment
    differs) give the whole transform's frames, ends included."""
    x = noise(N).astype(np.float64 if dtype == torch.float64 else np.float32)
    whole = Scattering1D(shape=N, **S1D).to(dtype)
    bt = BlockTransform(Scattering1D, block=2**12, dtype=dtype, **S1D)
    assert bt.n_blocks(N) > 4
    W, B = whole(x), bt(x)
    assert B.shape == W.shape and B.dtype == dtype
    order = whole.meta()["order"]
    for k in range(3):
        assert rel(B[order == k], W[order == k]) < tol, k
    # The ends too: the first and last frames read the whole transform's reflection.
    for frames in (slice(0, 3), slice(-3, None)):
        assert rel(B[..., frames], W[..., frames]) < tol


@pytest.mark.parametrize("out_type", ["list", "dict"])
def test_scattering1d_list_and_dict_formats(out_type):
    N = 2**14 + 5
    x = noise(N)
    whole = Scattering1D(shape=N, out_type=out_type, **S1D).double()
    bt = BlockTransform(lambda n: Scattering1D(shape=n, out_type=out_type, **S1D).double(),
                        block=2**12)
    W, B = whole(x), bt(x)
    if out_type == "list":
        assert [c["n"] for c in B] == [c["n"] for c in W]
        W, B = {c["n"]: c["coef"] for c in W}, {c["n"]: c["coef"] for c in B}
    assert list(B) == list(W)
    assert max(rel(B[p], W[p]) for p in W) < 1e-10


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-6), (torch.float32, 1e-5)])
def test_jtfs_tight_blocks_equal_whole_per_pair(dtype, tol):
    """The tight bank's filters decay slowly in time: blocks need ~2**14 samples of overlap
    (J=6); away from the tails (~1e-7) the pairs match, ends included (zero padding)."""
    N = 2**16 + 37
    x = noise(N, 1).astype(np.float64 if dtype == torch.float64 else np.float32)
    whole = TimeFrequencyScattering(shape=N, **JTFS).to(dtype)
    bt = BlockTransform(TimeFrequencyScattering, block=2**15, dtype=dtype, **JTFS)
    assert bt.pad_mode == "zero" and bt.n_blocks(N) >= 4
    W, B = whole(x), bt(x)
    for p in PAIRS:
        assert B[p].shape == W[p].shape
        assert rel(B[p], W[p]) < tol, p


@pytest.mark.parametrize("fmt", ["time", "joint"])
def test_jtfs_kymatio_bank_blocks_of_2_12(fmt):
    """With the Morlet bank (short filters) blocks of 2**12 suffice; reflect padding at the
    ends; both array formats (time on the last axis)."""
    N = 2**15
    x = noise(N, 2)
    kw = dict(JTFS, out_type="array", format=fmt, filterbank="kymatio", pad_mode="reflect")
    whole = TimeFrequencyScattering(shape=N, **kw).double()
    bt = BlockTransform(lambda n: TimeFrequencyScattering(shape=n, **kw).double(), block=2**12)
    W, B = whole(x), bt(x)
    assert B.shape == W.shape
    assert rel(B, W) < 1e-10


# ---- sources ----------------------------------------------------------------------------------

def test_file_source_is_mixed_to_mono_and_read_in_blocks(tmp_path):
    N = 40_000
    stereo = (0.3 * noise(2 * N, 3).reshape(N, 2)).astype(np.float32)
    path = tmp_path / "rec.wav"
    sf.write(path, stereo, 16000, subtype="FLOAT")
    bt = BlockTransform(Scattering1D, block=2**12, **S1D)
    mono = stereo.mean(axis=1, dtype=np.float32)
    W = Scattering1D(shape=N, **S1D)(mono)
    assert rel(bt(str(path)), W) < 1e-6
    assert rel(bt(path), bt(mono)) == 0


def test_blocks_iterator_gives_consecutive_frames_and_their_samples():
    N = 30_001
    bt = BlockTransform(Scattering1D, block=2**12, **S1D)
    blocks = list(bt.blocks(noise(N).astype(np.float32)))
    assert len(blocks) == bt.n_blocks(N)
    assert [b.index for b in blocks] == list(range(len(blocks)))
    assert blocks[0].frames.start == 0 and blocks[-1].frames.stop == bt.frames(N)
    for a, b in zip(blocks, blocks[1:]):
        assert a.frames.stop == b.frames.start
    samples = np.concatenate([b.samples for b in blocks])
    assert np.array_equal(samples, bt.frame_samples(N))
    assert all(b.output.shape[-1] == len(b.samples) for b in blocks)
    assert bt.frames(N) == Scattering1D(shape=N, **S1D)(noise(N).astype(np.float32)).shape[-1]


def test_batch_of_signals_and_gradients_through_a_tensor():
    """A tensor source keeps the graph: the gradient equals the whole transform's."""
    N = 2**13 + 3
    x = torch.tensor(noise(2 * N).reshape(2, N), requires_grad=True)
    bt = BlockTransform(lambda n: Scattering1D(shape=n, **S1D).double(), block=2**12)
    B = bt(x)
    assert B.shape[:1] == (2,)
    (g_b,) = torch.autograd.grad(B.square().sum(), x)
    whole = Scattering1D(shape=N, **S1D).double()
    (g_w,) = torch.autograd.grad(whole(x).square().sum(), x)
    assert rel(g_b, g_w) < 1e-10


def test_overlap_is_the_filters_reach_rounded_to_the_stride():
    bt = BlockTransform(Scattering1D, block=2**13, **S1D)
    r = filter_reach(bt.module.bank, bt.criterion)
    assert bt.reach == r["phi"] + r["psi1"] + r["psi2"]
    assert bt.overlap % bt.stride == 0 and 0 <= bt.overlap - bt.reach < bt.stride
    assert bt.hop % bt.stride == 0 and bt.hop <= bt.block - 2 * bt.overlap
    # A tighter criterion reaches further.
    assert BlockTransform(Scattering1D, block=2**13, criterion=1e-14, **S1D).reach > bt.reach


def test_default_block_keeps_at_least_half():
    bt = BlockTransform(Scattering1D, **S1D)
    assert bt.block >= 4 * bt.overlap and bt.block & (bt.block - 1) == 0
    assert bt.hop >= bt.block // 2


@pytest.mark.gpu
def test_cuda_blocks_equal_cpu_blocks(tmp_path):
    """On CUDA the module and each block live on the device; a file source is read on the
    CPU and moved block by block."""
    N = 2**15 + 37
    x = noise(N).astype(np.float32)
    path = tmp_path / "rec.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    cpu = BlockTransform(Scattering1D, block=2**12, **S1D)(x)
    bt = BlockTransform(Scattering1D, block=2**12, device="cuda", **S1D)
    out = bt(str(path))
    assert out.is_cuda
    assert rel(out.cpu(), cpu) < 1e-5


# ---- errors -----------------------------------------------------------------------------------

def test_global_averaging_is_refused_with_what_to_use():
    with pytest.raises(ValueError, match="local T"):
        BlockTransform(Scattering1D, T="global", block=2**12, **S1D)
    with pytest.raises(ValueError, match="averages globally"):
        BlockTransform(lambda n: Scattering1D(shape=n, T="global", **S1D), block=2**12)


def test_short_block_names_the_minimum_and_the_minimum_works():
    with pytest.raises(ValueError, match="at least") as err:
        BlockTransform(Scattering1D, block=2**11, **S1D)
    minimum = int(re.search(r"at least (\d+)", str(err.value)).group(1))
    bt = BlockTransform(Scattering1D, block=minimum, **S1D)
    assert bt.hop == bt.stride
    x = noise(6000)
    W = Scattering1D(shape=6000, **S1D).double()(x)
    assert rel(BlockTransform(lambda n: Scattering1D(shape=n, **S1D).double(),
                              block=minimum)(x), W) < 1e-10


def test_short_block_of_long_filters_names_the_measured_minimum():
    """The tight bank's tails exceed a 2**12 block's own padded length: the minimum is
    measured on a longer module, and it works."""
    with pytest.raises(ValueError, match="at least") as err:
        BlockTransform(TimeFrequencyScattering, block=2**12, **JTFS)
    minimum = int(re.search(r"at least (\d+)", str(err.value)).group(1))
    assert minimum > 2**14
    BlockTransform(TimeFrequencyScattering, block=minimum, **JTFS)


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_text("hello")
    bt = BlockTransform(Scattering1D, block=2**12, **S1D)
    with pytest.raises(ValueError, match="not_audio.wav"):
        bt(str(bad))
    with pytest.raises(ValueError, match="missing.flac"):
        bt(tmp_path / "missing.flac")


def test_bad_arguments():
    with pytest.raises(TypeError, match="factory"):
        BlockTransform(lambda n: Scattering1D(shape=n, **S1D), block=2**12, J=6)
    with pytest.raises(ValueError, match="shape"):
        BlockTransform(Scattering1D, shape=100, block=2**12, **S1D)
    with pytest.raises(ValueError, match="block"):
        BlockTransform(Scattering1D, block=0, **S1D)
    with pytest.raises(TypeError, match="source"):
        BlockTransform(Scattering1D, block=2**12, **S1D)([1.0, 2.0])
    with pytest.raises(ValueError, match="several time resolutions"):
        BlockTransform(Scattering1D, T=0, out_type="dict", block=2**12, **S1D)(noise(9000))


# ---- memory -----------------------------------------------------------------------------------

MEMORY_SCRIPT = r"""
import json, resource, sys
import numpy as np, soundfile as sf, torch
torch.set_num_threads(1)
from engine import Scattering1D
from engine.blocks import BlockTransform
short, long = sys.argv[1], sys.argv[2]
bt = BlockTransform(Scattering1D, J=6, Q=8, block=2**16)
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
def run(path):
    frames = 0
    for b in bt.blocks(path):           # features written out, not kept
        frames += b.output.shape[-1]
    return frames
f_short = run(short)
run(short)
p_short = peak()
f_long = run(long)
p_long = peak()
print(json.dumps(dict(short=p_short, long=p_long, frames=[f_short, f_long],
                      expected=[bt.frames(sf.info(p).frames) for p in (short, long)],
                      channels=Scattering1D(J=6, Q=8, shape=2**16).output_size())))
"""


def test_memory_stays_bounded_by_the_block_not_the_recording(tmp_path):
    """A 2**22-sample file read in blocks of 2**16: the process's peak RSS grows by less than
    20 MiB over the peak of a 2**17-sample file (holding the signal would take 16 MiB in
    float32, its output 2**22 / 64 frames x 126 channels x 4 bytes = 32 MiB; the whole
    transform needs GiBs). Measured growth: 2-10 MiB (allocator noise)."""
    rng = np.random.default_rng(0)
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    sf.write(short, rng.standard_normal(2**17).astype(np.float32) * 0.1, 48000,
             subtype="FLOAT")
    with sf.SoundFile(long, "w", 48000, 1, subtype="FLOAT") as f:
        for _ in range(2**22 // 2**18):
            f.write(rng.standard_normal(2**18).astype(np.float32) * 0.1)
    env = {"PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(short), str(long)],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["frames"] == res["expected"]
    growth = res["long"] - res["short"]
    assert growth < 20 * 2**20, growth
