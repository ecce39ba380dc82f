"""
### housekeeping: retention of the CPR-bearing extract zones

Daily at 05:30 (Europe/Copenhagen), after the night's chain. **expire_partitions**
deletes the `extract_date=` partitions of `landing/`, `staged/` and `quarantine/` (the
zones that hold CPR numbers) older than `SOFLI_RETENTION_DAYS` days (default 30, at
least 7). It never deletes the extract a source's `staged/<source>/CURRENT.json` points
at, the newest partition of any table (the base of the next incremental extract), or
the extract date of the live model (needed to re-key it). The log and XCom carry counts
and extract dates only, never data. **mail_operations_digest** mails operations one short
digest of the days before: each night the data-quality gate went red on purpose (no
failure mail for those; unexpected failures are mailed at once).

**When it fails**: nothing is half-deleted that anything still needs — a partition is
either gone or whole, and tomorrow's run deletes what today's did not. A
`ConfigurationError` means `SOFLI_RETENTION_DAYS` is not a whole number of at least 7.
Runbook and the retention facts for the data-protection officer: `docs/security.md`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.tasks import housekeeping as tasks
from etl.tasks.orchestration import dag_settings, day_schedule, optional_smtp_settings, run_date


@dag(
    dag_id="housekeeping",
    description="Delete CPR-bearing landing, staged and quarantine partitions past the retention period",
    doc_md=__doc__,
    schedule=day_schedule("housekeeping"),
    **dag_settings("team-data"),
    tags=["sofli", "housekeeping"],
    params={"extract_date": Param(None, type=["null", "string"], format="date",
                                  description="Measure the retention period back from this date; default: the logical date"),
            "dry_run": Param(False, type="boolean", description="Only log what would be deleted")},
)
def housekeeping():
    @task
    def expire_partitions() -> dict:
        context = get_current_context()
        return tasks.expire_partitions(run_date(context), dry_run=bool(context["params"]["dry_run"]))

    @task
    def mail_operations_digest() -> dict:
        return tasks.mail_operations_digest(run_date(get_current_context()), optional_smtp_settings())

    expire_partitions()
    mail_operations_digest()


housekeeping()
