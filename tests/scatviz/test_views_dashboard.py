"""The dashboard's model (no browser): sources, controls, errors beside the controls."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from scatviz.views.dashboard import Dashboard


def test_dashboard_builds_every_view_on_a_bundled_signal():
    d = Dashboard(live=False)
    assert set(d.views) == {"signal", "scalogram", "filterbank", "energies", "jtfs2d",
                            "jtfs_animation", "spin"}
    assert d.state.result is not None and d.generation >= 1
    assert "computed in" in d.status
    assert d.template() is not None


def test_dashboard_controls_and_engine_errors_beside_them():
    d = Dashboard(live=False)
    gen = d.generation
    d.state.J = 7
    assert d.generation == gen + 1 and "J=7" in d.status
    d.state.J = 14                                # too large for 8192 samples
    assert d.error_msg.visible and "J=14" in d.error_msg.object
    d.state.J = 6
    assert not d.error_msg.visible


def test_dashboard_upload_good_and_bad():
    d = Dashboard(live=False)
    buf = io.BytesIO()
    sf.write(buf, np.zeros((4000, 2), np.float32) + 0.1, 16000, format="WAV")
    assert d.load_upload(buf.getvalue(), "two.wav")
    assert d.state.sample_rate == 16000 and len(d.state.signal) == 4000
    assert "16000 Hz" in d.signal_view.info.object
    before = d.state.result
    assert not d.load_upload(b"not audio at all" * 50, "fake.wav")
    assert d.upload_msg.visible and "not a readable audio file" in d.upload_msg.object
    assert d.state.result is before               # the page keeps its last valid picture


def test_dashboard_generator_and_presets():
    d = Dashboard(live=False)
    d.gen_kind.value = "linear_chirp"
    d.gen_N.value = 4096
    d.gen_sr.value = 16000
    d._on_generate()
    assert len(d.state.signal) == 4096 and d.state.sample_rate == 16000
    d.w_preset.value = "Long averaging"
    assert d.state.J == 9
