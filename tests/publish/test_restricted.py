"""The schema `restricted` (issue 21): caseworker-level output lives there only.

A warehouse published before the schema existed (caseworker rows in `mart.kpi_value`, nightly
and frozen, `mart.dim_caseworker`, `mart.case_cost`) is migrated by the next `ensure_schema`
(every publish and freeze runs it; so does `sofli warehouse-init`): the rows move, the two mart
tables are dropped, on SQLite and on PostgreSQL, where the BI role then sees none of it. A
publication that would put a caseworker row into `mart` or `public` is refused.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from etl.ops.rekey import _remap_warehouse, _warehouse_artefacts
from etl.ops.warehouse_admin import BI_RESTRICTED_ROLE, BI_ROLE, init_warehouse
from etl.publish.marts import CASE_COST, DIM_CASEWORKER, KPI_VALUE, KPI_VALUE_CASEWORKER, MART_TABLES
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish_together, sa_table

CW = "0123456789abcdef0123456789abcdef"  # a caseworker pseudonym (synthetic)
PASSWORDS = {"WAREHOUSE_PASSWORD": "pipeline-test-password", "WAREHOUSE_BI_PASSWORD": "bi-test-password",
             "WAREHOUSE_BI_RESTRICTED_PASSWORD": "bi-restricted-test-password"}


def kpi_row(level: str, key: str, value: float, version: int) -> dict:
    return {"kpi_id": "T2.05", "measure": "cases", "period_type": "quarter", "period": "2025-Q3",
            "period_start": dt.date(2025, 7, 1), "period_end": dt.date(2025, 9, 30), "org_level": level,
            "org_key": key, "dimension": None, "dimension_value": None, "value": value, "numerator": None,
            "denominator": None, "unit": "count", "provisional": False, "version": version, "run_id": "old-night",
            "computed_at": dt.datetime(2025, 10, 26, 4, 0), "period_key": "quarter:2025-07-01:2025-09-30",
            "comparison": "current", "org_id": f"{level}:{key}", "value_status": "shown"}


CASE_COST_ROW = {"year": 2025, "status_date": dt.date(2025, 10, 25), "case_key": "c" * 32, "source": "boern",
                 "citizen_key": "d" * 32, "caseworker_key": CW, "area": "Børn og Unge", "center": "Center Nord",
                 "unit": "Familierådgivning Nord", "kategori": "Anbringelse", "net_ytd": 120_000.0,
                 "committed_remainder": 30_000.0, "prognosis": 150_000.0, "active_measures": 2,
                 "next_deadline": None, "next_deadline_kind": None, "run_id": "old-night",
                 "computed_at": dt.datetime(2025, 10, 26, 4, 0)}
DIM_CASEWORKER_ROW = {"org_id": f"caseworker:{CW}", "caseworker_key": CW, "unit_org_id": "unit:Familierådgivning Nord"}


def build_old_warehouse(engine: sa.Engine) -> None:
    """The layout before issue 21, with rows: mart holds every table, caseworker-level ones too."""
    metadata = sa.MetaData()
    tables = {name: sa_table(spec, "mart", metadata) for name, spec in MART_TABLES.items()}
    tables["dim_caseworker"] = sa_table(DIM_CASEWORKER, "mart", metadata)
    tables["case_cost"] = sa_table(CASE_COST, "mart", metadata)
    with engine.begin() as conn:
        for schema in ("mart", "public"):
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        metadata.create_all(conn)
        conn.execute(tables["kpi_value"].insert(), [kpi_row("unit", "Familierådgivning Nord", 10.0, 0),
                                                    kpi_row("caseworker", CW, 3.0, 0),
                                                    kpi_row("caseworker", CW, 4.0, 1)])  # a frozen version
        conn.execute(tables["dim_caseworker"].insert(), [DIM_CASEWORKER_ROW])
        conn.execute(tables["case_cost"].insert(), [CASE_COST_ROW])


def mart_state(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        return {"tables": {t for t in ("dim_caseworker", "case_cost") if inspector.has_table(t, schema="mart")},
                "kpi": sorted(tuple(r) for r in conn.execute(sa.text(
                    "SELECT org_level, version, value FROM mart.kpi_value ORDER BY version, org_level")).all())}


def restricted_state(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        return {"kpi": sorted(tuple(r) for r in conn.execute(sa.text(
                    "SELECT org_level, org_key, org_id, version, value FROM restricted.kpi_value_caseworker")).all()),
                "dim": [tuple(r) for r in conn.execute(sa.text(
                    "SELECT org_id, caseworker_key, unit_org_id FROM restricted.dim_caseworker")).all()],
                "cost": [tuple(r) for r in conn.execute(sa.text(
                    "SELECT year, case_key, caseworker_key, prognosis FROM restricted.case_cost")).all()]}


EXPECTED_RESTRICTED = {"kpi": [("caseworker", CW, f"caseworker:{CW}", 0, 3.0), ("caseworker", CW, f"caseworker:{CW}", 1, 4.0)],
                       "dim": [(f"caseworker:{CW}", CW, "unit:Familierådgivning Nord")],
                       "cost": [(2025, "c" * 32, CW, 150_000.0)]}
EXPECTED_MART = {"tables": set(), "kpi": [("unit", 0, 10.0)]}


def test_an_old_sqlite_warehouse_is_migrated_on_the_next_publish(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    try:
        build_old_warehouse(engine)
        assert mart_state(engine)["tables"] == {"dim_caseworker", "case_cost"}
        ensure_schema(engine)
        assert (mart_state(engine), restricted_state(engine)) == (EXPECTED_MART, EXPECTED_RESTRICTED)
        ensure_schema(engine)  # idempotent: nothing left to move, nothing moved twice
        assert (mart_state(engine), restricted_state(engine)) == (EXPECTED_MART, EXPECTED_RESTRICTED)
        assert (tmp_path / "restricted.db").exists()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_old_postgres_warehouse_is_migrated_and_the_bi_role_sees_no_caseworker(postgres):
    """warehouse-init on a warehouse of the release before (tables owned by the administrator who
    made them): the roles take it over, ensure_schema moves the caseworker level to restricted."""
    admin = postgres.new_database("sofli_restricted_migration")
    old = sa.create_engine(admin)
    build_old_warehouse(old)
    old.dispose()
    init_warehouse(admin, env=PASSWORDS, create_db=False)
    url = make_url(admin)
    bi = make_engine(url.set(username=BI_ROLE, password=PASSWORDS["WAREHOUSE_BI_PASSWORD"]).render_as_string(False))
    reader = make_engine(url.set(username=BI_RESTRICTED_ROLE,
                                 password=PASSWORDS["WAREHOUSE_BI_RESTRICTED_PASSWORD"]).render_as_string(False))
    try:
        assert mart_state(bi) == EXPECTED_MART
        assert restricted_state(reader) == EXPECTED_RESTRICTED
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), bi.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM restricted.kpi_value_caseworker")
    finally:
        bi.dispose()
        reader.dispose()


def test_a_caseworker_row_for_mart_or_public_is_refused_and_nothing_is_written(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    try:
        ensure_schema(engine)
        unit, caseworker = pd.DataFrame([kpi_row("unit", "U1", 10.0, 0)]), pd.DataFrame([kpi_row("caseworker", CW, 3.0, 0)])
        for schema in ("mart", "public"):
            with pytest.raises(ValueError, match="1 caseworker row"):
                publish_together(engine, [Publication("restricted", KPI_VALUE_CASEWORKER, caseworker),
                                          Publication(schema, KPI_VALUE, pd.concat([unit, caseworker]))])
        with pytest.raises(ValueError, match="restricted only"):
            publish_together(engine, [Publication("mart", CASE_COST, pd.DataFrame([CASE_COST_ROW]))])
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM restricted.kpi_value_caseworker")).scalar_one() == 0
            assert conn.execute(sa.text("SELECT COUNT(*) FROM mart.kpi_value")).scalar_one() == 0
        publish_together(engine, [Publication("restricted", KPI_VALUE_CASEWORKER, caseworker),
                                  Publication("mart", KPI_VALUE, unit)])
        assert restricted_state(engine)["kpi"] == [("caseworker", CW, f"caseworker:{CW}", 0, 3.0)]
    finally:
        engine.dispose()


def test_rekey_finds_and_rotates_the_caseworker_level_still_in_mart_before_the_migration(tmp_path):
    """`sofli rekey` on a warehouse not migrated yet: the caseworker rows and the two tables are
    still in mart, and are re-keyed there (every version); the migration then carries the new keys."""
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    try:
        build_old_warehouse(engine)
        tables = _warehouse_artefacts(engine)
        assert {(t.table, frozenset(t.values)) for t in tables} == {
            ("mart.kpi_value", frozenset({CW})), ("mart.dim_caseworker", frozenset({CW})),
            ("mart.case_cost", frozenset({CW, "c" * 32, "d" * 32}))}
        new = "f" * 32
        # kpi: 2 rows (org_key with org_id); dim_caseworker: 1; case_cost: case, citizen and caseworker key
        assert _remap_warehouse(engine, {CW: new, "c" * 32: "e" * 32, "d" * 32: "b" * 32}, tables) == 6
        ensure_schema(engine)
        assert restricted_state(engine) == {
            "kpi": [("caseworker", new, f"caseworker:{new}", 0, 3.0), ("caseworker", new, f"caseworker:{new}", 1, 4.0)],
            "dim": [(f"caseworker:{new}", new, "unit:Familierådgivning Nord")],
            "cost": [(2025, "e" * 32, new, 150_000.0)]}
    finally:
        engine.dispose()
