#!/usr/bin/env bash
# Set up everything the tests need, start a real Neo4j 5 server on loopback (the
# Chroma server is started by the test fixtures), lint and type-check, run the whole suite, stop Neo4j.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# the viewer test drives a real headless browser: Debian's chromium
if ! command -v chromium >/dev/null 2>&1 && [ -z "${ZETTELMEM_CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the viewer test needs chromium: apt-get install chromium (or set ZETTELMEM_CHROMIUM)" >&2
  fi
fi
bash scripts/lint.sh    # ruff + mypy --strict on package, tests and bench, before any test runs
work="$(mktemp -d)"
# a free loopback port unless one is given
port="${ZETTELMEM_TEST_NEO4J_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
cleanup() { .venv/bin/python scripts/neo4j_server.py stop --data-dir "$work/neo4j" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
.venv/bin/python scripts/neo4j_server.py fetch
.venv/bin/python scripts/neo4j_server.py start --port "$port" --data-dir "$work/neo4j"
# shellcheck disable=SC1091
source "$work/neo4j/env"
export NEO4J_URI NEO4J_USER NEO4J_PASSWORD
export ZETTELMEM_REQUIRE_SERVERS=1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
