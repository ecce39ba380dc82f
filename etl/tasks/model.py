"""The `build_model` DAG's task: link persons across systems and write the pseudonymous model."""

from __future__ import annotations

import datetime as dt
import logging

from etl.core.settings import Settings

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    return settings or Settings.from_env()



def build_model(extract_date: dt.date, settings: Settings | None = None) -> dict:
    from etl.model.stage import run_model_stage  # noqa: PLC0415 - pandas and the build (~1.8 s): not at DAG parse
    result = run_model_stage(_settings(settings), extract_date)
    log.info("SUMMARY build_model: %d staged rows -> %d model rows in %d tables (%s) in %.1fs", result["rows_in"],
             sum(result["rows"].values()), len(result["rows"]), result["model_dir"], result["seconds"])
    return result
