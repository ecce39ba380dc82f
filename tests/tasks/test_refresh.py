"""The daytime refresh's decisions that need no night (etl/tasks/refresh.py); the refresh itself
runs under `dag.test()` in tests/integration/test_daytime_refresh.py."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from etl.core.settings import REPO_ROOT, Connections, Settings
from etl.publish.marts import KPI_VALUE
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish_together
from etl.tasks import refresh
from etl.tasks.orchestration import plan_refresh_run
from airflow.sdk.exceptions import AirflowSkipException

DAY = dt.date(2025, 11, 15)


@pytest.fixture
def settings(tmp_path):
    settings = Settings(tmp_path / "data", REPO_ROOT / "reference", "production", connections=Connections({}))
    settings.model_dir.mkdir(parents=True)
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine, sql_dir=settings.sql_dir)
    engine.dispose()
    return settings


def kpi_rows(run_id: str, period_end: dt.date, n: int) -> pd.DataFrame:
    """n rows of one SOF count in the running quarter ending `period_end` (breakdown values 0..n-1)."""
    start = dt.date(period_end.year, 3 * ((period_end.month - 1) // 3) + 1, 1)
    return pd.DataFrame({
        "kpi_id": "T2.01", "measure": "count", "period_type": "quarter", "period": "2025-Q4",
        "period_start": start, "period_end": period_end, "org_level": "sof", "org_key": "SOF",
        "dimension": "outcome", "dimension_value": [str(i) for i in range(n)], "value": 1.0, "numerator": None,
        "denominator": None, "unit": "count", "provisional": True, "version": 0, "run_id": run_id,
        "computed_at": dt.datetime(2025, 11, 15, 4), "period_key": f"quarter:{start}:{period_end}",
        "comparison": "current", "org_id": "sof:SOF", "value_status": "shown"})


def publish_night(settings: Settings, frame: pd.DataFrame) -> None:
    engine = make_engine(settings.warehouse_url())
    publish_together(engine, [Publication("mart", KPI_VALUE, frame, {"version": 0})])
    engine.dispose()


def test_only_the_database_sources_are_refreshed_never_the_drop_files():
    assert refresh.database_sources() == ["boern", "voksen", "tilbud", "klage", "hr", "oekonomi"]
    with pytest.raises(ValueError, match="cpr is not a database source"):
        refresh.refresh_source("cpr", {"extract_date": DAY.isoformat(), "sources": refresh.database_sources()}, "r")


def test_a_refresh_waits_for_the_night_s_model_then_for_its_kpis(settings):
    with pytest.raises(refresh.NotNow, match=r"the night's model of 2025-11-15 is not built yet \(the live model "
                                             r"is of nothing\)"):
        refresh.plan_refresh(DAY, settings)
    (settings.model_dir / "model.json").write_text(json.dumps({"extraction_date": "2025-11-14"}))
    with pytest.raises(refresh.NotNow, match="not built yet .the live model is of 2025-11-14"):
        refresh.plan_refresh(DAY, settings)
    (settings.model_dir / "model.json").write_text(json.dumps({"extraction_date": "2025-11-15"}))
    with pytest.raises(refresh.NotNow, match="KPIs of 2025-11-15 are not published yet .* ends nowhere"):
        refresh.plan_refresh(DAY, settings)
    publish_night(settings, kpi_rows("night-14", dt.date(2025, 11, 14), 2))  # yesterday's night's figures
    with pytest.raises(refresh.NotNow, match="running quarter ends 2025-11-14"):
        refresh.plan_refresh(DAY, settings)
    publish_night(settings, kpi_rows("night-15", DAY, 2))
    assert refresh.plan_refresh(DAY, settings) == {"extract_date": "2025-11-15",
                                                   "sources": refresh.database_sources()}


def test_the_dag_s_first_task_turns_not_now_into_a_visible_skip(settings, monkeypatch):
    monkeypatch.setattr(Settings, "resolve", classmethod(lambda cls, *a, **k: settings))
    with pytest.raises(AirflowSkipException, match="the night's model of 2025-11-15 is not built yet"):
        plan_refresh_run({"params": {"extract_date": "2025-11-15"}})


def test_the_refresh_keeps_only_a_staged_set_that_is_the_published_one(settings):
    publish_night(settings, kpi_rows("night", DAY, 3))
    path = settings.zones.kpi_values
    path.parent.mkdir(parents=True, exist_ok=True)
    kpi_rows("night", DAY, 3).to_parquet(path, index=False)
    values, caseworkers = refresh.published_staged_set(settings)
    assert len(values) == 3 and caseworkers is None
    # a refresh's own audit failed after compute overwrote the staged set: the copy it kept aside serves
    kpi_rows("night", DAY, 3).to_parquet(refresh.published_copy(path), index=False)
    kpi_rows("refresh-1", DAY, 4).to_parquet(path, index=False)
    values, _ = refresh.published_staged_set(settings)
    assert set(values["run_id"]) == {"night"} and len(values) == 3
    kpi_rows("night", DAY, 2).to_parquet(refresh.published_copy(path), index=False)  # neither is the published set
    with pytest.raises(RuntimeError, match=r"no staged KPI set is the one the nightly version was published from "
                                           r"\(published: rows by run \{'night': 3\}"):
        refresh.published_staged_set(settings)


def test_the_refreshed_set_keeps_the_published_order_so_the_audit_asks_the_night_s_questions():
    """The running quarter's rows go back where the published set had them (the kept periods
    were appended after them), a row the night did not have goes last, and dates read as text
    or timestamps match."""
    def row(period_end, org_key, value):
        return {"kpi_id": "T2.01", "measure": "count", "period_type": "quarter", "period_start": "2025-10-01",
                "period_end": period_end, "org_level": "unit", "org_key": org_key, "dimension": None,
                "dimension_value": None, "value": value}

    published = pd.DataFrame([row("2025-09-30", "U1", 1.0), row("2025-11-15", "U1", 2.0),
                              row("2025-09-30", "U2", 3.0), row("2025-11-15", "U2", 4.0)])
    refreshed = pd.DataFrame([row("2025-11-15", "U3", 9.0), row("2025-11-15", "U2", 5.0), row("2025-11-15", "U1", 2.0),
                              row("2025-09-30", "U1", 1.0), row("2025-09-30", "U2", 3.0)])
    refreshed["period_end"] = pd.to_datetime(refreshed["period_end"])
    ordered = refresh._in_published_order(refreshed, published)
    assert list(zip(ordered["org_key"], ordered["value"])) == [("U1", 1.0), ("U1", 2.0), ("U2", 3.0), ("U2", 5.0),
                                                                ("U3", 9.0)]
    assert ordered.index.tolist() == [0, 1, 2, 3, 4]
    repeated = pd.concat([published, published.iloc[[0]]], ignore_index=True)
    assert refresh._in_published_order(refreshed, repeated).equals(refreshed)  # no order to follow: as it came
