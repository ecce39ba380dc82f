"""The stages as plain functions, one per Airflow task.

Each takes names, dates and ids, does one step, and returns a small dict of paths and
counts (what XCom carries: never data, never a CPR). The DAG files call these and
nothing else, and the tests call them without a scheduler.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from etl.config import Settings
from etl.extract import drop_file_digests, extract_table
from etl.incremental import ExtractPolicy, plan_extract
from etl.marts import DQ_FAILURE, DQ_KPI_FLAG, DQ_RESULT, DQ_RULE, KPI_CATALOG, KPI_VALUE, SOURCE_FRESHNESS
from etl.sources import SOURCES, get_source
from etl.storage import atomic_write_json, read_json
from etl.validate import publish_source, validate_table
from etl.warehouse import ensure_schema, make_engine, publish, read_table

log = logging.getLogger(__name__)


class DataQualityBreach(RuntimeError):
    """An error-severity data-quality rule breached its threshold."""


def _settings(settings: Settings | None) -> Settings:
    return settings or Settings.from_env()


# --- extract and validate ------------------------------------------------------------

def land(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None,
         full: bool = False) -> dict:
    """Extract one table to landing: incrementally when it can, whole when it must or `full`."""
    settings = _settings(settings)
    source = get_source(source_name)
    table = source.table(table_name)
    location = settings.source_location(source)
    drop_files = drop_file_digests(table, Path(location), extract_date) if source.kind == "file" else None
    plan = plan_extract(source.name, source.kind, table, settings.staged_dir, extract_date,
                        ExtractPolicy.from_env(), force_full=full, drop_files=drop_files)
    log.info("%s.%s: %s extract (%s)%s", source_name, table_name, plan.mode, plan.reason,
             f", changes in [{plan.since}, {plan.until})" if plan.since else "")
    landed = extract_table(source, table, location, settings.landing_dir, extract_date, plan)
    log.info("landed %s.%s: %d rows in %.2fs -> %s", source_name, table_name, landed.rows, landed.seconds, landed.path)
    return {**landed.as_dict(), "mode": plan.mode}


def validate(source_name: str, table_name: str, extract_date: dt.date, settings: Settings | None = None) -> dict:
    settings = _settings(settings)
    source = get_source(source_name)
    result = validate_table(source, source.table(table_name), settings.landing_dir, settings.staged_dir,
                            settings.quarantine_dir, extract_date)
    log.info("validated %s.%s: %d in, %d staged, %d quarantined %s in %.2fs", source_name, table_name,
             result.rows_in, result.rows_staged, result.rows_quarantined, result.quarantine_by_rule or "", result.seconds)
    return result.as_dict()


def publish_extract(source_name: str, extract_date: dt.date, run_id: str, results: list[dict],
                    settings: Settings | None = None) -> dict:
    settings = _settings(settings)
    pointer = publish_source(get_source(source_name), settings.staged_dir, extract_date, run_id, results)
    staged = sum(t["rows_staged"] for t in pointer["tables"].values())
    quarantined = sum(t["rows_quarantined"] for t in pointer["tables"].values())
    log.info("SUMMARY extract_%s: extract of %s is now current: %d table(s), %d rows staged, %d quarantined",
             source_name, extract_date, len(pointer["tables"]), staged, quarantined)
    return {"source": source_name, "extract_date": extract_date.isoformat(), "rows_staged": staged,
            "rows_quarantined": quarantined}


def extract_source(source_name: str, extract_date: dt.date, run_id: str, settings: Settings | None = None,
                   full: bool = False) -> dict:
    """A whole extract DAG's work in one call (tests, benchmarks): land, validate, publish."""
    settings = _settings(settings)
    results = [validate(source_name, t.name, extract_date, settings)
               for t in get_source(source_name).tables if land(source_name, t.name, extract_date, settings, full)]
    return publish_extract(source_name, extract_date, run_id, results, settings)


def extract_all(extract_date: dt.date, run_id: str, settings: Settings | None = None) -> list[dict]:
    """Every source's extract in one call (tests, benchmarks); the DAGs run one source each."""
    return [extract_source(name, extract_date, run_id, settings) for name in SOURCES]


# --- model ---------------------------------------------------------------------------

def build_model(extract_date: dt.date, settings: Settings | None = None) -> dict:
    from etl.model.stage import run_model_stage  # noqa: PLC0415 - heavy import only when used
    result = run_model_stage(_settings(settings), extract_date)
    log.info("SUMMARY build_model: %d staged rows -> %d model rows in %d tables (%s) in %.1fs", result["rows_in"],
             sum(result["rows"].values()), len(result["rows"]), result["model_dir"], result["seconds"])
    return result


# --- KPIs (write-audit-publish) ------------------------------------------------------

def compute_kpis(run_id: str, settings: Settings | None = None, history_quarters: int = 4) -> dict:
    """Compute every implemented KPI for the nightly periods into a staged Parquet file."""
    from etl.kpi import compute_kpis as compute  # noqa: PLC0415
    from etl.model import Model  # noqa: PLC0415
    from etl.periods import reporting_periods  # noqa: PLC0415

    settings = _settings(settings)
    started = time.monotonic()
    model = Model.load(settings.model_dir)
    if settings.org_structure == "current":  # restate history on today's organisation
        from etl.model.org import current_structure  # noqa: PLC0415
        model.replace_table("dim_org", current_structure(model.dim_org))
    periods = reporting_periods(model.extraction_date, history_quarters)
    values = compute(model, periods)
    values["provisional"] = _provisional(values, periods)
    values["version"] = 0
    values["run_id"] = run_id
    values["computed_at"] = pd.Timestamp(dt.datetime.now().replace(microsecond=0))
    path = settings.data_dir / "kpi" / "kpi_value.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    values.to_parquet(path.with_suffix(".tmp"), index=False)
    path.with_suffix(".tmp").replace(path)
    log.info("computed %d KPI rows for %d periods in %.1fs", len(values), len(periods), time.monotonic() - started)
    return {"path": str(path), "rows": len(values), "periods": len(periods),
            "extraction_date": model.extraction_date.isoformat()}


def _provisional(values: pd.DataFrame, periods) -> np.ndarray:
    """Each KPI row's period's `provisional` flag: the rows whose (kind, start, end) is a
    provisional period's, compared column-wise (row by row it was a second a night)."""
    starts = pd.to_datetime(values["period_start"]).to_numpy("datetime64[D]")
    ends = pd.to_datetime(values["period_end"]).to_numpy("datetime64[D]")
    kinds = values["period_type"].to_numpy(dtype=object)
    flags = np.zeros(len(values), dtype=bool)
    for period in periods:
        if period.provisional:
            flags |= ((kinds == period.kind) & (starts == np.datetime64(period.start, "D"))
                      & (ends == np.datetime64(period.end, "D")))
    return flags


def audit_kpis(staged: dict) -> dict:
    """Refuse to publish a KPI set that is empty, duplicated or missing an implemented KPI."""
    from etl.kpi import CATALOG  # noqa: PLC0415
    values = pd.read_parquet(staged["path"])
    key = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key",
           "dimension", "dimension_value"]
    duplicated = values.duplicated(key).sum()
    implemented = {k for k, d in CATALOG.items() if d.compute is not None}
    missing = sorted(implemented - set(values.loc[values["org_level"] == "sof", "kpi_id"]))
    problems = []
    if values.empty:
        problems.append("no KPI rows")
    if duplicated:
        problems.append(f"{duplicated} duplicated KPI rows")
    if missing:
        problems.append(f"no SOF total for implemented KPI(s) {missing}")
    if problems:
        raise RuntimeError("KPI audit failed, nothing published: " + "; ".join(problems))
    return {**staged, "audited": True}


def publish_kpis(audited: dict, settings: Settings | None = None) -> dict:
    """Swap the nightly version (0) of `mart.kpi_value` and `public.kpi_value`, and the catalogue."""
    from etl.kpi import catalog_frame  # noqa: PLC0415
    from etl.model.build import load_reference  # noqa: PLC0415
    from etl.suppression import suppress_for_public, suppression_threshold  # noqa: PLC0415

    settings = _settings(settings)
    started = time.monotonic()
    if not audited.get("audited"):
        raise RuntimeError("refusing to publish KPIs that were not audited")
    values = pd.read_parquet(audited["path"])
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine)
    catalog = catalog_frame()
    public_values = suppress_for_public(values, load_reference(settings.reference_dir)["dim_org"],
                                        suppression_threshold())
    published = publish(engine, "mart", KPI_VALUE, values, {"version": 0})
    publish(engine, "public", KPI_VALUE, public_values, {"version": 0})
    publish(engine, "mart", KPI_CATALOG, catalog)
    publish(engine, "public", KPI_CATALOG, catalog)
    internal = values[values["org_level"] != "caseworker"]
    suppressed = int(public_values["value"].isna().sum() - internal["value"].isna().sum())
    engine.dispose()
    log.info("SUMMARY publish_kpis: published %d KPI rows (public: %d, %d cells suppressed) in %.1fs", published,
             len(public_values), suppressed, time.monotonic() - started)
    return {"mart_rows": published, "public_rows": len(public_values), "public_suppressed": suppressed}


# --- data quality --------------------------------------------------------------------

def source_freshness(settings: Settings, checked_at: dt.datetime, run_date: dt.date | None = None) -> pd.DataFrame:
    """DQ10's facts per source: when its current extract became current, and how far behind
    the run's date it is. Stale when either exceeds the source's allowance (36 h by default):
    a source that failed tonight keeps serving yesterday's extract, visibly one day behind."""
    rows = []
    for source in SOURCES.values():
        pointer_path = settings.staged_dir / source.name / "CURRENT.json"
        pointer = read_json(pointer_path) if pointer_path.exists() else None
        last = dt.datetime.fromisoformat(pointer["completed_at"]) if pointer else None
        extract_date = dt.date.fromisoformat(pointer["extract_date"]) if pointer else None
        age = (checked_at - last).total_seconds() / 3600 if last else None
        behind = (run_date - extract_date).days if run_date and extract_date else 0
        rows.append({
            "source": source.name, "last_success_at": last, "extract_date": extract_date,
            "rows": sum(t["rows_staged"] for t in pointer["tables"].values()) if pointer else None,
            "age_hours": round(age, 2) if age is not None else None, "days_behind": behind if pointer else None,
            "stale": age is None or age > source.stale_after_hours or 24 * behind > source.stale_after_hours,
            "checked_at": checked_at})
    return pd.DataFrame(rows)


def run_data_quality(run_id: str, settings: Settings | None = None, rules_path: str | Path | None = None) -> dict:
    """Run every enabled rule on the model, publish results and history, return the breaches."""
    from etl.model import Model  # noqa: PLC0415
    from etl.quality.config import load_rules_config  # noqa: PLC0415
    from etl.quality.facts import load_run_facts  # noqa: PLC0415
    from etl.quality.flags import blocking_breaches, flag_kpis  # noqa: PLC0415
    from etl.quality.runner import format_breach_log, run_rules  # noqa: PLC0415

    settings = _settings(settings)
    started = time.monotonic()
    model = Model.load(settings.model_dir)
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine)
    previous = read_table(engine, "mart.dq_result", "WHERE run_id = (SELECT run_id FROM mart.dq_result "
                          "WHERE run_id <> :run ORDER BY computed_at DESC LIMIT 1)", {"run": run_id})
    computed_at = dt.datetime.now().replace(microsecond=0)
    facts = load_run_facts(settings, engine, run_id, checked_at=computed_at, extraction_date=model.extraction_date)
    outcome = run_rules(model, load_rules_config(rules_path), run_id, computed_at,
                        previous if len(previous) else None, facts=facts)
    flags = flag_kpis(read_table(engine, "mart.kpi_value", "WHERE version = 0"), blocking_breaches(outcome),
                      run_id, computed_at)
    publish(engine, "mart", DQ_RULE, outcome.dq_rule)
    publish(engine, "mart", DQ_RESULT, outcome.dq_result, {"run_id": run_id})
    publish(engine, "mart", DQ_FAILURE, outcome.dq_failure, {"run_id": run_id})
    publish(engine, "mart", DQ_KPI_FLAG, flags, {"run_id": run_id})
    publish(engine, "mart", SOURCE_FRESHNESS, source_freshness(settings, computed_at, model.extraction_date))
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
    from etl.quality.alerts import (  # noqa: PLC0415
        build_owner_emails, load_mail_log, save_mail_log, select_breaches_to_mail, send_emails)
    from etl.quality.runner import DqOutcome  # noqa: PLC0415
    settings = _settings(settings)
    log_path = settings.data_dir / "dq" / "mail_log.json"
    selected, mail_log = select_breaches_to_mail(summary["breaches"], load_mail_log(log_path),
                                                 today or dt.date.today())
    outcome = DqOutcome(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), selected)
    messages = build_owner_emails(outcome, summary["run_id"], run_url, "mart.dq_failure", sender)
    if messages:
        send_emails(messages, **smtp)
    save_mail_log(log_path, mail_log)
    recipients = sorted({m["To"] for m in messages})
    log.info("sent %d data-quality e-mail(s) to %s (%d breach(es) held for the daily digest)", len(messages),
             ", ".join(recipients) or "nobody", len(summary["breaches"]) - len(selected))
    return {"emails": len(messages), "recipients": recipients}
