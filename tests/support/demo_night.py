"""The demo night (`sofli demo`, run by the real CLI in a subprocess, under Airflow's scheduler),
once per test session: `tests/integration/test_demo_chain.py` inspects its outputs and
`tests/browser/` its runs in the Airflow UI (on a copy, so neither sees the other's changes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

EXTRACTION_DATE = "2025-11-15"


@pytest.fixture(scope="session")
def demo_night(tmp_path_factory):
    """{"dir": the data folder, "result": the CompletedProcess, "output": stdout + stderr}."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
    result = subprocess.run([sys.executable, "-m", "etl.cli.main", "--data-dir", str(data_dir), "demo",
                             "--date", EXTRACTION_DATE], capture_output=True, text=True, env=env, timeout=3600)
    return {"dir": data_dir, "result": result, "output": result.stdout + result.stderr, "date": EXTRACTION_DATE}
