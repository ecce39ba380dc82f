"""A whole model written or accounted at once, as tests build one: the model stage itself
streams its tables through `etl.model.ModelWriter` and counts them as they pass
(`etl.model.stage`), never holding the model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.model import Model, ModelWriter
from etl.model.accounting import model_rows, staged_rows, with_model_rows
from etl.model.registry import MODEL_SOURCES


def save_model(model: Model, model_dir: Path, built_from: dict | None = None) -> dict[str, int]:
    """Write every table of `model`, then `model.json` (the writer the stage uses)."""
    writer = ModelWriter(model_dir)
    for name, frame in model.tables.items():
        writer.add(name, frame)
    return writer.commit(model.extraction_date, model.extraction_time, built_from)


def account_rows(frames: dict[tuple[str, str], pd.DataFrame], model: Model) -> pd.DataFrame:
    """The stage's row accounting of a model held whole: staged, dropped by reason, expected, model rows."""
    counts = {}
    for name in {source.model_table for source in MODEL_SOURCES}:
        counts.update(model_rows(name, getattr(model, name)))
    return with_model_rows(staged_rows(frames), counts)
