"""`sofli`'s entry module: Airflow reads its configuration on first import, so importing the
CLI must not import Airflow before `configure_environment` has set AIRFLOW_HOME and friends."""

import json
import subprocess
import sys

from etl.core.settings import REPO_ROOT


def test_importing_the_cli_imports_no_airflow():
    probe = ("import json, sys; import etl.cli.main; "
             "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
