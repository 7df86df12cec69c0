#!/usr/bin/env bash
# Lint and run the whole test suite (all markers: slow, browser, gpu).
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "[test] $*"; }

bash scripts/setup.sh

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Chromium (Debian package) for the browser tests ..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        say "WARNING: /usr/bin/chromium is missing and this is not root: the browser tests will be"
        say "skipped. Install it with: sudo apt-get install chromium"
    fi
fi

export OMP_WAIT_POLICY=PASSIVE

# Both steps always run, so one report shows lint and test failures together.
say "ruff check ."
lint=0
.venv/bin/ruff check . || lint=$?

say "pytest $*"
rc=0
.venv/bin/python -m pytest "$@" || rc=$?
# Exit code 5 = no tests collected: an error for the whole suite, but only a note when the
# caller's own selection (-k, -m, a path) matched nothing.
if [ "$rc" = 5 ] && [ "$#" -gt 0 ]; then
    say "no test matched the selection: $*"
    rc=0
fi
if [ "$lint" != 0 ]; then
    say "FAILED: ruff check found problems (see above; \`ruff check --fix .\` fixes some)"
fi
if [ "$rc" != 0 ]; then
    say "FAILED: pytest exited with $rc"
fi
[ "$rc" = 0 ] || exit "$rc"
exit "$lint"
