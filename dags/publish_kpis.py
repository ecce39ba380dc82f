"""
### publish_kpis: the KPI catalogue, quarter and year-to-date

Scheduled on the model Asset. Write-audit-publish, each a visible task:
**compute** every implemented KPI of the catalogue for the running quarter (provisional)
and the closed quarters before it, each as quarter and ÅTD, with the same periods last
year, at every organisation level and breakdown, into a staged file, and theme 6's
caseworker overview per case and year (`case_cost`); **audit** refuses an empty or
duplicated set or a KPI without its SOF total; **publish** swaps the nightly version of
`mart.kpi_value` (exact, no caseworker row) and `public.kpi_value` (small cells suppressed),
the catalogue `mart.kpi_catalog`, and the caseworker level (`restricted.kpi_value_caseworker`,
`restricted.dim_caseworker`, `restricted.case_cost`; issue 21) in one transaction. BI reads `mart.kpi_tile`.

**Recomputing further back**: trigger with `history_quarters` (default 4) to recompute more
closed quarters into the nightly version; frozen quarters are `close_quarter`'s.

**When it fails**: nothing half-written reaches the BI layer; the previous night's
figures stay. Read the audit message. Runbook: `docs/operations.md`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.tasks import kpis as kpi_tasks
from etl.tasks.orchestration import KPI_ASSET, MODEL_ASSET, dag_settings, run_id


@dag(
    dag_id="publish_kpis",
    description="Compute the KPI catalogue per quarter and ÅTD and publish it to mart and public",
    doc_md=__doc__,
    schedule=[MODEL_ASSET],
    **dag_settings("team-data", night_stage="publish_kpis"),
    tags=["sofli", "kpi"],
    params={"history_quarters": Param(4, type="integer", minimum=1, maximum=40,
                                      description="Closed quarters recomputed before the running one (each with "
                                                  "ÅTD and last year); raise it to recompute an older quarter")},
)
def publish_kpis():
    @task
    def compute() -> dict:
        context = get_current_context()
        return kpi_tasks.compute_kpis(run_id(context), history_quarters=int(context["params"]["history_quarters"]))

    @task(retries=0)
    def audit(staged: dict) -> dict:
        return kpi_tasks.audit_kpis(staged)

    @task(outlets=[KPI_ASSET])
    def publish(audited: dict) -> dict:
        return kpi_tasks.publish_kpis(audited)

    publish(audit(compute()))


publish_kpis()
