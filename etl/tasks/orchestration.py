"""The few things every DAG shares: assets, default arguments, dates from the run context.

Kept here (not in `dags/`) so DAG files stay pure wiring and so the governance tests
can check one definition. Importing this module imports Airflow; `etl` otherwise does not.
It reads nothing when imported: the operations address is resolved when a notifier is
built (`etl.core.settings.operations_email`), never a secret, never the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging

import pendulum
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import (
    Asset,
    AssetAny,
    AssetOrTimeSchedule,
    AsyncCallback,
    BaseHook,
    CronTriggerTimetable,
    DeadlineAlert,
    DeadlineReference,
)
from airflow.sdk.exceptions import AirflowSkipException

# Airflow 3.3.2's task-SDK EventsTimetable serializes without the `_summary` its core twin reads
# back (SerializationError '_summary' in the dag-processor); the core class round-trips.
from airflow.timetables.events import EventsTimetable

from etl.core.periods import local_today
from etl.core.privacy import install_log_guard
from etl.core.settings import SMTP_CONN_ID, Clock, NightSchedule, Settings, operations_email
from etl.ops.digest import failure_reason, is_deliberate, record
from etl.sources import SOURCES

log = logging.getLogger(__name__)

#: Every DAG imports this module: from here on no log record of the task (ours, or the task
#: runner's report of an exception) carries a CPR-shaped string (`etl.core.privacy`).
install_log_guard()

TIMEZONE = "Europe/Copenhagen"
START_DATE = pendulum.datetime(2025, 1, 1, tz=TIMEZONE)
#: Tags the governance test allows.
ALLOWED_TAGS = {"sofli", "extract", "model", "kpi", "data-quality", "database", "file", "housekeeping", "report"}


def source_asset(source_name: str) -> Asset:
    """Updated when a source's extract has validated and become its current good one."""
    return Asset(f"sofli://staged/{source_name}", group="sofli-sources")


def source_assets() -> list[Asset]:
    return [source_asset(name) for name in SOURCES]


MODEL_ASSET = Asset("sofli://model/citizen", group="sofli")
KPI_ASSET = Asset("sofli://mart/kpi_value", group="sofli")
DQ_ASSET = Asset("sofli://mart/dq_result", group="sofli")


def copenhagen_time(value) -> str:
    """A moment as a person in Copenhagen reads it: `2025-11-15 06:12:00 (CET)`; text passes through
    (the deadline callback's context holds ISO strings, a task's context datetimes)."""
    if value is None or value == "":
        return ""
    try:
        moment = pendulum.parse(value) if isinstance(value, str) else pendulum.instance(value)
    except (ValueError, TypeError):
        return str(value)
    local = moment.in_timezone(TIMEZONE)
    return f"{local:%Y-%m-%d %H:%M:%S} ({local.tzname()})"


class CopenhagenSmtpNotifier(SmtpNotifier):
    """Airflow's SMTP notifier whose templates can write times in Copenhagen time:
    `{{ dag_run.queued_at | cph }}` (Airflow hands them over in UTC)."""

    def render_template_fields(self, context, jinja_env=None) -> None:
        jinja_env = jinja_env or self.get_template_env(dag=context.get("dag"))
        jinja_env.filters["cph"] = copenhagen_time
        super().render_template_fields(context, jinja_env)


class OperationsFailureNotifier(CopenhagenSmtpNotifier):
    """The failed-task mail to operations, saying which task failed and why (`failure_reason`,
    in the template as `{{ failure_reason }}`). A deliberate failure (the data-quality gate) is
    not mailed: it becomes a line in the daily operations digest (`etl.ops.digest`)."""

    def render_template_fields(self, context, jinja_env=None) -> None:
        context["failure_reason"] = html.escape(failure_reason(context.get("exception")))  # the body is HTML
        super().render_template_fields(context, jinja_env)

    def notify(self, context) -> None:
        if is_deliberate(context.get("exception")):
            ti = context["ti"]
            path = record(Settings.resolve().data_dir, local_today(), ti.dag_id, ti.task_id, str(context.get("run_id")),
                          failure_reason(context.get("exception")))
            log.info("%s.%s failed on purpose: one line in the operations digest %s, no failure mail",
                     ti.dag_id, ti.task_id, path.name)
            return
        super().notify(context)


def failure_notifier() -> SmtpNotifier:
    """The alert route of every task: an e-mail to operations (`SOFLI_OPERATIONS_EMAIL`; not a
    breached rule: rules mail their own owners) through Airflow's SMTP connection, with the
    task, the run and the reason; the data-quality gate goes to the daily digest instead."""
    return OperationsFailureNotifier(
        to=operations_email(),
        smtp_conn_id=SMTP_CONN_ID,
        subject="[sofli] Task fejlede: {{ ti.dag_id }}.{{ ti.task_id }}",
        html_content=("<p>Task <b>{{ ti.dag_id }}.{{ ti.task_id }}</b> fejlede i kørsel "
                      "{{ run_id }} (forsøg {{ ti.try_number }}, startet {{ ti.start_date | cph }}).</p>"
                      "<p><b>Årsag:</b> {{ failure_reason }}</p>"
                      "<p>Loggen i Airflow: {{ ti.log_url }}</p>"),
    )


@functools.cache
def night_schedule() -> NightSchedule:
    """The night's clock, read once per DAG-file parse from the environment (`NightSchedule`)."""
    return NightSchedule.from_env()


def timetable(clock: Clock):
    """A clock as Airflow's timetable: cron in Copenhagen time, exact moments, or None (triggered only)."""
    if clock.cron:
        return CronTriggerTimetable(clock.cron, timezone=TIMEZONE)
    if clock.at:
        return EventsTimetable(event_dates=[pendulum.instance(moment) for moment in clock.at],
                               description="at " + ", ".join(m.isoformat() for m in clock.at))
    return None


def extract_schedule(source_name: str):
    return timetable(night_schedule().extract[source_name])


def day_schedule(dag_id: str):
    """`housekeeping` (05:30) and `close_quarter` (06:00): after the night, off with the rest."""
    return timetable(getattr(night_schedule(), dag_id))


def refresh_schedule():
    """`refresh_daytime`: `SOFLI_DAYTIME_REFRESH` (off by default, and with `SOFLI_SCHEDULES=off`):
    None then, so the DAG only runs when triggered."""
    return timetable(night_schedule().refresh_daytime)


def plan_refresh_run(context: dict) -> dict:
    """`refresh_daytime`'s first task: refresh the night's date, or skip the run (visible, with the
    reason in the log) while the night's model and KPIs of that date are not there yet
    (`etl.tasks.refresh.plan_refresh`): a refresh never runs into a late or failed night."""
    from etl.tasks.refresh import NotNow, plan_refresh  # noqa: PLC0415 - the refresh's code: not at DAG parse

    try:
        return plan_refresh(run_date(context))
    except NotNow as reason:
        log.info("SUMMARY refresh_daytime: skipped: %s", reason)
        raise AirflowSkipException(str(reason)) from None


def model_schedule():
    """`build_model` runs when any source publishes (its first task then decides whether every
    source has published tonight) and at the cut-off (it builds with whatever succeeded).

    Deliberately *any*, not *all* (`AssetAll`): Airflow keeps the asset events of an AND queued
    until the condition is met, and a time-triggered run does not consume them, so after one night
    with a failed source the queue would be a night out of phase for good (every following night
    the condition would complete early, with last night's events). Whether tonight is complete is
    decided from the sources' current extracts instead (`etl.tasks.model.plan_model_build`).
    """
    assets = AssetAny(*source_assets())
    cutoff = timetable(night_schedule().cutoff)
    return AssetOrTimeSchedule(timetable=cutoff, assets=assets) if cutoff is not None else assets


#: How long after it was queued each nightly DAG run should be done (`SOFLI_NIGHT_DEADLINES`);
#: past it operations get an e-mail while the run goes on (an alert, not a timeout). Extracts are
#: queued 01:00-02:45 and the cut-off is 05:00, so a night that runs to plan has its KPIs and
#: data-quality results well before 07:00.
NIGHT_DEADLINES = night_schedule().deadlines


def _duration_da(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} t"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def deadline_alert(stage: str) -> DeadlineAlert:
    """Airflow 3's replacement for SLAs: when a run of `stage` is still not done `NIGHT_DEADLINES[stage]`
    after it was queued, the triggerer e-mails operations through the same SMTP connection as
    `failure_notifier` (the deadline context has `dag_run` and `deadline`, no task)."""
    interval = NIGHT_DEADLINES[stage]
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=interval,
        name=f"sofli-night-{stage}",
        callback=AsyncCallback(CopenhagenSmtpNotifier, kwargs={
            "to": operations_email(),
            "smtp_conn_id": SMTP_CONN_ID,
            "subject": "[sofli] Natten er forsinket: {{ dag_run.dag_id }} er ikke færdig",
            "html_content": ("<p>Kørslen <b>{{ dag_run.dag_id }}</b> / {{ dag_run.dag_run_id }} (sat i kø "
                             "{{ dag_run.queued_at | cph }}) var ikke færdig ved fristen "
                             "{{ deadline.deadline_time | cph }} "
                             f"({_duration_da(interval)} efter kø). Den kører videre; se Airflow.</p>"),
        }),
    )


def default_args(owner: str, retries: int | None = None) -> dict:
    """Retries with exponential backoff for transient source errors, and the alert route."""
    schedule = night_schedule()
    return {
        "owner": owner,
        "retries": schedule.retries if retries is None else retries,
        "retry_delay": schedule.retry_delay,
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
    """The extraction date of a run ("the night"): the `extract_date` param; for a run started by
    the sources' Assets the newest extraction date its events say became current (their `extra`,
    see `publish_extra`), else when the run was due; otherwise the logical date. Always taken in
    Copenhagen: a cron timetable makes the logical date a point in time, never an interval."""
    override = (context.get("params") or {}).get("extract_date")
    if override:
        return dt.date.fromisoformat(str(override))
    if run_kind(context) == "sources":
        dates = [extra["extract_date"] for extra in triggering_extras(context)
                 if extra.get("current") and extra.get("extract_date")]
        if dates:
            return dt.date.fromisoformat(max(dates))
    dag_run = context.get("dag_run")
    moment = (context.get("logical_date") or getattr(dag_run, "logical_date", None)
              or getattr(dag_run, "run_after", None) or pendulum.now(TIMEZONE))
    return pendulum.instance(moment).in_timezone(TIMEZONE).date()


def run_kind(context: dict) -> str:
    """`sources` (started by source Assets), `cutoff` (the scheduler's clock) or `manual`."""
    run_type = str(getattr(context.get("dag_run"), "run_type", "") or "").lower()
    if "asset" in run_type:
        return "sources"
    if "scheduled" in run_type:
        return "cutoff"
    return "manual"


def triggering_extras(context: dict) -> list[dict]:
    """The `extra` of every asset event that started this run (empty for other runs)."""
    events = context.get("triggering_asset_events") or {}
    extras = []
    for asset in events:
        for event in events[asset]:
            extras.append(dict(getattr(event, "extra", None) or {}))
    return extras


def publish_extra(context: dict, asset: Asset, published: dict) -> None:
    """Put the extraction date (and whether it became the source's current extract) on the asset
    event this task emits, so `build_model` knows which night the event belongs to."""
    context["outlet_events"][asset].extra = {
        "extract_date": published["extract_date"], "current": bool(published.get("current", True)),
        "run_id": str(context.get("run_id") or "")}


def plan_model_run(context: dict) -> dict:
    """`build_model`'s first task: build tonight's model, or skip the run (visible, with the
    reason in the log) when not every source has published yet or the model is already built
    from exactly these extracts. See `etl.tasks.model.plan_model_build`."""
    from etl.tasks.model import NotTonight, plan_model_build  # noqa: PLC0415 - the model build's code: not at DAG parse

    params = context.get("params") or {}
    try:
        return plan_model_build(run_kind(context), run_date(context), force=bool(params.get("force")))
    except NotTonight as reason:
        log.info("SUMMARY build_model: skipped: %s", reason)
        raise AirflowSkipException(str(reason)) from None


def run_id(context: dict) -> str:
    return str(context.get("run_id") or context["dag_run"].run_id)


def smtp_settings(conn_id: str = SMTP_CONN_ID) -> dict:
    """Host, port and credentials of Airflow's SMTP connection, for `etl.quality.alerts`."""
    conn = BaseHook.get_connection(conn_id)
    return {"host": conn.host, "port": conn.port or 25, "login": conn.login or None,
            "password": conn.password or None, "starttls": bool(conn.extra_dejson.get("starttls", False))}


def optional_smtp_settings(conn_id: str = SMTP_CONN_ID) -> dict | None:
    """`smtp_settings`, or None where the deployment has no SMTP connection (the breaker
    e-mail is then only logged; Airflow's failure notifier reports the failed task)."""
    try:
        return smtp_settings(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises its own not-found errors
        log.warning("no SMTP connection %s: %s", conn_id, exc)
        return None
