"""The extract DAGs' tasks (`extract_<source>`): land, validate, publish one source's extract.

Each function is one Airflow task: names and dates in, a small dict of paths and counts out
(what XCom carries: never data, never a CPR; paths relative to the data folder). Each
resolves the run's settings once (`Settings.resolve()`) unless handed them; the DAG files
call these and nothing else, and the tests call them with explicit settings.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from pathlib import Path

from etl.core import zones
from etl.core.locks import stage_lock
from etl.core.settings import Settings
from etl.extract.incremental import plan_extract
from etl.extract.land import drop_file_digests, extract_table
from etl.quality.alerts import send_emails
from etl.sources import get_source
from etl.validate import breakers
from etl.validate.table import publish_source, validate_table

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    """The task's settings: the ones handed in, else resolved here, once, for this task."""
    return settings if settings is not None else Settings.resolve()


def land(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None,
         full: bool = False) -> dict:
    """Extract one table to landing: incrementally when it can, whole when it must or `full`."""
    settings = _settings(settings)
    with stage_lock(settings.data_dir, f"extract_{source_name}.{table_name}", f"land {extract_date}"):
        return _land(source_name, table_name, extract_date, settings, full)


def _land(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None,
          full: bool = False) -> dict:
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
    with stage_lock(settings.data_dir, f"extract_{source_name}.{table_name}", f"validate {extract_date}"):
        return _validate(source_name, table_name, extract_date, settings)


def _validate(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None) -> dict:
    settings = _settings(settings)
    source = get_source(source_name)
    result = validate_table(source, source.table(table_name), settings.landing_dir, settings.staged_dir,
                            settings.quarantine_dir, extract_date)
    log.info("validated %s.%s: %d in, %d staged, %d quarantined %s in %.2fs", source_name, table_name,
             result.rows_in, result.rows_staged, result.rows_quarantined, result.quarantine_by_rule or "", result.seconds)
    return settings.zones.portable(result.as_dict())


def publish_extract(source_name: str, extract_date: dt.date, run_id: str, results: list[dict],
                    settings: Settings | None = None, accept_reason: str | None = None,
                    accepted_by: str = "airflow", smtp: dict | None = None, refresh: str = "night") -> dict:
    """Make the extract current, unless a circuit breaker trips (etl.validate.breakers).

    A trip keeps the last good extract current, e-mails operations and the source's owners
    (through `smtp`, when given), and raises `CircuitBreakerTripped`. `accept_reason` (the
    DAG's `accept_breakers` param) makes a tripped extract current deliberately: the
    reason, who and which trips are recorded in the pointer and the breaker log. `refresh`
    (`night` or `daytime`) is recorded in the pointer: which kind of run made it current."""
    settings = _settings(settings)
    with stage_lock(settings.data_dir, f"extract_{source_name}", run_id):
        return _publish_extract(source_name, extract_date, run_id, results, settings, accept_reason, accepted_by, smtp,
                                refresh)


def _publish_extract(source_name: str, extract_date: dt.date, run_id: str, results: list[dict],
                     settings: Settings | None = None, accept_reason: str | None = None,
                     accepted_by: str = "airflow", smtp: dict | None = None, refresh: str = "night") -> dict:
    settings = _settings(settings)
    source = get_source(source_name)
    config = breakers.load_breakers(settings.breakers_path)
    current = zones.read_pointer(settings.staged_dir, source_name)
    backfill = current is not None and current["extract_date"] > extract_date.isoformat()
    trips = [] if backfill else breakers.check_source(  # a backfill never moves the pointer: nothing to guard
        source_name, {r["table"]: r["profile"] for r in results if r.get("profile")}, current, config)
    tables = [r["table"] for r in results]
    accepted = None
    reason = (accept_reason or "").strip()
    if trips and not reason:
        breakers.record_trip(settings.staged_dir, source_name, tables, extract_date, run_id, trips)
        text = breakers.message(source_name, extract_date, trips, current["extract_date"] if current else None)
        log.error("SUMMARY extract_%s: %s", source_name, text)
        recipients = [settings.operations_email, *config.owners.get(source_name, ())]
        if smtp:
            try:
                send_emails([breaker_email(source_name, extract_date, run_id, text, recipients)], **smtp)
            except OSError as exc:  # the task fails anyway; Airflow's failure mail still goes to operations
                log.error("extract_%s: the circuit-breaker e-mail to %s could not be sent: %s",
                          source_name, ", ".join(recipients), exc)
        raise breakers.CircuitBreakerTripped(text)
    if trips:
        accepted = breakers.record_acceptance(settings.staged_dir, source_name, tables, extract_date, run_id,
                                              trips, reason, accepted_by)
        log.warning("extract_%s: %s accepted the tripped extract of %s (%s): %s", source_name, accepted_by,
                    extract_date, reason, "; ".join(t.describe(source_name) for t in trips))
    pointer = publish_source(source, settings.staged_dir, extract_date, run_id, results, accepted, refresh)
    staged = sum(t["rows_staged"] for t in pointer["tables"].values())
    quarantined = sum(t["rows_quarantined"] for t in pointer["tables"].values())
    state = "is now current" if pointer["current"] else "is a backfill (the current extract is newer)"
    log.info("SUMMARY extract_%s: extract of %s %s: %d table(s), %d rows staged, %d quarantined%s",
             source_name, extract_date, state, len(pointer["tables"]), staged, quarantined,
             f"; breaker(s) accepted: {reason}" if accepted else "")
    return {"source": source_name, "extract_date": extract_date.isoformat(), "current": pointer["current"],
            "rows_staged": staged, "rows_quarantined": quarantined, "accepted_breakers": bool(accepted)}


def breaker_email(source_name: str, extract_date: dt.date, run_id: str, text: str,
                  recipients: list[str]) -> EmailMessage:
    """The breaker's e-mail: what tripped and what to do (no data values, so no CPR)."""
    message = EmailMessage()
    message["Subject"] = f"[sofli] Udtræk holdt tilbage: {source_name} {extract_date} (circuit breaker)"
    message["From"] = "sofli@sofli.example"
    message["To"] = ", ".join(dict.fromkeys(recipients))
    message.set_content(
        f"Udtrækket af {source_name} for {extract_date} (kørsel {run_id}) er ikke taget i brug: det afviger for "
        f"meget fra det seneste gode udtræk, som fortsat bruges. Nøgletal bygget på kilden markeres som "
        f"forældede (DQ10).\n\n{text}\n\nSe docs/operations.md, \"Et udtræk holdt tilbage\".\n")
    return message


def extract_source(source_name: str, extract_date: dt.date, run_id: str, settings: Settings | None = None,
                   full: bool = False, accept_reason: str | None = None, smtp: dict | None = None,
                   refresh: str = "night") -> dict:
    """A whole extract DAG's work in one call (tests, benchmarks, `refresh_daytime`): land, validate, publish."""
    settings = _settings(settings)
    results = [validate(source_name, t.name, extract_date, settings)
               for t in get_source(source_name).tables if land(source_name, t.name, extract_date, settings, full)]
    return publish_extract(source_name, extract_date, run_id, results, settings, accept_reason, smtp=smtp,
                           refresh=refresh)
