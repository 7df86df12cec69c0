"""scatviz dashboard: ``panel serve apps/dashboard.py`` (or ``bash scripts/serve.sh``).

Thin entry point: everything lives in `scatviz.views.dashboard`.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from scatviz.views.dashboard import Dashboard  # noqa: E402

Dashboard().servable()
