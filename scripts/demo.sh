#!/usr/bin/env bash
# Set up zettelmem and run the demo on the embedded default: no server, no API key.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/zettelmem demo "$@"
