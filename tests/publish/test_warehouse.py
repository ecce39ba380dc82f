"""The SQLite warehouse: attached schemas, atomic slice replacement, the tile view."""

import datetime as dt
import re
import sqlite3

import pandas as pd
import pytest
import sqlalchemy as sa

from etl.core.privacy import MASK, CprInOutputError
from etl.publish import warehouse
from etl.publish.marts import DQ_KPI_FLAG, KPI_VALUE
from etl.publish.warehouse import _bound, ensure_schema, make_engine, publish, read_table, view_statements


def kpi_row(period, start, end, value, run_id="r1", kpi_id="T1.01"):
    return {"kpi_id": kpi_id, "measure": "count", "period_type": "quarter", "period": period,
            "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(end), "org_level": "sof", "org_key": "SOF",
            "dimension": None, "dimension_value": None, "value": value, "numerator": None, "denominator": None,
            "unit": "count", "provisional": False, "version": 0, "run_id": run_id,
            "computed_at": dt.datetime(2025, 11, 15, 3), "period_key": f"quarter:{start}:{end}",
            "comparison": "current" if end.endswith(("03-31", "06-30", "09-30", "12-31")) else "last_year_twin",
            "org_id": "sof:SOF", "value_status": "shown"}


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    ensure_schema(engine)
    ensure_schema(engine)  # idempotent
    yield engine
    engine.dispose()


def test_schemas_are_files_beside_the_main_database(engine, tmp_path):
    assert {p.name for p in tmp_path.iterdir()} == {"warehouse.db", "mart.db", "public.db", "restricted.db"}


def test_tile_pairs_the_running_quarter_with_the_same_dates_last_year(engine):
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([
        {**kpi_row("2025-Q4", "2025-10-01", "2025-11-15", 10), "provisional": True, "comparison": "current"}, kpi_row("2024-Q4", "2024-10-01", "2024-11-15", 8),
        kpi_row("2024-Q4", "2024-10-01", "2024-12-31", 12), kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5),
        kpi_row("2024-Q3", "2024-07-01", "2024-09-30", 4)]), {"version": 0})
    tiles = read_table(engine, "mart.kpi_tile").set_index(["period", "period_end"])
    assert tiles.loc[("2025-Q4", "2025-11-15"), "last_year_value"] == 8  # not last year's whole Q4 (12)
    assert tiles.loc[("2025-Q3", "2025-09-30"), "last_year_value"] == 4


def test_publish_replaces_only_its_slice_and_a_failed_publish_changes_nothing(engine, monkeypatch):
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5, "r1")]))
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 6, "r2", "T2.01")]),
            {"run_id": "r2"})
    assert sorted(read_table(engine, "mart.kpi_value")["value"]) == [5, 6]
    broken = pd.DataFrame([kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 7, "r3")]).drop(columns=["unit"])
    with pytest.raises(ValueError, match="lacks contract column"):
        publish(engine, "mart", KPI_VALUE, broken)

    real_rows = warehouse._rows
    monkeypatch.setattr(warehouse, "_rows", lambda frame, spec: real_rows(frame, spec)[:-1])
    with pytest.raises(RuntimeError, match="staged 1 rows, expected 2"):  # the audit inside the transaction
        publish(engine, "mart", KPI_VALUE, pd.DataFrame([kpi_row("2025-Q3", "2025-07-01", "2025-09-30", v, "r3")
                                                         for v in (7, 8)]))
    assert sorted(read_table(engine, "mart.kpi_value")["value"]) == [5, 6]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_slice_of_periods_is_replaced_and_the_kept_rows_restamped(dialect, engine, request):
    """A daytime refresh writes only the periods it recomputed: those rows of version 0 replaced
    (`replace_where` with a list), every other row of version 0 given the refresh's run id
    (`restamp`), other versions untouched; the table is then the one a whole publication of
    the same rows would give."""
    if dialect == "postgresql":
        engine = make_engine(request.getfixturevalue("postgres").new_database("warehouse_slices"))
        ensure_schema(engine)
    night = [kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5, "night"),
             kpi_row("2025-Q4", "2025-10-01", "2025-11-15", 7, "night"),
             kpi_row("2024-Q4", "2024-10-01", "2024-11-15", 6, "night")]
    frozen = {**kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5, "close"), "version": 1}
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([*night, frozen]))
    running = ["quarter:2025-10-01:2025-11-15", "quarter:2024-10-01:2024-11-15"]
    day = pd.DataFrame([kpi_row("2025-Q4", "2025-10-01", "2025-11-15", 8, "day"),
                        kpi_row("2024-Q4", "2024-10-01", "2024-11-15", 6, "day")])
    assert publish(engine, "mart", KPI_VALUE, day, {"version": 0, "period_key": running}, {"run_id": "day"}) == 2
    rows = read_table(engine, "mart.kpi_value", "ORDER BY version, period_key")
    assert rows[["version", "period_key", "value", "run_id"]].values.tolist() == [
        [0, "quarter:2024-10-01:2024-11-15", 6, "day"], [0, "quarter:2025-07-01:2025-09-30", 5, "day"],
        [0, "quarter:2025-10-01:2025-11-15", 8, "day"], [1, "quarter:2025-07-01:2025-09-30", 5, "close"]]


def test_a_read_of_some_columns_names_only_the_contracts_columns(engine):
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([
        kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5, "r1", "T2.06"),
        kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 6, "r1", "T2.01"),
        kpi_row("2025-Q2", "2025-04-01", "2025-06-30", 7, "r1", "T2.06")]))
    kpis = read_table(engine, "mart.kpi_value", "GROUP BY kpi_id, run_id ORDER BY kpi_id", columns=["kpi_id", "run_id"])
    assert kpis.to_dict("records") == [{"kpi_id": "T2.01", "run_id": "r1"}, {"kpi_id": "T2.06", "run_id": "r1"}]
    with pytest.raises(ValueError, match="not columns of mart.kpi_value"):
        read_table(engine, "mart.kpi_value", columns=["kpi_id", "1; DROP TABLE mart.kpi_value"])


def test_the_driver_insert_stores_what_sqlalchemys_insert_stores(engine, tmp_path):
    """SQLite's publish inserts through the driver with each column's SQLAlchemy bind
    conversion; the stored text must be what SQLAlchemy's own insert stores, for every
    type and for NULLs (dates, timestamps with and without microseconds, floats, booleans)."""

    frame = pd.DataFrame([
        kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 1.5) | {"numerator": 3, "denominator": 2.0,
                                                              "dimension": "køn", "dimension_value": "Kvinde ÆØÅ"},
        kpi_row("2025-Q3", "2025-07-01", "2025-09-30", None) | {"provisional": True, "version": 7,
                                                               "computed_at": dt.datetime(2025, 11, 15, 3, 4, 5, 678)},
        # repeated dates and flags are converted once per distinct value: the same text
        kpi_row("2025-Q2", "2025-04-01", "2025-06-30", 2.0) | {"provisional": True, "version": 8},
        kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 0.0) | {"provisional": False, "version": 9},
    ])
    publish(engine, "mart", KPI_VALUE, frame, {"version": 0})
    by_sqlalchemy = warehouse.sa_table(KPI_VALUE, "public", sa.MetaData())
    with engine.begin() as conn:
        conn.execute(by_sqlalchemy.insert(), [dict(zip(KPI_VALUE.column_names, row, strict=True))
                                              for row in warehouse._rows(frame, KPI_VALUE)])

    def stored(schema):
        with sqlite3.connect(tmp_path / f"{schema}.db") as db:
            return db.execute("SELECT *, typeof(value), typeof(provisional), typeof(period_start) "
                              "FROM kpi_value ORDER BY version").fetchall()

    assert stored("mart") == stored("public")
    assert stored("mart")[1][-3:] == ("null", "integer", "text")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_each_view_is_written_once_and_created_in_both_published_schemas(dialect):
    statements = view_statements(dialect)
    created = [re.search(r"CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(\w+\.\w+)", s).group(1)
               for s in statements if re.match(r"CREATE", s)]
    assert created == ["mart.kpi_tile", "public.kpi_tile", "mart.kpi_value_current", "public.kpi_value_current"]
    assert not any("{schema}" in s for s in statements)
    mart, public = (s for s in statements if re.match(r"CREATE.*VIEW mart\.kpi_value_current", s)), \
        (s for s in statements if re.match(r"CREATE.*VIEW public\.kpi_value_current", s))
    assert next(mart).replace("mart.", "public.") == next(public)  # the same view, schema for schema


def test_both_schemas_views_read_their_own_schema(engine):
    """public.kpi_tile reads public.kpi_value, mart.kpi_tile mart.kpi_value."""
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5)]))
    publish(engine, "public", KPI_VALUE, pd.DataFrame([kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 9)]))
    assert read_table(engine, "mart.kpi_tile")["value"].tolist() == [5]
    assert read_table(engine, "public.kpi_tile")["value"].tolist() == [9]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT value FROM public.kpi_value_current").scalars().all() == [9]


def test_bind_conversion_per_distinct_value_keeps_equal_values_of_different_types_apart():
    assert _bound((dt.date(2025, 1, 1), None, dt.date(2025, 1, 1)), str) == ["2025-01-01", None, "2025-01-01"]
    assert _bound((1, True, None, 1.0), repr) == ["1", "True", None, "1.0"]  # 1 == True == 1.0 as keys
    assert _bound((), repr) == []


def test_a_column_added_to_the_contract_is_added_to_an_existing_table(tmp_path):
    """A warehouse published by an older release gains the new `dq_kpi_flag` columns in place."""


    engine = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.begin() as conn:  # the table as the previous release created it, with a row
        conn.exec_driver_sql("CREATE TABLE mart.dq_kpi_flag (kpi_id TEXT NOT NULL, run_id TEXT NOT NULL, "
                             "blocked_by TEXT NOT NULL, flagged_at DATETIME NOT NULL)")
        conn.exec_driver_sql("INSERT INTO mart.dq_kpi_flag VALUES ('T2.01', 'old-run', 'DQ02@boern', "
                             "'2026-03-09 05:30:00')")
    ensure_schema(engine)
    columns = [c["name"] for c in sa.inspect(engine).get_columns("dq_kpi_flag", schema="mart")]
    assert columns == DQ_KPI_FLAG.column_names
    new = pd.DataFrame([{"kpi_id": "T3.05", "run_id": "new-run", "blocked_by": "DQ10@klage",
                         "flagged_at": dt.datetime(2026, 3, 10, 5, 30), "stale": True, "stale_sources": "klage",
                         "kpi_run_id": "kpi-run"}])
    publish(engine, "mart", DQ_KPI_FLAG, new, {"run_id": "new-run"})
    rows = read_table(engine, "mart.dq_kpi_flag").sort_values("run_id").astype(object)
    rows = rows.where(rows.notna(), None)
    assert rows[["run_id", "stale", "stale_sources"]].values.tolist() == [["new-run", 1, "klage"],
                                                                          ["old-run", None, None]]
    engine.dispose()


def test_a_cpr_in_public_refuses_the_whole_publication_and_in_mart_is_masked(engine, caplog):
    """Issue 21: a CPR typed into a measure type reached public.kpi_value as a label. `public`
    refuses (both tables keep their old version: no half publication); `mart` masks the cell."""
    before = kpi_row("2025-Q3", "2025-07-01", "2025-09-30", 5, "r1")
    warehouse.publish_together(engine, [warehouse.Publication("mart", KPI_VALUE, pd.DataFrame([before])),
                                        warehouse.Publication("public", KPI_VALUE, pd.DataFrame([before]))])
    planted = {**kpi_row("2025-Q3", "2025-07-01", "2025-09-30", None, "r2"), "dimension": "type",
               "dimension_value": "Plejefamilie 010508 7883"}
    with pytest.raises(CprInOutputError, match=r"public.kpi_value: 1 CPR-shaped value\(s\) in column dimension_value") as refused:
        warehouse.publish_together(engine, [warehouse.Publication("mart", KPI_VALUE, pd.DataFrame([planted])),
                                            warehouse.Publication("public", KPI_VALUE, pd.DataFrame([planted]))])
    assert "7883" not in str(refused.value)
    for schema in ("mart", "public"):
        assert read_table(engine, f"{schema}.kpi_value")["run_id"].tolist() == ["r1"]

    caplog.clear()
    publish(engine, "mart", KPI_VALUE, pd.DataFrame([planted, {**planted, "dimension_value": "Plejefamilie"}]))
    values = sorted(read_table(engine, "mart.kpi_value")["dimension_value"])
    assert values == ["Plejefamilie", f"Plejefamilie {MASK}"]
    assert "masked 1 CPR-shaped value(s) in mart.kpi_value.dimension_value" in caplog.text
    assert "7883" not in caplog.text
