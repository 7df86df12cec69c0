"""The served app for tests: ``scatviz serve``'s own ``panel serve`` command (every page of
`scatviz.pages`), on a free port, with the demos' quick profile and a cache folder of the
test's own, so the pages' first pictures take seconds (not the full profile's minutes)."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO_ROOT, _free_port, _stop, _wait_live


@contextmanager
def app_server(workdir: Path, extra_files: tuple[str, ...] = (), precompute: bool = True,
               timeout: float = 120.0):
    """Yield ``(base_url, log_path)`` of the served app; stop it (its process group) after.

    ``precompute``: fill the quick profile's first pictures first (`python -m
    scatviz.demos.precompute`), as a server start does, so pages open on stored pictures.
    ``extra_files``: more app files to serve (``apps/demo_why_jtfs.py``)."""
    from scatviz.cli import serve_command

    env = dict(os.environ, SCATVIZ_DEMO_PROFILE="quick", SCATVIZ_PRECOMPUTE="0",
               SCATVIZ_DEMO_CACHE=str(workdir / "cache"), OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    log = workdir / "serve.log"
    if precompute:
        res = subprocess.run([env.get("PYTHON", os.sys.executable), "-m",
                              "scatviz.demos.precompute"], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    port = _free_port()
    cmd = serve_command(port=port, extra=["--liveness"])
    at = cmd.index("serve") + 1
    cmd[at:at] = [str(REPO_ROOT / f) for f in extra_files]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_live(proc, base, log, timeout, "the app")
        yield base, log
    finally:
        _stop(proc)
