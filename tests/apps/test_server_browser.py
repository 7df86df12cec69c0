"""The served dashboard under hostile and heavy use, in a real Chromium against `panel serve`
(marked browser): nothing a visitor sends takes the server down.

One server for the module, started with a small memory budget (1 GiB: requests are reduced
sooner, so the test computes little) and the test-only crash hook enabled
(``SCATVIZ_TEST_HOOKS=1``; `scatviz.server.workers`); the hung-transform test has its own
server with a short per-job time limit (``SCATVIZ_JOB_TIMEOUT``). Every wait is bounded in
time, every loop in count and time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from tests.conftest import (  # noqa: E402
    REPO_ROOT,
    SERVE_SETUP,
    _free_port,
    _stop,
    _wait_live,
)

pytestmark = pytest.mark.browser
slow = pytest.mark.slow

STATUS = re.compile(r"#(\d+) · .* computed in")


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (the worker processes), from /proc."""
    total = 0
    todo = [pid]
    for _ in range(64):                                   # bounded walk of the process tree
        if not todo:
            break
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, AttributeError, ValueError):
            continue
    return total


def _serve(tmp_path_factory, **extra_env):
    """Start ``panel serve apps/dashboard.py`` with the hook enabled (and ``extra_env``);
    yield ``(base_url, Popen, log path)``, stop it afterwards."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SCATVIZ_TEST_HOOKS="1", SCATVIZ_MEMORY_BUDGET="1G",
               SCATVIZ_WORKERS="2", OMP_WAIT_POLICY="PASSIVE",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH")])),
               **extra_env)
    log = tmp_path_factory.mktemp("server_browser") / "dashboard.log"
    cmd = [sys.executable, "-m", "panel", "serve", str(REPO_ROOT / "apps" / "dashboard.py"),
           "--address", "127.0.0.1", "--port", str(port),
           "--allow-websocket-origin", f"127.0.0.1:{port}", "--liveness",
           "--setup", str(SERVE_SETUP), "--num-procs", "1"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_live(proc, base, log, 120)
        yield base, proc, log
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(base_url, Popen, log)`` of ``panel serve apps/dashboard.py`` with the hook enabled."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def short_timeout_server(tmp_path_factory):
    """The same server with a short per-job time limit: 10 s, or 2 x a job's cost estimate
    when that is longer (`scatviz.server.budget.ServerBudget.job_timeout`), so that a hung
    transform is stopped soon while a real one (well under a second at N=8192 on an idle
    machine) keeps a wide margin on a loaded one."""
    yield from _serve(tmp_path_factory, SCATVIZ_JOB_TIMEOUT="10",
                      SCATVIZ_JOB_TIMEOUT_FACTOR="2")


def alive(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/liveness", timeout=5) as r:
            return r.status == 200
    except (OSError, ConnectionError):
        return False


def open_page(page: Page, url: str, computed: bool = True) -> Page:
    """Open ``url`` (the first page waits for the workers to start: minutes under load) and,
    when ``computed``, wait for its first result."""
    page.set_viewport_size({"width": 1300, "height": 900})
    page.goto(url, timeout=180_000)
    if computed:
        expect(page.get_by_text(STATUS)).to_be_visible(timeout=180_000)
    return page


def generation(page: Page) -> int:
    return int(STATUS.search(page.get_by_text(STATUS).inner_text()).group(1))


def press(page: Page, label: str, key: str = "ArrowRight") -> None:
    """Move the slider titled ``label...`` by one step with the keyboard (a release)."""
    titles = page.locator(".bk-slider-title")
    for i in range(min(titles.count(), 30)):
        if titles.nth(i).inner_text().startswith(label):
            handle = page.locator(".noUi-handle").nth(i)
            handle.focus()
            handle.press(key)
            return
    raise AssertionError(f"no slider {label!r}")


def answered(page: Page, after: int, timeout_s: float = 120.0) -> None:
    """Wait (at most ``timeout_s``) until the page shows a fully published result newer
    than generation ``after``."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = page.get_by_text(STATUS).inner_text()
        m = STATUS.search(text)
        if m and int(m.group(1)) > after and "all views updated" in text:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no answer after generation {after} in {timeout_s:.0f} s: {text!r}")


def status_matches(page: Page, pattern: str, timeout_ms: int = 120_000) -> None:
    expect(page.get_by_text(re.compile(pattern)).first).to_be_visible(timeout=timeout_ms)


def test_the_hostile_url_leaves_the_server_alive_and_says_what_it_did(server, page: Page):
    base, proc, _ = server
    open_page(page, f"{base}/dashboard?N=1000000000&gen=exponential_chirp&theme=bogus&J=99",
              computed=False)
    status_matches(page, r"URL argument N=1000000000 is not an offered length")
    status_matches(page, r"theme='bogus' is not a theme")
    status_matches(page, r"J=99 is outside 1\.\.16")
    assert alive(base) and proc.poll() is None


def test_a_30s_192khz_upload_leaves_the_server_alive_and_opens_as_an_overview(
        server, page: Page, tmp_path):
    """Too long for one change: the overview of all 30 s, and a detail window that the page
    says it shortened (what the window holds is costed before it runs)."""
    base, proc, _ = server
    open_page(page, f"{base}/dashboard")
    sr = 192_000
    x = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(30 * sr) / sr)).astype(np.float32)
    path = tmp_path / "long192k.wav"
    sf.write(path, x, sr, subtype="PCM_16")
    assert 11e6 < path.stat().st_size < 12e6
    page.locator("input[type=file]").set_input_files(str(path))
    status_matches(page, r"Detail window shortened to [\d.]+ s", 180_000)
    status_matches(page, r"long192k.*30\.0 s at 192000 Hz", 180_000)           # the overview
    status_matches(page, r"#\d+ · long192k\.wav @ ", 180_000)                  # the window
    assert alive(base) and proc.poll() is None


def test_a_crashing_transform_leaves_another_page_working(server, browser):
    base, proc, _ = server
    ctx = browser.new_context()
    try:
        crasher = open_page(ctx.new_page(), f"{base}/dashboard?test_hook=abort")
        other = open_page(ctx.new_page(), f"{base}/dashboard")
        press(crasher, "Q1 (")
        status_matches(crasher, r"worker process crashed", 120_000)
        g = generation(other)
        press(other, "Q1 (")
        answered(other, g)
        assert alive(base) and proc.poll() is None
    finally:
        ctx.close()


@slow
def test_a_hung_transform_is_stopped_and_another_page_keeps_working(short_timeout_server,
                                                                     browser):
    """A transform that never returns (``test_hook=hang``: native code stuck) is stopped
    after the job's time limit: its page says so, its worker is killed and replaced, and a
    page opened beside it answers changes meanwhile and after."""
    base, proc, _ = short_timeout_server
    ctx = browser.new_context()
    try:
        hung = open_page(ctx.new_page(), f"{base}/dashboard?test_hook=hang")
        other = open_page(ctx.new_page(), f"{base}/dashboard")
        press(hung, "Q1 (")
        g = generation(other)
        press(other, "Q1 (", "ArrowLeft")                       # answered by the other worker
        answered(other, g)
        status_matches(hung, r"The transform was stopped: the transform ran for more than "
                             r"\d+ s.*taken to be hung", 120_000)
        g = generation(other)
        press(other, "Q1 (", "ArrowLeft")                  # and after the kill
        answered(other, g)
        assert alive(base) and proc.poll() is None
    finally:
        ctx.close()


@slow
def test_eight_pages_changing_settings_at_once_all_get_answers(server, browser):
    base, _, _ = server
    ctx = browser.new_context()
    try:
        pages = [open_page(ctx.new_page(), f"{base}/dashboard") for _ in range(8)]
        before = [generation(p) for p in pages]
        for i, p in enumerate(pages):                     # distinct settings, all at once
            press(p, "Q1 (", "ArrowRight" if i % 2 else "ArrowLeft")
        for p, g in zip(pages, before):
            answered(p, g, 240.0)
        assert alive(base)
    finally:
        ctx.close()


@slow
def test_200_changes_in_one_session_grow_the_servers_rss_by_less_than_300_mb(
        server, page: Page):
    base, proc, _ = server
    open_page(page, f"{base}/dashboard")
    keys = (["ArrowRight"] * 5 + ["ArrowLeft"] * 5)       # Q1 over six values, back and forth
    deadline = time.monotonic() + 600
    rss0 = None
    for i in range(210):                                  # 10 to warm up, then 200
        if i == 10:
            rss0 = rss_bytes(proc.pid)
        g = generation(page)
        press(page, "Q1 (", keys[i % len(keys)])
        answered(page, g, 60.0)
        assert time.monotonic() < deadline, f"only {i} changes in 600 s"
    grown = rss_bytes(proc.pid) - rss0
    assert grown < 300 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB over 200 changes"
    assert alive(base)


@pytest.fixture
def open_file_server(tmp_path_factory):
    """A server started as `scatviz serve --open night.flac` hands it on (90 s at 16 kHz:
    a long recording for the served default's window)."""
    path = tmp_path_factory.mktemp("open_file") / "night.flac"
    rng = np.random.default_rng(5)
    with sf.SoundFile(path, "w", 16_000, 1) as f:                       # in blocks
        for _ in range(90):
            f.write((0.1 * rng.standard_normal(16_000)).astype(np.float32))
    yield from _serve(tmp_path_factory, SCATVIZ_OPEN_FILE=str(path))


@slow
def test_serve_open_file_draws_the_page_then_the_recordings_overview(open_file_server,
                                                                     page: Page):
    """`--open FILE` in a served page (read, and its overview computed, off the event loop:
    `SignalSources.start_open`, tests/scatviz/test_views_sources_open.py): the page draws,
    then shows the recording's overview and its detail window."""
    base, proc, _ = open_file_server
    open_page(page, f"{base}/dashboard")                # the first picture: bundled signal
    status_matches(page, r"night.*90\.0 s at 16000 Hz", 180_000)           # the overview
    status_matches(page, r"#\d+ · night(\.flac)? @ ", 180_000)             # the window
    assert alive(base) and proc.poll() is None
