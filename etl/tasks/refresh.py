"""The `refresh_daytime` DAG's tasks: the database sources re-read during the working day, the
model rebuilt, the running quarter's KPIs republished as provisional, the rules run again.

Every step is the nightly step's own function (`etl.tasks.extract`, `.model`, `.kpis`,
`.quality`), so nothing is computed in a second way. What differs from the night:

- only the registry's **database** sources are re-extracted, incrementally, under the night's
  extraction date (today): the window reaches midnight after it, so the day's changes so far
  are read; the drop-folder files (the CPR file, the registers) come once a night and keep
  the night's extract;
- only the **running quarter** (quarter and ÅTD, with their last-year twins) is recomputed; the
  other periods of the nightly version keep the night's rows, values and `computed_at` (their
  `run_id` becomes the refresh's: the version is one publication, and flags match on its run id);
- the data-quality rules publish, but mail nobody and do not fail: the night mails the owners
  and its gate is the one that goes red;
- a refresh never runs into a night: it skips while the night's model and KPIs of today are
  not there (the night is late or failed), so the morning's first refresh waits for the night.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl.core import zones
from etl.core.settings import Settings
from etl.core.storage import write_frame_atomic
from etl.publish.warehouse import ensure_schema, make_engine, read_table
from etl.sources import SOURCES
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

log = logging.getLogger(__name__)

#: The pointer's `refresh` of an extract a daytime refresh made current (`data_freshness.kind`).
DAYTIME = "daytime"


def _settings(settings: Settings | None) -> Settings:
    """The task's settings: the ones handed in, else resolved here, once, for this task."""
    return settings if settings is not None else Settings.resolve()


class NotNow(Exception):  # noqa: N818 - a decision, not an error
    """This refresh has nothing to refresh yet (the reason is the message): it becomes a skip."""


def database_sources() -> list[str]:
    """The sources a refresh re-reads: the registry's database sources, never the drop files."""
    return [name for name, source in SOURCES.items() if source.kind == "database"]


def plan_refresh(today: dt.date, settings: Settings | None = None) -> dict:
    """Refresh `today`, or `NotNow` while the night of `today` is not done: its model not built
    (the nightly run is late or failed) or its KPIs not published yet. Decided on what the data
    folder and the warehouse hold, like `plan_model_build`, never on Airflow's queue."""
    settings = _settings(settings)
    built = zones.model_extraction_date(settings.model_dir)
    if built != today.isoformat():
        raise NotNow(f"the night's model of {today} is not built yet (the live model is of {built or 'nothing'}): "
                     "the nightly run is late or failed; a refresh waits for the night, it never replaces it")
    night_end = published_running_quarter_end(settings)
    if night_end != today:
        raise NotNow(f"the night's KPIs of {today} are not published yet (the nightly version's running quarter "
                     f"ends {night_end or 'nowhere'}): a refresh waits for the night's publish_kpis")
    sources = database_sources()
    log.info("refreshing %s: database sources %s; the file sources keep the night's extract", today,
             ", ".join(sources))
    return {"extract_date": today.isoformat(), "sources": sources}


def published_running_quarter_end(settings: Settings) -> dt.date | None:
    """The last day of the running quarter in the published nightly version (= its extraction date)."""
    engine = make_engine(settings.warehouse_url())
    try:
        ensure_schema(engine, sql_dir=settings.sql_dir)
        rows = read_table(engine, "mart.kpi_value", "WHERE version = 0 AND provisional AND period_type = 'quarter' "
                          "AND comparison = 'current' LIMIT 1")
    finally:
        engine.dispose()
    return pd.Timestamp(rows["period_end"].iloc[0]).date() if len(rows) else None


def refresh_source(source_name: str, plan: dict, run_id: str, settings: Settings | None = None) -> dict:
    """One database source's incremental extract of the plan's date: land, validate, publish
    (breakers and all), recorded in its pointer as made current by a daytime refresh."""
    from etl.tasks import extract as extract_tasks  # noqa: PLC0415 - its breaker mail imports the rules: not at DAG parse

    if source_name not in plan["sources"]:
        raise ValueError(f"{source_name} is not a database source: a refresh never re-reads the drop files")
    return extract_tasks.extract_source(source_name, dt.date.fromisoformat(plan["extract_date"]), run_id,
                                        _settings(settings), refresh=DAYTIME)


def refresh_model(plan: dict, settings: Settings | None = None) -> dict:
    """The model of the plan's date rebuilt from the sources' current extracts (the night's build)."""
    return model_tasks.build_model(dt.date.fromisoformat(plan["extract_date"]), _settings(settings))


def compute_running_quarter(run_id: str, settings: Settings | None = None) -> dict:
    """The running quarter's KPIs (quarter and ÅTD, with last year's twins: `history_quarters=0`)
    computed by the night's `compute_kpis`, then joined by every other period of the staged set
    the nightly version was published from, as it was (rows, values, computed_at; the run id
    becomes this run's), into the staged file `audit_kpis` and `publish_kpis` take: the nightly
    version is replaced whole, its other periods with their own figures. The staged set, not
    the warehouse, is the one to keep: it holds `persons_behind`, which public's suppression reads."""
    settings = _settings(settings)
    path, caseworkers_path = settings.zones.kpi_values, settings.zones.dim_caseworker
    previous, previous_caseworkers = published_staged_set(settings)
    # kept aside before compute_kpis overwrites the staged set: a failed audit or publish (or a
    # retry of this task) then still finds the set the nightly version was published from
    write_frame_atomic(published_copy(path), previous)
    if previous_caseworkers is not None:
        write_frame_atomic(published_copy(caseworkers_path), previous_caseworkers)
    staged = kpi_tasks.compute_kpis(run_id, settings, history_quarters=0)
    fresh = pd.read_parquet(path)
    # the kept rows keep their values and computed_at (the night's); their run_id becomes this run's:
    # version 0 is one publication with one run id (dq_kpi_flag and the BI views match flags on it)
    kept = previous[~previous["period_key"].isin(set(fresh["period_key"]))].assign(run_id=run_id)
    merged = _in_published_order(pd.concat([fresh, kept[list(fresh.columns)]], ignore_index=True), previous)
    write_frame_atomic(path, merged)
    if previous_caseworkers is not None:  # the kept periods' caseworkers keep their unit
        caseworkers = pd.concat([pd.read_parquet(caseworkers_path), previous_caseworkers], ignore_index=True)
        write_frame_atomic(caseworkers_path, caseworkers.drop_duplicates("org_id"))
    log.info("refreshed %d KPI rows of %d running-quarter period(s); kept %d rows of %d other period(s) as the "
             "nightly version has them", len(fresh), fresh["period_key"].nunique(), len(kept),
             kept["period_key"].nunique())
    # publish_kpis starts the suppression from the nightly version's blanks where the figures are
    # the ones it was published from (`published_path`), and writes only the refreshed periods
    return {**staged, "rows": len(merged), "refreshed_rows": len(fresh), "kept_rows": len(kept),
            "published_path": settings.zones.portable({"path": published_copy(path)})["path"],
            "refreshed_periods": sorted(set(fresh["period_key"]))}


def _in_published_order(rows: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """`rows` in the order the published set has the same keys (rows it lacks after them, as
    they come). The suppression audit's questions are about rows in order, so a KPI whose rows
    and figures a refresh leaves as they were asks the questions the night already answered
    (`etl.publish.audit_memo`) instead of new ones about the same rows reshuffled."""
    from etl.publish.suppression import row_hashes  # noqa: PLC0415 - numpy and the publish side: not at DAG parse

    keys = pd.Index(row_hashes(published))
    if not keys.is_unique:  # not a set audit_kpis let through: the order is only a courtesy to the memo
        return rows
    at = keys.get_indexer(row_hashes(rows))
    order = np.lexsort((np.arange(len(rows)), np.where(at < 0, len(published), at)))
    return rows.iloc[order].reset_index(drop=True)


def published_copy(path: Path) -> Path:
    """Where a refresh keeps the staged file the published nightly version was made from."""
    return path.with_name(path.stem + ".published" + path.suffix)




def published_staged_set(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The staged KPI set (and its dim_caseworker) the published nightly version was made from:
    `kpi/kpi_value.parquet`, or the copy an earlier refresh kept aside (`….published.parquet`)
    when its own audit or publish failed, whichever holds what version 0 of `mart.kpi_value` and
    `restricted.kpi_value_caseworker` hold together (same rows of the same runs); else the
    refresh fails rather than publish periods nobody computed."""
    engine = make_engine(settings.warehouse_url())
    runs: dict[str, int] = {}
    try:
        with engine.connect() as conn:  # the staged set's caseworker rows are published to restricted
            for table in ("mart.kpi_value", "restricted.kpi_value_caseworker"):
                published = pd.read_sql(sa.text(f"SELECT run_id, COUNT(*) AS n FROM {table} WHERE version = 0 "
                                                "GROUP BY run_id"), conn)
                for run, n in zip(published["run_id"], published["n"]):
                    runs[str(run)] = runs.get(str(run), 0) + int(n)
    finally:
        engine.dispose()
    candidates = [(settings.zones.kpi_values, settings.zones.dim_caseworker),
                  (published_copy(settings.zones.kpi_values), published_copy(settings.zones.dim_caseworker))]
    found = {}
    for values_path, caseworkers_path in candidates:
        if not values_path.exists():
            continue
        values = pd.read_parquet(values_path)
        found[values_path.name] = {str(k): int(v) for k, v in values.groupby("run_id").size().items()}
        if runs and found[values_path.name] == runs:
            return values, (pd.read_parquet(caseworkers_path) if caseworkers_path.exists() else None)
    raise RuntimeError(f"no staged KPI set is the one the nightly version was published from (published: rows by run "
                       f"{runs}; staged: {found or 'none'}): nothing refreshed; the next night (or a publish_kpis "
                       "run) sets it right")


def refresh_quality(run_id: str, settings: Settings | None = None) -> dict:
    """The night's rules on the refreshed model, published like the night's; the breaches are
    logged (`dq_gate` without failing) and mailed to nobody: the night mails the owners."""
    summary = dq_tasks.run_data_quality(run_id, _settings(settings))
    verdict = dq_tasks.dq_gate(summary, fail_on_breach=False)
    return {"run_id": run_id, "rules": summary["rules"], "breaches": verdict["breaches"], "errors": verdict["errors"]}
