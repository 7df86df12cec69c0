#!/usr/bin/env bash
# Set up (if needed) and serve the dashboard: http://127.0.0.1:${PORT:-5006}
# Usage: [PORT=5006] bash scripts/serve.sh [extra panel serve args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

port=${PORT:-5006}
args=(apps/dashboard.py --setup scatviz/serve_setup.py --address 127.0.0.1 --port "$port"
      --allow-websocket-origin "127.0.0.1:$port" --allow-websocket-origin "localhost:$port")
# Open a browser tab only where there is a display to show it on.
if [ -n "${DISPLAY:-}" ]; then
    args+=(--show)
fi

export OMP_WAIT_POLICY=PASSIVE
echo "[serve] http://127.0.0.1:$port/dashboard (Ctrl+C to stop)"
exec .venv/bin/python -m panel serve "${args[@]}" "$@"
