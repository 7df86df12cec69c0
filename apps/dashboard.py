"""scatviz dashboard: ``bash scripts/serve.sh`` or ``scatviz serve`` (or
``panel serve apps/dashboard.py --setup scatviz/serve_setup.py``).

Thin entry point: everything lives in `scatviz.views.dashboard`; the server's process-wide
settings are applied once at start-up by `scatviz/serve_setup.py`, not here. URL arguments
choose the signal and the setting, e.g. ``/dashboard?asset=vibrato&J=7&Q1=12`` or
``/dashboard?gen=exponential_chirp&N=65536&sr=22050``; ``?theme=dark`` for the dark theme.
"""

import panel as pn

from scatviz.views.dashboard import Dashboard

Dashboard.from_query(pn.state.session_args).servable()
