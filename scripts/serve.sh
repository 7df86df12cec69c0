#!/usr/bin/env bash
# Set up (if needed) and serve the app: http://127.0.0.1:${PORT:-5006}/ - the dashboard, the
# teaching demos (/why_jtfs, /reconstruction, /digits) and /explorer when apps/explorer.py
# exists, as pages of one server (`scatviz serve`). The demos' missing first pictures are
# computed in the background (SCATVIZ_PRECOMPUTE=0: not).
# Usage: [PORT=5006] bash scripts/serve.sh [extra panel serve args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

port=${PORT:-5006}
args=(--port "$port")
# Open a browser tab only where there is a display to show it on.
if [ -n "${DISPLAY:-}" ]; then
    args+=(--show)
fi

export OMP_WAIT_POLICY=PASSIVE
echo "[serve] http://127.0.0.1:$port/dashboard (Ctrl+C to stop)"
exec .venv/bin/python -m scatviz.cli serve "${args[@]}" -- "$@"
