"""engine.datasets: finding, downloading (offline, from a local zip) and loading the FSDD."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import soundfile as sf

from engine import datasets as ds


def _wav_bytes(n: int, value: float = 0.5) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.full(n, value, dtype=np.float32), 8000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture()
def no_local(monkeypatch, tmp_path):
    """No local copy anywhere: empty env, repository-relative path and cache redirected."""
    monkeypatch.delenv("SCATVIZ_FSDD", raising=False)
    monkeypatch.delenv("SCATVIZ_SHARED", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "_REPO_ROOT", tmp_path / "repo")
    return tmp_path


def _zip(path, names):
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(f"free-spoken-digit-dataset-master/recordings/{name}", _wav_bytes(100))
        zf.writestr("free-spoken-digit-dataset-master/README.md", "readme")
    return path


def test_fit_length():
    assert ds.fit_length(np.arange(3.0), 7).tolist() == [0, 0, 0, 1, 2, 0, 0]
    assert ds.fit_length(np.arange(10.0), 4).tolist() == [3, 4, 5, 6]
    assert ds.fit_length(np.arange(4.0), 4).tolist() == [0, 1, 2, 3]


def test_download_from_local_zip_url(no_local):
    archive = _zip(no_local / "fsdd.zip", ["0_jackson_0.wav", "1_nicolas_7.wav"])
    rec = ds.fetch_fsdd(url=archive.as_uri())
    assert rec == no_local / "cache" / "scatviz" / "fsdd" / "recordings"
    assert sorted(p.name for p in rec.glob("*.wav")) == ["0_jackson_0.wav", "1_nicolas_7.wav"]
    # found in the cache next time, without the network
    assert ds.fetch_fsdd(download=False) == rec
    data = ds.load_fsdd(N=256)
    assert data.x.shape == (2, 256) and data.x.dtype == np.float32
    assert data.digit.tolist() == [0, 1] and data.test.tolist() == [True, False]
    # centred: 100 samples of 0.5 in the middle of 256 (78 zeros left, 78 right)
    assert np.count_nonzero(data.x[0]) == 100 and data.x[0, 78] != 0 and data.x[0, 77] == 0


def test_download_with_opener_and_errors(no_local):
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as zf:
        zf.writestr("x/recordings/9_theo_3.wav", _wav_bytes(50))
    calls = []

    def opener(url):
        calls.append(url)
        return io.BytesIO(payload.getvalue())

    rec = ds.fetch_fsdd(cache_dir=no_local / "c2", opener=opener, url="https://example/x.zip")
    assert calls == ["https://example/x.zip"] and (rec / "9_theo_3.wav").exists()


def test_clear_errors(no_local):
    with pytest.raises(FileNotFoundError, match="download=False") as e:
        ds.fetch_fsdd(download=False)
    msg = str(e.value)
    assert "SCATVIZ_FSDD" in msg and str(no_local / "shared" / "data" / "fsdd") in msg
    assert str(no_local / "cache" / "scatviz" / "fsdd") in msg

    def offline(url):
        raise OSError("network unreachable")

    with pytest.raises(FileNotFoundError, match="network unreachable"):
        ds.fetch_fsdd(opener=offline)
    bad = no_local / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("readme.txt", "no recordings")
    with pytest.raises(FileNotFoundError, match="no recordings"):
        ds.fetch_fsdd(url=bad.as_uri())
    with pytest.raises(FileNotFoundError, match="No FSDD recordings"):
        ds.fetch_fsdd(path=no_local)


def test_env_var_and_shared_copy(monkeypatch, tmp_path, fsdd_dir):
    monkeypatch.setenv("SCATVIZ_FSDD", str(fsdd_dir))
    rec = ds.fetch_fsdd(download=False)
    assert len(list(rec.glob("*.wav"))) == 3000
    data = ds.load_fsdd(limit=20, N=8192)
    assert data.x.shape == (20, 8192) and data.sample_rate == 8000
