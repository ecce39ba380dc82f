"""`load_run_facts` on a data folder written by hand the way the pipeline writes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from etl.core.settings import Settings
from etl.model import Model, conform
from etl.publish.marts import KPI_VALUE, SOURCE_FRESHNESS
from etl.publish.warehouse import ensure_schema, make_engine, publish
from etl.quality.config import load_rules_config
from etl.core.roles import ROLES
from etl.quality.facts import history_path, load_run_facts, read_kpi_history, source_freshness
from etl.quality.runner import run_rules
from etl.sources import SOURCES
from etl.tasks import quality as dq_tasks

CHECKED_AT = dt.datetime(2025, 11, 21, 14, 0)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True))


def pointer(staged: Path, source: str, extract_date: str, completed_at: str, tables: dict[str, int]) -> None:
    """CURRENT.json as etl.validate.table.publish_source writes it."""
    write_json(staged / source / "CURRENT.json", {
        "source": source, "extract_date": extract_date, "run_id": f"extract-{extract_date}",
        "completed_at": completed_at,
        "tables": {t: {"rows_in": n, "rows_staged": n, "rows_quarantined": 0,
                       "staged_path": str(staged / source / t / f"extract_date={extract_date}" / "data.parquet")}
                   for t, n in tables.items()}})


def validation(staged: Path, source: str, table: str, extract_date: str, rows_in: int) -> None:
    """validation.json as etl.validate.table writes it beside each staged partition."""
    write_json(staged / source / table / f"extract_date={extract_date}" / "validation.json", {
        "source": source, "table": table, "extract_date": extract_date, "rows_in": rows_in,
        "rows_staged": rows_in, "rows_quarantined": 0, "quarantine_by_rule": {}, "seconds": 0.1})


def kpi_rows(run_id: str, t101: float, t201: float) -> pd.DataFrame:
    base = {"period_type": "quarter", "period": "2025-Q3", "period_start": "2025-07-01", "period_end": "2025-09-30",
            "org_level": "sof", "org_key": "SOF", "dimension": None, "dimension_value": None, "numerator": None,
            "denominator": None, "unit": "count", "provisional": False, "version": 0, "run_id": run_id,
            "computed_at": "2025-11-21 03:00", "period_key": "quarter:2025-07-01:2025-09-30", "comparison": "current",
            "org_id": "sof:SOF", "value_status": "shown"}
    rows = [{**base, "kpi_id": "T1.01", "measure": "count", "value": t101},
            {**base, "kpi_id": "T2.01", "measure": "count", "value": t201},
            {**base, "kpi_id": "T2.01", "measure": "count", "value": 999.0, "org_level": "area",
             "org_key": "Voksne", "org_id": "area:Voksne"},  # not a SOF total
            {**base, "kpi_id": "T2.01", "measure": "count", "value": 5.0, "dimension": "area",
             "dimension_value": "Voksne"}]  # a breakdown, not the total
    return conform(pd.DataFrame(rows), KPI_VALUE)


@pytest.fixture
def data_dir(tmp_path):
    staged = tmp_path / "staged"
    pointer(staged, "boern", "2025-11-20", "2025-11-20T02:00:00", {"Barn": 130, "Sag": 50})  # tonight's, 36 h old
    validation(staged, "boern", "Barn", "2025-11-19", 100)
    validation(staged, "boern", "Barn", "2025-11-20", 130)
    validation(staged, "boern", "Sag", "2025-11-20", 50)  # first extract of Sag: no previous
    pointer(staged, "voksen", "2025-11-19", "2025-11-21T13:59:00", {"borger": 10})  # a day behind, 1 minute old
    validation(staged, "voksen", "borger", "2025-11-18", 12)
    validation(staged, "voksen", "borger", "2025-11-19", 10)
    pointer(staged, "cpr", "2025-11-20", "2025-11-21T13:00:00", {"cpr": 7})  # current, but today's file is missing
    validation(staged, "cpr", "cpr", "2025-11-20", 7)
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "cpr_20251119.csv").write_text("x\n")
    (drop / "beskaeftigelse_202510.csv").write_text("x\n")
    return tmp_path


def folder_settings(data_dir: Path) -> Settings:
    drop = str(data_dir / "drop")
    return Settings(data_dir, data_dir / "reference", "demo", source_locations={"cpr": drop, "beskaeftigelse": drop})


def test_load_run_facts_from_the_data_folder(data_dir):
    settings = folder_settings(data_dir)
    engine = make_engine(f"sqlite:///{data_dir / 'warehouse' / 'warehouse.db'}")
    ensure_schema(engine)
    publish(engine, "mart", KPI_VALUE, kpi_rows("run-1", 100.0, 40.0), {"version": 0})
    first = load_run_facts(settings, engine, "run-1", checked_at=CHECKED_AT - dt.timedelta(days=1))
    assert first.previous_kpi_totals is None
    publish(engine, "mart", KPI_VALUE, kpi_rows("run-2", 110.0, 20.0), {"version": 0})
    facts = load_run_facts(settings, engine, "run-2", checked_at=CHECKED_AT)
    engine.dispose()

    fresh = facts.freshness.set_index("source")  # the night: the newest current extract, 2025-11-20
    assert (fresh.loc["boern", "age_hours"], fresh.loc["boern", "days_behind"]) == (36.0, 0)
    assert not fresh.loc["boern", "stale"]  # 36 hours old, but tonight's: fresh
    assert (fresh.loc["voksen", "age_hours"], fresh.loc["voksen", "days_behind"]) == (0.02, 1)
    assert fresh.loc["voksen", "stale"]  # completed a minute ago, but yesterday's extract: stale
    assert fresh.loc["tilbud", "stale"] and pd.isna(fresh.loc["tilbud", "age_hours"])  # never extracted
    assert pd.isna(fresh.loc["tilbud", "days_behind"]) and pd.isna(fresh.loc["tilbud", "extract_date"])
    assert fresh.loc["cpr", "expected_file"] == "cpr_20251120.csv" and fresh.loc["cpr", "file_present"] == False  # noqa: E712
    assert not fresh.loc["cpr", "stale"]  # current; its missing file is DQ10's other finding
    assert fresh.loc["beskaeftigelse", "file_present"] == True and fresh.loc["beskaeftigelse", "stale"]  # noqa: E712
    assert pd.isna(fresh.loc["boern", "file_present"])
    assert set(fresh["stale_after_days"]) == {0} and set(fresh["checked_at"]) == {CHECKED_AT}
    assert (fresh.loc["boern", "rows"], fresh.loc["voksen", "rows"]) == (180, 10)

    assert facts.row_counts[["source", "table", "rows"]].values.tolist() == [
        ["boern", "Barn", 130], ["boern", "Sag", 50], ["voksen", "borger", 10], ["cpr", "cpr", 7]]
    assert facts.previous_row_counts[["source", "table", "extract_date", "rows"]].values.tolist() == [
        ["boern", "Barn", "2025-11-19", 100], ["voksen", "borger", "2025-11-18", 12]]
    assert facts.kpi_totals[["kpi_id", "value"]].values.tolist() == [["T1.01", 110.0], ["T2.01", 20.0]]
    assert facts.previous_kpi_totals[["kpi_id", "value"]].values.tolist() == [["T1.01", 100.0], ["T2.01", 40.0]]
    history = read_kpi_history(history_path(data_dir))
    assert sorted(set(history["run_id"])) == ["run-1", "run-2"] and len(history) == 4

    # the repository's configuration on these facts
    model = Model.from_frames(dt.date(2025, 11, 20))
    outcome = run_rules(model, load_rules_config(), "run-2", CHECKED_AT, facts=facts)
    failing = {(r.rule_id, r.source, r.record_id): r.detail for r in outcome.dq_failure.itertuples()}
    # an empty model declares no roles and has no rows: every KPI selecting by a role is
    # structurally empty (DQ21), none other
    empty = {key for key in failing if key[0] == "DQ21"}
    assert {kpi_id for _, _, kpi_id in empty} == {r for role in ROLES for r in role.readers if r.startswith("T")}
    failing = {key: detail for key, detail in failing.items() if key not in empty}
    assert failing == {
        ("DQ10", "voksen", "voksen"): "seneste gode udtræk er fra 2025-11-19, 1 dag bag nattens udtræksdato "
                                      "(tilladt: 0 dage)",
        ("DQ10", "cpr", "cpr"): "forventet fil cpr_20251120.csv mangler i drop-mappen",
        # every other registered source has never been extracted here
        **{("DQ10", name, name): "intet gennemført udtræk" for name in SOURCES if name not in ("boern", "voksen", "cpr")},
        ("DQ13", "boern", "Barn"): "forrige 100 → nu 130 (+30,0 %)",
        ("DQ13", "kpi", "T2.01/count"): "quarter 2025-Q3: forrige 40 → nu 20 (-50,0 %)",
    }


def test_freshness_is_judged_on_the_nights_date_not_the_clock(data_dir):
    """A replayed night (a past extraction date, the pointers of that date) is fresh however
    long ago it completed; the same folder on the next night is a day behind, however recent."""
    settings = folder_settings(data_dir)
    weeks_later = dt.datetime(2025, 12, 31, 9, 0)
    replay = source_freshness(settings, weeks_later, dt.date(2025, 11, 20)).set_index("source")
    assert not replay.loc["boern", "stale"] and replay.loc["boern", "days_behind"] == 0
    assert replay.loc["boern", "age_hours"] == 991.0  # information only: 41 days and 7 hours
    assert replay.loc["voksen", "stale"] and replay.loc["voksen", "days_behind"] == 1
    on_the_nineteenth = source_freshness(settings, weeks_later, dt.date(2025, 11, 19)).set_index("source")
    assert not on_the_nineteenth.loc["voksen", "stale"] and on_the_nineteenth.loc["voksen", "days_behind"] == 0
    assert on_the_nineteenth.loc["boern", "days_behind"] == -1 and not on_the_nineteenth.loc["boern", "stale"]
    next_night = source_freshness(settings, dt.datetime(2025, 11, 21, 2, 1), dt.date(2025, 11, 21)).set_index("source")
    assert next_night.loc["cpr", "stale"] and next_night.loc["cpr", "age_hours"] < 0  # completed "after" the check
    assert next_night.loc["boern", "stale"] and next_night.loc["boern", "days_behind"] == 1
    allowance = dataclasses.replace(SOURCES["boern"], stale_after_days=1)
    with pytest.MonkeyPatch.context() as patch:  # a source allowed a day behind
        patch.setitem(SOURCES, "boern", allowance)
        assert not source_freshness(settings, weeks_later, dt.date(2025, 11, 21)).set_index("source").loc[
            "boern", "stale"]
        assert source_freshness(settings, weeks_later, dt.date(2025, 11, 22)).set_index("source").loc["boern", "stale"]


def test_dq10_and_the_mart_are_the_same_judgement(data_dir):
    """`mart.source_freshness` publishes exactly the frame DQ10 judged."""
    settings = folder_settings(data_dir)
    facts = load_run_facts(settings, None, "run-1", checked_at=CHECKED_AT, extraction_date=dt.date(2025, 11, 20))
    mart = dq_tasks.source_freshness(settings, CHECKED_AT, dt.date(2025, 11, 20))
    pd.testing.assert_frame_equal(facts.freshness, mart)
    assert set(SOURCE_FRESHNESS.column_names) <= set(mart.columns)


def test_load_run_facts_replaces_a_retried_run_in_the_history(data_dir):
    settings = folder_settings(data_dir)
    engine = make_engine(f"sqlite:///{data_dir / 'warehouse' / 'warehouse.db'}")
    ensure_schema(engine)
    publish(engine, "mart", KPI_VALUE, kpi_rows("run-1", 100.0, 40.0), {"version": 0})
    load_run_facts(settings, engine, "run-1", checked_at=CHECKED_AT)
    facts = load_run_facts(settings, engine, "run-1", checked_at=CHECKED_AT)
    engine.dispose()
    assert facts.previous_kpi_totals is None
    assert len(read_kpi_history(history_path(data_dir))) == 2
