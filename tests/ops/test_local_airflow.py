"""The environment Airflow runs with on a data folder, and what `sofli run --check` may print."""

from __future__ import annotations

from pathlib import Path

from airflow.sdk.module_loading import import_string

from etl.ops.check import masked
from etl.ops.local_airflow import airflow_environment


def test_one_port_sets_the_api_the_execution_api_and_the_base_url(tmp_path):
    env = airflow_environment(tmp_path, port=9090, smtp_port=2525, mode="demo")
    assert env["AIRFLOW__API__PORT"] == "9090" and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9090/execution/"
    assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:9090"
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow") and env["SOFLI_MODE"] == "demo"
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Europe/Copenhagen" and env["TZ"] == "Europe/Copenhagen"
    assert '"port": 2525' in env["AIRFLOW_CONN_SMTP_DEFAULT"]
    public = airflow_environment(tmp_path, port=8081, host="0.0.0.0")
    assert public["AIRFLOW__API__BASE_URL"] == "http://localhost:8081"
    assert public["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"


def test_the_sqlite_metadata_db_waits_for_locks_and_postgresql_does_not_need_to(tmp_path):
    sqlite = airflow_environment(tmp_path)
    assert import_string(sqlite["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"]) == {"timeout": 60}
    assert sqlite["AIRFLOW__CORE__PARALLELISM"] == "4"
    # set explicitly (a moved folder's airflow.cfg keeps the old path), and not mistaken for an external DB
    assert sqlite["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}"
    assert airflow_environment(tmp_path, metadata_url=sqlite["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) == sqlite
    postgres = airflow_environment(tmp_path, metadata_url="postgresql+psycopg2://a@db/airflow")
    assert postgres["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://a@db/airflow"
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS" not in postgres and "AIRFLOW__CORE__PARALLELISM" not in postgres


def test_a_printed_location_never_shows_a_password():
    assert masked("postgresql+psycopg2://pipeline:change-me-never-printed@db:5432/boern") == \
        "postgresql+psycopg2://pipeline:***@db:5432/boern"
    assert masked("odbc:DRIVER={PostgreSQL Unicode};SERVER=db;UID=sofli;PWD={a;b}}c};UseDeclareFetch=1") == \
        "odbc:DRIVER={PostgreSQL Unicode};SERVER=db;UID=sofli;PWD=***;UseDeclareFetch=1"
    assert masked("odbc:DRIVER={x};PWD=plain;SERVER=db") == "odbc:DRIVER={x};PWD=***;SERVER=db"
    assert masked(str(Path("/mnt/drop/cpr"))) == "/mnt/drop/cpr"
