#!/usr/bin/env bash
# ruff and mypy --strict over the package, the benchmarks and the tests (CI runs this before pytest).
# Test functions and fixtures may stay unannotated, but their bodies are type-checked like the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check zettelmem tests bench scripts
.venv/bin/mypy --strict zettelmem bench
.venv/bin/mypy --strict --allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls tests
