"""The star schema as a Power BI developer meets it (issue 24): the warehouse opened read-only
(SQLite files in mode=ro; PostgreSQL as the BI role `sofli_bi`, and the caseworker star of the
schema `restricted` as `sofli_bi_restricted`), every declared key unique, every relationship of
`etl.publish.dims.RELATIONSHIPS` and `RESTRICTED_RELATIONSHIPS` resolving, and the committee report's
tiles reproduced by the one query `docs/bi-contract.md` documents, run as written.

The duplicate period of the issue (a running quarter's last-year twin and last year's closed
quarter share `period`) is built by hand with figures whose sums are known: 147 + 203 = 350.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from etl.core.settings import REPO_ROOT, Settings
from etl.ops.warehouse_admin import BI_RESTRICTED_ROLE, BI_ROLE, PIPELINE_ROLE, init_warehouse
from etl.publish import dims
from etl.publish.freeze import freeze_quarter
from etl.publish.marts import DIM_PERIOD, KEYED_TABLES, KPI_VALUE, RESTRICTED_TABLES, TABLES
from etl.publish.warehouse import PUBLIC_TABLES, Publication, ensure_schema, make_engine, publish_together
from etl.report.render import report_pages
from etl.tasks import kpis as kpi_tasks
from etl.tasks import quality as dq_tasks

pytestmark = pytest.mark.integration
QUARTER = "2025-Q3"
PASSWORDS = {"WAREHOUSE_PASSWORD": "pipeline-test-password", "WAREHOUSE_BI_PASSWORD": "bi-test-password",
             "WAREHOUSE_BI_RESTRICTED_PASSWORD": "bi-restricted-test-password"}
#: Three tiles of the report: a flow share (quarter and ÅTD), a stock count, a flow median.
TILES = ("T3.02", "T2.06", "T2.03")


def danish(value, unit: str) -> str:
    """Independent of etl.report.fmt: 4383 -> 4.383, 14.94 -> 14,9, 0.873 -> 87,3 %, None -> –."""
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if unit == "share":
        return f"{value * 100:.1f}".replace(".", ",") + " %"
    if value == int(value):
        return f"{int(value):,}".replace(",", ".")
    whole, decimal = f"{value:.1f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + decimal


def documented_tile_sql() -> str:
    """The SOF tile query exactly as docs/bi-contract.md shows it."""
    text = (REPO_ROOT / "docs" / "bi-contract.md").read_text(encoding="utf-8")
    return re.search(r"<!-- sof-tile -->\n```sql\n(.*?)\n```", text, re.DOTALL).group(1)


def read_only_sqlite(folder: Path) -> sa.Engine:
    """The SQLite warehouse as a BI tool opens it: every file read-only."""
    engine = sa.create_engine(f"sqlite:///file:{folder / 'warehouse.db'}?mode=ro&uri=true")

    @sa.event.listens_for(engine, "connect")
    def _attach(dbapi_conn, _record):  # noqa: ANN001 - DBAPI callback
        for schema in ("mart", "public", "restricted"):
            dbapi_conn.execute(f"ATTACH DATABASE 'file:{folder / (schema + '.db')}?mode=ro' AS {schema}")
    return engine


def duplicated_keys(conn: sa.Connection, schema: str, table: str, key: tuple[str, ...]) -> int:
    columns = ", ".join(f"COALESCE({c}, '')" if TABLES[table].column(c).nullable else c for c in key)
    return conn.execute(sa.text(f"SELECT COUNT(*) FROM (SELECT {columns} FROM {schema}.{table} GROUP BY {columns} "
                                "HAVING COUNT(*) > 1) AS d")).scalar_one()


def unresolved(conn: sa.Connection, schema: str) -> dict[str, int]:
    """Rows whose relationship finds no dimension row, per relationship."""
    out = {}
    if schema == "restricted":  # the caseworker star: qualified, partly into mart
        relationships = dims.RESTRICTED_RELATIONSHIPS
    else:
        relationships = [(f"{schema}.{t}", c, f"{schema}.{d}", k) for t, c, d, k in dims.RELATIONSHIPS]
    for table, column, dimension, key in relationships:
        out[f"{table}.{column}"] = conn.execute(sa.text(
            f"SELECT COUNT(*) FROM {table} AS f WHERE f.{column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {dimension} AS d WHERE d.{key} = f.{column})")).scalar_one()
    return out


def check_star(engine: sa.Engine, restricted: sa.Engine | None = None) -> dict:
    """Keys unique, relationships resolved, current values unique per period; returns what was seen.
    `restricted`: the engine that reads the schema `restricted` (default `engine`)."""
    seen = {}
    with (restricted or engine).connect() as conn:
        for table in (t for t in KEYED_TABLES if t in RESTRICTED_TABLES):
            seen[f"restricted.{table}"] = conn.execute(sa.text(f"SELECT COUNT(*) FROM restricted.{table}")).scalar_one()
            assert duplicated_keys(conn, "restricted", table, TABLES[table].primary_key) == 0, table
        assert unresolved(conn, "restricted") == dict.fromkeys(unresolved(conn, "restricted"), 0)
        levels = set(conn.execute(sa.text("SELECT DISTINCT org_level FROM restricted.kpi_value_caseworker")).scalars())
        assert levels == {"caseworker"}
        seen["restricted.versions"] = set(conn.execute(sa.text(
            "SELECT DISTINCT version FROM restricted.kpi_value_caseworker")).scalars())
    with engine.connect() as conn:
        seen["mart.versions"] = set(conn.execute(sa.text("SELECT DISTINCT version FROM mart.kpi_value")).scalars())
        for schema in ("mart", "public"):
            tables = [t for t in KEYED_TABLES if t not in RESTRICTED_TABLES and (schema == "mart" or t in PUBLIC_TABLES)]
            for table in tables:
                seen[f"{schema}.{table}"] = conn.execute(sa.text(f"SELECT COUNT(*) FROM {schema}.{table}")).scalar_one()
                assert duplicated_keys(conn, schema, table, TABLES[table].primary_key) == 0, (schema, table)
            assert unresolved(conn, schema) == dict.fromkeys(unresolved(conn, schema), 0), schema
            # the duplicate periods: the view BI shows has one row per KPI cell and period
            assert conn.execute(sa.text(
                f"SELECT COUNT(*) FROM (SELECT kpi_id, measure, period, period_type, org_id, "
                f"COALESCE(dimension, ''), COALESCE(dimension_value, '') FROM {schema}.kpi_value_current "
                "GROUP BY kpi_id, measure, period, period_type, org_id, COALESCE(dimension, ''), "
                "COALESCE(dimension_value, '') HAVING COUNT(*) > 1) AS d")).scalar_one() == 0
            levels = set(conn.execute(sa.text(f"SELECT DISTINCT org_level FROM {schema}.kpi_value")).scalars())
            assert levels <= {"sof", "area", "center", "unit"}, schema  # caseworker rows: restricted only
            statuses = set(conn.execute(sa.text(f"SELECT DISTINCT value_status FROM {schema}.kpi_value")).scalars())
            assert statuses <= {"shown", "suppressed", "not_available"}
            seen[f"{schema}.statuses"] = statuses
    assert all(seen[f"{s}.{t}"] > 0 for s in ("mart", "public") for t in ("kpi_value", "dim_period", "dim_org",
                                                                            "dim_kpi", "dim_measure", "dim_dimension"))
    assert seen["restricted.dim_caseworker"] > 0 and seen["restricted.kpi_value_caseworker"] > 0
    # the nightly version and every frozen one keep their caseworker rows, in restricted
    assert seen["restricted.versions"] == seen["mart.versions"] and len(seen["mart.versions"]) >= 2
    assert "suppressed" in seen["public.statuses"] and "suppressed" not in seen["mart.statuses"]
    return seen


def tiles_from_sql(engine: sa.Engine, kpi_id: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(documented_tile_sql()), conn, params={"kpi_id": kpi_id, "quarter": QUARTER})


def assert_report_tiles_reproduced(engine: sa.Engine, settings: Settings) -> None:
    """The report code's tiles (read by it from the pipeline's warehouse) equal the documented
    query's figures read as BI, formatted here independently."""
    _, pages = report_pages(QUARTER, settings=settings)
    tiles = {t.kpi_id: t for p in pages for t in p.tiles}
    with engine.connect() as conn:
        units = dict(conn.execute(sa.text("SELECT kpi_id, MAX(unit) FROM public.kpi_value WHERE kpi_id IN "
                                          "('T3.02', 'T2.06', 'T2.03') GROUP BY kpi_id")).all())
    for kpi_id in TILES:
        rows = tiles_from_sql(engine, kpi_id)
        sof = rows[rows["org_key"] == "SOF"].set_index("period_type")
        quarter = sof.loc["quarter"]
        tile = tiles[kpi_id]
        assert (tile.figure, tile.last_year) == (danish(quarter["value"], units[kpi_id]),
                                                 danish(quarter["last_year_value"], units[kpi_id])), kpi_id
        if "ytd" in sof.index:  # a flow: the year to date and last year's beside it
            ytd = sof.loc["ytd"]
            assert (tile.ytd, tile.ytd_last_year) == (danish(ytd["value"], units[kpi_id]),
                                                      danish(ytd["last_year_value"], units[kpi_id])), kpi_id
            assert tile.basis == f"Grundlag: {danish(quarter['denominator'], 'count')} " \
                                 f"(ÅTD: {danish(ytd['denominator'], 'count')})" or units[kpi_id] == "count"
        else:
            assert tile.ytd == ""
        assert (rows["org_key"] != "SOF").sum() >= 2  # per center too: the same few lines
        assert set(rows["value_status"]) <= {"shown", "suppressed", "not_available", "stale"}
    assert tiles["T3.02"].ytd and not tiles["T2.06"].ytd and tiles["T2.03"].basis.startswith("Grundlag: ")


# --- the duplicate period of the issue, by hand --------------------------------------------

def hand_rows() -> pd.DataFrame:
    """T2.12 count at SOF: 2025-Q4 running to 25 October (160), its twin 2024-Q4 to 25 October
    (147) and 2024-Q4 closed (203), as the nightly run computes them."""
    def row(start, end, value, provisional=False):
        return {"kpi_id": "T2.12", "measure": "count", "period_type": "quarter", "period": f"{start.year}-Q4",
                "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(end), "org_level": "sof",
                "org_key": "SOF", "dimension": None, "dimension_value": None, "value": value, "numerator": None,
                "denominator": None, "unit": "count", "provisional": provisional, "version": 0, "run_id": "hand",
                "computed_at": pd.Timestamp("2025-10-26 04:00")}
    rows = pd.DataFrame([row(dt.date(2025, 10, 1), dt.date(2025, 10, 25), 160.0, True),
                         row(dt.date(2024, 10, 1), dt.date(2024, 10, 25), 147.0),
                         row(dt.date(2024, 10, 1), dt.date(2024, 12, 31), 203.0)])
    return dims.with_bi_keys(rows)


def publish_hand_rows(engine: sa.Engine) -> pd.DataFrame:
    ensure_schema(engine, replace_views=True)
    rows = hand_rows()
    periods = dims.dim_period(rows, set())
    publish_together(engine, [Publication(schema, spec, frame, None) for schema in ("mart", "public")
                              for spec, frame in ((KPI_VALUE, rows), (DIM_PERIOD, periods))])
    return rows


def assert_duplicate_period_resolved(engine: sa.Engine) -> None:
    rows = publish_hand_rows(engine)
    assert list(rows["comparison"]) == ["current", "last_year_twin", "current"]
    assert rows["period_key"].is_unique and rows["period"].tolist()[1:] == ["2024-Q4", "2024-Q4"]
    with engine.connect() as conn:
        summed = conn.execute(sa.text("SELECT period, SUM(value) FROM public.kpi_value_current "
                                      "GROUP BY period ORDER BY period")).all()
        tile = conn.execute(sa.text("SELECT period, value, last_year_value FROM public.kpi_tile "
                                    "ORDER BY period")).all()
        labels = conn.execute(sa.text("SELECT label, status FROM public.dim_period ORDER BY sort_key")).all()
    assert [(p, float(v)) for p, v in summed] == [("2024-Q4", 203.0), ("2025-Q4", 160.0)]  # never 350
    assert [(p, float(v), None if ly is None else float(ly)) for p, v, ly in tile] == [
        ("2024-Q4", 203.0, None), ("2025-Q4", 160.0, 147.0)]
    assert [tuple(r) for r in labels] == [
        ("4. kvartal 2024", "closed"),
        ("4. kvartal 2024 til 25. oktober (sidste års sammenligning)", "closed"),
        ("4. kvartal 2025 til 25. oktober", "provisional")]
    twin = rows.iloc[[1]].assign(value=999.0)  # the same key again: refused by the UNIQUE index
    with pytest.raises(sa.exc.IntegrityError):
        publish_together(engine, [Publication("public", KPI_VALUE, pd.concat([rows, twin]), None)])


def test_the_twin_and_the_closed_quarter_are_two_keyed_periods_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    try:
        assert_duplicate_period_resolved(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_twin_and_the_closed_quarter_are_two_keyed_periods_on_postgres(postgres):
    engine = make_engine(postgres.new_database("sofli_star_hand"))
    try:
        assert_duplicate_period_resolved(engine)
    finally:
        engine.dispose()


# --- the demo's frozen quarter, as BI reads it ---------------------------------------------

def test_bi_reads_a_keyed_star_on_sqlite_and_reproduces_the_report_tiles(report_settings, first_version):
    folder = Path(make_url(report_settings.warehouse_url()).database).parent
    engine = read_only_sqlite(folder)
    try:
        seen = check_star(engine)
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM public.dim_kpi")
        assert_report_tiles_reproduced(engine, report_settings)
    finally:
        engine.dispose()
    assert seen["public.dim_kpi"] == seen["mart.dim_kpi"] >= 44


@pytest.mark.postgres
def test_bi_reads_a_keyed_star_on_postgres_and_reproduces_the_report_tiles(report_settings, first_version, postgres,
                                                                           tmp_path):
    admin = postgres.new_database("sofli_star")
    init_warehouse(admin, env=PASSWORDS)
    url = make_url(admin)
    pipeline = url.set(username=PIPELINE_ROLE, password=PASSWORDS["WAREHOUSE_PASSWORD"]).render_as_string(False)
    bi_url = url.set(username=BI_ROLE, password=PASSWORDS["WAREHOUSE_BI_PASSWORD"]).render_as_string(False)
    restricted_url = url.set(username=BI_RESTRICTED_ROLE,
                             password=PASSWORDS["WAREHOUSE_BI_RESTRICTED_PASSWORD"]).render_as_string(False)
    data = tmp_path / "data"
    shutil.copytree(report_settings.data_dir, data, ignore=shutil.ignore_patterns("warehouse", "reports"))
    settings = Settings(data, REPO_ROOT / "reference", "demo", warehouse_location=pipeline)
    staged = settings.zones.portable({"path": settings.zones.kpi_values, "caseworker_path": settings.zones.dim_caseworker})
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged, settings=settings), settings)
    dq_tasks.run_data_quality("night-1", settings)
    freeze_quarter(QUARTER, settings=settings, run_id="close-pg", frozen_by="udvalgssekretariatet",
                   now=dt.datetime(2025, 10, 21, 6, 0))
    engine, restricted = make_engine(bi_url), make_engine(restricted_url)
    try:
        seen = check_star(engine, restricted)
        with engine.connect() as conn:
            statuses = conn.execute(sa.text("SELECT status FROM public.dim_period WHERE period = :q "
                                            "AND comparison = 'current'"), {"q": QUARTER}).scalars().all()
            indexes = conn.execute(sa.text("SELECT schemaname || '.' || tablename FROM pg_indexes "
                                           "WHERE indexname = 'kpi_value_key'")).scalars().all()
        assert set(statuses) == {"frozen"} and sorted(indexes) == ["mart.kpi_value", "public.kpi_value"]
        assert_report_tiles_reproduced(engine, settings)
    finally:
        engine.dispose()
        restricted.dispose()
    assert seen["public.dim_kpi"] >= 44


def test_an_existing_warehouse_gets_the_keys_backfilled_and_the_unique_index(tmp_path):
    """A warehouse of the release before: kpi_value without the new columns, one closed quarter and
    one nightly row. ensure_schema adds the columns, fills them from the row's own columns, and
    creates the UNIQUE index, which then refuses a second copy of the row."""
    old = [c for c in KPI_VALUE.columns if c.name not in ("period_key", "comparison", "org_id", "value_status")]
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    metadata = sa.MetaData()
    table = sa.Table("kpi_value", metadata, *(sa.Column(c.name, sa.Text if c.type == "str" else
                                                        sa.Date if c.type == "date" else sa.Float) for c in old),
                     schema="mart")
    row = {"kpi_id": "T2.12", "measure": "count", "period_type": "quarter", "period": "2024-Q4",
           "period_start": dt.date(2024, 10, 1), "period_end": dt.date(2024, 12, 31), "org_level": "unit",
           "org_key": "Familierådgivning Nord", "dimension": None, "dimension_value": None, "value": None,
           "numerator": None, "denominator": None, "unit": "count", "provisional": 0, "version": 1, "run_id": "old",
           "computed_at": None}
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(table.insert(), [row])
    ensure_schema(engine)
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT period_key, comparison, org_id, value_status FROM mart.kpi_value")).one()
    assert tuple(got) == ("quarter:2024-10-01:2024-12-31", "current", "unit:Familierådgivning Nord", "not_available")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO mart.kpi_value SELECT * FROM mart.kpi_value"))
    engine.dispose()
