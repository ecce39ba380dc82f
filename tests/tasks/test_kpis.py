"""The `publish_kpis` DAG's tasks (etl/tasks/kpis.py): which rows are provisional, and the
audit between compute and publish that refuses an empty, duplicated or incomplete KPI set."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core.periods import reporting_periods
from etl.kpi import CATALOG
from etl.publish.marts import KPI_VALUE, KPI_VALUE_CASEWORKER
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish_together, read_table
from etl.tasks.kpis import _provisional, _version_0, audit_kpis, publish_kpis

D = dt.date
KEY = {"measure": "count", "period_type": "quarter", "period_start": pd.Timestamp("2025-07-01"),
       "period_end": pd.Timestamp("2025-09-30"), "org_level": "sof", "org_key": "SOF", "dimension": None,
       "dimension_value": None, "value": 1.0,
       # the BI star's keys, as the compute task stages them (etl/publish/marts.py KPI_VALUE)
       "period_key": "quarter:2025-07-01:2025-09-30", "comparison": "current", "org_id": "sof:SOF"}


def test_kpi_rows_are_provisional_exactly_in_the_running_periods():
    """The pipeline flags a KPI row by its period's (kind, start, end): the running
    quarter and its ÅTD, not their last-year twins nor closed quarters."""
    periods = reporting_periods(D(2025, 11, 15), 1)
    rows = pd.DataFrame([(p.kind, p.start, p.end) for p in periods] * 2,
                        columns=["period_type", "period_start", "period_end"]).astype(
        {"period_start": "datetime64[s]", "period_end": "datetime64[s]"})
    flagged = rows[_provisional(rows, periods)]
    assert sorted(set(map(tuple, flagged.astype(str).values.tolist()))) == [
        ("quarter", "2025-10-01", "2025-11-15"), ("ytd", "2025-01-01", "2025-11-15")]
    assert len(flagged) == 4 and not _provisional(rows.iloc[:0], periods).size


def staged(tmp_path, rows: list[dict]) -> dict:
    path = tmp_path / "kpi_value.parquet"
    pd.DataFrame(rows, columns=["kpi_id", *KEY]).to_parquet(path, index=False)
    return {"path": str(path), "rows": len(rows)}


def complete() -> list[dict]:
    """One SOF total per implemented KPI: the least a publishable set has."""
    return [{"kpi_id": kpi_id, **KEY} for kpi_id, d in CATALOG.items() if d.compute is not None]


def test_a_complete_set_passes_the_audit(tmp_path):
    audited = audit_kpis(staged(tmp_path, complete()))
    assert audited["audited"] is True and audited["rows"] == len(complete()) == 44  # themes 1-5 (37) and 6 (7)


def test_the_audit_refuses_an_empty_a_duplicated_and_an_incomplete_set(tmp_path):
    with pytest.raises(RuntimeError, match=r"nothing published: no KPI rows; no SOF total for implemented KPI\(s\) "
                                           r"\['T1.01', 'T1.02'"):
        audit_kpis(staged(tmp_path, []))
    rows = complete()
    with pytest.raises(RuntimeError, match=r"nothing published: 1 duplicated KPI rows$"):
        audit_kpis(staged(tmp_path, [*rows, rows[5]]))
    without = [r for r in rows if r["kpi_id"] != "T3.05"] + [{**KEY, "kpi_id": "T3.05", "org_level": "area",
                                                              "org_key": "Voksne"}]
    with pytest.raises(RuntimeError, match=r"nothing published: no SOF total for implemented KPI\(s\) \['T3.05'\]$"):
        audit_kpis(staged(tmp_path, without))


def test_publish_refuses_a_set_the_audit_did_not_pass(tmp_path):
    with pytest.raises(RuntimeError, match="refusing to publish KPIs that were not audited"):
        publish_kpis(staged(tmp_path, complete()))


def _row(period_end: str, value, run_id: str, org_level="sof", org_key="SOF", status="shown") -> dict:
    start = f"{period_end[:4]}-{int(period_end[5:7]) - 2:02d}-01" if period_end.endswith("-30") else "2025-10-01"
    return {"kpi_id": "T2.01", "measure": "count", "period_type": "quarter", "period": "2025-Q3",
            "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(period_end), "org_level": org_level,
            "org_key": org_key, "dimension": None, "dimension_value": None, "value": value, "numerator": None,
            "denominator": None, "unit": "count", "provisional": False, "version": 0, "run_id": run_id,
            "computed_at": dt.datetime(2025, 11, 15, 3), "period_key": f"quarter:{start}:{period_end}",
            "comparison": "current", "org_id": f"{org_level}:{org_key}", "value_status": status}


def test_a_refresh_writes_its_periods_and_a_kept_period_whose_blanks_changed(tmp_path):
    """`_version_0` on a daytime refresh: mart and restricted get the refreshed period only, the
    kept rows the refresh's run id in place; public also the kept period where a blank was added
    (a repair reaching back); afterwards each table is what a whole publication would leave."""
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    ensure_schema(engine)
    q3, running = "2025-09-30", "2025-11-15"
    night = pd.DataFrame([_row(q3, 40.0, "night"), _row(q3, 9.0, "night", "area", "Voksne"),
                          _row(running, 12.0, "night")])
    worker = pd.DataFrame([_row(q3, 3.0, "night", "caseworker", "cw1"), _row(running, 2.0, "night", "caseworker", "cw1")])
    publish_together(engine, [Publication("mart", KPI_VALUE, night, {"version": 0}),
                              Publication("public", KPI_VALUE, night, {"version": 0}),
                              Publication("restricted", KPI_VALUE_CASEWORKER, worker, {"version": 0})])
    day = pd.concat([night, worker], ignore_index=True).assign(run_id="day")
    day.loc[day["period_end"].eq(pd.Timestamp(running)), "value"] += 1
    public = day[day["org_level"] != "caseworker"].copy()
    area = public["org_level"].eq("area")
    public.loc[area, ["value", "value_status"]] = [None, "suppressed"]  # blanked now, shown by the night
    blanks = read_table(engine, "public.kpi_value", "WHERE version = 0 AND value_status = 'suppressed'")
    assert blanks.empty
    publications = _version_0(engine, day, public, {"refreshed_periods": [f"quarter:2025-10-01:{running}"]}, blanks)
    assert [(p.schema, p.replace_where["period_key"], len(p.frame)) for p in publications] == [
        ("mart", [f"quarter:2025-10-01:{running}"], 1),
        ("public", [f"quarter:2025-07-01:{q3}", f"quarter:2025-10-01:{running}"], 3),
        ("restricted", [f"quarter:2025-10-01:{running}"], 1)]
    publish_together(engine, publications)
    for schema, table, expected in (("mart", "kpi_value", day[day["org_level"] != "caseworker"]),
                                    ("public", "kpi_value", public),
                                    ("restricted", "kpi_value_caseworker", day[day["org_level"] == "caseworker"])):
        got = read_table(engine, f"{schema}.{table}", "ORDER BY period_key, org_level")
        want = expected.sort_values(["period_key", "org_level"])
        assert got[["period_key", "org_level", "value", "run_id", "value_status"]].astype(str).values.tolist() == \
            want[["period_key", "org_level", "value", "run_id", "value_status"]].astype(str).values.tolist(), schema
    engine.dispose()
