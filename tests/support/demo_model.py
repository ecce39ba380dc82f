"""A generated demo night's model folder, built by the pipeline's own extract and model stages
once per test session: for the tests that need realistic volumes (the KPI stage's lineage and
lean loading, each data-quality rule's declared tables)."""

from __future__ import annotations

import datetime as dt

import pytest
from extracts import extract_all

from etl.core.settings import REPO_ROOT, Settings
from etl.synth import generate
from etl.tasks import model as model_tasks


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory):
    """A generated demo night's model folder (extracted and built by the pipeline), shared
    by the tests that need realistic volumes; they must not write to it."""

    day = dt.date(2025, 11, 15)
    data = tmp_path_factory.mktemp("kpi_demo_night")
    generate(data / "sources", "demo", seed=11, extraction_date=day)
    settings = Settings(data, REPO_ROOT / "reference", "demo")
    extract_all(day, "night-1", settings)
    model_tasks.build_model(day, settings)
    return settings.model_dir

