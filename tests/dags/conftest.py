"""The DagBag of `dags/`, parsed once per session for the DAG tests."""

import pytest


@pytest.fixture(scope="session")
def dagbag(tmp_path_factory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag

    from etl.core.settings import REPO_ROOT
    return DagBag(dag_folder=str(REPO_ROOT / "dags"))
