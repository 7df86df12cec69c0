"""One page's upload does not stop the server: in a real Chromium against `panel serve`, while
a page's long upload is being decoded (held in flight by the test-only gate,
``SCATVIZ_TEST_UPLOAD_GATE``, `scatviz.views.sources`), another page's setting change is
answered, and the uploading page says what it is doing; once the gate opens its overview and
detail window arrive (marked browser and slow: a server of its own). Every wait is bounded."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

from tests.apps.test_server_browser import (  # noqa: E402
    _serve,
    alive,
    answered,
    generation,
    open_page,
    press,
    status_matches,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory):
    """``(base_url, Popen, log, gate path)``: uploads wait in their thread until the gate
    file exists."""
    gate = tmp_path_factory.mktemp("upload_gate") / "open"
    for base, proc, log in _serve(tmp_path_factory, SCATVIZ_TEST_UPLOAD_GATE=str(gate)):
        yield base, proc, log, gate


def test_another_page_is_answered_while_a_long_upload_is_decoded(gated_server, browser,
                                                                 tmp_path):
    base, proc, _, gate = gated_server
    sr = 16_000
    rng = np.random.default_rng(0)
    path = tmp_path / "minute.wav"
    sf.write(path, (0.3 * rng.standard_normal(60 * sr)).astype(np.float32), sr,
             subtype="PCM_16")
    ctx = browser.new_context()
    try:
        uploader = open_page(ctx.new_page(), f"{base}/dashboard")
        other = open_page(ctx.new_page(), f"{base}/dashboard")
        uploader.locator("input[type=file]").set_input_files(str(path))
        decoding = uploader.get_by_text("Decoding minute.wav")
        expect(decoding).to_be_visible(timeout=120_000)
        g = generation(other)
        t0 = time.monotonic()
        press(other, "Q1 (")
        answered(other, g, timeout_s=120)
        took = time.monotonic() - t0
        # the upload is still in flight (the gate is closed): the server answered meanwhile
        expect(decoding).to_be_visible(timeout=1000)
        assert took < 120
        gate.touch()
        status_matches(uploader, r"minute\.wav.*60\.0 s at 16000 Hz", 180_000)   # overview
        status_matches(uploader, r"#\d+ · minute\.wav @ ", 180_000)               # window
        expect(decoding).to_be_hidden(timeout=30_000)
        assert alive(base) and proc.poll() is None
    finally:
        ctx.close()
