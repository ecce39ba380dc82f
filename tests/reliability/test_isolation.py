"""One fagsystem failing does not stop the others; the model keeps its last good extract."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest
from extracts import extract_all

from etl.core.settings import REPO_ROOT, Settings
from etl.extract.land import ExtractError
from etl.model import Model
from etl.sources import SOURCES
from etl.synth import generate
from etl.tasks import extract as extract_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

pytestmark = pytest.mark.integration
DAY1, DAY2 = dt.date(2025, 11, 14), dt.date(2025, 11, 15)


@pytest.mark.parametrize("breakage", ["connection refused", "missing file"])
def test_a_failed_source_keeps_its_last_good_extract_and_shows_behind(tmp_path, breakage):
    generate(tmp_path / "sources", "demo", seed=5, extraction_date=DAY2)
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo")
    drop = tmp_path / "sources" / "drop"
    (drop / f"cpr_{DAY1:%Y%m%d}.csv").write_bytes((drop / f"cpr_{DAY2:%Y%m%d}.csv").read_bytes())
    extract_all(DAY1, "night1", settings)
    model_tasks.build_model(DAY1, settings)
    complaints_day1 = len(Model.load(settings.model_dir).fact_complaint)

    broken = "klage" if breakage == "connection refused" else "cpr"
    if broken == "klage":  # a database that cannot be opened
        settings = dataclasses.replace(settings, source_locations={"klage": f"sqlite:///{tmp_path}/no/such/dir/klage.db"})
    else:  # tonight's CPR file did not arrive
        (tmp_path / "sources" / "drop" / f"cpr_{DAY2:%Y%m%d}.csv").unlink()
    for source in SOURCES:
        if source == broken:
            with pytest.raises(ExtractError, match=f"{broken}\\."):
                extract_tasks.extract_source(source, DAY2, "night2", settings)
        else:
            extract_tasks.extract_source(source, DAY2, "night2", settings)
    result = model_tasks.build_model(DAY2, settings)
    assert result["sources"][broken] == DAY1.isoformat()
    assert all(date == DAY2.isoformat() for name, date in result["sources"].items() if name != broken)
    if broken == "klage":
        assert len(Model.load(settings.model_dir).fact_complaint) == complaints_day1

    checked = dt.datetime.combine(DAY2, dt.time(3))
    freshness = dq_tasks.source_freshness(settings, checked, DAY2).set_index("source")
    assert freshness.loc[broken, "days_behind"] == 1
    assert freshness.loc[broken, "extract_date"] == DAY1
    assert bool(freshness.loc[broken, "stale"]) and pd.notna(freshness.loc[broken, "age_hours"])  # a night behind
    assert not freshness.drop(index=broken)["stale"].any()  # every other source is tonight's
