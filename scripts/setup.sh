#!/usr/bin/env bash
# Create .venv and install zettelmem with the given extras (default: none).
#   bash scripts/setup.sh            # library + CLI (embedded default)
#   bash scripts/setup.sh test       # + everything the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[$extras]"
else
  .venv/bin/python -m pip install -q -e .
fi
