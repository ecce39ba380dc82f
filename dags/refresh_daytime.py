"""
### refresh_daytime: the database sources and the running quarter, during the working day

**Off by default** (no schedule: it runs only when triggered). Turn it on with a clock in
`SOFLI_DAYTIME_REFRESH`, a cron in Copenhagen time, e.g. `0 8-16 * * 1-5` (hourly 08-16 on
weekdays); `SOFLI_SCHEDULES=off` turns it off too. The nightly DAGs are unchanged by it.

One run, each step the nightly step's own function: **check_night** skips the run (visible,
reason in the log) while the night's model and KPIs of today are not there — the nightly run is
late or failed: a refresh waits for the night, it never replaces it. Then for every **database**
source of the registry **refresh_&lt;source&gt;**: the incremental extract of today's
extraction date (land, validate with the circuit breakers, publish), so the day's changes so far
are read; the drop-folder files (the CPR file, the employment register) keep the night's
extract. **build_model** rebuilds the model from the sources' current extracts;
**compute** recomputes the **running quarter** (quarter and ÅTD, provisional, with last year's
twins) and keeps every other period of the nightly version as the night published it;
**audit** and **publish** are `publish_kpis`'s, replacing the nightly version (0) of
`mart.kpi_value` and `public.kpi_value` and writing `data_freshness` (per source: extract date,
refreshed at, night or daytime) in the same transaction; **data_quality** runs the rules and
publishes their results (the data-quality page then says "Opdateret kl. HH.MM" per source),
e-mailing nobody and never failing on a breach: the night mails the owners and its gate goes red.

The run updates **no Asset**: it is one DAG run, not a second night, so `build_model`,
`publish_kpis` and `data_quality` are not started by it. The `extract_date` param refreshes
another date, only while it is the live model's.

**When it fails**: nothing half-written reaches the BI layer; the figures of the night (or the
last refresh) stay. A failed source keeps its last good extract and stops the run before the
model; the next refresh or the night picks it up. Runbook: `docs/operations.md`, "The daytime
refresh".
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.tasks import kpis as kpi_tasks
from etl.tasks import refresh as refresh_tasks
from etl.tasks.orchestration import dag_settings, plan_refresh_run, refresh_schedule, run_id


@dag(
    dag_id="refresh_daytime",
    description="Daytime refresh (optional): database sources, model, running quarter's KPIs, data quality",
    doc_md=__doc__.replace("&lt;source&gt;", "source"),
    schedule=refresh_schedule(),
    **dag_settings("team-data"),
    tags=["sofli", "extract", "model", "kpi", "data-quality", "database"],
    params={"extract_date": Param(None, type=["null", "string"], format="date",
                                  description="Refresh this extraction date (YYYY-MM-DD); default: today. "
                                              "Only the live model's date is refreshed")},
)
def refresh_daytime():
    @task
    def check_night() -> dict:
        return plan_refresh_run(get_current_context())

    @task
    def refresh_source(source_name: str, plan: dict) -> dict:
        return refresh_tasks.refresh_source(source_name, plan, run_id(get_current_context()))

    @task
    def build_model(plan: dict, extracts: list[dict]) -> dict:
        return refresh_tasks.refresh_model(plan)

    @task
    def compute(model: dict) -> dict:
        return refresh_tasks.compute_running_quarter(run_id(get_current_context()))

    @task(retries=0)
    def audit(staged: dict) -> dict:
        return kpi_tasks.audit_kpis(staged)

    @task
    def publish(audited: dict) -> dict:
        return kpi_tasks.publish_kpis(audited)

    @task
    def data_quality(published: dict) -> dict:
        return refresh_tasks.refresh_quality(run_id(get_current_context()))

    plan = check_night()
    extracts = [refresh_source.override(task_id=f"refresh_{name}")(name, plan)
                for name in refresh_tasks.database_sources()]
    data_quality(publish(audit(compute(build_model(plan, extracts)))))


refresh_daytime()
