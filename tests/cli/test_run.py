"""`sofli run` and `sofli run --check` on configured sources: fagsystemer in PostgreSQL reached
through ODBC (psqlODBC, Airflow connections of type odbc with a password), the drop files in a
folder, a PostgreSQL warehouse, production mode with a real key. No generator in the run: the
sources are generated once by the fixture, as a stand-in for the municipality's replicas.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import pytest
import sqlalchemy as sa

from etl.cli.main import main
from etl.sources import SOURCES
from etl.synth import generate

pytestmark = [pytest.mark.postgres, pytest.mark.integration]
DAY = dt.date(2026, 3, 10)
PASSWORD = "example-odbc-password-never-printed"
KEY = "a-municipal-pseudonym-key-of-length"
DATABASE_SOURCES = [name for name, s in SOURCES.items() if s.kind == "database"]


@pytest.fixture(scope="module")
def configured(postgres, tmp_path_factory):
    """Sources in PostgreSQL and a drop folder; the environment a deployment would set."""
    root = tmp_path_factory.mktemp("run")
    urls = {name: postgres.new_database(f"run_src_{name}") for name in DATABASE_SOURCES}
    generate(root / "replicas", "demo", seed=9, extraction_date=DAY, db_urls=urls)
    env = {f"AIRFLOW_CONN_SOFLI_SRC_{name.upper()}": json.dumps({
        "conn_type": "odbc", "host": postgres.url.host, "port": postgres.url.port, "schema": f"run_src_{name}",
        "login": postgres.url.username, "password": PASSWORD, "extra": {"driver": "PostgreSQL Unicode"}})
        for name in DATABASE_SOURCES}
    drop = root / "replicas" / "drop"
    env.update({f"SOFLI_SOURCE_{name.upper()}": str(drop) for name, s in SOURCES.items() if s.kind == "file"})
    warehouse = postgres.new_database("run_warehouse")
    env.update({"SOFLI_MODE": "production", "SOFLI_PSEUDONYM_KEY": KEY, "SOFLI_WAREHOUSE_URL": warehouse,
                "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": 2525})})
    return {"root": root, "data": root / "data", "env": env, "urls": urls, "drop": drop, "warehouse": warehouse}


@pytest.fixture
def environment(configured, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith(("SOFLI_", "AIRFLOW_CONN_", "AIRFLOW_HOME"))]:
        monkeypatch.delenv(key)
    for key, value in configured["env"].items():
        monkeypatch.setenv(key, value)
    return configured


def sofli(configured, capsys, *args: str) -> tuple[int, str]:
    code = main(["--data-dir", str(configured["data"]), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_check_finds_every_source_table_and_column_and_writes_nothing(environment, capsys):
    code, out = sofli(environment, capsys, "run", "--check", "--date", DAY.isoformat())
    assert code == 0, out
    for name in SOURCES:
        assert re.search(rf"ok +source {name} ", out), out
    assert "PWD=***" in out and PASSWORD not in out and KEY not in out
    assert "DATABASE=run_src_boern" in out
    assert "Afgoerelse: full (no earlier validated extract)" in out  # what tonight would read, and why
    assert f"newest cpr_{DAY:%Y%m%d}.csv" in out
    assert re.search(r"ok +pseudonymisation key +set \(35 characters, mode production\)", out)
    assert re.search(r"ok +alert e-mail +smtp_default: 127.0.0.1:2525", out)
    assert "The configuration is complete" in out
    assert not environment["data"].exists() or not any(
        (environment["data"] / zone).exists() for zone in ("landing", "staged", "quarantine", "model", "warehouse"))
    engine = sa.create_engine(environment["warehouse"])
    with engine.connect() as conn:  # not even the schemas
        assert not sa.inspect(conn).get_table_names(schema="public")
        assert "mart" not in sa.inspect(conn).get_schema_names()
    engine.dispose()


def test_check_names_each_missing_column_table_file_and_setting(environment, capsys, monkeypatch):
    klage = sa.create_engine(environment["urls"]["klage"], isolation_level="AUTOCOMMIT")
    hr = sa.create_engine(environment["urls"]["hr"], isolation_level="AUTOCOMMIT")
    cpr_file = environment["drop"] / f"cpr_{DAY:%Y%m%d}.csv"
    hidden = cpr_file.with_name("cpr.hidden")
    monkeypatch.setenv("SOFLI_PSEUDONYM_KEY", "short")
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT")
    with klage.connect() as conn:
        column = SOURCES["klage"].tables[0].column_names[-1]
        conn.exec_driver_sql(f'ALTER TABLE "klage" RENAME COLUMN "{column}" TO "renamed_by_a_dba"')
    with hr.connect() as conn:
        conn.exec_driver_sql('ALTER TABLE "fravaer" RENAME TO "fravaer_old"')
    shutil.move(cpr_file, hidden)
    try:
        code, out = sofli(environment, capsys, "run", "--check", "--date", DAY.isoformat())
        refused, refusal = sofli(environment, capsys, "run", "--date", DAY.isoformat())
    finally:
        shutil.move(hidden, cpr_file)
        with klage.connect() as conn:
            conn.exec_driver_sql(f'ALTER TABLE "klage" RENAME COLUMN "renamed_by_a_dba" TO "{column}"')
        with hr.connect() as conn:
            conn.exec_driver_sql('ALTER TABLE "fravaer_old" RENAME TO "fravaer"')
        klage.dispose()
        hr.dispose()
    assert code == 2
    assert re.search(r"FAIL +source klage ", out) and f"klage: missing contract column(s) {column}" in out
    assert re.search(r"FAIL +source hr ", out) and "table fravaer is missing" in out
    assert re.search(r"FAIL +source cpr ", out) and f"cpr: no file cpr_{DAY:%Y%m%d}.csv for {DAY}" in out
    assert re.search(r"FAIL +pseudonymisation key ", out) and "at least 16 characters" in out
    assert re.search(r"FAIL +alert e-mail ", out) and "--mail-dir" in out
    assert re.search(r"ok +source boern ", out)
    assert "5 problem(s): sofli run would refuse to start." in out
    assert refused == 2 and "the configuration is not complete" in refusal and "source klage" in refusal
    assert not (environment["data"] / "airflow" / "scheduler.log").exists()  # refused before Airflow started


@pytest.mark.slow
def test_a_night_on_the_configured_sources_through_the_scheduler(environment, capsys):
    mail = environment["root"] / "mail"
    code, out = sofli(environment, capsys, "run", "--date", DAY.isoformat(), "--mail-dir", str(mail))
    assert code == 0, out[-6000:]
    assert f"sofli run, night of {DAY}: {len(SOURCES) + 3} DAG runs" in out
    for name in SOURCES:
        assert f"ok   extract_{name}" in out, out[-6000:]
    assert "ok   build_model" in out and "ok   publish_kpis" in out and "RED  data_quality" in out
    data = environment["data"]
    for name in DATABASE_SOURCES:  # read through ODBC, not a generator
        manifest = json.loads(next((data / "landing" / name).rglob("manifest.json")).read_text())
        assert manifest["origin"] == "odbc"
    logs = list((data / "airflow" / "logs").rglob("attempt=1.log"))
    assert any("dag_id=extract_klage" in str(p) and "task_id=land_klage" in str(p) for p in logs)
    engine = sa.create_engine(environment["warehouse"])
    with engine.connect() as conn:
        kpis = conn.exec_driver_sql("SELECT count(*), min(run_id) FROM mart.kpi_value WHERE version = 0").one()
        dq = conn.exec_driver_sql("SELECT count(DISTINCT run_id) FROM mart.dq_result").scalar_one()
        public = conn.exec_driver_sql("SELECT count(*) FROM public.kpi_value WHERE version = 0").scalar_one()
    engine.dispose()
    assert kpis[0] > 1000 and kpis[1].startswith("asset_triggered__") and dq == 1 and public > 0
    assert sorted(mail.glob("*.eml")), "the data-quality owners' e-mails reached the mail folder"
    assert PASSWORD not in out and KEY not in out
