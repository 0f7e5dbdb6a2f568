#!/usr/bin/env bash
# Set-up on a fresh machine, idempotent: PostgreSQL installed and running with DATABASE_URL's role and database,
# nginx installed (scripts/setup_system.sh), the project's virtualenv with its pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup_system.sh

# Headless Chromium for the summary page's browser tests and the demo's screenshot (Debian packages).
bash scripts/setup_chromium.sh

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
# `--dev` adds the test and benchmark tools (requirements-dev.txt includes requirements.txt); the runtime
# install carries none of them.
requirements=requirements.txt
if [ "${1:-}" = "--dev" ]; then requirements=requirements-dev.txt; fi
stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt "$requirements" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing $requirements"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" > "$stamp"
fi
