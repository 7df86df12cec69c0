"""``scatviz render --view NAME`` for the views of second order, the JTFS grid, the joint
wavelets, the filter-bank heatmaps and the energy profile."""

from __future__ import annotations

import pytest

from scatviz import cli
from scatviz.render_views import EXTRA_VIEWS


def run(*args):
    return cli.main(list(args))


def _png(path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("view", sorted(EXTRA_VIEWS))
def test_render_each_new_view(view, tmp_path):
    if view != "scattering2":
        pytest.importorskip("engine.jtfs")
    out = tmp_path / f"{view}.png"
    assert run("render", "exponential_chirp", "--view", view, "--J", "6", "--Q", "8",
               "--J-fr", "3", "--F", "1", "--N", "2048", "-o", str(out)) == 0
    assert _png(out)


def test_render_scattering2_options_and_errors(tmp_path, capsys):
    out = tmp_path / "s2.png"
    assert run("render", "exponential_chirp", "--view", "scattering2", "--J", "6", "--Q", "8",
               "--N", "2048", "--n1", "10", "--frame", "3", "--pitch", "-o", str(out)) == 0
    assert _png(out)
    assert run("render", "exponential_chirp", "--view", "scattering2", "--J", "6", "--Q", "8",
               "--N", "2048", "--n1", "999", "-o", str(out)) == 2
    assert "--n1 must be in 0.." in capsys.readouterr().err
    assert run("render", "exponential_chirp", "--view", "jtfs_grid", "--J", "6", "--Q", "8",
               "--N", "2048", "--frame", "99999", "-o", str(out)) == 2
    assert "--frame must be in 0.." in capsys.readouterr().err
