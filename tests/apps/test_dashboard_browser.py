"""The dashboard in a real headless Chromium against a real `panel serve` (marked browser)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from scatviz.state import jtfs_available  # noqa: E402

pytestmark = pytest.mark.browser

VIEW_TITLES = ["Signal", "Scalogram", "Filter bank", "Coefficient energies", "JTFS 2D",
               "JTFS 4D animation", "Spin inspector"]


@pytest.fixture(scope="module")
def dashboard_url(panel_server):
    return panel_server("apps/dashboard.py") + "/dashboard"


@pytest.fixture
def loaded(page: Page, dashboard_url):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(dashboard_url)
    expect(page.get_by_text(re.compile(r"#1 · .* computed in"))).to_be_visible(timeout=60_000)
    return page


def _status(page: Page):
    return page.get_by_text(re.compile(r"#\d+ · .* computed in"))


def _generation(page: Page) -> int:
    return int(re.search(r"#(\d+)", _status(page).inner_text()).group(1))


def _press_slider(page: Page, label: str, key: str = "ArrowRight", times: int = 1):
    """Move the slider whose label starts with ``label`` by keyboard (a 'release')."""
    handle = page.locator(".noUi-handle").nth(_slider_index(page, label))
    handle.focus()
    for _ in range(times):
        handle.press(key)


def _slider_index(page: Page, label: str) -> int:
    titles = page.locator(".bk-slider-title")
    n = titles.count()
    idx = 0
    for i in range(n):
        t = titles.nth(i).inner_text()
        if t.startswith(label):
            return idx
        # range sliders have two handles
        idx += 1
    raise AssertionError(f"no slider {label!r}")


def test_page_loads_with_every_view_drawn(loaded: Page):
    page = loaded
    for title in VIEW_TITLES:
        expect(page.get_by_text(title, exact=True).first).to_be_attached()
    # every Bokeh figure has a canvas: signal, scalogram, filter bank (2 freq + time + fr),
    # energies (3), JTFS 2D, JTFS animation, spin inspector (3)
    expect(page.locator("canvas").first).to_be_visible()
    page.wait_for_function("() => true")
    assert page.locator(".bk-Canvas, canvas").count() >= 12
    expect(page.get_by_text(re.compile(r"sample rate 8000 Hz"))).to_be_visible()
    if not jtfs_available():
        expect(page.get_by_text(re.compile("JTFS engine not available")).first).to_be_attached()


def test_moving_J_changes_the_scalogram(loaded: Page):
    page = loaded
    before = _status(page).inner_text()
    rows_before = int(re.search(r"scalogram (\d+)×", before).group(1))
    _press_slider(page, "J (octaves)", "ArrowRight")
    expect(page.get_by_text(re.compile(r"#2 · .*J=7"))).to_be_visible(timeout=30_000)
    rows_after = int(re.search(r"scalogram (\d+)×", _status(page).inner_text()).group(1))
    assert rows_after > rows_before
    # the browser's figure shows the new rows: its y range follows (Bokeh's auto range kept
    # the first extent; the scalogram's range is explicit)
    page.wait_for_function(
        """n => { const doc = window.Bokeh.documents[window.Bokeh.documents.length - 1];
                  const fig = doc.get_model_by_name('scalogram');
                  return fig && fig.y_range.end === n; }""", arg=rows_after, timeout=10_000)


def test_stylesheets_rewritten_only_when_their_text_changes(loaded: Page):
    """`install_browser_fixes`: BokehJS's inline stylesheets skip a write of the text they
    already hold (a rewrite made Chromium recalculate the figure's styles at every paint)
    and still apply a new text."""
    page = loaded
    page.wait_for_function("() => window.Bokeh.require('core/dom').InlineStyleSheet"
                           ".prototype.__scatviz === true", timeout=10_000)
    writes = page.evaluate("""() => {
        const sheet = new (window.Bokeh.require('core/dom').InlineStyleSheet)(':host {}');
        const seen = [];
        new MutationObserver(m => seen.push(m.length)).observe(
            sheet.el, {childList: true, characterData: true, subtree: true});
        sheet.replace(':host { left: 1px; }');
        const first = sheet.el.textContent;
        sheet.replace(':host { left: 1px; }');           // the same text: no write
        return new Promise(r => setTimeout(
            () => r([seen.reduce((a, b) => a + b, 0), first]), 50));
    }""")
    assert writes[0] == 1 and "left: 1px" in writes[1]      # one DOM write, the new text


def _wav_bytes(sr=11025, seconds=0.5):
    t = np.arange(int(sr * seconds)) / sr
    buf = io.BytesIO()
    sf.write(buf, 0.5 * np.sin(2 * np.pi * 660 * t).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


def test_uploading_a_wav_shows_it(loaded: Page, tmp_path):
    page = loaded
    path = tmp_path / "tone660.wav"
    path.write_bytes(_wav_bytes())
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_text(re.compile(r"tone660\.wav · 5512 samples · sample rate 11025 Hz"))
           ).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"#\d+ · tone660\.wav"))).to_be_visible(timeout=30_000)


def test_text_file_renamed_wav_shows_error_and_page_keeps_working(loaded: Page, tmp_path):
    page = loaded
    path = tmp_path / "notes.wav"
    path.write_text("these are not audio samples\n" * 20)
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_text(re.compile(r"notes\.wav: not a readable audio file"))
           ).to_be_visible(timeout=30_000)
    # still alive: a control still recomputes
    gen = _generation(page)
    _press_slider(page, "Q1", "ArrowRight")
    expect(page.get_by_text(re.compile(rf"#{gen + 1} · "))).to_be_visible(timeout=30_000)


def test_jtfs_player_advances_frames(loaded: Page):
    if not jtfs_available():
        pytest.skip("JTFS engine not available (engine/jtfs.py missing): nothing to play")
    page = loaded
    label = page.get_by_text(re.compile(r"· frame \d+/\d+"))
    expect(label).to_be_visible(timeout=30_000)
    first = label.inner_text()
    page.locator("button.play").first.click()
    expect(label).not_to_have_text(first, timeout=15_000)
    second = label.inner_text()
    expect(label).not_to_have_text(second, timeout=15_000)     # and keeps going
    page.locator("button.pause").first.click()


def _slider_title(page: Page, label: str) -> str:
    titles = page.locator(".bk-slider-title")
    for i in range(titles.count()):
        text = titles.nth(i).inner_text()
        if text.startswith(label):
            return text
    raise AssertionError(f"no slider {label!r}")


def test_page_requests_nothing_from_the_internet(page: Page, dashboard_url):
    """Every request the page makes (documents, scripts, styles, fonts, websocket) goes to
    the dashboard's own server: no web font, no CDN."""
    from urllib.parse import urlsplit

    requests = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(dashboard_url)
    expect(page.get_by_text(re.compile(r"#1 · .* computed in"))).to_be_visible(timeout=60_000)
    page.wait_for_timeout(500)
    network = [u for u in requests if urlsplit(u).scheme not in ("data", "blob")]
    assert len(network) > 5
    outside = [u for u in network if urlsplit(u).hostname != "127.0.0.1"]
    assert outside == []


def test_url_settings_show_in_the_controls(page: Page, dashboard_url):
    """``?T=64&Q1=32``: the T and Q1 sliders show the values computed (Q1 up to the state's
    bound 32)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(dashboard_url + "?T=64&Q1=32")
    expect(page.get_by_text(re.compile(r"#1 · .*Q1=32 .* computed in"))).to_be_visible(
        timeout=60_000)
    expect(page.get_by_text(re.compile(r"T \(averaging, samples\): 64$"))).to_be_visible()
    assert _slider_title(page, "Q1").endswith("32")


def test_bad_url_arguments_give_the_defaults_with_a_note(page: Page, dashboard_url):
    """``?theme=bogus&J=99``: the page renders in the default theme, J at its largest
    allowed value, and notes say what was replaced (Panel's template raised on the theme
    and the page stayed blank)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(dashboard_url + "?theme=bogus&J=99&asset=vibrato")
    expect(page.get_by_text(re.compile(r"theme='bogus' is not a theme"))).to_be_visible(
        timeout=60_000)
    expect(page.get_by_text(re.compile(r"J=99 is outside 1\.\.16: using J=16"))
           ).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible(timeout=30_000)
    assert _slider_title(page, "J (octaves)").endswith("16")
