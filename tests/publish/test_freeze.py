"""Freezing a quarter and re-publishing it: version numbers, is_current, reasons, and that
nightly publishes never change a frozen version."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa
from quarter_close import versions

from etl.publish.freeze import FreezeError, due_quarter, freeze_quarter
from etl.publish.warehouse import make_engine
from etl.tasks import kpis as kpi_tasks
from etl.tasks import quality as dq_tasks

pytestmark = pytest.mark.integration
QUARTER = "2025-Q3"


def frame(settings, sql: str, **params) -> pd.DataFrame:
    engine = make_engine(settings.warehouse_url())
    with engine.connect() as conn:
        out = pd.read_sql(sa.text(sql), conn, params=params)
    engine.dispose()
    return out


def digest(settings, table: str, version: int) -> str:
    rows = frame(settings, f"SELECT * FROM {table} WHERE version = :v", v=version)
    ordered = rows.sort_values(list(rows.columns)).reset_index(drop=True)
    return hashlib.sha256(ordered.to_csv(index=False).encode()).hexdigest()


def test_a_quarter_is_due_close_after_days_after_its_end():
    assert due_quarter(dt.date(2025, 10, 19), 20) is None
    assert due_quarter(dt.date(2025, 10, 20), 20) == "2025-Q3"
    assert due_quarter(dt.date(2025, 12, 31), 20) == "2025-Q3"
    assert due_quarter(dt.date(2026, 1, 1), 0) == "2025-Q4"


def test_closing_freezes_the_closed_periods_as_version_1(report_settings, first_version):
    assert (first_version.quarter, first_version.version, first_version.created) == (QUARTER, 1, True)
    [row] = versions(make_engine(report_settings.warehouse_url()), QUARTER)
    assert (row["version"], row["is_current"], row["frozen_by"], row["reason"], row["run_id"]) == (
        1, True, "udvalgssekretariatet", "Kvartalsafslutning", "close-1")
    assert row["source_run_id"] == "night-1" and row["dq_run_id"] == "night-1"
    periods = frame(report_settings, "SELECT DISTINCT period, period_type, period_end, provisional "
                                     "FROM mart.kpi_value WHERE version = 1 ORDER BY 1, 2")
    # the quarter and its ÅTD, and their last-year twins; not the running 2025-Q4, nor its clipped twin
    assert periods[["period", "period_type"]].values.tolist() == [
        ["2024-Q3", "quarter"], ["2024-Q3", "ytd"], ["2025-Q3", "quarter"], ["2025-Q3", "ytd"]]
    assert set(periods["period_end"].astype(str).str[:10]) == {"2024-09-30", "2025-09-30"}
    assert not periods["provisional"].astype(bool).any()
    for table, expected in (("mart.kpi_value", first_version.kpi_rows), ("public.kpi_value", first_version.public_rows),
                            ("restricted.kpi_value_caseworker", first_version.restricted_rows)):
        nightly = frame(report_settings, f"SELECT COUNT(*) AS n FROM {table} WHERE version = 0 "
                                         "AND period IN ('2024-Q3', '2025-Q3')")["n"].item()
        assert expected == nightly > 0, table  # issue 21: the caseworker rows are frozen in restricted
    assert frame(report_settings, "SELECT COUNT(*) AS n FROM mart.kpi_value WHERE org_level = 'caseworker'")["n"].item() == 0
    assert first_version.dq_rows == frame(report_settings, "SELECT COUNT(*) AS n FROM mart.dq_result "
                                                           "WHERE run_id = 'night-1'")["n"].item() > 0
    public = frame(report_settings, "SELECT version, quarter, is_current FROM public.kpi_version")
    assert public.values.tolist() == [[1, QUARTER, 1]]


def test_closing_again_without_force_changes_nothing(report_settings, first_version):
    again = freeze_quarter(QUARTER, settings=report_settings, run_id="close-2")
    assert (again.version, again.created, again.kpi_rows) == (1, False, first_version.kpi_rows)
    assert len(versions(make_engine(report_settings.warehouse_url()))) == 1


def test_the_running_quarter_cannot_be_frozen_and_stays_provisional(report_settings, first_version):
    with pytest.raises(FreezeError, match="not a closed quarter"):
        freeze_quarter("2025-Q4", settings=report_settings, run_id="too-early")
    current = frame(report_settings, "SELECT DISTINCT period, version, provisional, publication "
                                     "FROM mart.kpi_value_current WHERE period = '2025-Q4'")
    assert current.values.tolist() == [["2025-Q4", 0, 1, "provisional"]]


def test_a_nightly_publish_leaves_the_frozen_version_byte_identical(report_settings, first_version):
    before = {t: digest(report_settings, t, 1) for t in ("mart.kpi_value", "public.kpi_value", "mart.dq_result_frozen")}
    staged = kpi_tasks.compute_kpis("night-2", report_settings, history_quarters=1)
    path = report_settings.zones.resolve(staged["path"])
    values = pd.read_parquet(path)
    values["value"] = values["value"] * 2  # a night with different figures
    values.to_parquet(path, index=False)
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged, settings=report_settings), report_settings)
    dq_tasks.run_data_quality("night-2", report_settings)
    assert {t: digest(report_settings, t, 1) for t in before} == before
    nightly_runs = frame(report_settings, "SELECT DISTINCT run_id FROM mart.kpi_value WHERE version = 0")
    assert nightly_runs["run_id"].tolist() == ["night-2"]
    frozen = frame(report_settings, "SELECT DISTINCT version, publication FROM mart.kpi_value_current "
                                    "WHERE period = :q", q=QUARTER)
    assert frozen.values.tolist() == [[1, "frozen"]]


def test_a_re_publication_needs_a_reason_and_becomes_the_next_current_version(report_settings, first_version):
    with pytest.raises(FreezeError, match="reason"):
        freeze_quarter(QUARTER, force=True, settings=report_settings, run_id="repub-0")
    reason = "Rettede afgørelsesdatoer i DUBU"
    second = freeze_quarter(QUARTER, reason, force=True, frozen_by="team-data", settings=report_settings,
                            run_id="repub-1")
    assert (second.version, second.created) == (2, True)
    rows = versions(make_engine(report_settings.warehouse_url()), QUARTER)
    assert [(r["version"], r["is_current"], r["reason"]) for r in rows] == [
        (1, False, "Kvartalsafslutning"), (2, True, reason)]
    assert rows[1]["source_run_id"] == "night-2" and rows[1]["dq_run_id"] == "night-2"
    public = frame(report_settings, "SELECT version, is_current, reason FROM public.kpi_version ORDER BY version")
    assert public.values.tolist() == [[1, 0, "Kvartalsafslutning"], [2, 1, reason]]
    # a retried task of the same run does not freeze twice
    retry = freeze_quarter(QUARTER, reason, force=True, settings=report_settings, run_id="repub-1")
    assert (retry.version, retry.created) == (2, False)
    # BI's current view shows version 2 for the quarter; version 1 is kept, unchanged
    current = frame(report_settings, "SELECT DISTINCT version FROM public.kpi_value_current WHERE period = :q", q=QUARTER)
    assert current["version"].tolist() == [2]
    v1 = frame(report_settings, "SELECT value FROM mart.kpi_value WHERE version = 1 AND kpi_id = 'T1.01' "
                                "AND org_level = 'sof' AND dimension IS NULL AND period = :q", q=QUARTER)
    v2 = frame(report_settings, "SELECT value FROM mart.kpi_value WHERE version = 2 AND kpi_id = 'T1.01' "
                                "AND org_level = 'sof' AND dimension IS NULL AND period = :q", q=QUARTER)
    assert v2["value"].item() == 2 * v1["value"].item()
