#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, architecture contract, then every pytest tier
# (unit, promtool, integration against a real sandbox it starts and stops itself, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "mypy"
.venv/bin/mypy
say "import-linter"
.venv/bin/lint-imports
say "pytest"
.venv/bin/python -m pytest "$@"
