"""Fixtures (a pytest plugin, loaded by tests/conftest.py) for the quarter-close, freeze and
report tests. A small demo warehouse for the quarter-close and report tests, built once per session:
the `demo` profile on 25 October 2025 (2025-Q3 closed, 2025-Q4 running and provisional),
one history quarter, with one planted small cell that `public` must suppress."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from extracts import extract_all

from etl.core.settings import REPO_ROOT, Settings
from etl.publish.freeze import freeze_quarter
from etl.synth import generate
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

DAY = dt.date(2025, 10, 25)
QUARTER = "2025-Q3"
#: The planted cell: T5.04 (Vold og trusler), SOF total, 2025-Q3 ÅTD, set to 3 (< 5).
PLANTED = {"kpi_id": "T5.04", "measure": "count", "period": QUARTER, "period_type": "ytd", "value": 3.0}


def versions(engine: sa.Engine, quarter: str | None = None) -> list[dict]:
    """The rows of `mart.kpi_version` (of one quarter), oldest first, `is_current` a bool."""
    where = "WHERE quarter = :q " if quarter else ""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM mart.kpi_version {where}ORDER BY version"),
                            {"q": quarter} if quarter else {}).mappings().all()
    return [{**r, "is_current": bool(int(r["is_current"]))} for r in rows]


def plant_small_cell(path: str) -> None:
    values = pd.read_parquet(path)
    cell = ((values["kpi_id"] == PLANTED["kpi_id"]) & (values["measure"] == PLANTED["measure"])
            & (values["period"] == PLANTED["period"]) & (values["period_type"] == PLANTED["period_type"])
            & (values["org_level"] == "sof") & values["dimension"].isna())
    assert cell.sum() == 1
    values.loc[cell, ["value", "numerator", "denominator"]] = [PLANTED["value"], None, None]
    values.to_parquet(path, index=False)


@pytest.fixture(scope="session")
def report_settings(tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("quarter_close")
    generate(data / "sources", "demo", seed=5, extraction_date=DAY)
    settings = Settings(data, REPO_ROOT / "reference", "demo")
    extract_all(DAY, "night-1", settings)
    model_tasks.build_model(DAY, settings)
    staged = kpi_tasks.compute_kpis("night-1", settings, history_quarters=1)
    plant_small_cell(settings.zones.resolve(staged["path"]))
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged, settings=settings), settings)
    dq_tasks.run_data_quality("night-1", settings)
    return settings


@pytest.fixture(scope="session")
def first_version(report_settings):
    """2025-Q3 closed once, as the quarterly close does: version 1."""
    return freeze_quarter(QUARTER, settings=report_settings, run_id="close-1", frozen_by="udvalgssekretariatet",
                          now=dt.datetime(2025, 10, 21, 6, 0))
