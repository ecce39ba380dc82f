"""Shared fixtures: a demo data folder built once per session by the real CLI path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

#: Test servers (the PostgreSQL cluster) live beside the tests, outside the production package.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
#: Shared fixtures of tests in several folders (quarter close: tests/publish and tests/report;
#: the demo model: tests/kpi and tests/quality).
pytest_plugins = ["quarter_close", "demo_night", "demo_model"]

@pytest.fixture(autouse=True)
def _no_airflow_home_leak(monkeypatch):
    """Unit tests never touch a developer's real Airflow or data folder."""
    monkeypatch.delenv("SOFLI_PSEUDONYM_KEY", raising=False)
    if "AIRFLOW_HOME" not in os.environ:
        monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


class PostgresServer:
    """A PostgreSQL server for tests: `SOFLI_TEST_PG_URL` (CI's throwaway cluster) or one
    started here; each test module takes fresh databases from it with `new_database`."""

    def __init__(self, superuser_url: str):
        self.url = sa.engine.make_url(superuser_url)
        self._engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")

    def new_database(self, name: str) -> str:
        """Drop and create database `name`; returns its superuser URL."""
        with self._engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def execute(self, statement: str) -> None:
        with self._engine.connect() as conn:
            conn.exec_driver_sql(statement)


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server; skipped with the reason when none can be had."""
    import pgcluster  # noqa: PLC0415 - tests/support, put on the path above

    url = os.environ.get("SOFLI_TEST_PG_URL")
    cluster = None
    if not url:
        if pgcluster.server_binaries() is None:
            pytest.skip("no PostgreSQL: set SOFLI_TEST_PG_URL or apt-get install postgresql")
        cluster = pgcluster.start()
        url = cluster.url
    server = PostgresServer(url)
    yield server
    server._engine.dispose()
    if cluster:
        cluster.stop()
