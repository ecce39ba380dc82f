"""
### data_quality: the rules of the data-quality page, failing loudly

Scheduled on the KPI Asset (after `publish_kpis`, so DQ13 can compare tonight's KPIs
with the previous run's): every night, since `build_model` builds at the latest at the cut-off
even when a source failed, which DQ10 then reports. **run_rules** runs every enabled rule of
`config/dq_rules.yaml` (DQ01–DQ13) on the model and the run's facts (source freshness,
row counts, KPI totals) and publishes `mart.dq_rule`, `mart.dq_result` (run × rule ×
source × breakdown, kept as history for the trend), `mart.dq_failure` (the failing
source record ids, never a CPR), `dq_kpi_flag` in `mart` and `public` (KPIs built on a
source whose blocking rule breached, and with `stale` the KPIs built on a source DQ10 found
behind the night) and `mart.source_freshness`. **alert_owners** sends one e-mail
per owner (owners per rule × source, by default the source's own) grouping that owner's
breaches, with their failing records attached as CSV (the sources' own ids: record, case
number, unit, caseworker) and a link to the data-quality page filtered to the owner, through
the Airflow SMTP connection `smtp_default` (rules set to `daily_digest` are not re-sent
unchanged the same day). Then **gate** fails — a red run in the Airflow UI — when an
error-severity rule breached; its log lists rule, source and count. That red is deliberate:
no failed-task e-mail, one line in operations' daily digest. Warnings never fail.

**When it is red**: the results are already published. Open the data-quality page or
`mart.dq_failure` for the run, send the ids to the source's owner, and fix the
registrations at the source. Thresholds and owners live in `config/dq_rules.yaml`.
Runbook: `docs/operations.md`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.tasks import quality as dq_tasks
from etl.tasks.orchestration import DQ_ASSET, KPI_ASSET, dag_settings, run_id, smtp_settings


@dag(
    dag_id="data_quality",
    description="Run the data-quality rules, publish results and history, e-mail owners, fail on error breaches",
    doc_md=__doc__,
    schedule=[KPI_ASSET],
    **dag_settings("team-data", night_stage="data_quality"),
    tags=["sofli", "data-quality"],
    params={"fail_on_breach": Param(True, type="boolean",
                                    description="Fail the gate when an error-severity rule breaches")},
)
def data_quality():
    @task(outlets=[DQ_ASSET])
    def run_rules() -> dict:
        return dq_tasks.run_data_quality(run_id(get_current_context()))

    @task
    def alert_owners(summary: dict) -> dict:
        return dq_tasks.send_dq_alerts(summary, smtp_settings())

    @task(retries=0)
    def gate(summary: dict, alerts: dict) -> dict:
        return dq_tasks.dq_gate(summary, bool(get_current_context()["params"]["fail_on_breach"]))

    summary = run_rules()
    gate(summary, alert_owners(summary))


data_quality()
