"""Server start-up script: ``panel serve apps/dashboard.py --setup scatviz/serve_setup.py``.

Panel runs it once, before the server starts (not per session): it applies the serving
process's settings (`scatviz.process.apply_server_settings`). A script, not a module to
import: importing it changes the host process.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before anything starts OpenMP

import scatviz.views.dashboard  # noqa: E402,F401  (the sessions' libraries, frozen below)
from scatviz.process import apply_server_settings  # noqa: E402

SETTINGS = apply_server_settings()
