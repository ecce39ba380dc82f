"""Hand-built models for the data-quality tests.

Every model is extracted on 2025-11-20 and carries the repository's reference data
(`reference/organisation.csv`, `reference/paragraphs.csv`) unless a test passes its own.
Rows are given as dicts with only the columns that matter; the rest are NULL.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from etl.core.reference import load_reference
from etl.model import Model
from etl.model.tables import MODEL_TABLES
from etl.quality.config import RuleConfig

EXTRACTION_DATE = dt.date(2025, 11, 20)
REFERENCE = Path(__file__).resolve().parents[2] / "reference"


def model_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A model frame from partial rows: unspecified columns are NULL, dates any ISO 8601 form."""
    spec = MODEL_TABLES[table]
    frame = pd.DataFrame([{c: row.get(c) for c in spec.column_names} for row in rows], columns=spec.column_names)
    for column in spec.columns:
        if column.type in ("date", "datetime"):
            frame[column.name] = pd.to_datetime(frame[column.name], format="ISO8601")
    return frame


@cache
def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name, dtype=str, keep_default_na=False).replace("", None)


@pytest.fixture
def make_model():
    """`make_model(fact_decision=[{...}, ...], ...)` -> Model extracted on 2025-11-20."""

    def build(**tables: list[dict] | pd.DataFrame) -> Model:
        frames = {name: rows if isinstance(rows, pd.DataFrame) else model_frame(name, rows)
                  for name, rows in tables.items()}
        frames.setdefault("dim_org", _reference("organisation.csv"))
        frames.setdefault("dim_paragraph", _reference("paragraphs.csv"))
        frames.setdefault("ref_role", load_reference(REFERENCE)["ref_role"])
        return Model.from_frames(EXTRACTION_DATE, **frames)

    return build


@pytest.fixture
def rule_config():
    """`rule_config("DQ01", "rate", 0.05, ...)` -> RuleConfig with dummy owners."""

    def build(rule_id: str, kind: str, value: float, severity: str = "error",
              owners: tuple[str, ...] = ("dq-test@sofli.example",), sources: tuple[str, ...] | None = None,
              enabled: bool = True, title: str | None = None) -> RuleConfig:
        return RuleConfig(rule_id, title or f"Regel {rule_id}", f"Ret rækkerne for {rule_id}.",
                          severity, kind, value, owners, sources, enabled)

    return build
