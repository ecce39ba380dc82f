"""The `data_quality` DAG's tasks: run the rules and publish, e-mail the owners, fail the gate."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

from etl.core.locks import stage_lock
from etl.core.periods import local_now, local_today
from etl.core.settings import Settings
from etl.core.storage import atomic_write_json, write_parquet_atomic
from etl.model import Model
from etl.ops.digest import DeliberateFailure
from etl.publish.marts import DQ_FAILURE, DQ_KPI_FLAG, DQ_RESULT, DQ_RULE, SOURCE_FRESHNESS
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish_together, read_table

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    """The task's settings: the ones handed in, else resolved here, once, for this task."""
    return settings if settings is not None else Settings.resolve()


class DataQualityBreach(DeliberateFailure):
    """An error-severity data-quality rule breached its threshold: the gate's deliberate red, a
    line in the operations digest rather than a failure mail (the owners have their mail)."""


def source_freshness(settings: Settings, checked_at: dt.datetime, run_date: dt.date | None = None) -> pd.DataFrame:
    """`mart.source_freshness`: DQ10's own facts per source (`etl.quality.facts.source_freshness`,
    the one definition): stale when the current extract is behind the run's extraction date
    `run_date` (a source that failed tonight keeps serving yesterday's extract, one day
    behind) or there is none."""
    from etl.quality.facts import source_freshness as freshness  # noqa: PLC0415 - the rules (~115 ms): not at DAG parse
    return freshness(settings, checked_at, run_date)


def run_data_quality(run_id: str, settings: Settings | None = None, rules_path: str | Path | None = None) -> dict:
    """Run every enabled rule on the model, publish results and history, return the breaches."""
    settings = _settings(settings)
    with stage_lock(settings.data_dir, "data_quality", run_id):
        return _run_data_quality(run_id=run_id, settings=settings, rules_path=rules_path)


def _run_data_quality(run_id: str, settings: Settings | None = None, rules_path: str | Path | None = None) -> dict:
    from etl.quality.config import load_rules_config  # noqa: PLC0415 - the rules (~115 ms): not at DAG parse
    from etl.quality.facts import load_run_facts  # noqa: PLC0415 - as above
    from etl.quality.flags import blocking_breaches, flag_kpis, stale_sources  # noqa: PLC0415 - as above
    from etl.quality.runner import format_breach_log, model_tables, run_rules  # noqa: PLC0415 - as above

    settings = _settings(settings)
    started = time.monotonic()
    rules_config = load_rules_config(rules_path or settings.dq_rules_path)
    model = Model.load(settings.model_dir, only=model_tables(rules_config))  # the tables the enabled rules read
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine, sql_dir=settings.sql_dir)
    previous = read_table(engine, "mart.dq_result", "WHERE run_id = (SELECT run_id FROM mart.dq_result "
                          "WHERE run_id <> :run ORDER BY computed_at DESC LIMIT 1)", {"run": run_id})
    computed_at = local_now()
    facts = load_run_facts(settings, engine, run_id, checked_at=computed_at, extraction_date=model.extraction_date)
    outcome = run_rules(model, rules_config, run_id, computed_at, previous if len(previous) else None, facts=facts)
    # the KPIs and their run, not the 300,000 rows (2 s at Copenhagen)
    flags = flag_kpis(read_table(engine, "mart.kpi_value", "WHERE version = 0 GROUP BY kpi_id, run_id",
                                 columns=["kpi_id", "run_id"]), blocking_breaches(outcome),
                      run_id, computed_at, stale=stale_sources(outcome))
    publish_together(engine, [  # one transaction: mart and public show the same run's results
        Publication("mart", DQ_RULE, outcome.dq_rule),
        Publication("mart", DQ_RESULT, outcome.dq_result, {"run_id": run_id}),
        Publication("mart", DQ_FAILURE, outcome.dq_failure, {"run_id": run_id}),
        Publication("mart", DQ_KPI_FLAG, flags, {"run_id": run_id}),
        Publication("public", DQ_KPI_FLAG, flags, {"run_id": run_id}),  # KPI ids and rule labels: nothing personal
        Publication("mart", SOURCE_FRESHNESS, facts.freshness)])  # the very facts DQ10 judged
    engine.dispose()
    log.info("data quality for run %s: %d rules, %d results, %d failing ids, %d KPI flags in %.1fs:\n%s", run_id,
             len(outcome.dq_rule), len(outcome.dq_result), len(outcome.dq_failure), len(flags),
             time.monotonic() - started, format_breach_log(outcome))
    breaches = [json.loads(json.dumps(b.__dict__, default=str)) for b in outcome.breaches]
    atomic_write_json(settings.zones.dq_breaches, {"run_id": run_id, "breaches": breaches})
    write_parquet_atomic(settings.zones.dq_failure_records,
                         pa.Table.from_pandas(outcome.failure_records.astype("string"), preserve_index=False))
    return {"run_id": run_id, "run_date": model.extraction_date.isoformat(), "rules": len(outcome.dq_rule), "results": len(outcome.dq_result),
            "failures": len(outcome.dq_failure), "flagged_kpis": len(flags), "breaches": breaches,
            "error_breaches": len(outcome.error_breaches)}


def dq_gate(summary: dict, fail_on_breach: bool = True) -> dict:
    """Fail (red in the Airflow UI) when an error rule breached; warnings never fail."""
    errors = [b for b in summary["breaches"] if b["severity"] == "error"]
    lines = [f"{b['rule_id']} {b['source']}: {b['failing']} of {b['population']} failing "
             f"(threshold {b['threshold_kind']} {b['threshold']}, {b['severity']})" for b in summary["breaches"]]
    for line in lines:
        log.warning("DATA QUALITY BREACH %s", line)
    # the verdict first: the UI's log view clips a long line on the right
    log.info("SUMMARY data_quality: %s: %d breach(es), %d of them error rules (run %s)",
             "gate fails" if errors and fail_on_breach else "gate passes", len(lines), len(errors),
             summary.get("run_id", ""))
    if errors and fail_on_breach:
        raise DataQualityBreach(f"{len(errors)} error rule breach(es): " + "; ".join(
            line for line, b in zip(lines, summary["breaches"]) if b["severity"] == "error"))
    return {"breaches": len(lines), "errors": len(errors)}


def send_dq_alerts(summary: dict, smtp: dict, settings: Settings | None = None,
                   sender: str = "sofli@sofli.example", today: dt.date | None = None) -> dict:
    """One e-mail per owner with that owner's breaches (never one per rule), the failing records
    of the run (`<data>/dq/last_failure_records.parquet`) attached, the page under `SOFLI_BASE_URL`.

    Honours `notify: daily_digest`: an unchanged breach already mailed today is not mailed
    again; the mail log `<data>/dq/mail_log.json` is saved only after sending."""
    from etl.quality.alerts import (  # noqa: PLC0415 - the rules (~115 ms): not at DAG parse
        MailContext,
        build_owner_emails,
        load_mail_log,
        save_mail_log,
        select_breaches_to_mail,
        send_emails,
    )
    settings = _settings(settings)
    log_path = settings.zones.dq_mail_log
    selected, mail_log = select_breaches_to_mail(summary["breaches"], load_mail_log(log_path),
                                                 today or local_today())
    run_date = dt.date.fromisoformat(summary.get("run_date") or (today or local_today()).isoformat())
    context = MailContext(summary["run_id"], run_date, settings.base_url, sender)
    messages = build_owner_emails(selected, _failure_records(settings, summary["run_id"]) if selected else None,
                                  context)
    if messages:
        send_emails(messages, **smtp)
    save_mail_log(log_path, mail_log)
    recipients = sorted({m["To"] for m in messages})
    log.info("sent %d data-quality e-mail(s) to %s (%d breach(es) held for the daily digest)", len(messages),
             ", ".join(recipients) or "nobody", len(summary["breaches"]) - len(selected))
    return {"emails": len(messages), "recipients": recipients}


def _failure_records(settings: Settings, run_id: str) -> pd.DataFrame | None:
    """The run's failing records as `run_data_quality` left them; None when another run's are there."""
    path = settings.zones.dq_failure_records
    if not path.exists():
        return None
    records = pd.read_parquet(path)
    records = records[records["run_id"] == run_id]
    if records.empty:
        log.warning("no failing records of run %s in %s: the e-mails go without attachment rows", run_id, path)
    return records
