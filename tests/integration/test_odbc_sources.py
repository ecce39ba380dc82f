"""The production path for sources: fagsystemer in PostgreSQL, read through pyodbc with
unixODBC and psqlODBC, configured as Airflow connections of type `odbc` (DSN-less).

The same seed is generated into SQLite too: every staged table read through ODBC must
equal the one read from SQLite, value for value, and the rest of the chain (model, KPIs,
publish, data quality) runs on a PostgreSQL warehouse.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from etl.core.settings import REPO_ROOT, Settings
from etl.extract import odbc
from etl.publish.warehouse import make_engine, read_table
from etl.sources import SOURCES
from etl.synth import generate
from etl.tasks import extract as extract_tasks
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

pytestmark = [pytest.mark.postgres, pytest.mark.integration]
DAY = dt.date(2025, 11, 15)
DATABASE_SOURCES = [name for name, s in SOURCES.items() if s.kind == "database"]
ODBC_RUN_KEY = "odbc-test-run-7Hq2vX9p"  # a throwaway key of the test run


def odbc_connection(postgres, database: str) -> str:
    """An Airflow connection (JSON form of AIRFLOW_CONN_*) of type odbc for one database."""
    return json.dumps({"conn_type": "odbc", "host": postgres.url.host, "port": postgres.url.port,
                       "schema": database, "login": postgres.url.username,
                       "extra": {"driver": "PostgreSQL Unicode"}})


@pytest.fixture(scope="module")
def runs(postgres, tmp_path_factory):
    """Sources generated into PostgreSQL (read through ODBC) and, from the same seed, SQLite."""
    root = tmp_path_factory.mktemp("odbc")
    urls = {name: postgres.new_database(f"odbc_src_{name}") for name in DATABASE_SOURCES}
    generate(root / "pg" / "sources", "demo", seed=11, extraction_date=DAY, db_urls=urls)
    generate(root / "lite" / "sources", "demo", seed=11, extraction_date=DAY)
    warehouse = postgres.new_database("odbc_warehouse")
    return {"pg": Settings(root / "pg", REPO_ROOT / "reference", "demo"),
            "lite": Settings(root / "lite", REPO_ROOT / "reference", "demo"), "warehouse": warehouse}


@pytest.fixture
def odbc_sources(runs, postgres):
    """The PostgreSQL run's settings as a deployment resolves them: connections of type odbc,
    the warehouse URL and a real key from its environment."""
    env = {f"AIRFLOW_CONN_SOFLI_SRC_{name.upper()}": odbc_connection(postgres, f"odbc_src_{name}")
           for name in DATABASE_SOURCES}
    env.update({"SOFLI_DATA_DIR": str(runs["pg"].data_dir), "SOFLI_WAREHOUSE_URL": runs["warehouse"],
                "SOFLI_PSEUDONYM_KEY": ODBC_RUN_KEY})
    return {**runs, "pg": Settings.resolve(env)}


def test_an_odbc_connection_becomes_a_dsn_less_connection_string(odbc_sources):
    location = odbc_sources["pg"].source_location(SOURCES["klage"])
    assert odbc.is_odbc(location)
    assert location.startswith("odbc:DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=")
    assert "DATABASE=odbc_src_klage" in location and "UseDeclareFetch=1" in location  # streamed, not buffered


def test_the_full_chain_through_odbc_equals_sqlite_and_publishes_on_postgres(odbc_sources):
    pg, lite = odbc_sources["pg"], odbc_sources["lite"]
    for name in SOURCES:
        extract_tasks.extract_source(name, DAY, "odbc-night", pg)
        extract_tasks.extract_source(name, DAY, "lite-night", lite)
    for name in DATABASE_SOURCES:
        for table in SOURCES[name].tables:
            manifest = json.loads((pg.landing_dir / name / table.name / f"extract_date={DAY}" / "manifest.json")
                                  .read_text())
            assert manifest["origin"] == "odbc" and manifest["mode"] == "full"
    for source in SOURCES.values():
        for table in source.tables:
            got, want = (pd.read_parquet(s.staged_dir / source.name / table.name / f"extract_date={DAY}" / "data.parquet")
                         for s in (pg, lite))
            assert len(got) == len(want) > 0 or source.name == "beskaeftigelse" or len(want) == 0
            pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=f"{source.name}.{table.name}")

    model = model_tasks.build_model(DAY, pg)
    assert model["rows"]["dim_citizen"] > 0
    audited = kpi_tasks.audit_kpis(kpi_tasks.compute_kpis("odbc-night", pg, history_quarters=1), settings=pg)
    published = kpi_tasks.publish_kpis(audited, pg)
    summary = dq_tasks.run_data_quality("odbc-night", pg)
    engine = make_engine(odbc_sources["warehouse"])
    values = read_table(engine, "mart.kpi_value", "WHERE version = 0")
    results = read_table(engine, "mart.dq_result", "WHERE run_id = 'odbc-night'")
    engine.dispose()
    assert len(values) == published["mart_rows"] > 0
    assert set(results["rule_id"]) >= {f"DQ{n:02d}" for n in range(1, 15)} and summary["rules"] >= 14
