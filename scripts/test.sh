#!/usr/bin/env bash
# Runs the whole test suite (slow SmolLM2 tests included) plus ruff and the Dagster definitions check.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
"$PY" -m ruff check .
"$PY" -m pytest -q -p no:cacheprovider --durations=15 "$@"
