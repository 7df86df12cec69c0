"""scatviz.process: the settings of the process that serves the dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scatviz import process

ROOT = Path(__file__).resolve().parents[2]


def test_startup_objects_frozen_once_per_process(monkeypatch):
    """The server exempts the libraries' objects from the cyclic collector once; later
    sessions do not freeze theirs (their reference cycles must stay collectable)."""
    import gc

    monkeypatch.setattr(process, "_frozen", False)
    try:
        assert process.freeze_startup_objects() is True
        frozen = gc.get_freeze_count()
        assert frozen > 10_000
        junk = [[i] for i in range(1000)]
        assert process.freeze_startup_objects() is False
        # none of the new objects frozen (the count may drop: a frozen object that another
        # thread releases meanwhile leaves the permanent generation; seen once in CI)
        assert gc.get_freeze_count() <= frozen and junk
    finally:
        gc.unfreeze()


RETAIN_PROBE = """
import ctypes, sys
from scatviz.process import retain_freed_memory
if sys.argv[1] == "on":
    assert retain_freed_memory() is True
    assert retain_freed_memory() is False               # once per process
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]
block = libc.malloc(4 << 20)                            # a 4 MiB temporary
print(int(block < libc.sbrk(0)))                        # 1: inside the heap, 0: its own mmap
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_retain_freed_memory_serves_large_blocks_from_the_heap():
    """With the setting a 4 MiB block comes from the heap, whose freed pages the next blocks
    reuse; by default glibc maps it on its own, unmaps it when freed, and the next one of its
    size faults in fresh pages (until a freed block of that size raises its threshold)."""
    def in_heap(mode):
        out = subprocess.run([sys.executable, "-c", RETAIN_PROBE, mode], capture_output=True,
                             text=True, check=True, cwd=ROOT)
        return out.stdout.split()[-1] == "1"
    assert in_heap("on")
    assert not in_heap("off")


SETUP_PROBE = """
import gc, os, runpy
os.environ.pop("OMP_WAIT_POLICY", None)
settings = runpy.run_path("scatviz/serve_setup.py")["SETTINGS"]
print(settings["freeze_startup_objects"], gc.get_freeze_count() > 10_000,
      os.environ.get("OMP_WAIT_POLICY"))
from scatviz.process import apply_server_settings
print(apply_server_settings())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_server_settings_applied_once_by_the_setup_script_not_the_app():
    """``panel serve --setup scatviz/serve_setup.py`` applies the process-wide settings once,
    with the dashboard's libraries imported (so that they are what is frozen); a second call
    applies nothing, and the app script (run per session) applies none."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", SETUP_PROBE], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env).stdout.splitlines()
    assert out[-2] == "True True PASSIVE"
    assert out[-1] == "{'retain_freed_memory': False, 'freeze_startup_objects': False}"
    app = (ROOT / "apps" / "dashboard.py").read_text()
    assert "scatviz.process" not in app and "OMP_WAIT_POLICY" not in app
    # every launcher passes the setup script: the tests' own, and `scatviz serve` (which
    # scripts/serve.sh runs)
    assert "scatviz/serve_setup.py" in (ROOT / "tests" / "conftest.py").read_text().replace(
        '"scatviz" / "serve_setup.py"', "scatviz/serve_setup.py")
    assert "scatviz.cli serve" in (ROOT / "scripts" / "serve.sh").read_text()
    from scatviz.cli import serve_command

    cmd = serve_command()
    setup = Path(cmd[cmd.index("--setup") + 1])
    assert setup.parts[-2:] == ("scatviz", "serve_setup.py") and setup.is_file()
