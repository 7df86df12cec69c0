"""engine.stream: a recording transformed from a stream of blocks or from a file equals the
whole-signal transform, holding one block at a time."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from engine import Scattering1D
from engine.blocks import BlockTransform
from engine.stream import IterSource, scatter_file, scatter_stream

SR = 4000
SECONDS = 60


def _factory(n):
    return Scattering1D(J=6, Q=8, shape=n).double()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A one-minute WAV (float32 samples): a chirp, tones and noise."""
    rng = np.random.default_rng(0)
    t = np.arange(SR * SECONDS) / SR
    x = (0.5 * np.sin(2 * np.pi * (50 + 15 * t) * t) + 0.2 * np.sin(2 * np.pi * 440 * t)
         + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
    path = tmp_path_factory.mktemp("stream") / "minute.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    return path, sf.read(path, dtype="float64")[0]


@pytest.fixture(scope="module")
def whole(recording):
    _, x = recording
    return _factory(len(x))(torch.from_numpy(x))


def _rel_per_order(S, a, b):
    order = S.meta()["order"]
    return [float((a[order == o] - b[order == o]).norm() / b[order == o].norm())
            for o in np.unique(order)]


def test_scatter_file_equals_whole(recording, whole):
    path, x = recording
    got = scatter_file(path, _factory, block=2**14, read_size=5000, collect=True)
    assert got.shape == whole.shape
    S = _factory(2**14)
    for err in _rel_per_order(S, got, whole):
        assert err < 1e-6
    # away from the ends, frame by frame
    inner = slice(got.shape[-1] // 10, -got.shape[-1] // 10)
    assert float((got[:, inner] - whole[:, inner]).abs().max()
                 / whole[:, inner].abs().max()) < 1e-6


def test_stream_holds_one_block(recording, whole):
    _, x = recording
    bt = BlockTransform(_factory, block=2**14)
    sizes = np.random.default_rng(1).integers(100, 9000, size=len(x) // 100)
    cuts = np.cumsum(sizes)
    chunks = np.split(x, cuts[cuts < len(x)])
    src = IterSource(iter(chunks), len(x), bt.dtype)
    blocks = list(bt.blocks(src))
    assert src.max_buffered <= bt.block + 9000       # one block plus one read
    got = torch.cat([b.output for b in blocks], dim=-1)
    assert float((got - whole).norm() / whole.norm()) < 1e-6
    assert [b.frames.start for b in blocks] == sorted(b.frames.start for b in blocks)


def test_stream_generator_and_length_checks(recording):
    _, x = recording
    n = 20_000
    out = list(scatter_stream((x[i:i + 1000] for i in range(0, n, 1000)), n, _factory,
                              block=2**13))
    assert sum(b.frames.stop - b.frames.start for b in out) == _factory(n).ind_end[6] - \
        _factory(n).ind_start[6]
    with pytest.raises(ValueError, match="stream ended"):
        list(scatter_stream((x[i:i + 1000] for i in range(0, n, 1000)), 2 * n, _factory,
                            block=2**13))
    with pytest.raises(ValueError, match="length must be"):
        list(scatter_stream(iter([x[:10]]), 0, _factory, block=2**13))


def test_scatter_file_bad_path(tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="Cannot read"):
        scatter_file(bad, _factory, block=2**13)
