"""Lint is a test: pyflakes errors, Airflow-2 idioms (ruff's AIR rules), bugbear, pyupgrade,
imports inside functions only with a stated reason, and no dead code (vulture)."""

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


def test_no_dead_code():
    """Nothing in the production code that nothing calls: vulture over the paths in
    pyproject.toml `[tool.vulture]`. A helper only tests use belongs in tests/support/."""
    vulture = shutil.which("vulture") or str(Path(sys.executable).parent / "vulture")
    result = subprocess.run([vulture], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
