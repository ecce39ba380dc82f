"""Governance: configuration and the data folder each have one owner (issue 22).

- Only the settings owner (`etl/core/settings.py`) reads the environment, and the two that
  set Airflow's up: the CLI entry (`etl/cli/main.py`) and the local Airflow it starts
  (`etl/ops/local_airflow.py`: its child processes inherit this process's environment plus
  Airflow's own variables); every other module under `etl/`, `dags/` and `plugins/` is
  handed `settings` or the value it needs.
- Only the zones owner (`etl/core/zones.py`) knows the names of the files that say what
  the data folder holds (`CURRENT.json`, `manifest.json`, `validation.json`) and how a
  partition folder is named.
- Parsing the DAG folder resolves no setting: a broken setting fails a task, not the parse.

The checks read the code's syntax tree, so a docstring may name a file; code may not.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from etl.core.settings import REPO_ROOT

CODE = [p for folder in ("etl", "dags", "plugins") for p in sorted((REPO_ROOT / folder).rglob("*.py"))]
SETTINGS_OWNERS = {"etl/core/settings.py", "etl/cli/main.py", "etl/ops/local_airflow.py"}
ZONES_OWNER = "etl/core/zones.py"
#: What only the zones owner may spell out.
ZONE_NAMES = ("CURRENT.json", "manifest.json", "validation.json", "extract_date=")
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
BROKEN_JSON = "{broken"


def relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (module, class, function), which may name anything."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def environment_reads(tree: ast.AST) -> list[str]:
    """Every `os.environ` / `os.getenv` use (also through `import os as x` or `from os import environ`)."""
    os_names = {"os"}
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            uses += [f"line {node.lineno}: from os import {a.name}" for a in node.names if a.name in ENVIRONMENT]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT and isinstance(node.value, ast.Name)
                and node.value.id in os_names):
            uses.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return uses


def zone_names(tree: ast.AST) -> list[str]:
    skip = docstrings(tree)
    return [f"line {node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and any(name in node.value for name in ZONE_NAMES)]


def test_only_the_settings_owner_and_the_cli_read_the_environment():
    readers = {relative(p): uses for p in CODE if (uses := environment_reads(ast.parse(p.read_text(), str(p))))}
    assert set(readers) <= SETTINGS_OWNERS, {k: v for k, v in readers.items() if k not in SETTINGS_OWNERS}
    assert set(readers) == SETTINGS_OWNERS  # the check sees them: it would see any other


def test_only_the_zones_owner_names_pointers_manifests_and_partitions():
    namers = {relative(p): names for p in CODE if (names := zone_names(ast.parse(p.read_text(), str(p))))}
    assert set(namers) == {ZONES_OWNER}, {k: v for k, v in namers.items() if k != ZONES_OWNER}


def test_the_checks_catch_what_they_are_for():
    planted = ast.parse('"""Reads staged/<s>/CURRENT.json."""\nimport os as o\nfrom os import getenv\n'
                        'x = o.environ.get("SOFLI_X")\np = root / "CURRENT.json"\nq = f"extract_date={d}"\n')
    assert environment_reads(planted) == ["line 3: from os import getenv", "line 4: o.environ"]
    assert zone_names(planted) == ["line 5: 'CURRENT.json'", "line 6: 'extract_date='"]


def test_parsing_the_dags_resolves_no_setting_and_reads_no_secret(tmp_path):
    """Every setting broken, no key, no demo marker, connections unparseable: the DAG folder
    still parses cleanly, because settings are resolved when a task runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "SOFLI_DATA_DIR": str(tmp_path / "no-such-folder"), "SOFLI_MODE": "demo",
                "SOFLI_RETENTION_DAYS": "abc", "SOFLI_KPI_WORKERS": "0", "SOFLI_EXTRACT_MODE": "sometimes",
                "SOFLI_SOURCE_NOSUCH": "x", "AIRFLOW_CONN_SOFLI_PSEUDONYM_KEY": BROKEN_JSON,
                "AIRFLOW_CONN_SOFLI_WAREHOUSE": BROKEN_JSON, "PYTHONPATH": str(REPO_ROOT)})
    script = ("import json; from airflow.dag_processing.dagbag import DagBag; "
              f"bag = DagBag(dag_folder={str(REPO_ROOT / 'dags')!r}); "
              "print(json.dumps({'errors': {k: str(v)[-300:] for k, v in bag.import_errors.items()}, "
              "'dags': len(bag.dags)}))")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {} and parsed["dags"] >= 10
    assert not (tmp_path / "no-such-folder").exists()  # and nothing was written to the data folder
