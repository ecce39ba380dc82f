"""The DagBag of `dags/`, parsed once per session for the DAG tests."""

import os

import pytest

from etl.core.settings import REPO_ROOT


@pytest.fixture(scope="session")
def dagbag(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415 - Airflow reads AIRFLOW_HOME on import

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))
