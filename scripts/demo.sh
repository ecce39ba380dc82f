#!/usr/bin/env bash
# The main job on the embedded default: synthetic fagsystemer -> real Airflow DAG runs ->
# SQLite warehouse under ./data. Extra arguments go to `sofli demo` (e.g. --strict).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/sofli demo "$@"
