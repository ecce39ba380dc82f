"""
### extract_&lt;source&gt;: nightly extract of one fagsystem

Built by one factory from the source registry (`etl/sources/`): one DAG per fagsystem.
For every contract table: **land** (extract SQL in `sql/extract/<source>/`, or the drop
file, streamed to Parquet with a manifest under `landing/`; database tables with a change
timestamp read only the rows changed since the last extract, drop files only when they
differ from the last extract's, and everything whole weekly or when the `full_extract`
param is set), then **validate** (the table's pandera schema;
unreadable rows to `quarantine/` with rule and reason; an incremental extract is merged
into the previous staged table). When
every table validated, **publish** checks the circuit breakers (`config/breakers.yaml`: quarantine
share, row count against the last good extract, NULL shares, categorical values) and makes this
extract the source's current good one and
updates the source's Asset (its event says which extraction date became current), which starts
`build_model`: it builds once every source has published tonight, or at the cut-off.

**When it fails**: the log names source, table, column and rule. A structural failure
(missing column, unreadable column, zero rows, row count collapse) keeps yesterday's good
extract in use: the cut-off builds the model without it, DQ10 flags it stale (e-mail to
operations and its owner) and `mart.source_freshness` shows it behind. Fix the source or the
contract, then clear the failed task: when it publishes, the model is rebuilt by itself.
A tripped circuit breaker fails `publish` naming table, measure, limit and value, keeps the last
good extract, and e-mails operations and the source's owners; to use the extract anyway, trigger
the DAG with its `extract_date` and `accept_breakers` set to the reason (recorded).
Runbook: `docs/operations.md`, "A night with a failed source".
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.sources import SOURCES
from etl.sources.base import Source
from etl.tasks import extract as extract_tasks
from etl.tasks.orchestration import (
    dag_settings,
    extract_schedule,
    optional_smtp_settings,
    publish_extra,
    run_date,
    run_id,
    source_asset,
    triggered_by,
)


def build_extract_dag(source: Source):
    @dag(
        dag_id=f"extract_{source.name}",
        description=f"Nightly extract of {source.title} ({source.name}) to landing, validated to staged",
        doc_md=__doc__.replace("&lt;source&gt;", source.name) + f"\n**{source.title}**: {source.description}\n\n"
        f"Tables: {', '.join(f'`{t.name}`' for t in source.tables)}. Owner: `{source.owner}`. "
        f"Location: Airflow connection `{source.conn_id}` or env `{source.env_var}`.",
        schedule=extract_schedule(source.name),
        **dag_settings(source.owner, night_stage="extract"),
        tags=["sofli", "extract", source.kind],
        params={"extract_date": Param(None, type=["null", "string"], format="date",
                                      description="Re-extract as of this date (YYYY-MM-DD); default: the logical date"),
                "full_extract": Param(False, type="boolean",
                                      description="Read every table whole tonight (default: incremental where "
                                                  "possible, whole weekly; see docs/operations.md)"),
                "accept_breakers": Param(None, type=["null", "string"],
                                         description="Only to use an extract a circuit breaker held back: why "
                                                     "(recorded with your name in the source's pointer and "
                                                     "breaker log). Leave empty on every normal run.")},
    )
    def extract_dag():
        @task
        def land(table_name: str) -> dict:
            context = get_current_context()
            return extract_tasks.land(source.name, table_name, run_date(context),
                                 full=bool((context.get("params") or {}).get("full_extract")))

        @task
        def validate(landed: dict) -> dict:
            return extract_tasks.validate(source.name, landed["table"], run_date(get_current_context()))

        @task(outlets=[source_asset(source.name)])
        def publish(results: list[dict]) -> dict:
            context = get_current_context()
            params = context.get("params") or {}
            published = extract_tasks.publish_extract(
                source.name, run_date(context), run_id(context), results,
                accept_reason=params.get("accept_breakers"), accepted_by=triggered_by(context),
                smtp=optional_smtp_settings())
            publish_extra(context, source_asset(source.name), published)
            return published

        validated = [validate.override(task_id=f"validate_{t.name}")(land.override(task_id=f"land_{t.name}")(t.name))
                     for t in source.tables]
        publish(validated)

    return extract_dag()


for _source in SOURCES.values():
    globals()[f"extract_{_source.name}"] = build_extract_dag(_source)
