"""The few things every DAG shares: assets, default arguments, dates from the run context.

Kept here (not in `dags/`) so DAG files stay pure wiring and so the governance tests
can check one definition. Importing this module imports Airflow; `etl` otherwise does not.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import Asset, AsyncCallback, BaseHook, DeadlineAlert, DeadlineReference

from etl.core.settings import SMTP_CONN_ID

TIMEZONE = "Europe/Copenhagen"
START_DATE = pendulum.datetime(2025, 1, 1, tz=TIMEZONE)
#: Who hears about a failed task (not a breached rule: rules mail their own owners).
OPERATIONS_EMAIL = os.environ.get("SOFLI_OPERATIONS_EMAIL", "sofli-drift@sofli.example")
#: Tags the governance test allows.
ALLOWED_TAGS = {"sofli", "extract", "model", "kpi", "data-quality", "database", "file", "housekeeping", "report"}


def source_asset(source_name: str) -> Asset:
    """Updated when a source's extract has validated and become its current good one."""
    return Asset(f"sofli://staged/{source_name}", group="sofli-sources")


MODEL_ASSET = Asset("sofli://model/citizen", group="sofli")
KPI_ASSET = Asset("sofli://mart/kpi_value", group="sofli")
DQ_ASSET = Asset("sofli://mart/dq_result", group="sofli")


def failure_notifier() -> SmtpNotifier:
    """The alert route of every task: an e-mail to operations through Airflow's SMTP connection."""
    return SmtpNotifier(
        to=OPERATIONS_EMAIL,
        smtp_conn_id=SMTP_CONN_ID,
        subject="[sofli] Task fejlede: {{ ti.dag_id }}.{{ ti.task_id }}",
        html_content=("<p>Task <b>{{ ti.dag_id }}.{{ ti.task_id }}</b> fejlede i kørsel "
                      "{{ run_id }} (forsøg {{ ti.try_number }}).</p><p>Se loggen i Airflow.</p>"),
    )


#: How long after it was queued each nightly DAG run should be done; past it operations get an
#: e-mail while the run goes on (an alert, not a timeout). Extracts are queued 01:00-02:45, so a
#: night that runs to plan has its KPIs and data-quality results well before 07:00.
NIGHT_DEADLINES = {"extract": dt.timedelta(hours=3), "build_model": dt.timedelta(hours=2),
                   "publish_kpis": dt.timedelta(hours=2), "data_quality": dt.timedelta(hours=1)}


def deadline_alert(stage: str) -> DeadlineAlert:
    """Airflow 3's replacement for SLAs: when a run of `stage` is still not done `NIGHT_DEADLINES[stage]`
    after it was queued, the triggerer e-mails operations through the same SMTP connection as
    `failure_notifier` (the deadline context has `dag_run` and `deadline`, no task)."""
    interval = NIGHT_DEADLINES[stage]
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=interval,
        name=f"sofli-night-{stage}",
        callback=AsyncCallback(SmtpNotifier, kwargs={
            "to": OPERATIONS_EMAIL,
            "smtp_conn_id": SMTP_CONN_ID,
            "subject": "[sofli] Natten er forsinket: {{ dag_run.dag_id }} er ikke færdig",
            "html_content": ("<p>Kørslen <b>{{ dag_run.dag_id }}</b> / {{ dag_run.dag_run_id }} (sat i kø "
                             "{{ dag_run.queued_at }}) var ikke færdig ved fristen {{ deadline.deadline_time }} "
                             f"({interval} efter kø). Den kører videre; se Airflow.</p>"),
        }),
    )


def default_args(owner: str, retries: int = 2) -> dict:
    """Retries with exponential backoff for transient source errors, and the alert route."""
    return {
        "owner": owner,
        "retries": retries,
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=30),
        "on_failure_callback": [failure_notifier()],
    }


def dag_settings(owner: str, night_stage: str | None = None) -> dict:
    """What every sofli DAG shares: start date, no catch-up, one run at a time, retries and
    the failure e-mail for `owner`, and for a nightly stage its deadline alert."""
    settings = {"start_date": START_DATE, "catchup": False, "max_active_runs": 1,
                "default_args": default_args(owner)}
    if night_stage:
        settings["deadline"] = deadline_alert(night_stage)
    return settings


def triggered_by(context: dict) -> str:
    """Who started the run (the UI user for a manual trigger), else "airflow"."""
    return getattr(context.get("dag_run"), "triggering_user_name", None) or "airflow"


def run_date(context: dict) -> dt.date:
    """The extraction date of a run: the `extract_date` param, else the logical date in
    Copenhagen (never the data interval: cron timetables make it a point in time)."""
    override = (context.get("params") or {}).get("extract_date")
    if override:
        return dt.date.fromisoformat(str(override))
    logical = context.get("logical_date") or pendulum.now(TIMEZONE)
    return pendulum.instance(logical).in_timezone(TIMEZONE).date()


def run_id(context: dict) -> str:
    return str(context.get("run_id") or context["dag_run"].run_id)


def smtp_settings(conn_id: str = SMTP_CONN_ID) -> dict:
    """Host, port and credentials of Airflow's SMTP connection, for `etl.quality.alerts`."""
    conn = BaseHook.get_connection(conn_id)
    return {"host": conn.host, "port": conn.port or 25, "login": conn.login or None,
            "password": conn.password or None, "starttls": bool(conn.extra_dejson.get("starttls", False))}
