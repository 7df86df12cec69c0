"""Shared test set-up: thread limits, data folders, Panel servers and Debian's Chromium.

Fixtures
--------
reference_dir, fsdd_sample_dir
    Data shipped in ``tests/data`` (always there): Kymatio's reference outputs and 120 FSDD
    recordings (``tests/data/README.md`` gives their provenance and licences).
shared_dir, fsdd_dir
    The shared data folder (``../shared`` beside the repository, or ``$SCATVIZ_SHARED``) and its
    full FSDD (3,000 recordings); tests using them skip with a reason when absent.
panel_server
    Factory ``panel_server(app_path, *extra_args) -> base_url`` running ``panel serve`` on a free
    port; the app is at ``f"{base_url}/{Path(app_path).stem}"``. Servers live for the session.
chromium_launch_kwargs
    Playwright launch keyword arguments for ``/usr/bin/chromium``; pytest-playwright's
    ``browser_type_launch_args`` uses them, so its ``page`` fixture works with Debian's Chromium.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

# Before torch starts OpenMP: idle OpenMP workers must not spin on CI's two cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = REPO_ROOT / "tests" / "data"
#: Kymatio's Scattering1D outputs, shipped with the repository (see tests/data/README.md).
REFERENCE_DIR = TEST_DATA / "reference"
#: Run once by every ``panel serve`` of the tests, as by ``scripts/serve.sh``.
SERVE_SETUP = REPO_ROOT / "scatviz" / "serve_setup.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = (
    f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install chromium`, which "
    "`bash scripts/test.sh` does when run as root); never `playwright install`"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests without CUDA and ``browser`` tests without Chromium, with a reason."""
    skip_gpu = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False")
    skip_browser = pytest.mark.skip(reason=NO_CHROMIUM)
    has_cuda = torch.cuda.is_available()
    has_chromium = CHROMIUM.exists()
    for item in items:
        if not has_cuda and "gpu" in item.keywords:
            item.add_marker(skip_gpu)
        if not has_chromium and "browser" in item.keywords:
            item.add_marker(skip_browser)


# ------------------------------------------------------------------------- shared data


def shared_root() -> Path:
    """Where the shared data folder should be: ``$SCATVIZ_SHARED`` or ``../shared`` beside the
    repository (it may not exist). For collection-time code (parametrize over reference files):
    ``from tests.conftest import shared_root``; tests use the ``shared_dir`` fixture instead."""
    env = os.environ.get("SCATVIZ_SHARED")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder (see ``shared_root``); skips the test when it is missing."""
    path = shared_root()
    if not path.is_dir():
        pytest.skip(
            f"shared data folder {path} not found: clone the repository beside `shared/` "
            "or set SCATVIZ_SHARED=/path/to/shared"
        )
    return path


def _subdir(shared: Path, *parts: str) -> Path:
    path = shared.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"{path} not found in the shared data folder")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Kymatio reference outputs (``*.npz``, described in tests/data/README.md)."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def fsdd_sample_dir() -> Path:
    """120 FSDD recordings shipped in ``tests/data/fsdd``: takes 0 and 5 of every digit and
    speaker, ``{digit}_{speaker}_{take}.wav`` at 8 kHz."""
    return TEST_DATA / "fsdd"


@pytest.fixture(scope="session")
def fsdd_dir(shared_dir: Path) -> Path:
    """The full Free Spoken Digit Dataset from the shared folder (3,000 recordings,
    ``{digit}_{speaker}_{index}.wav`` at 8 kHz); ``fsdd_sample_dir`` needs no shared folder."""
    return _subdir(shared_dir, "data", "fsdd")


# ------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium_launch_kwargs() -> dict:
    """Playwright ``launch()`` keyword arguments for Debian's headless Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    return dict(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_launch_kwargs: dict) -> dict:
    """pytest-playwright's launch arguments, pointed at ``/usr/bin/chromium``."""
    return {**browser_type_launch_args, **chromium_launch_kwargs}


# ------------------------------------------------------------------------- panel serve


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's whole process group; kill it if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, n: int = 40) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-n:])


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    """Poll ``pred`` every 20 ms until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _wait_live(proc: subprocess.Popen, base: str, log: Path, timeout: float,
               what: str = "panel serve") -> None:
    """Wait until ``<base>/liveness`` answers 200; fail the test (with the log's tail) when the
    server exits first or is not live after ``timeout`` seconds (then stop it)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base}/liveness", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"{what} not live after {timeout:.0f} s:\n{_tail(log)}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def panel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Factory: ``panel_server(app_path, *extra_args, timeout=90.0, fresh=False) -> base_url``.

    Starts ``panel serve <app> --address 127.0.0.1 --port <free port> --liveness --setup
    scatviz/serve_setup.py`` (the server's process-wide settings) from the repository root (on ``PYTHONPATH``), waits until ``<base_url>/liveness`` answers and returns
    ``http://127.0.0.1:<port>``; the app is served at ``<base_url>/<app stem>``. A server is
    reused for the same app and arguments unless ``fresh=True``; all are stopped (process group)
    at the end of the session.

    Example::

        def test_loads(panel_server, page):
            base = panel_server("apps/dashboard.py")
            page.goto(f"{base}/dashboard")
    """
    started: dict[tuple, str] = {}
    procs: list[subprocess.Popen] = []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["OMP_WAIT_POLICY"] = "PASSIVE"

    def start(
        app_path: str | os.PathLike, *extra_args: str, timeout: float = 90.0, fresh: bool = False
    ) -> str:
        app = Path(app_path)
        app = app if app.is_absolute() else REPO_ROOT / app
        if not app.exists():
            raise FileNotFoundError(f"panel_server: no app at {app}")
        key = (str(app), extra_args)
        if key in started and not fresh:
            return started[key]
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [
            sys.executable, "-m", "panel", "serve", str(app),
            "--address", "127.0.0.1", "--port", str(port),
            "--allow-websocket-origin", f"127.0.0.1:{port}",
            "--allow-websocket-origin", f"localhost:{port}",
            "--liveness", "--setup", str(SERVE_SETUP), *extra_args,
        ]  # fmt: skip
        log = tmp_path_factory.mktemp("panel_serve") / f"{app.stem}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        procs.append(proc)
        _wait_live(proc, base, log, timeout, f"panel serve {app.name}")
        started[key] = base
        return base

    yield start
    for proc in procs:
        _stop(proc)
