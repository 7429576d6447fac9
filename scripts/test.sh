#!/usr/bin/env bash
# Runs the whole test suite (slow SmolLM2 tests included) plus ruff and the Dagster definitions check.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
"$PY" -m ruff check .
# Two workers, a test file per worker at a time (a file's fixtures stay with it): most of the
# suite's time is Dagster runs in child processes and sandboxed tests waiting on each other, so
# two workers on two cores finish sooner (measured on 2 idle cores: 12 min 22 s against 17 min 49 s with one).
# CORAL_TEST_WORKERS=0 runs the suite in this process (for a debugger).
"$PY" -m pytest -q -p no:cacheprovider --durations=15 -n "${CORAL_TEST_WORKERS:-2}" --dist loadfile "$@"
