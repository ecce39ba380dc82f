#!/usr/bin/env bash
# The test suite (unit, DAG governance, integration with real Airflow runs and SMTP).
# Extra arguments go to pytest (e.g. -m "not integration", -k link).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
