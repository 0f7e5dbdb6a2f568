#!/usr/bin/env bash
# The test suite against PostgreSQL (pytest-django creates and drops test_<db>). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ddpui}"
exec .venv/bin/python -m pytest "$@"
