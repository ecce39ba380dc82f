"""The `data_quality` DAG's tasks: run the rules and publish, e-mail the owners, fail the gate."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import pandas as pd

from etl.core.periods import local_now, local_today
from etl.core.settings import Settings
from etl.core.storage import atomic_write_json
from etl.model import Model
from etl.publish.marts import DQ_FAILURE, DQ_KPI_FLAG, DQ_RESULT, DQ_RULE, SOURCE_FRESHNESS
from etl.publish.warehouse import ensure_schema, make_engine, publish, read_table

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    return settings or Settings.from_env()



class DataQualityBreach(RuntimeError):
    """An error-severity data-quality rule breached its threshold."""



def source_freshness(settings: Settings, checked_at: dt.datetime, run_date: dt.date | None = None,
                     monthly_due_day: int | None = None) -> pd.DataFrame:
    """`mart.source_freshness` (the freshness page): DQ10's own facts per source
    (`etl.quality.facts.source_freshness_facts`, one definition), with the rows staged. A
    source is shown stale when DQ10 fails it: too old, too far behind the run's date, or a
    file it owes missing from the drop folder."""
    from etl.quality.facts import (  # noqa: PLC0415 - pandas-heavy: not at DAG parse
        MONTHLY_FILE_DUE_DAY,
        current_pointers,
        source_freshness_facts,
    )

    pointers = current_pointers(settings.staged_dir)
    facts = source_freshness_facts(settings, pointers, checked_at, run_date or checked_at.date(),
                                   monthly_due_day or MONTHLY_FILE_DUE_DAY)
    rows = [sum(t["rows_staged"] for t in pointers[name]["tables"].values()) if pointers.get(name) else None
            for name in facts["source"]]
    return pd.DataFrame({
        "source": facts["source"], "last_success_at": facts["last_success_at"], "extract_date": facts["extract_date"],
        "rows": rows, "age_hours": facts["age_hours"].astype(float).round(2), "days_behind": facts["days_behind"],
        "stale": facts["stale"].astype(bool) | facts["file_present"].eq(False), "checked_at": checked_at})


def run_data_quality(run_id: str, settings: Settings | None = None, rules_path: str | Path | None = None) -> dict:
    """Run every enabled rule on the model, publish results and history, return the breaches."""
    from etl.quality.config import load_rules_config  # noqa: PLC0415 - the rules (~115 ms): not at DAG parse
    from etl.quality.facts import load_run_facts  # noqa: PLC0415 - as above
    from etl.quality.flags import blocking_breaches, flag_kpis, stale_sources  # noqa: PLC0415 - as above
    from etl.quality.runner import format_breach_log, run_rules  # noqa: PLC0415 - as above

    settings = _settings(settings)
    started = time.monotonic()
    model = Model.load(settings.model_dir)
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine)
    previous = read_table(engine, "mart.dq_result", "WHERE run_id = (SELECT run_id FROM mart.dq_result "
                          "WHERE run_id <> :run ORDER BY computed_at DESC LIMIT 1)", {"run": run_id})
    computed_at = local_now()
    config = load_rules_config(rules_path)
    due_day = int(config["DQ10"].rule_params["monthly_file_due_day"]) if "DQ10" in config else None
    facts = load_run_facts(settings, engine, run_id, checked_at=computed_at, extraction_date=model.extraction_date,
                           **({"monthly_due_day": due_day} if due_day else {}))
    outcome = run_rules(model, config, run_id, computed_at, previous if len(previous) else None, facts=facts)
    flags = flag_kpis(read_table(engine, "mart.kpi_value", "WHERE version = 0"), blocking_breaches(outcome),
                      run_id, computed_at, stale=stale_sources(outcome))
    publish(engine, "mart", DQ_RULE, outcome.dq_rule)
    publish(engine, "mart", DQ_RESULT, outcome.dq_result, {"run_id": run_id})
    publish(engine, "mart", DQ_FAILURE, outcome.dq_failure, {"run_id": run_id})
    publish(engine, "mart", DQ_KPI_FLAG, flags, {"run_id": run_id})
    publish(engine, "public", DQ_KPI_FLAG, flags, {"run_id": run_id})  # KPI ids and rule labels: nothing personal
    publish(engine, "mart", SOURCE_FRESHNESS, source_freshness(settings, computed_at, model.extraction_date, due_day))
    engine.dispose()
    log.info("data quality for run %s: %d rules, %d results, %d failing ids, %d KPI flags in %.1fs:\n%s", run_id,
             len(outcome.dq_rule), len(outcome.dq_result), len(outcome.dq_failure), len(flags),
             time.monotonic() - started, format_breach_log(outcome))
    breaches = [json.loads(json.dumps(b.__dict__, default=str)) for b in outcome.breaches]
    atomic_write_json(settings.data_dir / "dq" / "last_breaches.json", {"run_id": run_id, "breaches": breaches})
    return {"run_id": run_id, "rules": len(outcome.dq_rule), "results": len(outcome.dq_result),
            "failures": len(outcome.dq_failure), "flagged_kpis": len(flags), "breaches": breaches,
            "error_breaches": len(outcome.error_breaches)}


def dq_gate(summary: dict, fail_on_breach: bool = True) -> dict:
    """Fail (red in the Airflow UI) when an error rule breached; warnings never fail."""
    errors = [b for b in summary["breaches"] if b["severity"] == "error"]
    lines = [f"{b['rule_id']} {b['source']}: {b['failing']} of {b['population']} failing "
             f"(threshold {b['threshold_kind']} {b['threshold']}, {b['severity']})" for b in summary["breaches"]]
    for line in lines:
        log.warning("DATA QUALITY BREACH %s", line)
    log.info("SUMMARY data_quality run %s: %d breach(es), %d of them error rules: %s", summary.get("run_id", ""),
             len(lines), len(errors), "gate fails" if errors and fail_on_breach else "gate passes")
    if errors and fail_on_breach:
        raise DataQualityBreach(f"{len(errors)} error rule breach(es): " + "; ".join(
            line for line, b in zip(lines, summary["breaches"]) if b["severity"] == "error"))
    return {"breaches": len(lines), "errors": len(errors)}


def send_dq_alerts(summary: dict, smtp: dict, run_url: str, settings: Settings | None = None,
                          sender: str = "sofli@sofli.example", today: dt.date | None = None) -> dict:
    """One e-mail per owner with that owner's breached rules (never one per rule).

    Honours `notify: daily_digest`: an unchanged breach already mailed today is not mailed
    again; the mail log `<data>/dq/mail_log.json` is saved only after sending."""
    from etl.quality.alerts import (  # noqa: PLC0415 - the rules (~115 ms): not at DAG parse
        build_owner_emails,
        load_mail_log,
        save_mail_log,
        select_breaches_to_mail,
        send_emails,
    )
    from etl.quality.runner import DqOutcome  # noqa: PLC0415 - as above
    settings = _settings(settings)
    log_path = settings.data_dir / "dq" / "mail_log.json"
    selected, mail_log = select_breaches_to_mail(summary["breaches"], load_mail_log(log_path),
                                                 today or local_today())
    outcome = DqOutcome(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), selected)
    messages = build_owner_emails(outcome, summary["run_id"], run_url, "mart.dq_failure", sender)
    if messages:
        send_emails(messages, **smtp)
    save_mail_log(log_path, mail_log)
    recipients = sorted({m["To"] for m in messages})
    log.info("sent %d data-quality e-mail(s) to %s (%d breach(es) held for the daily digest)", len(messages),
             ", ".join(recipients) or "nobody", len(summary["breaches"]) - len(selected))
    return {"emails": len(messages), "recipients": recipients}
