"""Every source's extract of a night in one call: what tests need before a model or a KPI
run. The DAGs run one source each (`etl.tasks.extract.extract_source` per DAG), so this
lives with the tests, not in the production task module."""

from __future__ import annotations

import datetime as dt

from etl.core.settings import Settings
from etl.sources import SOURCES
from etl.tasks.extract import extract_source


def extract_all(extract_date: dt.date, run_id: str, settings: Settings | None = None) -> list[dict]:
    """Land, validate and publish every registered source for `extract_date`."""
    return [extract_source(name, extract_date, run_id, settings) for name in SOURCES]
