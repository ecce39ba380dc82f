"""Hand-built model frames for the KPI tests: rows as dicts, unnamed columns left NULL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core.periods import Period, quarter_periods
from etl.core.reference import load_reference
from etl.core.settings import REPO_ROOT
from etl.model import Model, conform
from etl.model.tables import MODEL_TABLES


def model_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A frame of a model table from partial rows; every column not given is NULL.

    Dates and timestamps may be written as ISO strings, with or without a time.
    """
    spec = MODEL_TABLES[table]
    unknown = {key for row in rows for key in row} - set(spec.column_names)
    assert not unknown, f"{table} has no columns {unknown}"
    frame = pd.DataFrame([{c: row.get(c) for c in spec.column_names} for row in rows],
                         columns=spec.column_names)
    for column in spec.columns:
        if column.type in ("date", "datetime"):
            frame[column.name] = pd.to_datetime(frame[column.name], format="ISO8601")
    return frame


@pytest.fixture(scope="session")
def dim_org() -> pd.DataFrame:
    """The real organisation reference (BFC-VEST moves from center Syd to Nord on 2025-01-01)."""
    reference = pd.read_csv(REPO_ROOT / "reference" / "organisation.csv", dtype=str,
                            keep_default_na=False, na_values={"valid_to": [""]})
    return conform(reference, MODEL_TABLES["dim_org"])


@pytest.fixture(scope="session")
def ref_role() -> pd.DataFrame:
    """The shipped reference's roles (which codes are substance-abuse treatment, shelters, ...)."""
    return load_reference(REPO_ROOT / "reference")["ref_role"]


@pytest.fixture
def make_model(dim_org, ref_role):
    """make_model(fact_service=[{...}, ...], ...) -> Model with the reference organisation and roles."""
    def make(extraction_date: dt.date = dt.date(2025, 10, 15), extraction_time: dt.datetime | None = None,
             **tables: list[dict]) -> Model:
        frames = {name: rows if isinstance(rows, pd.DataFrame) else model_frame(name, rows)
                  for name, rows in tables.items()}
        frames.setdefault("ref_role", ref_role)  # a test may declare its own
        return Model.from_frames(extraction_date, extraction_time, dim_org=dim_org, **frames)
    return make


@pytest.fixture
def q3_2025() -> Period:
    """2025-Q3 closed: 2025-07-01 .. 2025-09-30 (92 days)."""
    return quarter_periods(2025, 3, dt.date(2025, 10, 15))[0]


@pytest.fixture
def ytd_q3_2025() -> Period:
    """Year to date at 2025-Q3: 2025-01-01 .. 2025-09-30 (273 days)."""
    return quarter_periods(2025, 3, dt.date(2025, 10, 15))[1]


@pytest.fixture
def pick():
    """pick(rows, measure, org_level, org_key, dimension, dimension_value) -> the one matching row."""
    def select(rows: pd.DataFrame, measure: str = "count", org_level: str = "sof", org_key: str = "SOF",
               dimension: str | None = None, dimension_value: str | None = None) -> pd.Series:
        match = ((rows["measure"] == measure) & (rows["org_level"] == org_level)
                 & (rows["org_key"] == org_key)
                 & (rows["dimension"].isna() if dimension is None else rows["dimension"] == dimension)
                 & (rows["dimension_value"].isna() if dimension_value is None
                    else rows["dimension_value"] == dimension_value))
        found = rows[match]
        assert len(found) == 1, f"{len(found)} rows for {measure}/{org_level}/{org_key}/{dimension}/{dimension_value}"
        return found.iloc[0]
    return select
