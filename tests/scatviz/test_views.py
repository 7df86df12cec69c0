"""Model-level tests of every view: their data and axes, without a browser."""

from __future__ import annotations

import numpy as np
import pytest

from scatviz.signals_io import load_asset
from scatviz.state import ScatState
from scatviz.views import ScalogramView, SignalView
from scatviz.views.scalogram import frequency_ticks


@pytest.fixture(scope="module")
def state():
    return ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8)


def test_signal_view_axes_and_audio(state):
    v = SignalView(state)
    d = v.waveform_data()
    assert 0 <= d["t"][0] < 0.01 and 1.01 < d["t"][-1] <= 8192 / 8000
    assert np.all(np.diff(d["t"]) >= 0)
    assert v.figure.xaxis[0].axis_label == "time (s)"
    assert v.audio.sample_rate == 8000 and v.audio.object.dtype == np.int16
    assert "8000 Hz" in v.info.object
    state.playhead = 0.5
    assert v.playhead.location == 0.5


def test_signal_view_envelope_for_long_signals():
    x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    v = SignalView.from_signal(x, 22050, J=4, with_jtfs=False)
    d = v.waveform_data()
    assert len(d["t"]) <= 4000
    assert d["x"].max() == pytest.approx(x.max()) and d["x"].min() == pytest.approx(x.min())


def test_scalogram_view_data_axes_and_db_range(state):
    v = ScalogramView(state)
    d = v.image_data()
    n1 = len(state.result.scalogram.freqs)
    assert d["db"].shape == (n1, len(d["times"]))
    # rows low to high frequency, labelled in Hz from the engine
    assert np.all(np.diff(d["freqs"]) > 0)
    np.testing.assert_allclose(d["freqs"], state.result.scalogram.freqs[::-1])
    assert d["dw"] == pytest.approx(8192 / 8000)
    assert v.figure.xaxis[0].axis_label == "time (s)"
    assert v.figure.yaxis[0].axis_label == "frequency (Hz)"
    assert all(lbl.replace(".", "").isdigit() for lbl in v.figure.yaxis[0].major_label_overrides.values())
    # dB colour scale: top at the maximum, range adjustable without recomputing
    assert v.mapper.high == pytest.approx(d["db"].max())
    res = state.result
    state.db_range = 40
    assert v.mapper.high - v.mapper.low == pytest.approx(40)
    assert state.result is res
    # hover reads time, frequency, value
    hover = [t for t in v.figure.tools if t.__class__.__name__ == "HoverTool"][0]
    names = [n for n, _ in hover.tooltips]
    assert names == ["time", "frequency", "level"]


def test_scalogram_follows_J(state):
    st = ScatState.from_loaded(load_asset("chirp_exp"), J=5, Q1=8)
    v = ScalogramView(st)
    n5 = v.image_data()["db"].shape[0]
    st.J = 8
    assert v.image_data()["db"].shape[0] > n5


def test_scalogram_chirp_rises(state):
    """The exponential chirp's ridge moves up in frequency over time."""
    d = ScalogramView(state).image_data()
    ridge = d["db"].argmax(axis=0)
    cols = d["db"].shape[1]
    assert ridge[int(0.8 * cols)] > ridge[int(0.2 * cols)]


def test_frequency_ticks_labels():
    ticks = frequency_ticks(np.array([50.0, 100.0, 200.0, 400.0]), max_ticks=4)
    assert ticks == {0.5: "50.0", 1.5: "100", 2.5: "200", 3.5: "400"}


def test_views_share_time_axis(state):
    a, b = SignalView(state), ScalogramView(state)
    assert a.figure.x_range is b.figure.x_range


def test_playhead_drawn_on_time_frequency_views(state):
    sig, scal = SignalView(state), ScalogramView(state)
    sig.audio.time = 0.25                 # the browser's player reports its position
    assert state.playhead == 0.25
    assert sig.playhead.location == 0.25 and scal.playhead.location == 0.25


# ------------------------------------------------------------------ filter bank, energies

from scatviz.views import EnergyView, FilterBankView  # noqa: E402
from scatviz.views.filterbank import time_heatmap  # noqa: E402


def test_filterbank_view_frequency_axis_in_hz(state):
    v = FilterBankView(state)
    d = v.freq_data()
    bank = state.result.bank
    assert len(d["psi1"]) == len(bank.xi1_hz) and len(d["psi2"]) == len(bank.xi2_hz)
    assert d["freqs"][0] > 0 and d["freqs"][-1] == pytest.approx(4000, rel=0.01)   # Nyquist
    assert len(d["freqs"]) <= 800 and np.all(np.diff(np.log(d["freqs"])) > 0)
    # each first-order wavelet peaks at its engine centre frequency, peak kept (max-pooled)
    for f, y, xi in zip(d["psi1_f"], d["psi1"], bank.xi1_hz):
        assert f.shape == y.shape and y.dtype == np.float32
        assert f[np.argmax(y)] == pytest.approx(xi, rel=0.03)
        assert y.max() == pytest.approx(np.abs(bank.psi1).max(axis=1).max(), rel=0.05)
        # drawn where visible: the trimmed ends are under 1e-3 of the tallest curve
        assert set(f).issubset(set(d["freqs"]))
    if d["lp"].size:
        assert d["lp"].shape == d["freqs"].shape and np.all(d["lp"] >= 0)
    # log option switches the visible figure; the hidden one is filled when it is shown
    assert v.figs_freq[True].visible and not v.figs_freq[False].visible
    v.log_freq = False
    assert v.figs_freq[False].visible and not v.figs_freq[True].visible
    lin = v.freq_data()
    assert lin["freqs"][0] > 0 and len(lin["psi1"]) == len(bank.xi1_hz)
    assert np.all(np.diff(lin["freqs"]) > 0)
    v.log_freq = True
    assert v.figs_freq[True].x_scale.__class__.__name__ == "LogScale"
    assert v.fig_time.xaxis[0].axis_label == "time (s)"


def test_filterbank_curves_trimmed_only_where_invisible(state):
    """Each wavelet is sent only where it exceeds 1e-3 of the tallest curve: what is left
    out is under a third of a pixel in the figure."""
    from scatviz.views.filterbank import TRIM_FLOOR, display_grid

    v = FilterBankView(state)
    d = v.freq_data()
    bank = state.result.bank
    f = bank.freqs[bank.freqs > 0]
    full_f, full = display_grid(f, np.abs(bank.psi1[:, bank.freqs > 0]), log=True)
    top = full.max()
    for fx, y, ref in zip(d["psi1_f"], d["psi1"], full):
        # (frequencies are sent to 6 significant digits: their nearest grid points)
        lo = int(np.argmin(np.abs(full_f - fx[0])))
        hi = int(np.argmin(np.abs(full_f - fx[-1]))) + 1
        np.testing.assert_allclose(y, ref[lo:hi], rtol=5e-6)
        outside = np.concatenate([ref[:max(lo, 0)], ref[hi:]])
        assert outside.size == 0 or outside.max() <= TRIM_FLOOR * top * 1.0001
    assert sum(len(y) for y in d["psi1"]) < 0.6 * full.size


def test_filterbank_view_redraws_only_what_changed(state):
    """A JTFS-only change keeps the filter bank: its figures receive no new data."""
    v = FilterBankView(state)
    before = v.src_psi1.data["ys"][0]
    v._update(state.result)
    assert v.src_psi1.data["ys"][0] is before


def test_filterbank_legends_are_static_across_settings(state):
    """The legends name proxy renderers whose data never change (BokehJS rebuilds a
    legend's DOM when the data of a renderer it names change), styled as the curves."""
    from bokeh.models import Legend

    v = FilterBankView(state)
    figs = [v.figs_freq[True], v.figs_freq[False], v.fig_fr]
    before = {}
    for fig in figs:
        (legend,) = [r for r in fig.renderers + fig.center if isinstance(r, Legend)]
        for item in legend.items:
            (proxy,) = item.renderers
            before[id(proxy)] = proxy.data_source.data
            assert np.all(np.isnan(proxy.data_source.data["x"]))
    labels = [it.label.value for it in v.fig_fr.center[-1].items]
    assert labels == ["spin up (ψ_fr↑)", "spin down (ψ_fr↓)"]
    state.Q1 += 2
    for fig in figs:
        (legend,) = [r for r in fig.center if isinstance(r, Legend)]
        for item in legend.items:
            assert item.renderers[0].data_source.data is before[id(item.renderers[0])]
    # the swatch looks like the curve it names
    fr_lines = {r.glyph.line_color for r in v.fig_fr.renderers if r.glyph.__class__.__name__
                == "MultiLine"}
    assert {it.renderers[0].glyph.line_color for it in v.fig_fr.center[-1].items} == fr_lines


def test_wire_inlines_short_columns_and_ragged_curves_to_six_significant_digits():
    """Short columns and curves go in the JSON, each float rounded to 6 significant digits
    (so that it prints short); images and long columns stay binary and untouched."""
    import json

    from scatviz.views.base import WIRE_INLINE_MAX, WIRE_RAGGED_MAX, display_values, wire

    rng = np.random.default_rng(0)
    curves = [rng.random(n).astype(np.float32) for n in (3, 50, 700)]
    image = rng.random((4, 5)).astype(np.float32)
    long = rng.random(WIRE_INLINE_MAX + 1).astype(np.float32)
    out = wire(dict(ys=curves, image=[image], long=long, short=curves[1],
                    names=["a", "b", "c"], big=[long] * (WIRE_RAGGED_MAX // long.size + 1)))
    assert all(isinstance(y, list) for y in out["ys"])
    np.testing.assert_allclose(out["ys"][2], curves[2], rtol=5e-6, atol=0)  # 6 digits
    digits = [repr(v).split("e")[0].replace(".", "").lstrip("0") for v in out["ys"][2]]
    assert max(len(d) for d in digits) <= 6                             # prints "0.123457"
    assert len(json.dumps(out["ys"])) < 0.6 * len(json.dumps([c.tolist() for c in curves]))
    assert out["image"][0] is image and out["long"] is long                 # stay binary
    assert isinstance(out["short"], list) and out["names"] == ["a", "b", "c"]
    assert all(b is long for b in out["big"])
    # every magnitude keeps its own 6 digits (energies on log axes span many decades)
    v = np.array([3.14159265e-12, -2.5e8, 123456789.0, 0.0, np.nan, np.inf, 7], np.float64)
    got = display_values(v)
    assert got[:4] == [3.14159e-12, -2.5e8, 123457000.0, 0.0]
    assert np.isnan(got[4]) and got[5] == np.inf and got[6] == 7.0
    assert display_values(np.array([1, 2])) == [1, 2]
    assert display_values(np.array([1e-310, 5e-324, 1.7e308])) == [1e-310, 5e-324, 1.7e308]


def test_time_heatmap_matches_the_full_inverse_fft():
    """The folded-spectrum samples equal the full-length inverse FFT at those times."""
    from scatviz.state import _s1d_module

    bank = _s1d_module(8192, 6, (8, 1), 0, 1, "list", "kymatio").bank
    psi = bank.as_arrays()["psi1"]
    img, t0, tw = time_heatmap(psi, 8000.0)
    N = psi.shape[-1]
    h = np.fft.ifft(psi, axis=-1)
    M = img.shape[1]
    step = round(tw * 8000.0 / M)
    times = (np.arange(M) - M // 2) * step
    ref = h[:, times % N]
    ref = ref.real / np.abs(ref).max(axis=1, keepdims=True)
    np.testing.assert_allclose(img, ref, atol=2e-3)     # under half a colour step (1/128)
    assert t0 == pytest.approx(-(M // 2) * step / 8000.0) and M <= 512
    # the crop keeps every filter's envelope above 1e-3 of its peak
    env = np.abs(h) / np.abs(h).max(axis=1, keepdims=True)
    alive = np.flatnonzero(env.max(axis=0) > 1e-3)
    reach = np.max(np.minimum(alive, N - alive))
    assert (M // 2) * step >= reach


def test_time_heatmap_any_length():
    """A grid that is not a power of two takes the full inverse FFT, same samples."""
    N = 3000
    f = np.fft.fftfreq(N)
    psi = np.exp(-((f - 0.01) ** 2) / (2 * 0.0005**2))[None]        # long: needs step > 1
    img, t0, tw = time_heatmap(psi, 1000.0, max_cols=101)
    M = img.shape[1]
    assert M <= 101
    step = round(tw * 1000.0 / M)
    h = np.fft.ifft(psi, axis=-1)[0, ((np.arange(M) - M // 2) * step) % N]
    np.testing.assert_allclose(img[0], h.real / np.abs(h).max(), atol=1e-6)


def test_time_heatmap_centres_wavelets():
    N = 1024
    f = np.fft.fftfreq(N)
    psi = np.exp(-((f - 0.2) ** 2) / (2 * 0.01**2))[None]
    img, t0, tw = time_heatmap(psi, 1000.0)
    assert img.shape[0] == 1 and t0 < 0 < t0 + tw
    assert np.abs(img).max() == pytest.approx(1.0, abs=1e-3)


def test_energy_view_orders(state):
    v = EnergyView(state)
    d = v.energy_data()
    assert set(d["order"]) == {"S0", "S1", "S2"}
    assert d["order"]["S1"] > d["order"]["S2"]
    assert v.fig_order.y_scale.__class__.__name__ == "LogScale"


# ------------------------------------------------------------------ JTFS views

from scatviz.state import jtfs_available  # noqa: E402
from scatviz.views import JTFS2DView, JTFSAnimationView, SpinInspectorView  # noqa: E402

needs_jtfs = pytest.mark.skipif(not jtfs_available(), reason="engine/jtfs.py not available")


def test_jtfs_views_say_unavailable_without_engine():
    import scatviz.state as st_mod

    st_mod.TRANSFORM_CACHE.clear()
    st = ScatState.from_loaded(load_asset("chirp_sine_pulse"), J=5, Q1=4, with_jtfs=False)
    for cls in (JTFS2DView, JTFSAnimationView, SpinInspectorView):
        v = cls(st)
        assert "JTFS engine not available" in v.message
    e = EnergyView(st)
    assert e.jtfs_message.visible and not e.energy_data()["pair"]
    st_mod.TRANSFORM_CACHE.clear()


@needs_jtfs
def test_energy_view_jtfs_pairs_and_spins(jstate):
    d = EnergyView(jstate).energy_data()
    assert set(d["pair"]) == {"S0", "S1", "phi_t * phi_f", "phi_t * psi_f", "psi_t * phi_f",
                              "psi_t * psi_f_up", "psi_t * psi_f_dn"}
    n2 = jstate.result.jtfs.up.shape[0]
    assert len(d["spin"]) == 2 * n2
    up = sum(v for (lbl, s), v in d["spin"].items() if s == "↑")
    dn = sum(v for (lbl, s), v in d["spin"].items() if s == "↓")
    assert up > dn             # a rising chirp


@needs_jtfs
def test_jtfs2d_mosaic_layout(jstate):
    v = JTFS2DView(jstate)
    jt = jstate.result.jtfs
    n2, nfr, n1, L = jt.up.shape
    d = v.mosaic_data()
    H, W = d["image"].shape
    assert (H, W) == ((2 * nfr + 1) * (n1 + 1) + 1, 2 * (n2 + 2) + 1)
    lay = d["layout"]
    # spin up above spin down
    assert min(lay.row_of[("up", j)] for j in range(nfr)) > max(
        lay.row_of[("down", j)] for j in range(nfr))
    t = jstate.jtfs_frame
    r, c = lay.row_of[("up", 0)], lay.col_of[0]
    np.testing.assert_allclose(d["image"][r:r + n1, c], jt.up[0, 0, ::-1, t])
    assert np.isnan(d["image"][:, 0]).all()          # separator column
    # the other joint pairs in their own row (phi_f) and column (phi_t), as WaveSpin's
    # viz_jtfs_2d: psi_t * phi_f under each n2, phi_t * psi_f in the spin-down half
    rp = lay.row_of[("phi", 0)]
    assert lay.row_of[("down", nfr - 1)] < rp < lay.row_of[("up", nfr - 1)]
    np.testing.assert_allclose(d["image"][rp:rp + n1, c],
                               jt.pairs["psi_t * phi_f"][0, 0, ::-1, t])
    cp = lay.col_of["phi_t"]
    assert cp < min(lay.col_of[n] for n in range(n2))
    np.testing.assert_allclose(d["image"][rp:rp + n1, cp],
                               jt.pairs["phi_t * phi_f"][0, 0, ::-1, t])
    rd = lay.row_of[("down", 1)]
    np.testing.assert_allclose(d["image"][rd:rd + n1, cp],
                               jt.pairs["phi_t * psi_f"][0, 1, ::-1, t])
    assert np.isnan(d["image"][lay.row_of[("up", 1)], cp])     # drawn once, below
    # S1 in the leftmost column, scaled onto the colour range
    from scatviz.views.jtfs2d import s1_scale

    s1 = d["image"][rp:rp + n1, lay.col_of["S1"]]
    np.testing.assert_allclose(s1, jt.pairs["S1"][::-1, t] * s1_scale(jt), rtol=1e-5)
    # x labels are temporal rates in Hz from the engine, y labels carry the spin
    assert all("↑" in s or "↓" in s or s == "φ_f" for s in lay.yticks.values())
    jstate.jtfs_frame = 3
    np.testing.assert_allclose(v.mosaic_data()["image"][r:r + n1, c], jt.up[0, 0, ::-1, 3])
    assert v.mosaic_data()["time"] == pytest.approx(jt.times[3])


@needs_jtfs
def test_jtfs_animation_frames_and_export(jstate, tmp_path):
    from scatviz.views.jtfs_animation import export_jtfs_animation

    v = JTFSAnimationView(jstate)
    jt = jstate.result.jtfs
    assert v.player.end == len(jt.times) - 1
    v.player.value = 5
    assert v.frame_data()["frame"] == 5
    r, c = v._lay.row_of[("down", 1)], v._lay.col_of[1]
    np.testing.assert_allclose(v.frame_data()["image"][r:r + jt.up.shape[2], c],
                               jt.dn[1, 1, ::-1, 5])
    gif = export_jtfs_animation(jstate.result, tmp_path / "a.gif", max_frames=6)
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    import imageio.v3 as iio

    assert iio.imread(gif, index=None).shape[0] == 6
    mp4 = export_jtfs_animation(jstate.result, tmp_path / "a.mp4", max_frames=6)
    assert mp4.stat().st_size > 1000 and b"ftyp" in mp4.read_bytes()[:64]


@needs_jtfs
@pytest.mark.parametrize("asset,verdict", [("chirp_exp", "rising"),
                                           ("falling_chirp", "falling")])
def test_spin_inspector_verdicts(asset, verdict):
    st = ScatState.from_loaded(load_asset(asset), J=6, Q1=8, J_fr=3, F=1)
    v = SpinInspectorView(st)
    s = v.summary()
    assert s["verdict"] == verdict
    assert verdict in v.verdict.object
    # a region: the view reports its energies and the (n2, n1_fr) cells
    v.param.update(t_range=(0.3, 0.7), f_range=(200.0, 2000.0))
    s2 = v.summary()
    assert 0 < s2["up"] + s2["down"] < s["up"] + s["down"]
    assert s2["cells_up"].shape == st.result.jtfs.up.shape[:2]
    assert v.src_box.data["left"] == [0.3]


@needs_jtfs
def test_jtfs_views_keep_the_instant_and_full_region_across_settings():
    """A setting with another time step (J) keeps the instant shown by the JTFS grid and the
    player (not the frame index), and a spin region covering every frequency keeps covering
    them when the wavelets' range changes."""
    st = ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8, J_fr=3, F=1)
    grid, anim, spin = JTFS2DView(st), JTFSAnimationView(st), SpinInspectorView(st)
    anim.player.value = 40
    t_grid, t_anim = grid.mosaic_data()["time"], st.result.jtfs.times[40]
    fmax = spin.f_slider.end
    st.param.update(J=5, Q1=9)                  # twice as many frames, other wavelets
    assert spin.f_slider.end != fmax
    times = st.result.jtfs.times
    assert abs(grid.mosaic_data()["time"] - t_grid) <= times[1] - times[0]
    assert abs(times[anim.frame_data()["frame"]] - t_anim) <= times[1] - times[0]
    assert spin.f_range[1] == pytest.approx(spin.f_slider.end)
    assert spin.f_slider.end >= st.result.jtfs.n1_hz.max()
    # the region follows the new axis and is drawn once per update, not again by its watcher
    drawn = []
    draw = spin._draw_region
    spin._draw_region = lambda: (drawn.append(1), draw())[1]
    st.Q1 = 11
    assert len(drawn) == 1 and spin.f_range[1] == pytest.approx(spin.f_slider.end)
    assert spin.verdict.object.endswith("dB")


@needs_jtfs
def test_jtfs_instant_kept_through_a_progressive_publication():
    """When the Scattering1D views are published first (JTFS still computing), the JTFS grid
    keeps its instant, and the JTFS result that follows is shown at that instant too."""
    from scatviz.state import compute_transforms

    st = ScatState.from_loaded(load_asset("chirp_exp"), J=6, Q1=8, J_fr=3, F=1)
    grid = JTFS2DView(st)
    t0 = grid.mosaic_data()["time"]
    assert t0 > 0.3                              # the most active instant, not the start
    kw = dict(st.settings(), J=5)
    st.auto = False                              # the app drives: publish base, then all
    st.J = 5
    st.apply(compute_transforms(st.signal, st.sample_rate, stage="base", **kw))
    assert st.result.jtfs_pending and grid.mosaic_data()["time"] == pytest.approx(t0)
    st.apply(compute_transforms(st.signal, st.sample_rate, **kw))
    times = st.result.jtfs.times
    assert abs(grid.mosaic_data()["time"] - t0) <= times[1] - times[0]


# --------------------------------------------------------------------------------------------
# Images coloured on the server
# --------------------------------------------------------------------------------------------

def test_colour_map_bins_like_bokehs_linear_colour_mapper():
    """``len(palette)`` equal bins over [low, high]: the high end in the last bin, values
    outside clamped to the end colours, NaN transparent; bytes R, G, B, A in memory."""
    from scatviz.views.image import colour_map, palette_rgba

    palette = ["#000000", "#ff0000", "#00ff00", "#0000ff"]
    lut = palette_rgba(palette)
    assert lut.view(np.uint8).reshape(4, 4).tolist() == [
        [0, 0, 0, 255], [255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]
    v = np.array([[-5.0, 0.0, 0.24, 0.26, 0.5, 0.99, 1.0, 7.0, np.nan]], np.float32)
    got = colour_map(v, lut, low=0.0, high=1.0)
    assert got.dtype == np.uint32 and got.shape == v.shape
    assert got[0].tolist() == [lut[0], lut[0], lut[0], lut[1], lut[2], lut[3], lut[3], lut[3], 0]
    # a flat range colours everything with the first colour instead of failing
    assert set(colour_map(v[:, :8], lut, 2.0, 2.0).ravel().tolist()) == {int(lut[0])}
    with pytest.raises(ValueError, match="#rrggbb"):
        palette_rgba(["red"])


def test_views_draw_rgba_images_with_their_values_for_the_hover(state):
    """No image is colour-mapped in the browser: every image glyph of the views is RGBA
    drawn from the values that the hover reads (``@value``), in the colours of the colour
    bar's mapper; a new dB range sends new pixels and keeps the values."""
    from bokeh.models import HoverTool, ImageRGBA

    from scatviz.theme import SEQUENTIAL
    from scatviz.views.image import colour_map, palette_rgba

    v = ScalogramView(state)
    glyph = v.image.renderer.glyph
    assert isinstance(glyph, ImageRGBA)
    hover = [t for t in v.figure.tools if isinstance(t, HoverTool)][0]
    assert ("level", "@value{0.0} dB") in hover.tooltips
    db = v.image_data()["db"]
    assert v.source.data["value"][0] is v.image.values and db is v.image.values
    lut = palette_rgba(SEQUENTIAL)
    want = colour_map(db, lut, v.mapper.low, v.mapper.high)
    np.testing.assert_array_equal(v.source.data["image"][0], want)
    old = v.source.data["image"][0]
    state.db_range = 20
    assert v.mapper.high - v.mapper.low == pytest.approx(20)
    assert v.image_data()["db"] is db                                   # values kept
    new = v.source.data["image"][0]
    assert not np.array_equal(new, old)
    np.testing.assert_array_equal(new, colour_map(db, lut, v.mapper.low, v.mapper.high))
    state.db_range = 60



@needs_jtfs
def test_frequential_wavelets_sent_only_where_visible(jstate):
    """The JTFS frequential wavelets, as the first-order ones: each curve where it exceeds
    1e-3 of the tallest (on its own frequencies), the rest of the axis left out."""
    from scatviz.views import FilterBankView
    from scatviz.views.filterbank import TRIM_FLOOR

    v = FilterBankView(jstate)
    fr = jstate.result.jtfs.fr_filters
    q = np.asarray(fr["freqs"], np.float64)
    full = [np.abs(u) for u in fr["up"]] + [np.abs(d) for d in fr["dn"]]
    top = max(float(y.max()) for y in full)
    sent = list(zip(v.src_fr_up.data["xs"], v.src_fr_up.data["ys"])) + \
        list(zip(v.src_fr_dn.data["xs"], v.src_fr_dn.data["ys"]))
    assert len(sent) == len(full)
    for (xs, ys), y in zip(sent, full):
        lo = int(np.argmin(np.abs(q - xs[0])))
        np.testing.assert_allclose(ys, y[lo:lo + len(ys)], rtol=5e-6, atol=1e-12)
        outside = np.concatenate([y[:lo], y[lo + len(ys):]])
        assert outside.size == 0 or outside.max() <= TRIM_FLOOR * top
    assert sum(len(ys) for _, ys in sent) < 0.7 * sum(len(y) for y in full)
    assert v.fig_fr.x_range.start < q.min() and v.fig_fr.x_range.end > q.max()
