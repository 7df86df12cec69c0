"""The scatviz command: help, validate, render, features (resumable), serve (dry run)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from scatviz import cli
from scatviz.features import single as features  # the one-process .npz path


def run(*args):
    return cli.main(list(args))


@pytest.mark.parametrize("command", ["serve", "validate", "render", "features"])
def test_help_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as e:
        run(command, "--help")
    assert e.value.code == 0
    text = capsys.readouterr().out
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{command} {action.option_strings} has no help"
            assert action.option_strings[-1] in text


def test_validate_html_and_text(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert run("validate", "--J", "5", "--Q", "8", "--shape", "1024", "-o", str(out)) == 0
    page = out.read_text()
    assert "kymatio" in page and "tight" in page and "data:image/png;base64," in page
    assert run("validate", "--J", "5", "--Q", "8", "--shape", "1024", "--format", "text",
               "--designs", "kymatio") == 0
    text = capsys.readouterr().out
    assert "psi1.analyticity" in text
    assert run("validate", "--J", "5", "--Q", "8", "--shape", "1024", "--designs", "kymatio",
               "--format", "text", "--strict") == 1
    assert run("validate", "--J", "12", "--shape", "1024", "--format", "text") == 2


def test_validate_jtfs(tmp_path):
    pytest.importorskip("engine.jtfs")
    out = tmp_path / "j.html"
    assert run("validate", "--J", "6", "--Q", "8", "--shape", "2048", "--jtfs", "--J-fr", "3",
               "--Q-fr", "1", "--designs", "tight", "-o", str(out)) == 0
    assert "psi_fr" in out.read_text()


@pytest.mark.parametrize("view", ["signal", "scalogram", "scattering", "filterbank"])
def test_render_png(view, tmp_path):
    out = tmp_path / f"{view}.png"
    assert run("render", "exponential_chirp", "--view", view, "--J", "6", "--Q", "8",
               "--N", "2048", "-o", str(out)) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_render_jtfs_and_animation(tmp_path):
    pytest.importorskip("engine.jtfs")
    out = tmp_path / "j.png"
    assert run("render", "exponential_chirp", "--view", "jtfs", "--J", "6", "--Q", "8",
               "--J-fr", "3", "--N", "2048", "-o", str(out)) == 0
    gif = tmp_path / "a.gif"
    assert run("render", "exponential_chirp", "--view", "jtfs_animation", "--J", "6", "--Q",
               "8", "--J-fr", "3", "--N", "2048", "-o", str(gif)) == 0
    assert gif.read_bytes()[:3] == b"GIF"


def test_render_errors(tmp_path, capsys):
    assert run("render", "nope", "--view", "signal", "-o", str(tmp_path / "x.png")) == 2
    assert "neither a file" in capsys.readouterr().err
    assert run("render", "sine", "--view", "scalogram", "-o", str(tmp_path / "x.gif")) == 2


def test_render_scalogram_colour_range_follows_db_range(tmp_path, capsys):
    from engine.signals import exponential_chirp

    x = exponential_chirp(2048, 40, 3200, sample_rate=8000)
    fig = cli._draw("scalogram", x, 8000, "chirp", 6, (8, 1), None, 3, 1, None, "kymatio", 30.0)
    low, high = fig.axes[0].images[0].get_clim()
    assert high - low == pytest.approx(30.0)
    assert run("render", "sine", "--view", "scalogram", "--db-range", "0",
               "-o", str(tmp_path / "x.png")) == 2
    assert "--db-range must be a positive number of dB" in capsys.readouterr().err


def test_render_from_file(tmp_path):
    wav = tmp_path / "s.wav"
    sf.write(wav, np.sin(np.arange(3000) * 0.3).astype(np.float32), 8000)
    assert run("render", str(wav), "--view", "signal", "-o", str(tmp_path / "s.png")) == 0


def test_features_batches_and_resume(tmp_path, monkeypatch):
    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(5):
        sf.write(folder / ("sub" if i % 2 else "") / f"f{i}.wav",
                 rng.standard_normal(900 + 100 * i).astype(np.float32), 8000)
    (folder / "broken.wav").write_bytes(b"not audio")
    out = tmp_path / "feat.npz"
    args = ["features", str(folder), "-o", str(out), "--J", "5", "--Q", "4", "--N", "1024",
            "--batch-size", "2", "--quiet"]
    # interrupt after the first batch: the checkpoint holds it
    calls = {"n": 0}
    real = features._save_npz_atomic

    def flaky(path, **arrays):
        real(path, **arrays)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(features, "_save_npz_atomic", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(*args)
    with np.load(out) as f:
        first = list(f["files"])
    assert 0 < len(first) < 5
    monkeypatch.setattr(features, "_save_npz_atomic", real)
    res = cli.extract_features(folder, out, J=5, Q=4, N=1024, batch_size=2, progress=False)
    assert res["skipped"] >= len(first)
    with np.load(out) as f:
        files = list(f["files"])
        feats = f["features"]
        assert list(f["failed"]) == ["broken.wav"]
    assert sorted(files) == sorted(["f0.wav", "sub/f1.wav", "f2.wav", "sub/f3.wav", "f4.wav"])
    assert files[:len(first)] == first and feats.shape[0] == 5 and feats.ndim == 2
    # the same features as a fresh run
    fresh = tmp_path / "fresh.npz"
    cli.extract_features(folder, fresh, J=5, Q=4, N=1024, batch_size=10, progress=False)
    with np.load(fresh) as f:
        order = {n: i for i, n in enumerate(f["files"])}
        np.testing.assert_allclose(feats, f["features"][[order[n] for n in files]], rtol=1e-5)
    # another configuration is refused without --overwrite
    assert run("features", str(folder), "-o", str(out), "--J", "6", "--quiet") == 2


def test_serve_dry_run(capsys):
    assert run("serve", "--dry-run", "--port", "5123") == 0
    out = capsys.readouterr().out
    assert "panel serve" in out and "apps/dashboard.py" in out and "5123" in out


def test_console_script_help():
    res = subprocess.run([sys.executable, "-m", "scatviz.cli", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "validate" in res.stdout and "features" in res.stdout
