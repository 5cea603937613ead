#!/usr/bin/env bash
# The main job: bring the AuditFlow sandbox up, prove events flow end to end, then run the
# rabbitmq-outage drill against it and print its summary. The sandbox keeps running afterwards
# (`make down` stops it); the run directory is under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/genesis-drill platform up
.venv/bin/genesis-drill platform verify --events "${EVENTS:-20000}"
.venv/bin/genesis-drill run "${DRILL:-rabbitmq-outage}"
