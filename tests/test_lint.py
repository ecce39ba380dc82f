"""Lint is a test: pyflakes errors, Airflow-2 idioms (ruff's AIR rules), bugbear, pyupgrade,
imports inside functions only with a stated reason, and no dead code (vulture)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from etl.core.settings import REPO_ROOT

LINTED = ("etl", "dags", "schemas", "tests", "plugins", "scripts", "benchmarks")


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", *LINTED],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_import_inside_a_function_says_why():
    """Imports belong at the top; one that must wait (a heavy import DAG parsing must not
    pay, Airflow's configuration, an optional dependency) says so after its noqa."""
    unexplained = [f"{path.relative_to(REPO_ROOT)}:{number}"
                   for folder in LINTED for path in sorted((REPO_ROOT / folder).rglob("*.py"))
                   for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                   if "noqa: PLC0415" in line and not re.search(r"noqa: PLC0415 - \S", line)]
    assert unexplained == []


def test_no_dead_code():
    """Nothing in the production code that nothing calls: vulture over the paths in
    pyproject.toml `[tool.vulture]`. A helper only tests use belongs in tests/support/."""
    vulture = shutil.which("vulture") or str(Path(sys.executable).parent / "vulture")
    result = subprocess.run([vulture], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
