"""The extract DAGs' tasks (`extract_<source>`): land, validate, publish one source's extract.

Each function is one Airflow task: names and dates in, a small dict of paths and counts out
(what XCom carries: never data, never a CPR; paths relative to the data folder). Each
resolves the run's settings once (`Settings.resolve()`) unless handed them; the DAG files
call these and nothing else, and the tests call them with explicit settings.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from etl.core.settings import Settings
from etl.extract.incremental import plan_extract
from etl.extract.land import drop_file_digests, extract_table
from etl.sources import get_source
from etl.validate.table import publish_source, validate_table

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    """The task's settings: the ones handed in, else resolved here, once, for this task."""
    return settings if settings is not None else Settings.resolve()


def land(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None,
         full: bool = False) -> dict:
    """Extract one table to landing: incrementally when it can, whole when it must or `full`."""
    settings = _settings(settings)
    source = get_source(source_name)
    table = source.table(table_name)
    location = settings.source_location(source)
    drop_files = drop_file_digests(table, Path(location), extract_date) if source.kind == "file" else None
    plan = plan_extract(source.name, source.kind, table, settings.staged_dir, extract_date,
                        settings.extract, force_full=full, drop_files=drop_files)
    log.info("%s.%s: %s extract (%s)%s", source_name, table_name, plan.mode, plan.reason,
             f", changes in [{plan.since}, {plan.until})" if plan.since else "")
    landed = extract_table(source, table, location, settings.landing_dir, extract_date, plan,
                           odbc_fetch=settings.odbc_fetch)
    log.info("landed %s.%s: %d rows in %.2fs -> %s", source_name, table_name, landed.rows, landed.seconds, landed.path)
    return settings.zones.portable({**landed.as_dict(), "mode": plan.mode})


def validate(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None) -> dict:
    settings = _settings(settings)
    source = get_source(source_name)
    result = validate_table(source, source.table(table_name), settings.landing_dir, settings.staged_dir,
                            settings.quarantine_dir, extract_date)
    log.info("validated %s.%s: %d in, %d staged, %d quarantined %s in %.2fs", source_name, table_name,
             result.rows_in, result.rows_staged, result.rows_quarantined, result.quarantine_by_rule or "", result.seconds)
    return settings.zones.portable(result.as_dict())


def publish_extract(source_name: str, extract_date: dt.date, run_id: str, results: list[dict],
                    settings: Settings | None = None) -> dict:
    settings = _settings(settings)
    pointer = publish_source(get_source(source_name), settings.staged_dir, extract_date, run_id, results)
    staged = sum(t["rows_staged"] for t in pointer["tables"].values())
    quarantined = sum(t["rows_quarantined"] for t in pointer["tables"].values())
    state = "is now current" if pointer["current"] else "is a backfill (the current extract is newer)"
    log.info("SUMMARY extract_%s: extract of %s %s: %d table(s), %d rows staged, %d quarantined",
             source_name, extract_date, state, len(pointer["tables"]), staged, quarantined)
    return {"source": source_name, "extract_date": extract_date.isoformat(), "current": pointer["current"],
            "rows_staged": staged, "rows_quarantined": quarantined}


def extract_source(source_name: str, extract_date: dt.date, run_id: str, settings: Settings | None = None,
                   full: bool = False) -> dict:
    """A whole extract DAG's work in one call (tests, benchmarks): land, validate, publish."""
    settings = _settings(settings)
    results = [validate(source_name, t.name, extract_date, settings)
               for t in get_source(source_name).tables if land(source_name, t.name, extract_date, settings, full)]
    return publish_extract(source_name, extract_date, run_id, results, settings)
