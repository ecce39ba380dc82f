#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: system packages (as root), a virtualenv in
# .venv with the pinned requirements, and this project installed into it. Fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# pango: WeasyPrint's PDF of the committee report; poppler-utils: pdftoppm/pdftotext in its tests
SYSTEM_PACKAGES=(unixodbc odbc-postgresql postgresql libpango-1.0-0 libpangoft2-1.0-0 poppler-utils)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.sofli-requirements.sha256"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: installing pinned requirements (first time: a minute or two)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
