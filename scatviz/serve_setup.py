"""Server start-up script: ``panel serve apps/dashboard.py --setup scatviz/serve_setup.py``.

Panel runs it once, before the server starts (not per session): it applies the serving
process's settings (`scatviz.process.apply_server_settings`), makes the server's transform
service (`scatviz.server.service.get_service`: its memory budget from
``SCATVIZ_MEMORY_BUDGET``, default a quarter of the machine's RAM; ``SCATVIZ_REQUEST_BUDGET``;
``SCATVIZ_WORKERS``) and starts its worker processes in the background, so that the first
page does not wait for them to import torch. A script, not a module to import: importing it
changes the host process.
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
threading.Thread(target=SERVICE.pool.warm, name="scatviz-warm-workers", daemon=True).start()
