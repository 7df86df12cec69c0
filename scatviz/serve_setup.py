"""Server start-up script: ``panel serve apps/dashboard.py --setup scatviz/serve_setup.py``.

Panel runs it once, before the server starts (not per session): it applies the serving
process's settings (`scatviz.process.apply_server_settings`), makes the server's transform
service (`scatviz.server.service.get_service`: its memory budget from
``SCATVIZ_MEMORY_BUDGET``, default a quarter of the machine's RAM; ``SCATVIZ_REQUEST_BUDGET``;
``SCATVIZ_WORKERS``) and starts its worker processes in the background once the server's
event loop runs, so that the first page does not wait for them to import torch. A script,
not a module to import: importing it changes the host process.
"""

import os
import sys
import threading

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before anything starts OpenMP

import scatviz.views.dashboard  # noqa: E402,F401  (the sessions' libraries, frozen below)
from scatviz.process import apply_server_settings  # noqa: E402
from scatviz.server.service import get_service  # noqa: E402

SETTINGS = apply_server_settings()
SERVICE = get_service()
print(f"[scatviz] {SERVICE.budget.describe()}", file=sys.stderr, flush=True)


def _warm_workers() -> None:
    SERVICE.pool.warm()
    print(f"[scatviz] worker processes started: {SERVICE.pool.pids()}", file=sys.stderr,
          flush=True)


def _start_warming() -> None:
    threading.Thread(target=_warm_workers, name="scatviz-warm-workers", daemon=True).start()


# once the server's event loop runs (not in a process that only runs this script)
try:
    from tornado.ioloop import IOLoop

    IOLoop.current().add_callback(_start_warming)
except Exception as exc:          # no loop: the first request starts the workers
    print(f"[scatviz] workers start on first use ({exc})", file=sys.stderr, flush=True)
