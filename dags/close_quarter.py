"""
### close_quarter: freeze a closed quarter and render the committee report

Daily at 06:00 (Europe/Copenhagen), after the night's chain, a check: once
`SOFLI_CLOSE_AFTER_DAYS` days (default 20) have passed since the last complete quarter
ended (so late registrations are in), **freeze** copies that quarter's nightly KPI values
(`mart.kpi_value` and the suppressed `public.kpi_value`, quarter and ÅTD, with their
last-year twins and the earlier quarters' history) and the latest data-quality results
to the next version number, records who, when and why in `mart.kpi_version`, and makes
it the quarter's current version. A quarter already frozen is left alone, so the daily
check is a no-op until the next quarter is due. **report** renders the frozen version
from `public` as `data/reports/<quarter>/v<N>/rapport.html` and `rapport.pdf`.

Trigger by hand with params: `quarter` (e.g. 2025-Q3; closes it now), `reason`, and
`force` to re-publish a frozen quarter as a new version (the reason is then required).
Nightly runs replace only version 0 and never touch a frozen version.

**When it fails**: nothing half-frozen exists (one transaction); re-run the DAG. A
`FreezeError` says the quarter is not closed in the nightly version yet. Runbook:
`docs/operations.md`, "Closing a quarter and re-publishing".
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.tasks import close_quarter as tasks
from etl.tasks.orchestration import dag_settings, day_schedule, run_date, run_id, triggered_by


@dag(
    dag_id="close_quarter",
    description="Freeze a closed quarter's KPI values and DQ results as a numbered version and render its report",
    doc_md=__doc__,
    schedule=day_schedule("close_quarter"),
    **dag_settings("team-data"),
    tags=["sofli", "kpi", "report"],
    params={"quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}-Q[1-4]$",
                             description="Close this quarter now (e.g. 2025-Q3); default: the last complete one when due"),
            "reason": Param(None, type=["null", "string"], description="Why: required to re-publish"),
            "force": Param(False, type="boolean", description="Re-publish a frozen quarter as the next version"),
            "extract_date": Param(None, type=["null", "string"], format="date",
                                  description="Decide what is due as of this date; default: the logical date")},
)
def close_quarter():
    @task
    def freeze() -> dict:
        context = get_current_context()
        params = context["params"]
        return tasks.freeze(run_date(context), params.get("quarter"), params.get("reason"),
                            bool(params.get("force")), run_id(context), triggered_by(context))

    @task
    def report(frozen: dict) -> dict:
        return tasks.report(frozen)

    report(freeze())


close_quarter()
