"""The `build_model` DAG's task: link persons across systems and write the pseudonymous model."""

from __future__ import annotations

import datetime as dt
import logging

from etl.core.settings import Settings

log = logging.getLogger(__name__)


def build_model(extract_date: dt.date, settings: Settings | None = None) -> dict:
    """Build the model as of `extract_date` (settings resolved here unless handed in)."""
    from etl.model.stage import run_model_stage  # noqa: PLC0415 - heavy import only when used
    settings = settings if settings is not None else Settings.resolve()
    result = run_model_stage(settings, extract_date)
    log.info("SUMMARY build_model: %d staged rows -> %d model rows in %d tables (%s) in %.1fs", result["rows_in"],
             sum(result["rows"].values()), len(result["rows"]), result["model_dir"], result["seconds"])
    return settings.zones.portable(result)
