"""Lint is a test: pyflakes errors, Airflow-2 idioms (ruff's AIR rules), bugbear, pyupgrade."""

import shutil
import subprocess
import sys
from pathlib import Path

from etl.core.settings import REPO_ROOT


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "etl", "dags", "schemas", "tests", "plugins"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
