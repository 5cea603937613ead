#!/usr/bin/env bash
# The main job: bring the AuditFlow sandbox up, push a burst of events through it and show that
# every one arrived exactly once. The sandbox keeps running afterwards (`make down` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/genesis-drill platform up
.venv/bin/genesis-drill platform verify --events "${EVENTS:-20000}"
