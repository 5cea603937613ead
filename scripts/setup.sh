#!/usr/bin/env bash
# Install everything genesis-drill needs on Debian 12, and nothing twice:
#   - the Debian packages of the local sandbox (apt, with sudo when not root),
#   - a virtualenv in .venv with the project and its dev tools (re-installed when pyproject changes).
# Safe to run again: every step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  rabbitmq-server postgresql redis-server
  prometheus prometheus-alertmanager prometheus-node-exporter
  prometheus-postgres-exporter prometheus-redis-exporter
  chromium
)
PYTHON=${PYTHON:-python3}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  # Debian starts the system's own RabbitMQ/PostgreSQL/Redis on install; the sandbox never uses
  # them (it runs private instances on its own ports), so they are left alone.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "Debian packages present"
fi

if [ ! -x .venv/bin/python ]; then
  say "creating virtualenv .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.genesis-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
else
  say "Python packages present"
fi
