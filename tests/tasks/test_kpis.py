"""The `publish_kpis` DAG's tasks (etl/tasks/kpis.py): which rows are provisional, and the
audit between compute and publish that refuses an empty, duplicated or incomplete KPI set."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core.periods import reporting_periods
from etl.kpi import CATALOG
from etl.tasks.kpis import _provisional, audit_kpis, publish_kpis

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
