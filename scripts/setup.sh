#!/usr/bin/env bash
# Idempotent set-up of the development environment:
#   - creates .venv with python3 (>= 3.10) when it is missing,
#   - installs scatviz editable with its test extra, pinned by constraints.txt,
#   - skips the install when pyproject.toml, constraints.txt and the interpreter are unchanged
#     since the last successful run (hash stamp in .venv) and the install still points here.
# Needs only PyPI (or the machine's configured wheel folders) and, on Debian without venv, apt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd -P)
venv="$root/.venv"
py="$venv/bin/python"

say() { echo "[setup] $*"; }

if [ ! -x "$py" ]; then
    base=${PYTHON:-python3}
    command -v "$base" >/dev/null || { say "error: $base not found; install Python >= 3.10"; exit 1; }
    "$base" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || { say "error: $("$base" -V 2>&1) is too old; scatviz needs Python >= 3.10"; exit 1; }
    # Debian's system python ships venv/ensurepip separately (python3-venv).
    if ! "$base" -c 'import ensurepip, venv' 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            say "installing python3-venv (Debian)"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        else
            say "error: $base has no venv module; install python3-venv"; exit 1
        fi
    fi
    say "creating .venv with $("$base" -V 2>&1)"
    rm -rf "$venv"
    "$base" -m venv "$venv"
fi

stamp="$venv/.scatviz-setup.sha256"
want=$( { cat pyproject.toml constraints.txt; "$py" -VV; echo "$root"; } | sha256sum | cut -d' ' -f1)

# Up to date: same inputs, and `engine`/`scatviz` import from this checkout outside the repo dir.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && (cd / && "$py" -c 'import sys, engine, scatviz, pytest, ruff
sys.exit(not engine.__file__.startswith(sys.argv[1] + "/"))' "$root") 2>/dev/null; then
    say "environment up to date (.venv)"
    exit 0
fi

say "installing scatviz (editable) with test extras, pinned by constraints.txt ..."
start=$SECONDS
# -qq: only errors (the machine's pip config names local index folders that may not exist).
"$py" -m pip install -qq --disable-pip-version-check -c constraints.txt -e ".[test]"
echo "$want" > "$stamp"
say "done in $((SECONDS - start)) s"
