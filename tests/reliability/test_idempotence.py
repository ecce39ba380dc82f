"""Re-running a stage for the same logical date gives identical outputs; a backfill of an
earlier date leaves the current extract and every other date's files alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import pytest
from extracts import extract_all

from etl.core.settings import REPO_ROOT, Settings
from etl.publish.warehouse import make_engine, read_table
from etl.synth import generate
from etl.tasks import extract as extract_tasks
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks

pytestmark = pytest.mark.integration
DAY = dt.date(2025, 11, 15)
RUN_COLUMNS = ["run_id", "computed_at"]


def content_hash(frame: pd.DataFrame) -> str:
    frame = frame.drop(columns=[c for c in RUN_COLUMNS if c in frame.columns])
    ordered = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(ordered.astype(str), index=False).values.tobytes()).hexdigest()


def run_night(settings: Settings, day: dt.date, run_id: str) -> None:
    extract_all(day, run_id, settings)
    model_tasks.build_model(day, settings)


def snapshot(settings: Settings) -> dict[str, str]:
    hashes = {}
    for root in (settings.landing_dir, settings.staged_dir, settings.model_dir):
        for path in sorted(root.rglob("*.parquet")):
            hashes[str(path.relative_to(settings.data_dir))] = content_hash(pd.read_parquet(path))
    engine = make_engine(settings.warehouse_url())
    for table in ("mart.kpi_value", "public.kpi_value", "mart.kpi_catalog"):
        hashes[table] = content_hash(read_table(engine, table))
    engine.dispose()
    return hashes


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    data = tmp_path_factory.mktemp("idem")
    generate(data / "sources", "demo", seed=3, extraction_date=DAY)
    return Settings(data, REPO_ROOT / "reference", "demo")


def publish_kpis(settings: Settings, run_id: str) -> None:
    staged = kpi_tasks.compute_kpis(run_id, settings, history_quarters=1)  # two quarters keep it quick
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged, settings=settings), settings)


def test_rerunning_the_same_date_gives_identical_outputs(settings):
    run_night(settings, DAY, "first")
    publish_kpis(settings, "first")
    first = snapshot(settings)
    run_night(settings, DAY, "second")
    publish_kpis(settings, "second")
    assert snapshot(settings) == first


def test_a_backfill_of_an_earlier_date_does_not_move_the_current_extract(settings):
    before = {p: p.read_bytes() for p in settings.staged_dir.rglob(f"extract_date={DAY}/*.parquet")}
    result = extract_tasks.extract_source("klage", DAY - dt.timedelta(days=3), "backfill", settings)
    pointer = json.loads((settings.staged_dir / "klage" / "CURRENT.json").read_text())
    assert pointer["extract_date"] == DAY.isoformat() and result["extract_date"] == "2025-11-12"
    assert {p: p.read_bytes() for p in settings.staged_dir.rglob(f"extract_date={DAY}/*.parquet")} == before


def test_a_model_backfill_uses_that_dates_extracts_and_leaves_the_live_model(settings):
    earlier = DAY - dt.timedelta(days=3)
    live_before = (settings.model_dir / "fact_complaint.parquet").read_bytes()
    result = model_tasks.build_model(earlier, settings)
    assert result["model_dir"].endswith(f"backfill/{earlier}")
    assert result["sources"]["klage"] == earlier.isoformat()  # the backfilled extract, not the current one
    assert set(result["sources"]) == {"klage"}  # no other source had an extract by then: none leaks in from later
    assert (settings.model_dir / "fact_complaint.parquet").read_bytes() == live_before
    assert json.loads((settings.model_dir / "model.json").read_text())["extraction_date"] == DAY.isoformat()
