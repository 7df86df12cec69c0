"""scatviz dashboard: ``panel serve apps/dashboard.py`` (or ``bash scripts/serve.sh``).

Thin entry point: everything lives in `scatviz.views.dashboard`. URL arguments choose the
signal and the setting, e.g. ``/dashboard?asset=vibrato&J=7&Q1=12`` or
``/dashboard?gen=exponential_chirp&N=65536&sr=22050``; ``?theme=dark`` for the dark theme.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import panel as pn  # noqa: E402

from scatviz.process import freeze_startup_objects, retain_freed_memory  # noqa: E402
from scatviz.views.dashboard import Dashboard  # noqa: E402

# Once per server process: see their docstrings.
retain_freed_memory()
freeze_startup_objects()
Dashboard.from_query(pn.state.session_args).servable()
