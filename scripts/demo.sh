#!/usr/bin/env bash
# The demo: a failing Dalgo pipeline on a real Prefect server -> webhook -> cluster -> stored summary, printed.
set -euo pipefail
cd "$(dirname "$0")/.."
# --dev: the demo drives headless Chromium (selenium) for the summary page's screenshot.
bash scripts/setup.sh --dev
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ddpui_demo}"
exec .venv/bin/python -m scripts.demo "$@"
